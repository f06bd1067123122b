package mongostore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/testclock"
	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/internal/testserver/apptest"
	"github.com/sessionkit/session/mongostore"
	"github.com/sessionkit/session/storetest"
)

func TestMain(m *testing.M) { os.Exit(testserver.Main(m)) }

// connect returns a client of uri, disconnected in t.Cleanup.
func connect(t testing.TB, uri string, opts ...func(*options.ClientOptions)) *mongo.Client {
	t.Helper()
	o := options.Client().ApplyURI(uri).SetTimeout(10 * time.Second)
	for _, f := range opts {
		f(o)
	}
	c, err := mongo.Connect(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
	return c
}

// collection returns a collection of its own (a fresh database) on the
// shared server.
func collection(t testing.TB) *mongo.Collection {
	t.Helper()
	srv := testserver.SharedMongo(t)
	uri, db := srv.NewDatabase(t)
	return connect(t, uri).Database(db).Collection("sessions")
}

// newStore returns a store on coll, closed in t.Cleanup.
func newStore(t testing.TB, coll *mongo.Collection, opts ...mongostore.Option) *mongostore.Store {
	t.Helper()
	st, err := mongostore.New(coll, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// clocked returns a store on a fresh collection and the clock it reads.
func clocked(t testing.TB, opts ...mongostore.Option) (*mongostore.Store, *mongo.Collection, *testclock.Clock) {
	t.Helper()
	clock := testclock.New(testclock.Epoch())
	coll := collection(t)
	return newStore(t, coll, append([]mongostore.Option{mongostore.WithClock(clock.Now)}, opts...)...), coll, clock
}

// rawDoc reads the document with _id id as it is stored.
func rawDoc(t testing.TB, coll *mongo.Collection, id string) bson.M {
	t.Helper()
	var doc bson.M
	if err := coll.FindOne(context.Background(), bson.D{{Key: "_id", Value: id}}).Decode(&doc); err != nil {
		t.Fatalf("find %s: %v", id, err)
	}
	return doc
}

func insertRaw(t testing.TB, coll *mongo.Collection, doc bson.D) {
	t.Helper()
	if _, err := coll.InsertOne(context.Background(), doc); err != nil {
		t.Fatal(err)
	}
}

func TestConformance(t *testing.T) {
	t.Parallel()
	srv := testserver.SharedMongo(t)
	uri, _ := srv.NewDatabase(t)
	client := connect(t, uri)
	storetest.Run(t, func(t *testing.T) session.Store {
		_, db := srv.NewDatabase(t)
		return newStore(t, client.Database(db).Collection("sessions"))
	})
}

func TestWritesConnectMongoDocument(t *testing.T) {
	ctx := t.Context()
	st, coll, clock := clocked(t)
	data := `{"cookie":{"originalMaxAge":3600000,"expires":"2030-01-01T00:00:00.000Z","httpOnly":true,"path":"/"},"views":3}`
	expires := clock.Now().Add(time.Hour + 1234567*time.Nanosecond)
	if err := st.Set(ctx, "abc", []byte(data), expires); err != nil {
		t.Fatal(err)
	}
	doc := rawDoc(t, coll, "abc")
	if keys := slices.Sorted(maps.Keys(doc)); !slices.Equal(keys, []string{"_id", "expires", "session"}) {
		t.Fatalf("document fields %v, want _id, expires, session (connect-mongo's)", keys)
	}
	if s, ok := doc["session"].(string); !ok || s != data {
		t.Fatalf("session = %#v, want the JSON document as a string", doc["session"])
	}
	// BSON dates keep milliseconds; the expiry is truncated, never later.
	if e, ok := doc["expires"].(bson.DateTime); !ok || !e.Time().Equal(expires.Truncate(time.Millisecond)) {
		t.Fatalf("expires = %#v, want the date %v", doc["expires"], expires.Truncate(time.Millisecond))
	}

	// A browser-session cookie gets the default TTL, connect-mongo's 14 days
	// (its ttl option, 1209600 s), so that a session Express and Go share
	// lives as long whichever side saved or touched it last.
	if err := st.Set(ctx, "browser", []byte(data), time.Time{}); err != nil {
		t.Fatal(err)
	}
	const connectMongoTTL = 1209600 * time.Second
	if e := rawDoc(t, coll, "browser")["expires"].(bson.DateTime).Time(); !e.Equal(clock.Now().Add(connectMongoTTL)) {
		t.Fatalf("expires of a session without expiry = %v, want now + %v", e, connectMongoTTL)
	}
}

func TestWithDefaultTTL(t *testing.T) {
	st, coll, clock := clocked(t, mongostore.WithDefaultTTL(time.Hour))
	if err := st.Set(t.Context(), "x", []byte(`{}`), time.Time{}); err != nil {
		t.Fatal(err)
	}
	if e := rawDoc(t, coll, "x")["expires"].(bson.DateTime).Time(); !e.Equal(clock.Now().Add(time.Hour)) {
		t.Fatalf("expires = %v, want now + 1h", e)
	}
}

func TestWithLastModifiedWritesItOnEveryWrite(t *testing.T) {
	ctx := t.Context()
	st, coll, clock := clocked(t, mongostore.WithLastModified())
	lastModified := func() time.Time {
		t.Helper()
		lm, ok := rawDoc(t, coll, "id")["lastModified"].(bson.DateTime)
		if !ok {
			t.Fatalf("no lastModified date in %v", rawDoc(t, coll, "id"))
		}
		return lm.Time()
	}
	if err := st.Set(ctx, "id", []byte(`{"a":1}`), clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if lm := lastModified(); !lm.Equal(clock.Now()) {
		t.Fatalf("lastModified after Set = %v, want %v", lm, clock.Now())
	}
	clock.Set(clock.Now().Add(time.Minute))
	if found, err := st.Touch(ctx, "id", clock.Now().Add(time.Hour)); !found || err != nil {
		t.Fatalf("Touch = %v, %v", found, err)
	}
	if lm := lastModified(); !lm.Equal(clock.Now()) {
		t.Fatalf("lastModified after Touch = %v, want %v", lm, clock.Now())
	}
	clock.Set(clock.Now().Add(time.Minute))
	_, v, _, _ := st.GetVersion(ctx, "id")
	if _, ok, err := st.CompareAndSwap(ctx, "id", v, []byte(`{"a":2}`), clock.Now().Add(time.Hour)); !ok || err != nil {
		t.Fatalf("CompareAndSwap = %v, %v", ok, err)
	}
	if lm := lastModified(); !lm.Equal(clock.Now()) {
		t.Fatalf("lastModified after CompareAndSwap = %v, want %v", lm, clock.Now())
	}
}

func TestReadsDocumentWrittenByConnectMongo(t *testing.T) {
	ctx := t.Context()
	st, coll, clock := clocked(t)
	exp := clock.Now().Add(time.Hour)
	express := `{"cookie":{"originalMaxAge":3600000,"expires":"2030-01-01T00:00:00.000Z","httpOnly":true,"path":"/"},"user":"ann"}`
	insertRaw(t, coll, bson.D{{Key: "_id", Value: "str"}, {Key: "session", Value: express}, {Key: "expires", Value: exp}, {Key: "lastModified", Value: clock.Now()}})
	got, found, err := st.Get(ctx, "str")
	if err != nil || !found || string(got) != express {
		t.Fatalf("Get = %s, %v, %v; want the session string as is", got, found, err)
	}

	// stringify: false stores the session object itself, with the cookie's
	// expiry as a date; it reads as the JSON JSON.stringify would give.
	cookieExp := time.Date(2030, 1, 2, 3, 4, 5, 6e6, time.UTC)
	insertRaw(t, coll, bson.D{{Key: "_id", Value: "obj"}, {Key: "session", Value: bson.D{
		{Key: "cookie", Value: bson.D{{Key: "originalMaxAge", Value: int32(3600000)}, {Key: "expires", Value: cookieExp}, {Key: "httpOnly", Value: true}, {Key: "path", Value: "/"}}},
		{Key: "n", Value: 1.5}, {Key: "big", Value: 1e21}, {Key: "i64", Value: int64(1) << 40}, {Key: "list", Value: bson.A{"a", nil, false}},
		{Key: "quote", Value: "\"é<"},
	}}, {Key: "expires", Value: exp}})
	got, found, err = st.Get(ctx, "obj")
	want := `{"cookie":{"originalMaxAge":3600000,"expires":"2030-01-02T03:04:05.006Z","httpOnly":true,"path":"/"},"n":1.5,"big":1e+21,"i64":1099511627776,"list":["a",null,false],"quote":"\"é\u003c"}`
	if err != nil || !found || string(got) != want {
		t.Fatalf("Get of an object session = %s, %v, %v\nwant %s", got, found, err, want)
	}
	// Its version works for compare-and-swap.
	_, v, _, _ := st.GetVersion(ctx, "obj")
	if _, ok, err := st.CompareAndSwap(ctx, "obj", v, []byte(`{"n":2}`), exp); !ok || err != nil {
		t.Fatalf("CompareAndSwap from an object session = %v, %v", ok, err)
	}
}

// An object session (connect-mongo with stringify: false) that holds an
// ObjectId, binary data or a UUID, as an Express app stores a Mongoose
// document's _id, reads as the JSON that JSON.stringify gives for what the
// Node driver decodes (bson 6: the ObjectId's hex, the bytes in base64, the
// UUID's canonical form). They read as their Extended JSON in a string,
// {"$oid":"..."}, so that a Go handler reading the user's id got another
// value than the Express one.
func TestObjectSessionReadsObjectIDsAndBinaryAsNodeStringifiesThem(t *testing.T) {
	ctx := t.Context()
	st, coll, clock := clocked(t)
	oid, err := bson.ObjectIDFromHex("0102030405060708090a0b0c")
	if err != nil {
		t.Fatal(err)
	}
	insertRaw(t, coll, bson.D{{Key: "_id", Value: "ids"}, {Key: "session", Value: bson.D{
		{Key: "userId", Value: oid},
		{Key: "bin", Value: bson.Binary{Subtype: 0, Data: []byte{1, 2}}},
		{Key: "uuid", Value: bson.Binary{Subtype: bson.TypeBinaryUUID, Data: []byte("0123456789abcdef")}},
		{Key: "empty", Value: bson.Binary{Subtype: 0, Data: []byte{}}},
	}}, {Key: "expires", Value: clock.Now().Add(time.Hour)}})
	got, found, err := st.Get(ctx, "ids")
	// JSON.stringify(BSON.deserialize(...)) of the same document, bson 6.10.4.
	want := `{"userId":"0102030405060708090a0b0c","bin":"AQI=","uuid":"30313233-3435-3637-3839-616263646566","empty":""}`
	if err != nil || !found || string(got) != want {
		t.Fatalf("Get = %s, %v, %v\nwant %s", got, found, err, want)
	}
}

// An object session's date outside the years 0 to 9999 (an express
// cookie.expires from a maxAge of thousands of years, which connect-mongo
// stores as a Date) reads as JSON.stringify writes it, with a sign and six
// digits of year, which the session manager reads; Go's layout wrote
// 10000-..., which the manager took for a corrupt session.
func TestObjectSessionReadsDatesBeyondYear9999AsNodeStringifiesThem(t *testing.T) {
	ctx := t.Context()
	st, coll, clock := clocked(t)
	insertRaw(t, coll, bson.D{{Key: "_id", Value: "far"}, {Key: "session", Value: bson.D{
		{Key: "late", Value: time.Date(33000, 6, 1, 0, 0, 0, 0, time.UTC)},
		{Key: "early", Value: time.Date(-1, 1, 2, 3, 4, 5, 6e6, time.UTC)},
		{Key: "usual", Value: time.Date(2030, 1, 2, 3, 4, 5, 6e6, time.UTC)},
	}}, {Key: "expires", Value: clock.Now().Add(time.Hour)}})
	got, found, err := st.Get(ctx, "far")
	// new Date(Date.UTC(33000, 5, 1)).toISOString() and the same for year -1, node 22.
	want := `{"late":"+033000-06-01T00:00:00.000Z","early":"-000001-01-02T03:04:05.006Z","usual":"2030-01-02T03:04:05.006Z"}`
	if err != nil || !found || string(got) != want {
		t.Fatalf("Get = %s, %v, %v\nwant %s", got, found, err, want)
	}
}

func TestWithStringifyFalseWritesObject(t *testing.T) {
	ctx := t.Context()
	st, coll, clock := clocked(t, mongostore.WithStringify(false))
	if err := st.Set(ctx, "id", []byte(`{"cookie":{"path":"/"},"n":2}`), clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	raw, err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "id"}}).Raw()
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := raw.Lookup("session", "n").Int32OK(); !ok || n != 2 {
		t.Fatalf("session = %v, want an embedded document with n: 2", raw.Lookup("session"))
	}
	got, v, found, err := st.GetVersion(ctx, "id")
	if err != nil || !found || string(got) != `{"cookie":{"path":"/"},"n":2}` {
		t.Fatalf("GetVersion = %s, %v, %v", got, found, err)
	}
	v2, ok, err := st.CompareAndSwap(ctx, "id", v, []byte(`{"n":3}`), clock.Now().Add(time.Hour))
	if !ok || err != nil {
		t.Fatalf("CompareAndSwap = %v, %v", ok, err)
	}
	if _, v3, _, _ := st.GetVersion(ctx, "id"); v3 != v2 {
		t.Fatalf("CompareAndSwap returned version %q, GetVersion says %q", v2, v3)
	}
	// No document holds a JSON array: it is stored as binary data, and
	// comes back as it was (TestDocumentFormStoresASessionThatIsNotAJSONObjectAsBinary).
	if err := st.Set(ctx, "array", []byte(`[1]`), clock.Now().Add(time.Hour)); err != nil {
		t.Fatalf("Set of a JSON array with WithStringify(false): %v", err)
	}
	if raw, err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "array"}}).Raw(); err != nil || raw.Lookup("session").Type != bson.TypeBinary {
		t.Fatalf("a JSON array's session field: %v (%v), want binary data", raw.Lookup("session").Type, err)
	}
}

