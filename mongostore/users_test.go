package mongostore_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/testclock"
	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/internal/testserver/apptest"
	"github.com/sessionkit/session/mongostore"
)

func TestUserSessionScenarios(t *testing.T) {
	apptest.Users(t, func(t *testing.T) session.Store { return newStore(t, collection(t)) })
}

// entries returns the session ids of the user index documents of user.
func entries(t *testing.T, coll *mongo.Collection, user string) []string {
	t.Helper()
	cur, err := coll.Database().Collection(coll.Name()+"_users").Find(t.Context(), bson.D{{Key: "_id.user", Value: user}})
	if err != nil {
		t.Fatal(err)
	}
	var docs []struct {
		ID struct {
			User string `bson:"user"`
			SID  string `bson:"sid"`
		} `bson:"_id"`
	}
	if err := cur.All(t.Context(), &docs); err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(docs))
	for i, d := range docs {
		ids[i] = d.ID.SID
	}
	slices.Sort(ids)
	return ids
}

// The first index write or listing of a store creates the index
// collection's indexes, and the others wait for it: one whose context ends
// meanwhile returns at once with its context's error. They waited on a
// mutex for as long as the first one's createIndexes took (here, a server
// that stopped answering: the client's timeout).
func TestUserIndexWaiterForTheIndexesGivesUpWhenItsContextEnds(t *testing.T) {
	srv := testserver.SharedMongo(t)
	_, db := srv.NewDatabase(t)
	proxy := testserver.StartProxy(t, srv.Addr)
	st := newStore(t, connect(t, "mongodb://"+proxy.Addr+"/?directConnection=true").Database(db).Collection("sessions"))
	if _, _, err := st.Get(t.Context(), "warm-up"); err != nil { // a connection that is up
		t.Fatal(err)
	}
	proxy.Stall()
	first := make(chan error, 1)
	go func() {
		first <- st.IndexUserSession(t.Context(), "alice", "a1", time.Now(), time.Now().Add(time.Hour))
	}()
	time.Sleep(300 * time.Millisecond) // the first is creating the indexes, and stalled

	const timeout = 200 * time.Millisecond
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	start := time.Now()
	err := st.UserSessions(ctx, "alice", func(string, time.Time, time.Time, []byte) {})
	took := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("UserSessions while another call creates the indexes: %v, want an error wrapping context.DeadlineExceeded", err)
	}
	if took > timeout+time.Second {
		t.Errorf("UserSessions with a context of %v returned after %v: it waited for the other call's createIndexes", timeout, took)
	}
	proxy.Heal()
	<-first
	if err := st.IndexUserSession(t.Context(), "alice", "a2", time.Now(), time.Now().Add(time.Hour)); err != nil {
		t.Errorf("IndexUserSession once the server answers again: %v", err)
	}
}

