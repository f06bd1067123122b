package interop

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/memstore"
	"github.com/sessionkit/session/mongostore"
	"github.com/sessionkit/session/pgstore"
	"github.com/sessionkit/session/redisstore"
)

// The stores of the differential suite. Every scenario runs on each:
//
//	memory  express-session's MemoryStore       memstore
//	redis   connect-redis 9 (node-redis 5)      redisstore
//	mongo   connect-mongo 6 (FerretDB)          mongostore
//	pg      connect-pg-simple 10 (PostgreSQL)   pgstore
//
// On every store but memory the two sides keep their sessions apart
// (appPrefix), so that the two apps of a scenario share nothing, and the
// suite reads the stored copy after every request (storedCopy).

// appPrefix returns the key prefix (redis), collection (mongo) or table
// (pg) of a new app of side ("express" or "go"): on Redis a prefix no other
// app has; on MongoDB and PostgreSQL one collection or table per side,
// shared by the side's apps (the session ids are random, and no operation
// of either store looks at another session), so that a scenario does not
// wait for a collection or a table to be made.
func appPrefix(store, side string) string {
	if store == "redis" {
		return "diff:" + testserver.UniquePrefix()
	}
	return "diff_" + side
}

// diffDatabases are the MongoDB and PostgreSQL connections of the Go side,
// opened on first use and shared by every scenario (closeDiffDatabases
// closes them).
var diffDatabases struct {
	mongoOnce sync.Once
	mongo     *mongo.Database
	mongoURL  string // the database's URL, for the Node side
	mongoErr  error

	pgOnce sync.Once
	pg     *pgxpool.Pool
	pgURL  string
	pgErr  error
}

// diffMongo returns the database of the suite's collections on the shared
// FerretDB, and its URL.
func diffMongo(t *testing.T) (*mongo.Database, string) {
	t.Helper()
	srv := testserver.SharedMongo(t)
	d := &diffDatabases
	d.mongoOnce.Do(func() {
		uri, db := srv.NewDatabase(t)
		client, err := mongo.Connect(options.Client().ApplyURI(uri).SetTimeout(20 * time.Second))
		if err != nil {
			d.mongoErr = err
			return
		}
		d.mongo, d.mongoURL = client.Database(db), uri+db
	})
	if d.mongoErr != nil {
		t.Fatalf("connect to FerretDB: %v", d.mongoErr)
	}
	return d.mongo, d.mongoURL
}

// diffPg returns the pool of the suite's tables, in the postgres database
// of the shared PostgreSQL, and its URL.
func diffPg(t *testing.T) (*pgxpool.Pool, string) {
	t.Helper()
	srv := testserver.SharedPostgres(t)
	d := &diffDatabases
	d.pgOnce.Do(func() {
		d.pgURL = srv.DSN("postgres")
		d.pg, d.pgErr = pgxpool.New(context.Background(), d.pgURL)
	})
	if d.pgErr != nil {
		t.Fatalf("connect to PostgreSQL: %v", d.pgErr)
	}
	return d.pg, d.pgURL
}

// pgTables are the tables createPgTable made (a *pgTableCreation each).
var pgTables sync.Map

// pgTableCreation is the creation of one table: once, and what it failed with.
type pgTableCreation struct {
	once sync.Once
	err  error
}

// createPgTable makes table, connect-pg-simple's table under that name,
// with pgstore.WithCreateTable, unless it did already. It makes the Node
// side's table too: connect-pg-simple's own createTableIfMissing names the
// primary key "session_pkey" whatever the table, so it makes one table per
// schema.
func createPgTable(t *testing.T, table string) {
	t.Helper()
	v, _ := pgTables.LoadOrStore(table, new(pgTableCreation))
	tb := v.(*pgTableCreation)
	tb.once.Do(func() {
		pool, _ := diffPg(t)
		st, err := pgstore.New(pool, pgstore.WithTable(table), pgstore.WithCreateTable(), pgstore.WithCleanupInterval(0))
		if err == nil {
			st.Close()
		}
		tb.err = err
	})
	if tb.err != nil {
		t.Fatalf("create table %s: %v", table, tb.err)
	}
}

// closeDiffDatabases closes the connections diffMongo and diffPg opened.
func closeDiffDatabases() {
	if d := &diffDatabases; d.mongo != nil {
		_ = d.mongo.Client().Disconnect(context.Background())
	}
	if d := &diffDatabases; d.pg != nil {
		d.pg.Close()
	}
}