// With WithStringify(false) the session comes back as the JSON it was: the
// store converts plain JSON, where it parsed Extended JSON, so that a value
// such as {"$numberLong": "5"} came back as 5. A key a stored document
// cannot have is an error, not a change.
func TestWithStringifyFalseKeepsTheJSON(t *testing.T) {
	ctx := t.Context()
	st, coll, clock := clocked(t, mongostore.WithStringify(false))
	exp := clock.Now().Add(time.Hour)
	data := `{"cookie":{"originalMaxAge":3600000,"expires":"2030-01-01T00:00:00.000Z","httpOnly":true,"path":"/"},` +
		`"u":"é🎉\n\"","n":[1,-1.5,2147483648,9007199254740993,1e+21],"":{"a$":{"deep":[{"x":[]}]}},"t":true,"z":null}`
	if err := st.Set(ctx, "id", []byte(data), exp); err != nil {
		t.Fatal(err)
	}
	if got, found, err := st.Get(ctx, "id"); err != nil || !found || string(got) != data {
		t.Fatalf("Get = %s, %v, %v\nwant %s", got, found, err, data)
	}
	// The cookie's expiry stays the string it is in the JSON (connect-mongo
	// stores the Date of express's cookie object; either reads the same).
	raw, err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "id"}}).Raw()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := raw.Lookup("session", "cookie", "expires").StringValueOK(); !ok {
		t.Errorf("cookie.expires stored as %v, want the string", raw.Lookup("session", "cookie", "expires"))
	}
	_, v, _, _ := st.GetVersion(ctx, "id")
	for _, bad := range []string{
		`{"cookie":{"path":"/"},"q":{"$numberLong":"5"}}`,
		`{"cookie":{"path":"/"},"d":[{"$date":"2020-01-01T00:00:00Z"}]}`,
		`{"cookie":{"path":"/"},"a.b":1}`,
	} {
		if err := st.Set(ctx, "id", []byte(bad), exp); err == nil || !strings.Contains(err.Error(), "WithStringify(true)") {
			t.Errorf("Set of %s: %v, want an error pointing to WithStringify(true)", bad, err)
		}
		if _, ok, err := st.CompareAndSwap(ctx, "id", v, []byte(bad), exp); ok || err == nil {
			t.Errorf("CompareAndSwap to %s: swapped %v, %v; want an error", bad, ok, err)
		}
		if _, ok, err := st.CompareAndSwap(ctx, "new", "", []byte(bad), exp); ok || err == nil {
			t.Errorf("create of %s: swapped %v, %v; want an error", bad, ok, err)
		}
	}
	if got, _, _ := st.Get(ctx, "id"); string(got) != data {
		t.Fatalf("after the refused writes Get = %s, want %s", got, data)
	}
}