// userIndexNames returns the names of the indexes of the index collection
// "sessions_users" in db.
func userIndexNames(t *testing.T, db *mongo.Database) []string {
	t.Helper()
	specs, err := db.Collection("sessions_users").Indexes().ListSpecifications(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range specs {
		names = append(names, s.Name)
	}
	slices.Sort(names)
	return names
}

// The first index write of a store creates the index collection's indexes.
// When that createIndexes fails on the client's own timeout (a server that
// stopped answering for a while), not on the caller's context, a call a
// minute later tries again: the store made them once only, and without
// them every listing of a user's sessions scanned the collection for as
// long as the store lived. The calls in that minute do not try again, so
// that a server too slow to build them does not hold up every call.
func TestUserIndexesWhoseCreationTimedOutAreCreatedByALaterCall(t *testing.T) {
	srv := testserver.SharedMongo(t)
	uri, db := srv.NewDatabase(t)
	proxy := testserver.StartProxy(t, srv.Addr)
	client := connect(t, "mongodb://"+proxy.Addr+"/?directConnection=true", func(o *options.ClientOptions) {
		o.SetTimeout(500 * time.Millisecond)
	})
	clock := testclock.New(testclock.Epoch())
	st := newStore(t, client.Database(db).Collection("sessions"), mongostore.WithClock(clock.Now))
	direct := connect(t, uri).Database(db)
	reachable := func() {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			_, _, err := st.Get(t.Context(), "warm-up")
			if err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the server is not reachable through the proxy: %v", err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	index := func(id string) error {
		return st.IndexUserSession(t.Context(), "alice", id, clock.Now(), clock.Now().Add(time.Hour))
	}
	reachable()

	proxy.Stall()
	err := index("a1") // createIndexes times out, and so does the upsert after it
	if t.Context().Err() != nil {
		t.Fatal("the test's context ended")
	}
	t.Logf("IndexUserSession on a stalled server: %v", err)
	proxy.Drop() // what the stall held never reaches the server
	proxy.Heal()
	reachable()

	if err := index("a2"); err != nil {
		t.Fatal(err)
	}
	if names := userIndexNames(t, direct); slices.Contains(names, "_id.user_1") {
		t.Fatalf("indexes %q right after the timeout; want them tried again only a minute later", names)
	}
	clock.Advance(time.Minute)
	if err := index("a3"); err != nil {
		t.Fatal(err)
	}
	if names := userIndexNames(t, direct); !slices.Contains(names, "_id.user_1") || !slices.Contains(names, "expires_1") {
		t.Fatalf("indexes %q a minute after the creation timed out; want _id.user_1 and expires_1 made by a later call", names)
	}
}

func TestUserIndexDocumentIsKeyedByUserAndSession(t *testing.T) {
	st, coll, clock := clocked(t)
	used, exp := clock.Now(), clock.Now().Add(time.Hour)
	if err := st.IndexUserSession(t.Context(), "alice", "id1", used, exp); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		ID struct {
			User string `bson:"user"`
			SID  string `bson:"sid"`
		} `bson:"_id"`
		Used    time.Time `bson:"used"`
		Expires time.Time `bson:"expires"`
	}
	err := coll.Database().Collection(st.UsersCollection()).FindOne(t.Context(), bson.D{}).Decode(&doc)
	if err != nil {
		t.Fatal(err)
	}
	if doc.ID.User != "alice" || doc.ID.SID != "id1" || !doc.Used.Equal(used) || !doc.Expires.Equal(exp) {
		t.Fatalf("index document %+v, want _id {alice id1}, used %v, expires %v", doc, used, exp)
	}
	if st.UsersCollection() != "sessions_users" {
		t.Fatalf("UsersCollection() = %q, want sessions_users", st.UsersCollection())
	}
}

// TestUserIndexOfDailyLoginsForAYearStaysBounded logs one user in every day
// for a year on the store's clock, each session living 30 days: every new
// entry prunes those past their expiry plus IndexGrace, so the collection
// never holds more than one lifetime's entries of the user.
func TestUserIndexOfDailyLoginsForAYearStaysBounded(t *testing.T) {
	st, coll, clock := clocked(t)
	const life = 30 * 24 * time.Hour
	for day := range 365 {
		now := clock.Now()
		id := fmt.Sprintf("s%03d", day)
		if err := st.IndexUserSession(t.Context(), "u", id, now, now.Add(life)); err != nil {
			t.Fatal(err)
		}
		// A later save of the same session refreshes the entry.
		if err := st.IndexUserSession(t.Context(), "u", id, now, now.Add(life)); err != nil {
			t.Fatal(err)
		}
		if day%30 == 0 || day > 360 {
			if n := len(entries(t, coll, "u")); n > 31 {
				t.Fatalf("day %d: %d index entries, want at most 31", day, n)
			}
		}
		clock.Advance(24 * time.Hour)
	}
}

func TestPurgeExpiredPrunesTheUserIndex(t *testing.T) {
	st, coll, clock := clocked(t)
	now := clock.Now()
	for user, expires := range map[string]time.Time{
		"gone":   now.Add(-2 * session.IndexGrace), // past the grace: pruned
		"recent": now.Add(-session.IndexGrace / 2), // within it: kept
		"live":   now.Add(time.Hour),
	} {
		if err := st.IndexUserSession(t.Context(), user, "id-"+user, now, expires); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.PurgeExpired(t.Context()); err != nil {
		t.Fatal(err)
	}
	for user, want := range map[string]int{"gone": 0, "recent": 1, "live": 1} {
		if n := len(entries(t, coll, user)); n != want {
			t.Errorf("%s: %d entries after PurgeExpired, want %d", user, n, want)
		}
	}
}

func TestUserSessionsSkipsBadIndexEntriesAndSessions(t *testing.T) {
	var logs testserver.Output
	st, coll, clock := clocked(t, mongostore.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	exp := clock.Now().Add(time.Hour)
	if err := st.IndexUserSession(t.Context(), "u", "good", clock.Now(), exp); err != nil {
		t.Fatal(err)
	}
	if err := st.Set(t.Context(), "good", []byte(`{"a":1}`), exp); err != nil {
		t.Fatal(err)
	}
	if err := st.IndexUserSession(t.Context(), "u", "badsession", clock.Now(), exp); err != nil {
		t.Fatal(err)
	}
	users := coll.Database().Collection(st.UsersCollection())
	ctx := t.Context()
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "badsession"}, {Key: "session", Value: 42}, {Key: "expires", Value: exp}}); err != nil {
		t.Fatal(err)
	}
	bad := bson.D{{Key: "_id", Value: bson.D{{Key: "user", Value: "u"}, {Key: "sid", Value: 7}}}, {Key: "used", Value: "yesterday"}, {Key: "expires", Value: exp}}
	if _, err := users.InsertOne(ctx, bad); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	err := st.UserSessions(ctx, "u", func(id string, _, _ time.Time, data []byte) { got[id] = string(data) })
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["good"] != `{"a":1}` || got["badsession"] != "" {
		t.Fatalf("UserSessions = %q, want good with its data and badsession without", got)
	}
	if !strings.Contains(logs.String(), "user index entry that cannot be read") || !strings.Contains(logs.String(), "stored session that cannot be read") {
		t.Fatalf("bad entry and session not logged: %s", logs.String())
	}
}