// storeURL returns the URL of the server of store, as the Node side's
// config takes it ("" for memory and redis: the diff peer has its Redis).
func storeURL(t *testing.T, store string) string {
	t.Helper()
	switch store {
	case "mongo":
		_, url := diffMongo(t)
		return url
	case "pg":
		_, url := diffPg(t)
		return url
	}
	return ""
}

// newGoStore returns the Go app's store for configuration c: a fresh
// memstore, or redisstore, mongostore or pgstore under c's prefix,
// collection or table, without a cleanup of expired sessions (as the Node
// side runs none).
func newGoStore(t *testing.T, c diffConfig) fullStore {
	t.Helper()
	switch c.Store {
	case "memory":
		ms := memstore.New()
		t.Cleanup(func() { ms.Close() })
		return ms
	case "redis":
		rdb := redis.NewClient(&redis.Options{Addr: testserver.SharedRedis(t).Addr})
		t.Cleanup(func() { rdb.Close() })
		return redisstore.New(rdb, redisstore.WithPrefix(c.Prefix))
	case "mongo":
		db, _ := diffMongo(t)
		opts := []mongostore.Option{mongostore.WithCleanupInterval(0), mongostore.WithLogger(slog.New(slog.DiscardHandler))}
		if c.TouchAfter > 0 {
			opts = append(opts, mongostore.WithLastModified()) // as connect-mongo with touchAfter
		}
		st, err := mongostore.New(db.Collection(c.Prefix), opts...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	case "pg":
		pool, _ := diffPg(t)
		createPgTable(t, c.Prefix)
		st, err := pgstore.New(pool, pgstore.WithTable(c.Prefix), pgstore.WithCleanupInterval(0),
			pgstore.WithLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	t.Fatalf("unknown store %q", c.Store)
	return nil
}

// lastModifiedRE is the lastModified that connect-mongo with touchAfter
// puts among a session's data when it reads it (a Date, in JSON).
var lastModifiedRE = regexp.MustCompile(`"lastModified":"` + isoMillis + `"`)

// ageLastModified moves the lastModified of session id's document (mongo,
// touchAfter) back by d, after the app's age (whose write set it to now):
// with touchAfter, connect-mongo decides from lastModified whether a touch
// is due, and a document that looks d old was last written d ago.
func ageLastModified(t *testing.T, c diffConfig, id string, d time.Duration) {
	t.Helper()
	db, _ := diffMongo(t)
	_, err := db.Collection(c.Prefix).UpdateOne(context.Background(),
		bson.D{{Key: "_id", Value: id}, {Key: "lastModified", Value: bson.D{{Key: "$exists", Value: true}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "lastModified", Value: time.Now().Add(-d)}}}})
	if err != nil {
		t.Fatalf("age lastModified of %s: %v", id, err)
	}
}

// storedCopy is a session as its store keeps it, read behind the apps'
// backs.
type storedCopy struct {
	found bool
	doc   string // the session document, as stored
	// expiry is "set" (left is then the time from the request's start to
	// the store's expiry of the session) or "none".
	expiry string
	left   time.Duration
	extra  string // what the store keeps beside them (" +lastModified"), compared with the document
}

// storeReader reads the stored copy of a session of an app in one
// configuration; nil on the memory stores, which are not compared.
type storeReader func(t *testing.T, id string, at time.Time) storedCopy

// newStoreReader returns the reader of c's store.
func newStoreReader(t *testing.T, c diffConfig) storeReader {
	t.Helper()
	switch c.Store {
	case "redis":
		rdb := redis.NewClient(&redis.Options{Addr: testserver.SharedRedis(t).Addr})
		t.Cleanup(func() { rdb.Close() })
		return func(t *testing.T, id string, at time.Time) storedCopy {
			return redisCopy(t, rdb, c.Prefix+id, at)
		}
	case "mongo":
		db, _ := diffMongo(t)
		coll := db.Collection(c.Prefix)
		return func(t *testing.T, id string, at time.Time) storedCopy { return mongoCopy(t, coll, id, at) }
	case "pg":
		pool, _ := diffPg(t)
		table := pgx.Identifier{c.Prefix}.Sanitize()
		return func(t *testing.T, id string, at time.Time) storedCopy { return pgCopy(t, pool, table, id, at) }
	}
	return nil
}

// redisCopy reads key and its expiry, as the time from at (the step's
// request's start) to the key's expiry, as the other stores' are counted:
// PEXPIRETIME gives the instant, where PTTL counted from when Redis ran it,
// after the request's end and the harness's reads of the counts (for
// Express a round trip to the Node process that all parallel scenarios
// share, however long that takes on a loaded machine) and of the document.
func redisCopy(t *testing.T, rdb *redis.Client, key string, at time.Time) storedCopy {
	t.Helper()
	ctx := context.Background()
	doc, err := rdb.Get(ctx, key).Result()
	if err == redis.Nil {
		return storedCopy{}
	}
	if err != nil {
		t.Fatalf("GET %s: %v", key, err)
	}
	exp, err := rdb.PExpireTime(ctx, key).Result() // Unix milliseconds, -1 for none, -2 for no key
	if err != nil {
		t.Fatalf("PEXPIRETIME %s: %v", key, err)
	}
	c := storedCopy{found: true, doc: doc}
	switch {
	case exp > 0:
		c.expiry, c.left = "set", time.UnixMilli(exp.Milliseconds()).Sub(at)
	case exp == -1:
		c.expiry = "none"
	}
	return c
}

// mongoCopy reads the document of session id: its session (the JSON string
// connect-mongo writes; any other type is shown as such) and its expires.
// A document expired by now is no session: both stores skip it on a read,
// and neither removes it at once (connect-mongo's autoRemove and
// mongostore's cleanup or TTL index run later, if at all). A field beside
// _id, session and expires is appended to the document, so that it is
// compared too.
func mongoCopy(t *testing.T, coll *mongo.Collection, id string, at time.Time) storedCopy {
	t.Helper()
	raw, err := coll.FindOne(context.Background(), bson.D{{Key: "_id", Value: id}}).Raw()
	if err == mongo.ErrNoDocuments {
		return storedCopy{}
	}
	if err != nil {
		t.Fatalf("find %s in %s: %v", id, coll.Name(), err)
	}
	c := storedCopy{found: true, expiry: "none"}
	elems, err := raw.Elements()
	if err != nil {
		t.Fatalf("document %s: %v", id, err)
	}
	var extra []string
	for _, e := range elems {
		v := e.Value()
		switch e.Key() {
		case "_id":
		case "session":
			if s, ok := v.StringValueOK(); ok {
				c.doc = s
			} else {
				c.doc = fmt.Sprintf("(session of BSON type %s) %s", v.Type, v)
			}
		case "expires":
			dt, ok := v.DateTimeOK()
			if !ok {
				extra = append(extra, fmt.Sprintf("expires of BSON type %s", v.Type))
				break
			}
			exp := time.UnixMilli(dt)
			if !exp.After(time.Now()) {
				return storedCopy{}
			}
			c.expiry, c.left = "set", exp.Sub(at)
		default:
			extra = append(extra, e.Key())
		}
	}
	if len(extra) > 0 {
		c.extra = " +" + strings.Join(extra, ",")
	}
	return c
}

// pgCopy reads the row of session id: sess as text (a json column keeps the
// bytes it was given) and expire as an instant in the connection's zone,
// the zone both apps write it in. A row expired when the request started
// (at) is no session, as in mongoCopy (connect-pg-simple's pruning and
// pgstore's cleanup run later). The request's start, not now: a row that
// connect-pg-simple wrote for a cookie expiring during the request expires
// at the end of that second (it rounds up), and would otherwise be there
// or not depending on where in its second the request fell.
func pgCopy(t *testing.T, pool *pgxpool.Pool, table, id string, at time.Time) storedCopy {
	t.Helper()
	var (
		doc    string
		expire time.Time
	)
	err := pool.QueryRow(context.Background(), `SELECT sess::text, expire::timestamptz FROM `+table+` WHERE sid = $1`, id).Scan(&doc, &expire)
	if err == pgx.ErrNoRows || err == nil && !expire.After(at) {
		return storedCopy{}
	}
	if err != nil {
		t.Fatalf("row %s of %s: %v", id, table, err)
	}
	return storedCopy{found: true, doc: doc, expiry: "set", left: expire.Sub(at)}
}