func TestExpiredDocumentIsNeverReturned(t *testing.T) {
	ctx := t.Context()
	st, coll, clock := clocked(t)
	// Written by connect-mongo and expired, not removed yet.
	insertRaw(t, coll, bson.D{{Key: "_id", Value: "old"}, {Key: "session", Value: `{"a":1}`}, {Key: "expires", Value: clock.Now().Add(-time.Millisecond)}})
	if _, found, err := st.Get(ctx, "old"); found || err != nil {
		t.Fatalf("Get of an expired document: found %v, %v", found, err)
	}
	if n, err := st.Count(ctx); n != 0 || err != nil {
		t.Fatalf("Count = %d, %v; want 0", n, err)
	}
	if ids, err := st.IDs(ctx); len(ids) != 0 || err != nil {
		t.Fatalf("IDs = %v, %v; want none", ids, err)
	}
	if found, err := st.Touch(ctx, "old", clock.Now().Add(time.Hour)); found || err != nil {
		t.Fatalf("Touch of an expired document = %v, %v; want not found", found, err)
	}
	// The expiry is exact: a live session stops at its expires.
	if err := st.Set(ctx, "live", []byte(`{}`), clock.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	clock.Set(clock.Now().Add(time.Second - time.Millisecond))
	if _, found, _ := st.Get(ctx, "live"); !found {
		t.Fatal("session gone a millisecond before its expiry")
	}
	clock.Set(clock.Now().Add(time.Millisecond))
	if _, found, _ := st.Get(ctx, "live"); found {
		t.Fatal("session returned at its expiry")
	}
}

// Create-if-absent replaces a document Get reports missing, expired or
// unreadable, and no other.
func TestCreateIfAbsentReplacesOnlyADocumentGetReportsMissing(t *testing.T) {
	ctx := t.Context()
	st, coll, clock := clocked(t)
	exp := clock.Now().Add(time.Hour)
	if _, ok, err := st.CompareAndSwap(ctx, "id", "", []byte(`{"a":1}`), exp); !ok || err != nil {
		t.Fatalf("create = %v, %v", ok, err)
	}
	if _, ok, err := st.CompareAndSwap(ctx, "id", "", []byte(`{"a":2}`), exp); ok || err != nil {
		t.Fatalf("create over a live session = %v, %v; want not swapped", ok, err)
	}
	// Left by connect-mongo, expired, with a field of its own.
	insertRaw(t, coll, bson.D{{Key: "_id", Value: "old"}, {Key: "session", Value: `{}`}, {Key: "expires", Value: clock.Now().Add(-time.Second)}, {Key: "lastModified", Value: clock.Now()}})
	v, ok, err := st.CompareAndSwap(ctx, "old", "", []byte(`{"new":true}`), exp)
	if !ok || err != nil {
		t.Fatalf("create over an expired document = %v, %v; want swapped", ok, err)
	}
	doc := rawDoc(t, coll, "old")
	if doc["session"] != `{"new":true}` || doc["lastModified"] != nil {
		t.Fatalf("after create over an expired document: %v, want the new document alone", doc)
	}
	if _, v2, _, _ := st.GetVersion(ctx, "old"); v2 != v {
		t.Fatalf("create returned version %q, GetVersion says %q", v, v2)
	}

	// Live but unreadable: Get reports each missing, so a create may take
	// its id (the replace matched expired documents only, and the create
	// failed on each for as long as it lived).
	for _, doc := range []bson.D{
		{{Key: "_id", Value: "number"}, {Key: "session", Value: 42}, {Key: "expires", Value: exp}},
		{{Key: "_id", Value: "nosession"}, {Key: "expires", Value: exp}},
		{{Key: "_id", Value: "list"}, {Key: "session", Value: bson.A{`{}`}}, {Key: "expires", Value: exp}},
		{{Key: "_id", Value: "expireslist"}, {Key: "session", Value: `{}`}, {Key: "expires", Value: bson.A{exp}}},
		{{Key: "_id", Value: "noexpires"}, {Key: "session", Value: `{}`}},
	} {
		id := doc[0].Value.(string)
		insertRaw(t, coll, doc)
		if _, found, err := st.Get(ctx, id); found || err != nil {
			t.Fatalf("Get(%s): found %v, %v", id, found, err)
		}
		if _, ok, err := st.CompareAndSwap(ctx, id, "", []byte(`{"a":1}`), exp); !ok || err != nil {
			t.Errorf("create over %s, which Get reports missing = %v, %v; want swapped", id, ok, err)
		} else if got, _, _ := st.Get(ctx, id); string(got) != `{"a":1}` {
			t.Errorf("after create over %s, Get = %s", id, got)
		}
	}
}

// connectMongoSet does what connect-mongo's set does: an upsert of session,
// expires (and lastModified) that knows nothing of versions.
func connectMongoSet(t testing.TB, coll *mongo.Collection, id, sess string, expires time.Time) {
	t.Helper()
	_, err := coll.UpdateOne(context.Background(), bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "_id", Value: id}, {Key: "session", Value: sess}, {Key: "expires", Value: expires}, {Key: "lastModified", Value: time.Now()}}}},
		options.UpdateOne().SetUpsert(true))
	if err != nil {
		t.Fatal(err)
	}
}

