package storeurl_test

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/mongostore"
	"github.com/sessionkit/session/storeurl"
)

func TestMongoURLOpensStoreOnTheNamedCollection(t *testing.T) {
	srv := testserver.SharedMongo(t)
	_, db := srv.NewDatabase(t)
	st := openNetStore(t, "mongodb://"+srv.Addr+"/"+db+"?collection=web_sessions&default_ttl=1h&cleanup_interval=10m&last_modified=true&connectTimeoutMS=2000")
	if _, ok := st.(*mongostore.Store); !ok {
		t.Fatalf("Open gave a %T, want a *mongostore.Store", st)
	}
	netRoundTrip(t, st, "a")

	client, err := mongo.Connect(options.Client().ApplyURI(srv.URI()))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Disconnect(context.Background())
	var doc bson.M
	if err := client.Database(db).Collection("web_sessions").FindOne(t.Context(), bson.D{{Key: "_id", Value: "a"}}).Decode(&doc); err != nil {
		t.Fatalf("the session is not in %s.web_sessions: %v", db, err)
	}
	// default_ttl and last_modified came from the URL.
	exp, lm := doc["expires"].(bson.DateTime).Time(), doc["lastModified"].(bson.DateTime).Time()
	if d := exp.Sub(lm); d != time.Hour {
		t.Fatalf("expires - lastModified = %v, want the default_ttl of 1h", d)
	}
}

func TestMongoURLOfServerThatIsDownFailsAtOpen(t *testing.T) {
	down := testserver.RefusingAddr(t) // a server that is down: refused, whoever else starts meanwhile
	start := time.Now()
	_, _, err := storeurl.Open(t.Context(), "mongodb://"+down+"/app?serverSelectionTimeoutMS=300")
	if err == nil || !strings.Contains(err.Error(), "ping") {
		t.Fatalf("Open with the server down: %v, want a ping error", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("Open took %v with serverSelectionTimeoutMS=300", took)
	}
}

// TestMongoURLOfAServerThatRefusesTheConnectionFailsAtOnce: a server that
// refuses the connection (nothing listens on its port) fails Open at once,
// as it does for the other network schemes, where the driver went on
// selecting a server until Open's deadline or its serverSelectionTimeoutMS
// (30 s): sessiondemo -store mongodb://... said nothing for 30 s.
func TestMongoURLOfAServerThatRefusesTheConnectionFailsAtOnce(t *testing.T) {
	_, port, _ := net.SplitHostPort(testserver.RefusingAddr(t))
	// The driver names a host in its canonical form (lower case, with
	// the default port 27017 when the URL gives none): LOCALHOST stands
	// for such a host here, as a port of 27017 is not sure to be free.
	for _, host := range []string{"127.0.0.1:" + port, "LOCALHOST:" + port} {
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		start := time.Now()
		_, _, err := storeurl.Open(ctx, "mongodb://"+host+"/app")
		took := time.Since(start)
		cancel()
		if err == nil || !strings.Contains(err.Error(), "connection refused") {
			t.Fatalf("Open of %s, where nothing listens: %v, want an error saying the connection was refused", host, err)
		}
		if took > 5*time.Second {
			t.Fatalf("Open of %s, where nothing listens, took %v, want it at once", host, took)
		}
	}
	// A URL that sets serverSelectionTimeoutMS waits that long (for a
	// server that is still starting), as before.
	start := time.Now()
	_, _, err := storeurl.Open(t.Context(), "mongodb://127.0.0.1:"+port+"/app?serverSelectionTimeoutMS=1500")
	if took := time.Since(start); err == nil || took < 1500*time.Millisecond {
		t.Fatalf("Open with serverSelectionTimeoutMS=1500 of a port where nothing listens: %v after %v, want an error after 1.5 s", err, took)
	}
}

// Open's context bounds ttl_index's index creation: a server that stops
// answering after the ping fails Open at the context's deadline, with an
// error wrapping the context's. mongostore.New created the indexes under a
// fixed 30 s of its own, which neither Open's context nor sessionctl's
// -timeout shortened. Nor may letting the client go outlast the context:
// the driver's Disconnect can wait for its monitor's check on the stalled
// network (seen under load: Open then took 30 s, whatever its context).
func TestMongoURLCreatesTheTTLIndexWithinOpensContext(t *testing.T) {
	srv := testserver.SharedMongo(t)
	_, db := srv.NewDatabase(t)
	proxy := testserver.StartProxy(t, srv.Addr)
	t.Cleanup(proxy.Heal)
	proxy.StallAt("createIndexes") // the ping goes through, the index request does not

	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		_, closer, err := storeurl.Open(ctx, "mongodb://"+proxy.Addr+"/"+db+"?ttl_index=true")
		if err == nil {
			closer.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "create the TTL index") {
			t.Fatalf("Open with a server that stops answering at createIndexes: %v, want the TTL index's creation ended by the context", err)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Fatalf("Open took %v with a context of 500ms", took)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Open still waits for the TTL index after 10s with a context of 500ms")
	}
}

func TestMongoURLErrorsSayWhatIsWrong(t *testing.T) {
	for _, c := range []struct{ url, want string }{
		{"mongodb://h1:27017", "must name the database"},
		{"mongodb://h1:27017/a/b", "must name the database"},
		{"mongodb://h1:27017/app?collection=", "parameter collection"},
		{"mongodb://h1:27017/app?default_ttl=soon", "parameter default_ttl"},
		{"mongodb://h1:27017/app?cleanup_interval=-1s", "parameter cleanup_interval"},
		{"mongodb://h1:27017/app?ttl_index=maybe", "parameter ttl_index"},
		{"mongodb://h1:27017/app?default_ttl=1h&default_ttl=2h", `"default_ttl" given 2 times`},
		{"mongodb://h1:27017/app?connectTimeoutMS=soon", "connecttimeoutms"},
	} {
		t.Run(c.url, func(t *testing.T) {
			_, _, err := storeurl.Open(t.Context(), c.url)
			if err == nil || !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(c.want)) {
				t.Fatalf("Open(%q) = %v, want an error containing %q", c.url, err, c.want)
			}
		})
	}
}