// TestUserSessionsListsAnEntryWithAnUnreadableLastUse spoils the last-use
// time of an index entry (a string, not a date): the entry is listed with a
// zero LastUsed and its session can be destroyed.
func TestUserSessionsListsAnEntryWithAnUnreadableLastUse(t *testing.T) {
	coll := collection(t)
	st := newStore(t, coll)
	users := coll.Database().Collection(st.UsersCollection())
	apptest.UnreadableLastUseIsListedAndDestroyed(t, st, func(user, id string) error {
		filter := bson.D{{Key: "_id", Value: bson.D{{Key: "user", Value: user}, {Key: "sid", Value: id}}}}
		r, err := users.UpdateOne(t.Context(), filter, bson.D{{Key: "$set", Value: bson.D{{Key: "used", Value: "yesterday"}}}})
		if err == nil && r.ModifiedCount != 1 {
			err = fmt.Errorf("spoiled %d index entries, want 1", r.ModifiedCount)
		}
		return err
	})
}

func TestUserSessionsOfManySessionsReadsThemAll(t *testing.T) {
	st, coll, clock := clocked(t)
	exp := clock.Now().Add(time.Hour)
	const n = 1200 // more than two $in chunks
	var entries, sessions []any
	for i := range n {
		id := fmt.Sprintf("s%04d", i)
		entries = append(entries, bson.D{{Key: "_id", Value: bson.D{{Key: "user", Value: "many"}, {Key: "sid", Value: id}}}, {Key: "used", Value: clock.Now()}, {Key: "expires", Value: exp}})
		sessions = append(sessions, bson.D{{Key: "_id", Value: id}, {Key: "session", Value: "{}"}, {Key: "expires", Value: exp}})
	}
	// Written in bulk: one store call per session takes minutes on FerretDB.
	if _, err := coll.Database().Collection(st.UsersCollection()).InsertMany(t.Context(), entries); err != nil {
		t.Fatal(err)
	}
	if _, err := coll.InsertMany(t.Context(), sessions); err != nil {
		t.Fatal(err)
	}
	withData := 0
	err := st.UserSessions(t.Context(), "many", func(_ string, _, _ time.Time, data []byte) {
		if data != nil {
			withData++
		}
	})
	if err != nil || withData != n {
		t.Fatalf("UserSessions: %d of %d sessions with data, %v", withData, n, err)
	}
}

func BenchmarkUsers(b *testing.B) {
	apptest.BenchmarkUsers(b, newStore(b, collection(b)))
}