func TestCompareAndSwapNoticesConnectMongoWrite(t *testing.T) {
	ctx := t.Context()
	st, coll, clock := clocked(t)
	exp := clock.Now().Add(time.Hour)
	if err := st.Set(ctx, "id", []byte(`{"a":1}`), exp); err != nil {
		t.Fatal(err)
	}
	_, v1, _, err := st.GetVersion(ctx, "id")
	if err != nil {
		t.Fatal(err)
	}
	connectMongoSet(t, coll, "id", `{"a":1,"b":2}`, exp)
	if _, ok, err := st.CompareAndSwap(ctx, "id", v1, []byte(`{"a":3}`), exp); ok || err != nil {
		t.Fatalf("CompareAndSwap after a connect-mongo write = %v, %v; want not swapped", ok, err)
	}
	got, v2, _, _ := st.GetVersion(ctx, "id")
	if string(got) != `{"a":1,"b":2}` {
		t.Fatalf("the connect-mongo write was lost: %s", got)
	}
	v3, ok, err := st.CompareAndSwap(ctx, "id", v2, []byte(`{"a":3,"b":2}`), exp)
	if !ok || err != nil {
		t.Fatalf("CompareAndSwap with the fresh version = %v, %v", ok, err)
	}
	if _, v4, _, _ := st.GetVersion(ctx, "id"); v4 != v3 {
		t.Fatalf("CompareAndSwap returned version %q, GetVersion says %q", v3, v4)
	}
	// A connect-mongo touch (expires and lastModified only) leaves the data,
	// so it does not make a conflict.
	_, err = coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: "id"}}, bson.D{{Key: "$set", Value: bson.D{{Key: "expires", Value: exp.Add(time.Hour)}, {Key: "lastModified", Value: clock.Now()}}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := st.CompareAndSwap(ctx, "id", v3, []byte(`{"a":4,"b":2}`), exp); !ok || err != nil {
		t.Fatalf("CompareAndSwap after a connect-mongo touch = %v, %v; want swapped", ok, err)
	}
	if _, ok, err := st.CompareAndSwap(ctx, "id", "garbage", []byte(`{}`), exp); ok || err == nil {
		t.Fatalf("CompareAndSwap with a foreign version = %v, %v; want an error", ok, err)
	}
}

func TestBadStoredDataIsMissingAndLogged(t *testing.T) {
	ctx := t.Context()
	var logs testserver.Output
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	st, coll, clock := clocked(t, mongostore.WithLogger(logger))
	exp := clock.Now().Add(time.Hour)
	insertRaw(t, coll, bson.D{{Key: "_id", Value: "number"}, {Key: "session", Value: 42}, {Key: "expires", Value: exp}})
	insertRaw(t, coll, bson.D{{Key: "_id", Value: "nosession"}, {Key: "expires", Value: exp}})
	insertRaw(t, coll, bson.D{{Key: "_id", Value: "noexpires"}, {Key: "session", Value: `{}`}})
	insertRaw(t, coll, bson.D{{Key: "_id", Value: "strexpires"}, {Key: "session", Value: `{}`}, {Key: "expires", Value: "tomorrow"}})
	for _, id := range []string{"number", "nosession", "noexpires", "strexpires"} {
		if data, found, err := st.Get(ctx, id); found || err != nil {
			t.Errorf("Get(%s) = %s, %v, %v; want missing, no error", id, data, found, err)
		}
	}
	for _, want := range []string{"session is a 32-bit integer", "no session field", "no expires field", "expires is a string, not a date"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
	// An unreadable document is absent: a new session may take its id.
	if _, ok, err := st.CompareAndSwap(ctx, "noexpires", "", []byte(`{"a":1}`), exp); !ok || err != nil {
		t.Fatalf("create over a document without expires = %v, %v", ok, err)
	}

	// A session that is not JSON is the manager's to reject: it logs it and
	// starts a new session.
	var appLogs testserver.Output
	app := apptest.New(t, st, func(o *session.Options) { o.Logger = slog.New(slog.NewTextHandler(&appLogs, nil)) })
	first := app.MustDo(t, "/set?k=a&v=1", nil)
	if _, err := coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: first.Body}}, bson.D{{Key: "$set", Value: bson.D{{Key: "session", Value: "not json {"}}}}); err != nil {
		t.Fatal(err)
	}
	if v := app.Values(t, first.Cookies); !v.New || v.ID == first.Body {
		t.Fatalf("request on a non-JSON session: %+v, want a new session", v)
	}
	if !strings.Contains(appLogs.String(), "corrupt") {
		t.Fatalf("the manager did not log the corrupt session:\n%s", appLogs.String())
	}
}

