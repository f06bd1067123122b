package bench

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	session "github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/memcachedstore"
	"github.com/sessionkit/session/mongostore"
	"github.com/sessionkit/session/pgstore"
)

// The scale benchmark's stores on PostgreSQL, FerretDB and Memcached: each
// on a server of its own, started for the row and stopped after it.

// scaleConns is the connections each client may hold: one per fill
// goroutine, so that no write of the fill waits for a connection.
const scaleConns = 64

// openPgstore is a pgstore in connect-pg-simple's table (with its index on
// expire), its cleanup off; its bytes are pgTableBytes.
func openPgstore(t *testing.T) (session.Store, func() int64, func()) {
	srv := testserver.StartPostgres(t)
	cfg, err := pgxpool.ParseConfig(srv.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = scaleConns
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	st, err := pgstore.New(pool, pgstore.WithCreateTable(), pgstore.WithCleanupInterval(0))
	if err != nil {
		pool.Close()
		t.Fatal(err)
	}
	used := func() int64 { return pgTableBytes(t, pool, st.Table()) }
	return st, used, func() { st.Close(); pool.Close() }
}

// pgTableBytes is the disk the session table takes: pg_total_relation_size,
// its heap, TOAST, both indexes (the primary key and expire's) and their
// free-space and visibility maps, after a VACUUM (ANALYZE), so that whether
// autovacuum happened to run during the fill (and made those maps) does not
// change the figure. VACUUM does not shrink the files, and the fill only
// inserts (no dead rows to reclaim): the figure is the disk the rows hold.
// The ANALYZE gives the planner the statistics autovacuum would have given
// a table that has been in use a while, for Count and PurgeExpired; their
// plans are logged, with the parts of the size.
func pgTableBytes(t *testing.T, pool *pgxpool.Pool, table string) int64 {
	ctx := context.Background()
	if _, err := pool.Exec(ctx, "VACUUM (ANALYZE) "+table); err != nil {
		t.Fatal(err)
	}
	var total, heap, indexes int64
	err := pool.QueryRow(ctx, `SELECT pg_total_relation_size($1::regclass), pg_relation_size($1::regclass), pg_indexes_size($1::regclass)`, table).
		Scan(&total, &heap, &indexes)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("pgstore table %s: %d bytes in all, heap %d, indexes %d", table, total, heap, indexes)
	// pgstore's Count and PurgeExpired statements.
	for _, q := range []string{
		`SELECT count(*) FROM ` + table + ` WHERE expire > now()`,
		`DELETE FROM ` + table + ` WHERE expire <= now()`,
	} {
		rows, err := pool.Query(ctx, "EXPLAIN "+q)
		if err != nil {
			t.Fatal(err)
		}
		plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("pgstore plan of %s:\n%s", q, strings.Join(plan, "\n"))
	}
	return total
}

// ferretdbAvailable says why FerretDB cannot run here (no go command, a
// failed build), building it first if this version was not built yet.
func ferretdbAvailable() error {
	_, err := testserver.FerretDBBinary()
	return err
}

// openMongostore is a mongostore on a FerretDB of its own (SQLite backend),
// without cleanup (FerretDB v1 has no TTL index); its bytes are
// ferretdbBytes.
func openMongostore(t *testing.T) (session.Store, func() int64, func()) {
	srv := testserver.StartMongo(t)
	client, err := mongo.Connect(options.Client().ApplyURI(srv.URI()).SetMaxPoolSize(scaleConns))
	if err != nil {
		t.Fatal(err)
	}
	db := client.Database("scale")
	// The collection exists before the first measure, so that the
	// figure is the documents' alone, not the empty tables'.
	if err := db.CreateCollection(context.Background(), "sessions"); err != nil {
		t.Fatal(err)
	}
	st, err := mongostore.New(db.Collection("sessions"))
	if err != nil {
		t.Fatal(err)
	}
	used := func() int64 { return ferretdbBytes(t, db) }
	return st, used, func() { st.Close(); client.Disconnect(context.Background()) }
}

// ferretdbBytes is the disk the database takes, as FerretDB's dbStats
// reports it: totalSize, on the SQLite backend the pages of the database's
// file that its tables and indexes use (SUM(pgsize) of SQLite's dbstat,
// which counts pages still in the write-ahead log; the file's own size
// would not, until a checkpoint). The collection and index parts are logged.
func ferretdbBytes(t *testing.T, db *mongo.Database) int64 {
	var stats bson.Raw
	if err := db.RunCommand(context.Background(), bson.D{{Key: "dbStats", Value: 1}}).Decode(&stats); err != nil {
		t.Fatal(err)
	}
	field := func(name string) int64 {
		v, err := stats.LookupErr(name)
		if err != nil {
			t.Fatalf("dbStats has no %s: %v", name, stats)
		}
		if n, ok := v.AsInt64OK(); ok {
			return n
		}
		t.Fatalf("dbStats %s is %v, not a number", name, v)
		return 0
	}
	t.Logf("mongostore on FerretDB: totalSize %d, storageSize %d, indexSize %d", field("totalSize"), field("storageSize"), field("indexSize"))
	return field("totalSize")
}

// openMemcachedstore is a memcachedstore on a memcached of its own, with
// 1 GiB of memory (the test servers' 64 MiB would evict sessions past
// about 150k); its bytes are memcachedBytes.
func openMemcachedstore(t *testing.T) (session.Store, func() int64, func()) {
	srv := testserver.StartMemcached(t, "-m", "1024")
	c := memcache.New(srv.Addr)
	c.MaxIdleConns = scaleConns
	// The machine is shared: gomemcache's 500 ms default would fail a
	// fill whose goroutines wait for the CPU.
	c.Timeout = 5 * time.Second
	used := func() int64 { return memcachedBytes(t, srv.Addr) }
	return memcachedstore.New(c), used, func() { c.Close(); srv.Kill() }
}

// memcachedBytes is memcached's stats bytes: the bytes of the items it
// holds, each with its header, key, flags, value and CAS id. It fails the
// test once memcached evicted an item: the reads would then miss. The
// memory of the slab chunks those items sit in (each item rounded up to its
// slab class's chunk size) is logged beside it.
func memcachedBytes(t *testing.T, addr string) int64 {
	stats := memcachedStats(t, addr, "stats")
	if ev := stats["evictions"]; ev != "0" {
		t.Fatalf("memcached evicted %s items", ev)
	}
	n, err := strconv.ParseInt(stats["bytes"], 10, 64)
	if err != nil {
		t.Fatalf("memcached stats bytes %q: %v", stats["bytes"], err)
	}
	var chunks int64
	slabs := memcachedStats(t, addr, "stats slabs")
	for k, v := range slabs {
		class, ok := strings.CutSuffix(k, ":used_chunks")
		if !ok {
			continue
		}
		used, _ := strconv.ParseInt(v, 10, 64)
		size, _ := strconv.ParseInt(slabs[class+":chunk_size"], 10, 64)
		chunks += used * size
	}
	t.Logf("memcached: bytes %d, items %s, used chunks %d bytes", n, stats["curr_items"], chunks)
	return n
}

// memcachedStats sends a stats command to the memcached at addr and returns
// its STAT lines as a map.
func memcachedStats(t *testing.T, addr, command string) map[string]string {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(c, "%s\r\n", command); err != nil {
		t.Fatal(err)
	}
	stats := map[string]string{}
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("memcached %s: %v", command, err)
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "END" {
			return stats
		}
		f := strings.Fields(line)
		if len(f) != 3 || f[0] != "STAT" {
			t.Fatalf("memcached %s answered %q", command, line)
		}
		stats[f[1]] = f[2]
	}
}