// TestUserSessionsListsAnEntryWithAnUnreadableExpiry spoils the expiry of
// an index entry (a string, or no expires at all: a hand edit or another
// program), which neither PurgeExpired nor a TTL index ever deletes: the
// entry is listed with a zero Expires, as pgstore lists one of 'infinity',
// and DestroyUserSessions ends its session. The listing filtered on a date
// and skipped it, so its session outlived DestroyUserSessions (and escaped
// MaxSessionsPerUser) until its next write or touch rewrote the entry.
func TestUserSessionsListsAnEntryWithAnUnreadableExpiry(t *testing.T) {
	spoils := map[string]bson.D{
		"a string":   {{Key: "$set", Value: bson.D{{Key: "expires", Value: "never"}}}},
		"no expires": {{Key: "$unset", Value: bson.D{{Key: "expires", Value: ""}}}},
	}
	for name, spoil := range spoils {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			coll := collection(t)
			st := newStore(t, coll)
			a := apptest.New(t, st, nil)
			var cookies [][]*http.Cookie
			var ids []string
			for range 2 {
				r := a.MustDo(t, "/login?u=frank", nil)
				cookies, ids = append(cookies, r.Cookies), append(ids, r.Body)
			}
			users := coll.Database().Collection(st.UsersCollection())
			filter := bson.D{{Key: "_id", Value: bson.D{{Key: "user", Value: "frank"}, {Key: "sid", Value: ids[0]}}}}
			if r, err := users.UpdateOne(ctx, filter, spoil); err != nil || r.ModifiedCount != 1 {
				t.Fatalf("spoil the entry: %v, %v", r, err)
			}
			if _, err := st.PurgeExpired(ctx); err != nil {
				t.Fatal(err)
			}
			infos, err := a.Manager.UserSessions(ctx, "frank")
			if err != nil || len(infos) != 2 {
				t.Fatalf("UserSessions with an entry whose expiry is %s = %+v, %v; want both sessions", name, infos, err)
			}
			for _, info := range infos {
				if spoiled := info.ID == ids[0]; info.Expires.IsZero() != spoiled {
					t.Fatalf("UserSessions = %+v; want a zero Expires for the spoiled entry (%.6s…) alone", infos, ids[0])
				}
			}
			if n, err := a.Manager.DestroyUserSessions(ctx, "frank"); err != nil || n != 2 {
				t.Fatalf("DestroyUserSessions = %d, %v; want 2", n, err)
			}
			for i, id := range ids {
				if v := a.Values(t, cookies[i]); v.ID == id || !v.New {
					t.Errorf("login %d still has its session %.6s… after DestroyUserSessions", i, id)
				}
			}
		})
	}
}

// A store started on a collection whose user index already has its
// indexes (the application restarted, or a second instance) records and
// lists entries without a warning. It sent both indexes in one
// createIndexes, which FerretDB v1 answers, once they exist, by closing
// the connection (a panic of its handler): the store logged that it could
// not create them "yet", every minute for as long as it ran, and FerretDB
// logged a panic each time.
func TestAStoreOnAnExistingUserIndexCreatesItsIndexesWithoutAWarning(t *testing.T) {
	coll := collection(t)
	first := newStore(t, coll)
	ctx := t.Context()
	exp := time.Now().Add(time.Hour)
	if err := first.IndexUserSession(ctx, "alice", "id1", time.Now(), exp); err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	second := newStore(t, coll, mongostore.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	if err := second.IndexUserSession(ctx, "alice", "id2", time.Now(), exp); err != nil {
		t.Fatal(err)
	}
	if logs.Len() > 0 {
		t.Errorf("the second store on the collection logged:\n%s", logs.String())
	}
	if names := userIndexNames(t, coll.Database()); !slices.Contains(names, "_id.user_1") || !slices.Contains(names, "expires_1") {
		t.Errorf("indexes %q; want _id.user_1 and expires_1", names)
	}
}

// When the index on expires cannot be made yet (its answer lost with the
// connection), the warning names that index and what goes slower without
// it, the pruning; it used to say that listing a user's sessions scanned
// the collection, whose index (on _id.user) had been made.
func TestUserIndexWarningNamesTheIndexThatWasNotMade(t *testing.T) {
	srv := testserver.SharedMongo(t)
	uri, db := srv.NewDatabase(t)
	proxy := testserver.StartProxy(t, srv.Addr)
	client := connect(t, "mongodb://"+proxy.Addr+"/?directConnection=true")
	var logs strings.Builder
	st := newStore(t, client.Database(db).Collection("sessions"),
		mongostore.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	proxy.LoseReply("expires_1", nil) // the createIndexes of the index on expires

	exp := time.Now().Add(time.Hour)
	if err := st.IndexUserSession(t.Context(), "alice", "id1", time.Now(), exp); err != nil {
		t.Fatal(err)
	}
	if names := userIndexNames(t, connect(t, uri).Database(db)); !slices.Contains(names, "_id.user_1") {
		t.Fatalf("indexes %q; want _id.user_1 made before the lost answer", names)
	}
	got := logs.String()
	if !strings.Contains(got, "index on expires yet") || !strings.Contains(got, "pruning every user's expired entries") {
		t.Errorf("the warning does not name the index on expires and the pruning:\n%s", got)
	}
	if strings.Contains(got, "listing a user's sessions scans") {
		t.Errorf("the warning says the listing scans the collection, whose index was made:\n%s", got)
	}
}