// IDs and Count list what Get returns: a live document that cannot be read
// is missing for them too, as a corrupt record is for boltstore. They
// filtered on expires alone, so such a document was counted, and
// sessionctl listed it as a session gone just now.
func TestIDsAndCountLeaveOutDocumentsGetReportsMissing(t *testing.T) {
	ctx := t.Context()
	st, coll, clock := clocked(t)
	exp := clock.Now().Add(time.Hour)
	if err := st.Set(ctx, "good", []byte(`{}`), exp); err != nil {
		t.Fatal(err)
	}
	insertRaw(t, coll, bson.D{{Key: "_id", Value: "number"}, {Key: "session", Value: 42}, {Key: "expires", Value: exp}})
	insertRaw(t, coll, bson.D{{Key: "_id", Value: "nosession"}, {Key: "expires", Value: exp}})
	insertRaw(t, coll, bson.D{{Key: "_id", Value: "list"}, {Key: "session", Value: bson.A{"{}"}}, {Key: "expires", Value: exp}})
	insertRaw(t, coll, bson.D{{Key: "_id", Value: "expireslist"}, {Key: "session", Value: `{}`}, {Key: "expires", Value: bson.A{exp}}})
	insertRaw(t, coll, bson.D{{Key: "_id", Value: "noexpires"}, {Key: "session", Value: `{}`}})
	for _, id := range []string{"number", "nosession", "list", "expireslist", "noexpires"} {
		if _, found, err := st.Get(ctx, id); found || err != nil {
			t.Fatalf("Get(%s) = %v, %v; want missing", id, found, err)
		}
	}
	if ids, err := st.IDs(ctx); err != nil || !slices.Equal(ids, []string{"good"}) {
		t.Errorf("IDs = %q, %v; want [good]", ids, err)
	}
	if n, err := st.Count(ctx); err != nil || n != 1 {
		t.Errorf("Count = %d, %v; want 1", n, err)
	}
}

// A document Get reports missing stays missing: GetAndTouch and Touch, whose
// filters used to match it, must not write an expires into it (which brought
// a document without one back as a live session) or push its expiry on.
func TestTouchingLeavesUnreadableDocumentAlone(t *testing.T) {
	ctx := t.Context()
	st, coll, clock := clocked(t)
	exp := clock.Now().Add(time.Hour)
	insertRaw(t, coll, bson.D{{Key: "_id", Value: "noexpires"}, {Key: "session", Value: `{"user":"alice"}`}})
	insertRaw(t, coll, bson.D{{Key: "_id", Value: "number"}, {Key: "session", Value: 42}, {Key: "expires", Value: exp}})
	insertRaw(t, coll, bson.D{{Key: "_id", Value: "list"}, {Key: "session", Value: bson.A{"{}"}}, {Key: "expires", Value: exp}})
	insertRaw(t, coll, bson.D{{Key: "_id", Value: "expireslist"}, {Key: "session", Value: `{}`}, {Key: "expires", Value: bson.A{exp}}})
	stored := func(id string) bson.Raw {
		t.Helper()
		raw, err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Raw()
		if err != nil {
			t.Fatalf("find %s: %v", id, err)
		}
		return raw
	}
	for _, id := range []string{"noexpires", "number", "list", "expireslist"} {
		before := stored(id)
		if data, _, found, err := st.GetAndTouch(ctx, id, exp.Add(time.Hour)); found || err != nil {
			t.Errorf("GetAndTouch(%s) = %s, %v, %v; want missing", id, data, found, err)
		}
		if found, err := st.Touch(ctx, id, exp.Add(time.Hour)); found || err != nil {
			t.Errorf("Touch(%s) = %v, %v; want not found", id, found, err)
		}
		if after := stored(id); !bytes.Equal(after, before) {
			t.Errorf("%s was written: %v, was %v", id, after, before)
		}
		if data, found, err := st.Get(ctx, id); found || err != nil {
			t.Errorf("Get(%s) after the touches = %s, %v, %v; want missing", id, data, found, err)
		}
	}
}

// Through the manager with default options, where every load is a
// GetAndTouch: a document without expires starts a new session on every
// request with its cookie, never its old one.
func TestDocumentWithoutExpiresStaysMissingThroughTheManager(t *testing.T) {
	coll := collection(t)
	app := apptest.New(t, newStore(t, coll), nil)
	first := app.MustDo(t, "/set?k=user&v=alice", nil)
	if _, err := coll.UpdateOne(t.Context(), bson.D{{Key: "_id", Value: first.Body}}, bson.D{{Key: "$unset", Value: bson.D{{Key: "expires", Value: ""}}}}); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if v := app.Values(t, first.Cookies); !v.New || v.Values["user"] != "" {
			t.Fatalf("request %d on a document without expires: %+v, want a new session", i+1, v)
		}
	}
}