// The MongoDB driver ignores the options it does not know, in silence, and
// its own are camelCase: a store parameter written in the driver's style
// (cleanupInterval=10m, ttlIndex=true, Collection=web) was handed to the
// driver and dropped, so that expired sessions were never deleted, or
// sessions went to another collection, without a word. Open refuses a
// parameter that differs from one of the store's only in letter case,
// "_" or "-", naming the store's spelling; postgres URLs, whose server
// refuses unknown settings with its own message, give the same error.
// A parameter that neither the store nor the MongoDB driver knows is
// refused: the driver ignored it in silence, so that a misspelt
// collection (colection=web) opened the default collection, sessions,
// and sessionctl counted, listed and cleared another application's
// sessions, or none. The driver's own options still pass.
func TestMongoURLRefusesAParameterNeitherTheStoreNorTheDriverKnows(t *testing.T) {
	srv := testserver.SharedMongo(t)
	_, db := srv.NewDatabase(t)
	base := "mongodb://" + srv.Addr + "/" + db + "?appName=x&retryWrites=false&"
	for _, c := range []struct{ query, want string }{
		{"colection=web", `unknown parameter "colection": neither the store's (known: cleanup_interval, collection,`},
		{"collection=web&readPrefrence=nearest", `unknown parameter "readPrefrence"`},
	} {
		openFails(t, base+c.query, c.want) // the parameter is not dropped in silence
	}
	_, closer, err := storeurl.Open(t.Context(), base+"collection=web&readPreference=nearest&w=majority")
	if err != nil {
		t.Fatalf("the driver's own options: %v", err)
	}
	closer.Close()
}

func TestMongoURLRefusesAStoreParameterInTheDriversSpelling(t *testing.T) {
	srv := testserver.SharedMongo(t)
	_, db := srv.NewDatabase(t)
	for _, c := range []struct{ query, want string }{
		{"cleanupInterval=10m", `parameter "cleanupInterval" is spelled cleanup_interval`},
		{"ttlIndex=true&defaultTTL=1h", `parameter "ttlIndex" is spelled ttl_index; parameter "defaultTTL" is spelled default_ttl`},
		{"Collection=web", `parameter "Collection" is spelled collection`},
		{"last-modified=true", `parameter "last-modified" is spelled last_modified`},
	} {
		openFails(t, "mongodb://"+srv.Addr+"/"+db+"?appName=x&"+c.query, c.want)
	}
	pg := testserver.SharedPostgres(t)
	_, _, err := storeurl.Open(t.Context(), "postgres://postgres@"+pg.Addr+"/postgres?sslmode=disable&createTable=true")
	if err == nil || !strings.Contains(err.Error(), `parameter "createTable" is spelled create_table`) {
		t.Errorf("postgres ?createTable=true: %v, want the store's spelling", err)
	}
}

// A database or collection name that the server refuses (a dot or a space
// in a database name, a $ in a collection's, a collection name so long that
// the user index collection's, <collection>_users, is over the server's
// limit) fails Open with the server's error naming it. Open succeeded, and
// then every request failed with InvalidNamespace (or, for the user index
// collection alone, every login).
func TestMongoURLWithANameTheServerRefusesFailsAtOpen(t *testing.T) {
	srv := testserver.SharedMongo(t)
	_, db := srv.NewDatabase(t)
	// FerretDB takes collection names of up to 235 bytes, MongoDB 255 for
	// database.collection: this one fits, and with _users it does not.
	long := strings.Repeat("s", 235-len("_users")+1)
	for _, c := range []struct{ db, collection, want string }{
		{"my.app", "sessions", `"my.app"`},
		{"my%20app", "sessions", `"my app"`},
		{db, "a$b", `"a$b"`},
		{db, long, `"` + long + `_users"`},
	} {
		_, closer, err := storeurl.Open(t.Context(), "mongodb://"+srv.Addr+"/"+c.db+"?collection="+url.QueryEscape(c.collection))
		if err == nil {
			closer.Close()
			t.Errorf("database %s, collection %.20s...: Open succeeded", c.db, c.collection)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "InvalidNamespace") {
			t.Errorf("database %s, collection %.20s...: %v, want the server's InvalidNamespace naming %s", c.db, c.collection, err, c.want)
		}
	}
}

// A mongodb URL without cleanup_interval gets mongostore's default cleanup,
// every 15 minutes, as its parameter's doc says; cleanup_interval=0 turns
// it off, and another value sets it. (A URL with ttl_index=true and no
// cleanup_interval leaves the cleanup off, as mongostore.WithTTLIndex does;
// FerretDB, the test server, refuses TTL indexes, so mongostore's tests
// check that.)
func TestMongoURLCleanupIntervalDefaultsToTheStores(t *testing.T) {
	srv := testserver.SharedMongo(t)
	_, db := srv.NewDatabase(t)
	for query, want := range map[string]time.Duration{
		"":                     mongostore.DefaultCleanupInterval,
		"?cleanup_interval=0":  0,
		"?cleanup_interval=1h": time.Hour,
	} {
		st := openNetStore(t, "mongodb://"+srv.Addr+"/"+db+query)
		if got := st.(*mongostore.Store).CleanupInterval(); got != want {
			t.Errorf("mongodb://.../db%s: the store cleans up every %v, want %v", query, got, want)
		}
	}
}