func TestCleanupRemovesExpiredDocumentsUntilClose(t *testing.T) {
	ctx := t.Context()
	clock := testclock.New(testclock.Epoch())
	coll := collection(t)
	const interval = 20 * time.Millisecond
	st, err := mongostore.New(coll, mongostore.WithClock(clock.Now), mongostore.WithCleanupInterval(interval))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	insertExpired := func(id string) {
		insertRaw(t, coll, bson.D{{Key: "_id", Value: id}, {Key: "session", Value: `{}`}, {Key: "expires", Value: clock.Now().Add(-time.Second)}})
	}
	if err := st.Set(ctx, "live", []byte(`{}`), clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	insertExpired("a")
	insertExpired("b")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(interval) {
		n, err := coll.CountDocuments(ctx, bson.D{})
		if err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d documents 10s after they expired, want only the live one", n)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	insertExpired("c")
	time.Sleep(25 * interval)
	if n, _ := coll.CountDocuments(ctx, bson.D{{Key: "_id", Value: "c"}}); n != 1 {
		t.Fatal("the cleanup still runs after Close")
	}
	if err := st.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if n, err := st.PurgeExpired(ctx); n != 1 || err != nil {
		t.Fatalf("PurgeExpired = %d, %v; want 1", n, err)
	}
}

func TestWithTTLIndexFailsWhereTheServerHasNone(t *testing.T) {
	// FerretDB v1 has no TTL indexes (testserver.TestFerretDBRejectsTTLIndex).
	_, err := mongostore.New(collection(t), mongostore.WithTTLIndex())
	if err == nil || !strings.Contains(err.Error(), "WithCleanupInterval") {
		t.Fatalf("New with a TTL index on FerretDB: %v, want an error pointing to WithCleanupInterval", err)
	}
}

// NewContext's context bounds WithTTLIndex's index creation on a server
// that stopped answering after the connection was made: the error wraps
// the context's, and comes at its deadline (New used a fixed 30 s of its
// own, and nothing let a caller bound it by less). A context that has
// ended stops it before any request; without WithTTLIndex NewContext does
// nothing on the server, so an ended context does not matter.
func TestNewContextEndsTheTTLIndexCreationWithItsContext(t *testing.T) {
	srv := testserver.SharedMongo(t)
	proxy := testserver.StartProxy(t, srv.Addr)
	_, db := srv.NewDatabase(t)
	// No client Timeout: only NewContext's context bounds the request.
	client, err := mongo.Connect(options.Client().ApplyURI("mongodb://" + proxy.Addr + "/"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		proxy.Heal()
		_ = client.Disconnect(context.Background())
	})
	coll := client.Database(db).Collection("sessions")
	if err := client.Ping(t.Context(), nil); err != nil {
		t.Fatal(err)
	}

	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := mongostore.NewContext(cancelled, coll, mongostore.WithTTLIndex()); !errors.Is(err, context.Canceled) {
		t.Fatalf("NewContext with a cancelled context: %v, want context.Canceled", err)
	}
	st, err := mongostore.NewContext(cancelled, coll)
	if err != nil {
		t.Fatalf("NewContext without WithTTLIndex, with a cancelled context: %v, want a store (it does nothing on the server)", err)
	}
	st.Close()

	proxy.Stall()
	ctx, cancelTimeout := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancelTimeout()
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		st, err := mongostore.NewContext(ctx, coll, mongostore.WithTTLIndex())
		if err == nil {
			st.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("NewContext through a stalled network: %v, want an error wrapping context.DeadlineExceeded", err)
		}
		if strings.Contains(err.Error(), "WithCleanupInterval") {
			t.Errorf("NewContext's error %q gives advice about the server for a context that ended", err)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Fatalf("NewContext took %v with a context of 300ms", took)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("NewContext through a stalled network still waits after 10s with a context of 300ms")
	}
}

func TestNilCollection(t *testing.T) {
	if _, err := mongostore.New(nil); err == nil {
		t.Fatal("New(nil): no error")
	}
}

func TestParallelRequestsThroughTwoManagersLoseNothing(t *testing.T) {
	t.Parallel()
	apptest.ParallelUpdatesThroughTwoAppsLoseNothing(t, newStore(t, collection(t)), 100)
}

func TestSessionDestroyedDuringSlowRequestStaysDestroyed(t *testing.T) {
	apptest.DestroyDuringSlowRequestStaysDestroyed(t, newStore(t, collection(t)))
}

func TestServerKilledMidTraffic(t *testing.T) {
	t.Parallel()
	srv := testserver.StartMongo(t)
	const timeout = 500 * time.Millisecond
	client := connect(t, srv.URI(), func(o *options.ClientOptions) {
		o.SetTimeout(timeout).SetServerSelectionTimeout(timeout).SetConnectTimeout(200 * time.Millisecond)
	})
	apptest.ServerKilledMidTraffic(t, newStore(t, client.Database("app").Collection("sessions")), apptest.Outage{
		Kill:    srv.Kill,
		Restart: func() { srv.Restart(t) },
		// A modifying request makes two operations, each bounded by the
		// client's timeout; a second of slack for a loaded machine.
		MaxLatency: 2*timeout + time.Second,
	})
}

func TestErrorsDoNotShowWholeSessionID(t *testing.T) {
	st := newStore(t, collection(t))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	id := storetest.NewID()
	_, _, err := st.Get(ctx, id)
	if err == nil || strings.Contains(err.Error(), id) || !strings.Contains(err.Error(), id[:6]) {
		t.Fatalf("Get error %q: want the start of the id, not all of it", err)
	}
}

// commandCounter counts the commands a client sends, by name.
type commandCounter struct {
	mu     sync.Mutex
	counts map[string]int
}

func (c *commandCounter) started(_ context.Context, e *event.CommandStartedEvent) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counts[e.CommandName]++
}

func (c *commandCounter) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.counts
	c.counts = map[string]int{}
	return out
}

func TestOneRoundTripPerStoreOperation(t *testing.T) {
	srv := testserver.SharedMongo(t)
	uri, db := srv.NewDatabase(t)
	counter := &commandCounter{counts: map[string]int{}}
	client := connect(t, uri, func(o *options.ClientOptions) {
		o.SetMonitor(&event.CommandMonitor{Started: counter.started})
	})
	st := newStore(t, client.Database(db).Collection("sessions"))
	// TouchAfter leaves a read-only request alone right after a save; the
	// second app touches on every unmodified request, as express does.
	reader := apptest.New(t, st, apptest.HourCookieTouchAfterMinute)
	toucher := apptest.New(t, st, apptest.HourCookie)
	first := reader.MustDo(t, "/set?k=a&v=1", nil)

	cases := []struct {
		name string
		app  *apptest.App
		path string
		want map[string]int
	}{
		{"new session", reader, "/set?k=a&v=1", map[string]int{"insert": 1}},
		{"read-only", reader, "/get?k=a", map[string]int{"find": 1}},
		{"modifying", reader, "/set?k=b&v=3", map[string]int{"find": 1, "update": 1}},
		// The touch rides on the load: one findAndModify.
		{"touch-only", toucher, "/get?k=a", map[string]int{"findAndModify": 1}},
		{"modifying, touch app", toucher, "/set?k=c&v=4", map[string]int{"findAndModify": 1, "update": 1}},
		{"destroy", reader, "/destroy", map[string]int{"find": 1, "delete": 1}},
	}
	for _, c := range cases {
		cookies := first.Cookies
		if c.name == "new session" {
			cookies = nil
		}
		counter.take()
		c.app.MustDo(t, c.path, cookies)
		if got := counter.take(); !maps.Equal(got, c.want) {
			t.Errorf("%s request: commands %v, want %v", c.name, got, c.want)
		}
	}
}

// TestGetFindsByIDAlone pins the filter of Get's find to {_id}: FerretDB v1
// scans the whole collection for a filter with anything more in it (7 ms a
// find at 300 documents, 28 ms at 3,000, against 1.3 and 4.2 ms by _id
// alone), so the expiry is checked on the document found.
func TestGetFindsByIDAlone(t *testing.T) {
	srv := testserver.SharedMongo(t)
	uri, db := srv.NewDatabase(t)
	var (
		mu      sync.Mutex
		filters []bson.Raw
	)
	client := connect(t, uri, func(o *options.ClientOptions) {
		o.SetMonitor(&event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
			if e.CommandName == "find" {
				mu.Lock()
				defer mu.Unlock()
				filters = append(filters, e.Command.Lookup("filter").Document())
			}
		}})
	})
	st := newStore(t, client.Database(db).Collection("sessions"))
	if err := st.Set(t.Context(), "id1", []byte(`{"a":1}`), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, found, err := st.Get(t.Context(), "id1"); !found || err != nil {
		t.Fatalf("Get = %v, %v", found, err)
	}
	if _, _, found, err := st.GetVersion(t.Context(), "id1"); !found || err != nil {
		t.Fatalf("GetVersion = %v, %v", found, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(filters) != 2 {
		t.Fatalf("%d finds, want 2", len(filters))
	}
	for _, f := range filters {
		if elems, _ := f.Elements(); len(elems) != 1 || elems[0].Key() != "_id" {
			t.Errorf("find filter %s, want {_id} alone", f)
		}
	}
}

// FerretDB rewrites the whole document on any update, so a touch that read
// the document before a compare-and-swap wrote it would put the old session
// back. Touches and swaps of one id through one store must not interleave.
func TestTouchesDuringSwapsLoseNoSwap(t *testing.T) {
	st := newStore(t, collection(t))
	ctx := t.Context()
	id := storetest.NewID()
	if err := st.Set(ctx, id, []byte(`{"n":0}`), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := st.Touch(ctx, id, time.Now().Add(time.Hour)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	last := ""
	for i := 1; i <= 50; i++ {
		_, v, found, err := st.GetVersion(ctx, id)
		if err != nil || !found {
			t.Fatalf("GetVersion: found %v, %v", found, err)
		}
		last = fmt.Sprintf(`{"n":%d}`, i)
		if _, swapped, err := st.CompareAndSwap(ctx, id, v, []byte(last), time.Now().Add(time.Hour)); err != nil || !swapped {
			t.Fatalf("CompareAndSwap %d: swapped %v, %v (nothing else writes the session)", i, swapped, err)
		}
	}
	close(stop)
	wg.Wait()
	got, _, err := st.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != last {
		t.Fatalf("after the swaps the session is %s, want the last swap's %s", got, last)
	}
}

// A GetAndTouch that waits for the store's lock of its id (held by a touch
// or a compare-and-swap of an id of the same stripe, which on a slow server
// can take a while) judges the session's expiry at the time it gets the
// lock: a session that expired meanwhile is missing, and stays expired. It
// read the clock before waiting, so its filter took the session for live,
// returned it and pushed its expiry forward, reviving a session past its
// expiry.
func TestGetAndTouchAfterWaitingForTheLockDoesNotReviveASessionThatExpiredMeanwhile(t *testing.T) {
	ctx := t.Context()
	clock := testclock.New(testclock.Epoch())
	var (
		mu    sync.Mutex
		hold  chan struct{}              // non-nil: the next reading waits until it is closed
		held  = make(chan struct{})      // closed when that reading waits
		reads = make(chan struct{}, 100) // a token per other reading
	)
	now := func() time.Time {
		mu.Lock()
		h := hold
		hold = nil
		mu.Unlock()
		if h != nil {
			close(held)
			<-h
		} else {
			select {
			case reads <- struct{}{}:
			default:
			}
		}
		return clock.Now()
	}
	st := newStore(t, collection(t), mongostore.WithClock(now))
	id := storetest.NewID()
	if err := st.Set(ctx, id, []byte(`{"a":1}`), clock.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	mu.Lock()
	hold = release
	mu.Unlock()
	touched := make(chan error, 1)
	go func() {
		_, err := st.Touch(ctx, id, clock.Now().Add(time.Hour))
		touched <- err
	}()
	<-held // the touch holds the lock of id while it reads the clock
	for len(reads) > 0 {
		<-reads
	}
	type result struct {
		found bool
		err   error
	}
	got := make(chan result, 1)
	go func() {
		_, _, found, err := st.GetAndTouch(ctx, id, clock.Now().Add(time.Hour))
		got <- result{found, err}
	}()
	// Long enough for a GetAndTouch that reads the clock before the lock to
	// do so; one that reads it after has nothing to show meanwhile.
	select {
	case <-reads:
	case <-time.After(300 * time.Millisecond):
	}
	clock.Set(clock.Now().Add(2 * time.Second)) // the session expires while GetAndTouch waits
	close(release)
	if err := <-touched; err != nil {
		t.Fatal(err)
	}
	if r := <-got; r.found || r.err != nil {
		t.Fatalf("GetAndTouch of a session that expired while it waited for the lock: found %v, %v; want missing", r.found, r.err)
	}
	if _, found, err := st.Get(ctx, id); found || err != nil {
		t.Fatalf("Get after that GetAndTouch: found %v, %v; want the session to stay expired", found, err)
	}
}

// A session stored as the empty string (a codec that writes an empty
// session as no bytes, or another app) has a version like any other, and a
// compare-and-swap from it swaps. Its version is the prefix alone, which
// CompareAndSwap took for no version of this store and failed with an
// error: a store error for a save that nothing else had raced.
func TestCompareAndSwapFromAnEmptySessionSwaps(t *testing.T) {
	ctx := t.Context()
	st, _, clock := clocked(t)
	exp := clock.Now().Add(time.Hour)
	if err := st.Set(ctx, "empty", nil, exp); err != nil {
		t.Fatal(err)
	}
	data, v, found, err := st.GetVersion(ctx, "empty")
	if err != nil || !found || len(data) != 0 {
		t.Fatalf("GetVersion of an empty session = %q, found %v, %v", data, found, err)
	}
	if _, swapped, err := st.CompareAndSwap(ctx, "empty", v, []byte(`{"a":1}`), exp); err != nil || !swapped {
		t.Fatalf("CompareAndSwap from the empty session's version: swapped %v, %v; want swapped", swapped, err)
	}
	if got, _, _ := st.Get(ctx, "empty"); string(got) != `{"a":1}` {
		t.Fatalf("after the swap the session is %q", got)
	}
	if _, swapped, err := st.CompareAndSwap(ctx, "empty", v, []byte(`{"b":2}`), exp); err != nil || swapped {
		t.Fatalf("CompareAndSwap from the empty session's version after it changed: swapped %v, %v; want a conflict", swapped, err)
	}
}

// A compare-and-swap over a session stored as an object (connect-mongo's
// stringify: false) keeps the BSON value of every value that the new
// session holds as it read: a Date, an ObjectId, a Long or a double holding
// an integer, at the top level and inside an object that changed
// elsewhere, so that the Node driver gives Express back the Date and the
// ObjectId it stored. A changed value is stored as its JSON converts. The
// write stored every one as a string or a converted number.
func TestObjectSessionKeepsTheTypesOfValuesASwapLeaves(t *testing.T) {
	ctx := t.Context()
	st, coll, clock := clocked(t, mongostore.WithStringify(false))
	exp := clock.Now().Add(time.Hour)
	login := time.Date(2026, 11, 22, 9, 59, 0, 123e6, time.UTC)
	oid := bson.NewObjectID()
	insertRaw(t, coll, bson.D{{Key: "_id", Value: "obj"}, {Key: "session", Value: bson.D{
		{Key: "cookie", Value: bson.D{{Key: "originalMaxAge", Value: int32(3600000)}, {Key: "expires", Value: exp}, {Key: "httpOnly", Value: true}, {Key: "path", Value: "/"}}},
		{Key: "loginAt", Value: login},
		{Key: "user", Value: bson.D{{Key: "_id", Value: oid}, {Key: "name", Value: "ann"}, {Key: "since", Value: login}}},
		{Key: "two", Value: 2.0}, {Key: "long", Value: int64(7)}, {Key: "views", Value: int32(1)},
	}}, {Key: "expires", Value: exp}})
	data, v, found, err := st.GetVersion(ctx, "obj")
	if err != nil || !found {
		t.Fatalf("GetVersion = %v, %v", found, err)
	}
	// What a Go request that changed views and the user's name saves.
	next := strings.Replace(strings.Replace(string(data), `"views":1`, `"views":2`, 1), `"name":"ann"`, `"name":"bob"`, 1)
	if next == string(data) {
		t.Fatalf("no views or name to change in %s", data)
	}
	if _, ok, err := st.CompareAndSwap(ctx, "obj", v, []byte(next), exp); !ok || err != nil {
		t.Fatalf("CompareAndSwap = %v, %v", ok, err)
	}
	raw, err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "obj"}}).Raw()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path []string
		want bson.Type
	}{
		{[]string{"loginAt"}, bson.TypeDateTime},
		{[]string{"user", "_id"}, bson.TypeObjectID},
		{[]string{"user", "since"}, bson.TypeDateTime},
		{[]string{"user", "name"}, bson.TypeString},
		{[]string{"two"}, bson.TypeDouble},
		{[]string{"long"}, bson.TypeInt64},
		{[]string{"views"}, bson.TypeInt32},
	} {
		if got := raw.Lookup(append([]string{"session"}, c.path...)...); got.Type != c.want {
			t.Errorf("session.%s stored as %s, want a %s: %s", strings.Join(c.path, "."), got, c.want, raw)
		}
	}
	if got, ok := raw.Lookup("session", "user", "_id").ObjectIDOK(); !ok || got != oid {
		t.Errorf("user._id = %s, want %s", got, oid)
	}
	if got, _ := raw.Lookup("session", "user", "name").StringValueOK(); got != "bob" {
		t.Errorf("user.name = %q, want the new bob", got)
	}
	if got, _, err := st.Get(ctx, "obj"); err != nil || string(got) != next {
		t.Errorf("Get = %s, %v; want what was swapped in:\n%s", got, err, next)
	}
}

// Inside an array that a Go request changed (an item's quantity in a cart,
// a date pushed onto a list), a compare-and-swap over a session stored as
// an object keeps the stored BSON value of each element the new array holds
// as it read, at the same index, and of each key inside an element object
// that changed: the Node driver gives Express back the ObjectId of each
// cart item and the Date of each earlier login. The swap stored every
// element of a changed array from its JSON, so that cart[0].productId
// became a string (a query by it found nothing, .equals threw) and every
// login a string.
func TestObjectSessionKeepsTheTypesInsideAnArrayASwapChanges(t *testing.T) {
	ctx := t.Context()
	st, coll, clock := clocked(t, mongostore.WithStringify(false))
	exp := clock.Now().Add(time.Hour)
	first := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	second := time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)
	pid, other := bson.NewObjectID(), bson.NewObjectID()
	insertRaw(t, coll, bson.D{{Key: "_id", Value: "arr"}, {Key: "session", Value: bson.D{
		{Key: "cookie", Value: bson.D{{Key: "originalMaxAge", Value: int32(3600000)}, {Key: "expires", Value: exp}, {Key: "httpOnly", Value: true}, {Key: "path", Value: "/"}}},
		{Key: "cart", Value: bson.A{
			bson.D{{Key: "productId", Value: pid}, {Key: "qty", Value: int32(1)}},
			bson.D{{Key: "productId", Value: other}, {Key: "qty", Value: int32(5)}},
		}},
		{Key: "logins", Value: bson.A{first, second}},
	}}, {Key: "expires", Value: exp}})
	data, v, found, err := st.GetVersion(ctx, "arr")
	if err != nil || !found {
		t.Fatalf("GetVersion = %v, %v", found, err)
	}
	// What a Go request that changed the first item's quantity and
	// recorded a login saves.
	const now = "2026-11-22T08:00:00.000Z"
	next := strings.Replace(strings.Replace(string(data), `"qty":1`, `"qty":2`, 1), `"2026-11-21T08:00:00.000Z"]`, `"2026-11-21T08:00:00.000Z","`+now+`"]`, 1)
	if strings.Count(next, `"qty":2`) != 1 || !strings.Contains(next, now) {
		t.Fatalf("no quantity or logins to change in %s", data)
	}
	if _, ok, err := st.CompareAndSwap(ctx, "arr", v, []byte(next), exp); !ok || err != nil {
		t.Fatalf("CompareAndSwap = %v, %v", ok, err)
	}
	raw, err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "arr"}}).Raw()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path []string
		want bson.Type
	}{
		{[]string{"cart", "0", "productId"}, bson.TypeObjectID},
		{[]string{"cart", "0", "qty"}, bson.TypeInt32},
		{[]string{"cart", "1"}, bson.TypeEmbeddedDocument},
		{[]string{"cart", "1", "productId"}, bson.TypeObjectID},
		{[]string{"logins", "0"}, bson.TypeDateTime},
		{[]string{"logins", "1"}, bson.TypeDateTime},
		{[]string{"logins", "2"}, bson.TypeString},
	} {
		if got := raw.Lookup(append([]string{"session"}, c.path...)...); got.Type != c.want {
			t.Errorf("session.%s stored as %s, want a %s: %s", strings.Join(c.path, "."), got, c.want, raw)
		}
	}
	if got, _ := raw.Lookup("session", "cart", "0", "productId").ObjectIDOK(); got != pid {
		t.Errorf("cart.0.productId = %s, want %s", got, pid)
	}
	if got, _ := raw.Lookup("session", "cart", "0", "qty").Int32OK(); got != 2 {
		t.Errorf("cart.0.qty = %d, want the new 2", got)
	}
	if got, _, err := st.Get(ctx, "arr"); err != nil || string(got) != next {
		t.Errorf("Get = %s, %v; want what was swapped in:\n%s", got, err, next)
	}
}
