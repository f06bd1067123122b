package pgstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/internal/testserver/apptest"
	"github.com/sessionkit/session/pgstore"
	"github.com/sessionkit/session/storetest"
)

func TestMain(m *testing.M) { os.Exit(testserver.Main(m)) }

// newPool returns a pool on a fresh database of the shared server.
func newPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	return poolOn(t, testserver.SharedPostgres(t).NewDatabase(t), nil)
}

// poolOn returns a pool on dsn, adjusted by config if not nil, closed at cleanup.
func poolOn(t testing.TB, dsn string, config func(*pgxpool.Config)) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	if config != nil {
		config(cfg)
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

var tableSeq atomic.Int64

// newStore returns a store on a table of its own in pool's database,
// created for it, without the cleanup unless opts turn it on.
func newStore(t testing.TB, pool *pgxpool.Pool, opts ...pgstore.Option) *pgstore.Store {
	t.Helper()
	base := []pgstore.Option{
		pgstore.WithTable(fmt.Sprintf("session_%d", tableSeq.Add(1))),
		pgstore.WithCreateTable(),
		pgstore.WithCleanupInterval(0),
	}
	st, err := pgstore.New(pool, append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// exec runs sql with args on pool, failing t on an error.
func exec(t testing.TB, pool *pgxpool.Pool, sql string, args ...any) {
	t.Helper()
	if _, err := pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// The statements connect-pg-simple 10 runs (its set, touch and get), with
// its parameters: expire in whole seconds since the epoch, rounded up.
const (
	expressSet   = `INSERT INTO %s (sess, expire, sid) SELECT $1, to_timestamp($2), $3 ON CONFLICT (sid) DO UPDATE SET sess=$1, expire=to_timestamp($2) RETURNING sid`
	expressTouch = `UPDATE %s SET expire = to_timestamp($1) WHERE sid = $2 RETURNING sid`
	expressGet   = `SELECT sess FROM %s WHERE sid = $1 AND expire >= to_timestamp($2)`
)

// expressSeconds is connect-pg-simple's expire parameter for t.
func expressSeconds(t time.Time) int64 { return int64(math.Ceil(float64(t.UnixMilli()) / 1000)) }

// expressWrite writes data under id as connect-pg-simple does.
func expressWrite(t testing.TB, pool *pgxpool.Pool, st *pgstore.Store, id, data string, expires time.Time) {
	t.Helper()
	exec(t, pool, fmt.Sprintf(expressSet, st.Table()), data, expressSeconds(expires), id)
}

func TestConformance(t *testing.T) {
	t.Parallel()
	pool := newPool(t)
	storetest.Run(t, func(t *testing.T) session.Store { return newStore(t, pool) }, storetest.KeepsOnlyJSON(pgstore.ErrNotJSON))
}

// describeTable returns the columns, constraints and indexes of a table in
// pool's database, in a form to compare.
func describeTable(t *testing.T, pool *pgxpool.Pool, schema, table string) []string {
	t.Helper()
	ctx := t.Context()
	var out []string
	rows, err := pool.Query(ctx, `SELECT column_name, data_type, is_nullable, coalesce(datetime_precision, -1), coalesce(collation_name, '')
		FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`, schema, table)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name, typ, null, coll string
		var prec int
		if err := rows.Scan(&name, &typ, &null, &prec, &coll); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("column %s %s null=%s precision=%d collation=%q", name, typ, null, prec, coll))
	}
	rows, err = pool.Query(ctx, `SELECT conname, pg_get_constraintdef(c.oid) FROM pg_constraint c
		JOIN pg_class r ON r.oid = c.conrelid JOIN pg_namespace n ON n.oid = r.relnamespace
		WHERE n.nspname = $1 AND r.relname = $2 ORDER BY conname`, schema, table)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			t.Fatal(err)
		}
		out = append(out, "constraint "+name+" "+def)
	}
	rows, err = pool.Query(ctx, `SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = $2 ORDER BY indexname`, schema, table)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var def string
		if err := rows.Scan(&def); err != nil {
			t.Fatal(err)
		}
		out = append(out, "index "+def)
	}
	return out
}

func TestCreatesConnectPgSimpleTable(t *testing.T) {
	pool := newPool(t)
	if _, err := pgstore.New(pool, pgstore.WithCreateTable(), pgstore.WithCleanupInterval(0)); err != nil {
		t.Fatal(err)
	}
	got := describeTable(t, pool, "public", "session")
	// connect-pg-simple's table.sql, as its documentation shows it.
	want := []string{
		`column sid character varying null=NO precision=-1 collation=""`,
		`column sess json null=NO precision=-1 collation=""`,
		`column expire timestamp without time zone null=NO precision=6 collation=""`,
		`constraint session_pkey PRIMARY KEY (sid)`,
		`index CREATE INDEX "IDX_session_expire" ON public.session USING btree (expire)`,
		`index CREATE UNIQUE INDEX session_pkey ON public.session USING btree (sid)`,
	}
	if !slices.Equal(got, want) {
		t.Fatalf("table made by WithCreateTable:\n%s\nwant connect-pg-simple's:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// connect-pg-simple's own table.sql, when the peer's packages are installed.
	sql, err := os.ReadFile("../interop/peer/node_modules/connect-pg-simple/table.sql")
	if err != nil {
		t.Logf("not compared with connect-pg-simple's table.sql: %v", err)
		return
	}
	other := newPool(t)
	exec(t, other, string(sql))
	if theirs := describeTable(t, other, "public", "session"); !slices.Equal(got, theirs) {
		t.Fatalf("table made by WithCreateTable:\n%s\nconnect-pg-simple's table.sql makes:\n%s", strings.Join(got, "\n"), strings.Join(theirs, "\n"))
	}
}

func TestCreateTableIsIdempotentAndParallelSafe(t *testing.T) {
	pool := newPool(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			st, err := pgstore.New(pool, pgstore.WithSchema("app"), pgstore.WithCreateTable(), pgstore.WithCleanupInterval(0))
			if err == nil {
				st.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// silentServer listens on a loopback port, accepts every connection and
// never answers: a server that hangs after the TCP handshake. It closes the
// connections in t.Cleanup.
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// New and NewContext with WithCreateTable against a server that accepts the
// connection and never answers give up when their bound ends (New's 30 s,
// as mongostore's New; NewContext's context): both ran the statements on
// context.Background() and waited for ever, and an app's start hung on a
// black-holed database.
func TestNewWithCreateTableGivesUpOnASilentServer(t *testing.T) {
	const bound = 200 * time.Millisecond
	for name, open := range map[string]func(*pgxpool.Pool) (*pgstore.Store, error){
		"New": func(pool *pgxpool.Pool) (*pgstore.Store, error) {
			pgstore.SetNewTimeout(t, bound)
			return pgstore.New(pool, pgstore.WithCreateTable(), pgstore.WithCleanupInterval(0))
		},
		"NewContext": func(pool *pgxpool.Pool) (*pgstore.Store, error) {
			ctx, cancel := context.WithTimeout(t.Context(), bound)
			defer cancel()
			return pgstore.NewContext(ctx, pool, pgstore.WithCreateTable(), pgstore.WithCleanupInterval(0))
		},
	} {
		t.Run(name, func(t *testing.T) {
			pool := poolOn(t, "postgres://nobody@"+silentServer(t)+"/db?sslmode=disable", nil)
			start := time.Now()
			done := make(chan error, 1)
			go func() {
				st, err := open(pool)
				if st != nil {
					st.Close()
				}
				done <- err
			}()
			select {
			case err := <-done:
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("%s against a silent server: %v, want an error wrapping context.DeadlineExceeded", name, err)
				}
				if took := time.Since(start); took > bound+2*time.Second {
					t.Errorf("%s returned after %v, with a bound of %v", name, took, bound)
				}
			case <-time.After(bound + 10*time.Second):
				t.Fatalf("%s against a silent server still waits %v after its bound of %v ended", name, 10*time.Second, bound)
			}
		})
	}
}

func TestMissingTableIsAClearError(t *testing.T) {
	pool := newPool(t)
	st, err := pgstore.New(pool, pgstore.WithCleanupInterval(0))
	if err != nil {
		t.Fatalf("New without WithCreateTable: %v", err)
	}
	_, _, err = st.Get(t.Context(), storetest.NewID())
	if err == nil || !strings.Contains(err.Error(), `relation "session" does not exist`) {
		t.Fatalf("Get without a table: %v", err)
	}
}

// A pool whose connections set a TimeZone (PGTZ, a timezone URL parameter)
// writes expire in another zone than connect-pg-simple, which keeps the
// server's: New says so, and stays quiet for a pool that sets none.
func TestNewWarnsOfAPoolThatSetsATimeZone(t *testing.T) {
	dsn := testserver.SharedPostgres(t).NewDatabase(t)
	for _, tz := range []string{"", "UTC"} {
		pool := poolOn(t, dsn, func(cfg *pgxpool.Config) {
			delete(cfg.ConnConfig.RuntimeParams, "timezone") // whatever PGTZ says here
			if tz != "" {
				cfg.ConnConfig.RuntimeParams["timezone"] = tz
			}
		})
		var logs bytes.Buffer
		st, err := pgstore.New(pool, pgstore.WithCleanupInterval(0), pgstore.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
		if err != nil {
			t.Fatal(err)
		}
		st.Close()
		if warned := strings.Contains(logs.String(), "set TimeZone") && strings.Contains(logs.String(), "timezone="+tz); warned != (tz != "") {
			t.Errorf("pool with timezone %q: warned %v; logs: %s", tz, warned, logs.String())
		}
	}
}

func TestSchemaAndTableOptionsNameTheTable(t *testing.T) {
	ctx := t.Context()
	pool := newPool(t)
	st, err := pgstore.New(pool, pgstore.WithSchema("My App"), pgstore.WithTable(`web "sessions"`), pgstore.WithCreateTable(), pgstore.WithCleanupInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	if want := `"My App"."web ""sessions"""`; st.Table() != want {
		t.Fatalf("Table() = %s, want %s", st.Table(), want)
	}
	if err := st.Set(ctx, "id1", []byte(`{"a":1}`), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	var sess string
	if err := pool.QueryRow(ctx, `SELECT sess::text FROM "My App"."web ""sessions""" WHERE sid = 'id1'`).Scan(&sess); err != nil || sess != `{"a":1}` {
		t.Fatalf("row in the named table: %q, %v", sess, err)
	}
	// The default table in the search path is another one.
	def, err := pgstore.New(pool, pgstore.WithCreateTable(), pgstore.WithCleanupInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	if _, found, err := def.Get(ctx, "id1"); found || err != nil {
		t.Fatalf("the default table sees the named table's session: %v, %v", found, err)
	}
	got := describeTable(t, pool, "My App", `web "sessions"`)
	if !slices.Contains(got, `index CREATE INDEX "IDX_web ""sessions""_expire" ON "My App"."web ""sessions""" USING btree (expire)`) {
		t.Fatalf("no expire index on the named table:\n%s", strings.Join(got, "\n"))
	}
}

// TestNewRefusesTableNamesPostgreSQLWouldTruncate: PostgreSQL truncates
// identifiers to 63 bytes, so the user index table of a 63-byte table was
// the table itself; CREATE TABLE IF NOT EXISTS did nothing and every index
// write failed. New names the identifier instead; the longest names that
// fit work, with the limit in bytes and per part of a qualified name.
func TestNewRefusesTableNamesPostgreSQLWouldTruncate(t *testing.T) {
	ctx := t.Context()
	pool := newPool(t)
	long := func(n int) string { return strings.Repeat("s", n) }
	for _, c := range []struct {
		schema, table string
		create        bool
		refused       string // the identifier New's error names; "" if it works
	}{
		{"", long(63), true, long(63) + "_users"},
		{"", long(64), false, long(64)},
		{"", long(58), false, long(58) + "_users"},
		{"", strings.Repeat("é", 29), false, strings.Repeat("é", 29) + "_users"}, // 58 bytes
		{"", long(57), false, ""},
		{"", long(56), true, ""},             // its index names are truncated, and still differ
		{long(63), long(45) + `"`, true, ""}, // a quote is one byte of the identifier
	} {
		opts := []pgstore.Option{pgstore.WithSchema(c.schema), pgstore.WithTable(c.table), pgstore.WithCleanupInterval(0)}
		if c.create {
			opts = append(opts, pgstore.WithCreateTable())
		}
		st, err := pgstore.New(pool, opts...)
		if c.refused != "" {
			if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q", c.refused)) || !strings.Contains(err.Error(), "63 bytes") {
				t.Errorf("New with table %q (%d bytes, create %v): %v; want an error naming %q and the 63-byte limit", c.table, len(c.table), c.create, err, c.refused)
			}
			continue
		}
		if err != nil {
			t.Fatalf("New with table %q (%d bytes, create %v): %v", c.table, len(c.table), c.create, err)
		}
		defer st.Close()
		if !c.create {
			exec(t, pool, pgstore.CreateTableSQL(c.schema, c.table))
		}
		id := storetest.NewID()
		exp := time.Now().Add(time.Hour)
		if err := st.IndexUserSession(ctx, "alice", id, time.Now(), exp); err != nil {
			t.Fatalf("IndexUserSession with table %q (%d bytes): %v", c.table, len(c.table), err)
		}
		if err := st.Set(ctx, id, []byte(`{}`), exp); err != nil {
			t.Fatal(err)
		}
		var live int
		if err := st.UserSessions(ctx, "alice", func(_ string, _, _ time.Time, data []byte) {
			if data != nil {
				live++
			}
		}); err != nil || live != 1 {
			t.Fatalf("UserSessions with table %q (%d bytes) = %d live, %v; want 1", c.table, len(c.table), live, err)
		}
	}
}

func TestStoresDocumentAsGivenAndExpiryAsServerWallClock(t *testing.T) {
	ctx := t.Context()
	pool := newPool(t)
	st := newStore(t, pool)
	data := storetest.Document(200)
	expires := time.Now().Add(time.Hour).Round(time.Microsecond)
	if err := st.Set(ctx, "id", data, expires); err != nil {
		t.Fatal(err)
	}
	var sess, wall string
	var instant time.Time
	err := pool.QueryRow(ctx, `SELECT sess::text, to_char(expire, 'YYYY-MM-DD HH24:MI:SS.US'), expire::timestamptz FROM `+st.Table()+` WHERE sid = 'id'`).Scan(&sess, &wall, &instant)
	if err != nil {
		t.Fatal(err)
	}
	if sess != string(data) {
		t.Fatalf("sess = %s, want the document byte for byte", sess)
	}
	// expire is the server's wall clock (not UTC: see testserver.PostgresTimeZone),
	// as connect-pg-simple's to_timestamp() writes it.
	zone, err := time.LoadLocation(testserver.PostgresTimeZone)
	if err != nil {
		t.Fatal(err)
	}
	if want := expires.In(zone).Format("2006-01-02 15:04:05.000000"); wall != want {
		t.Fatalf("expire = %s, want %s (the expiry in %s)", wall, want, testserver.PostgresTimeZone)
	}
	if !instant.Equal(expires) {
		t.Fatalf("expire read back as %v, want %v", instant, expires)
	}
	// A browser-session cookie gets the default TTL.
	if err := st.Set(ctx, "browser", data, time.Time{}); err != nil {
		t.Fatal(err)
	}
	var left time.Duration
	if err := pool.QueryRow(ctx, `SELECT expire::timestamptz - now() FROM `+st.Table()+` WHERE sid = 'browser'`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left < 23*time.Hour || left > 24*time.Hour {
		t.Fatalf("a session without expiry expires in %v, want 24h", left)
	}
}

func TestWithDefaultTTL(t *testing.T) {
	ctx := t.Context()
	pool := newPool(t)
	st := newStore(t, pool, pgstore.WithDefaultTTL(time.Hour))
	if err := st.Set(ctx, "x", []byte(`{}`), time.Time{}); err != nil {
		t.Fatal(err)
	}
	var left time.Duration
	if err := pool.QueryRow(ctx, `SELECT expire::timestamptz - now() FROM `+st.Table()+` WHERE sid = 'x'`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left < 59*time.Minute || left > time.Hour {
		t.Fatalf("expires in %v, want 1h", left)
	}
}

func TestReadsWhatConnectPgSimpleWrites(t *testing.T) {
	ctx := t.Context()
	pool := newPool(t)
	st := newStore(t, pool)
	doc := `{"cookie":{"originalMaxAge":3600000,"expires":"2030-01-01T00:00:00.000Z","httpOnly":true,"path":"/"},"from":"express"}`
	expressWrite(t, pool, st, "fromexpress", doc, time.Now().Add(time.Hour))
	got, version, found, err := st.GetVersion(ctx, "fromexpress")
	if err != nil || !found || string(got) != doc || version == "" {
		t.Fatalf("GetVersion of a connect-pg-simple row = %s, %q, %v, %v", got, version, found, err)
	}
	// connect-pg-simple reads what this store writes, until its expiry.
	if err := st.Set(ctx, "fromgo", []byte(doc), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	var sess string
	if err := pool.QueryRow(ctx, fmt.Sprintf(expressGet, st.Table()), "fromgo", expressSeconds(time.Now())).Scan(&sess); err != nil || sess != doc {
		t.Fatalf("connect-pg-simple's get of a Go row = %s, %v", sess, err)
	}
	if err := st.Set(ctx, "fromgo", []byte(doc), time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, fmt.Sprintf(expressGet, st.Table()), "fromgo", expressSeconds(time.Now())).Scan(&sess); err == nil {
		t.Fatalf("connect-pg-simple's get of an expired Go row found %s", sess)
	}
}

func TestExpiredRowIsNeverReturned(t *testing.T) {
	ctx := t.Context()
	pool := newPool(t)
	st := newStore(t, pool)
	// An expired row that no cleanup has deleted yet, as connect-pg-simple leaves them.
	expressWrite(t, pool, st, "old", `{"stale":true}`, time.Now().Add(-2*time.Second))
	if _, found, err := st.Get(ctx, "old"); found || err != nil {
		t.Fatalf("Get of an expired row: found %v, %v", found, err)
	}
	if _, _, found, err := st.GetVersion(ctx, "old"); found || err != nil {
		t.Fatalf("GetVersion of an expired row: found %v, %v", found, err)
	}
	if found, err := st.Touch(ctx, "old", time.Now().Add(time.Hour)); found || err != nil {
		t.Fatalf("Touch of an expired row: found %v, %v", found, err)
	}
	if ids, err := st.IDs(ctx); len(ids) != 0 || err != nil {
		t.Fatalf("IDs = %v, %v; want none", ids, err)
	}
	if n, err := st.Count(ctx); n != 0 || err != nil {
		t.Fatalf("Count = %d, %v; want 0", n, err)
	}
	// An expired row counts as absent for create-if-absent.
	if _, swapped, err := st.CompareAndSwap(ctx, "old", "", []byte(`{"new":true}`), time.Now().Add(time.Hour)); !swapped || err != nil {
		t.Fatalf("create over an expired row: swapped %v, %v", swapped, err)
	}
	if got, _, _ := st.Get(ctx, "old"); string(got) != `{"new":true}` {
		t.Fatalf("after create over an expired row: %s", got)
	}
}

func TestCompareAndSwapNoticesConnectPgSimpleWrites(t *testing.T) {
	ctx := t.Context()
	pool := newPool(t)
	st := newStore(t, pool)
	later := time.Now().Add(time.Hour)
	for _, c := range []struct {
		name    string
		express func(id string)
	}{
		{"set", func(id string) { expressWrite(t, pool, st, id, `{"a":1,"b":2}`, later) }},
		// A touch (resave false, rolling) rewrites only expire; it is still a write.
		{"touch", func(id string) {
			exec(t, pool, fmt.Sprintf(expressTouch, st.Table()), expressSeconds(later.Add(time.Minute)), id)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			id := storetest.NewID()
			if err := st.Set(ctx, id, []byte(`{"a":1}`), later); err != nil {
				t.Fatal(err)
			}
			_, v1, _, err := st.GetVersion(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			c.express(id)
			if _, swapped, err := st.CompareAndSwap(ctx, id, v1, []byte(`{"a":3}`), later); swapped || err != nil {
				t.Fatalf("CompareAndSwap after connect-pg-simple's %s: swapped %v, %v; want a conflict", c.name, swapped, err)
			}
			_, v2, _, err := st.GetVersion(ctx, id)
			if err != nil || v2 == v1 {
				t.Fatalf("version after connect-pg-simple's %s: %q (was %q), %v", c.name, v2, v1, err)
			}
			v3, swapped, err := st.CompareAndSwap(ctx, id, v2, []byte(`{"a":3,"b":2}`), later)
			if !swapped || err != nil {
				t.Fatalf("CompareAndSwap with the fresh version: swapped %v, %v", swapped, err)
			}
			if _, v4, _, _ := st.GetVersion(ctx, id); v4 != v3 {
				t.Fatalf("CompareAndSwap returned version %q, GetVersion says %q", v3, v4)
			}
		})
	}
}

func TestCompareAndSwapWithForeignVersionConflicts(t *testing.T) {
	ctx := t.Context()
	st := newStore(t, newPool(t))
	if err := st.Set(ctx, "id", []byte(`{}`), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"not a number", "-1", "99999999999", "1; DROP TABLE x"} {
		if _, swapped, err := st.CompareAndSwap(ctx, "id", v, []byte(`{"x":1}`), time.Now().Add(time.Hour)); swapped || err != nil {
			t.Fatalf("CompareAndSwap with version %q: swapped %v, %v; want a conflict", v, swapped, err)
		}
	}
}

func TestCleanupDeletesExpiredRowsAndStopsOnClose(t *testing.T) {
	ctx := t.Context()
	pool := newPool(t)
	const interval = 50 * time.Millisecond
	st := newStore(t, pool, pgstore.WithCleanupInterval(interval))
	rows := func() int {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM `+st.Table()).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	expressWrite(t, pool, st, "expired1", `{}`, time.Now().Add(-time.Minute))
	expressWrite(t, pool, st, "expired2", `{}`, time.Now().Add(-time.Minute))
	if err := st.Set(ctx, "live", []byte(`{}`), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); rows() != 1; {
		if time.Now().After(deadline) {
			t.Fatalf("%d rows 10s into a %v cleanup, want only the live one", rows(), interval)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	expressWrite(t, pool, st, "expired3", `{}`, time.Now().Add(-time.Minute))
	time.Sleep(8 * interval)
	if n := rows(); n != 2 {
		t.Fatalf("%d rows %v after Close, want 2: the cleanup still runs", n, 8*interval)
	}
	// The store itself still works after Close; only the cleanup stopped.
	if _, found, err := st.Get(ctx, "live"); !found || err != nil {
		t.Fatalf("Get after Close: %v, %v", found, err)
	}
}

// TestCleanupRunsPastNewsTimeout: the interval cleanup still deletes
// expired rows once New's bound on its own work (newTimeout, 30 s) has
// passed. Its context was that bound, made when the cleanup started, so
// every purge after it ended at once with the context's error, which the
// cleanup does not log: with the default interval of 15 minutes, the
// cleanup never deleted a row. newTimeout is cut to 100 ms here.
func TestCleanupRunsPastNewsTimeout(t *testing.T) {
	ctx := t.Context()
	pool := newPool(t)
	table := newStore(t, pool).Table() // created under the default bound
	const bound = 100 * time.Millisecond
	pgstore.SetNewTimeout(t, bound)
	st, err := pgstore.New(pool, pgstore.WithTable(strings.Trim(table, `"`)), pgstore.WithCleanupInterval(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	<-time.After(3 * bound) // New's bound is over
	expressWrite(t, pool, st, "expired", `{}`, time.Now().Add(-time.Minute))
	for deadline := time.Now().Add(10 * time.Second); ; {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM `+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the expired row is still there 10s into a 20ms cleanup that started %v after New", 3*bound)
		}
		<-time.After(10 * time.Millisecond)
	}
}

func TestCleanupErrorsAreLogged(t *testing.T) {
	pool := newPool(t)
	var out testserver.Output
	st := newStore(t, pool, pgstore.WithCleanupInterval(20*time.Millisecond), pgstore.WithLogger(slog.New(slog.NewTextHandler(&out, nil))))
	exec(t, pool, `DROP TABLE `+st.Table())
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(out.String(), "does not exist"); {
		if time.Now().After(deadline) {
			t.Fatalf("no cleanup error logged after 10s: %q", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestPurgeExpiredCountsDeletedRows(t *testing.T) {
	ctx := t.Context()
	pool := newPool(t)
	st := newStore(t, pool)
	for i := range 3 {
		expressWrite(t, pool, st, fmt.Sprint("old", i), `{}`, time.Now().Add(-time.Minute))
	}
	if err := st.Set(ctx, "live", []byte(`{}`), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n, err := st.PurgeExpired(ctx); n != 3 || err != nil {
		t.Fatalf("PurgeExpired = %d, %v; want 3", n, err)
	}
	if n, err := st.Count(ctx); n != 1 || err != nil {
		t.Fatalf("Count = %d, %v; want 1", n, err)
	}
}

func TestBadStoredDataIsTreatedAsMissing(t *testing.T) {
	pool := newPool(t)
	st := newStore(t, pool)
	var logs testserver.Output
	app := apptest.New(t, st, func(o *session.Options) { o.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	for _, bad := range []string{`42`, `"a string"`, `[1,2]`, `null`, `{"cookie":5}`, `{"cookie":{"expires":"never"}}`} {
		t.Run(bad, func(t *testing.T) {
			first := app.MustDo(t, "/set?k=user&v=alice", nil)
			exec(t, pool, `UPDATE `+st.Table()+` SET sess = $1 WHERE sid = $2`, bad, first.Body)
			before := strings.Count(logs.String(), "corrupt")
			r, err := app.Do("/values", first.Cookies)

			if err != nil || r.Status != http.StatusOK {
				t.Fatalf("request on a session stored as %s: %v %d %s", bad, err, r.Status, r.Body)
			}
			if strings.Contains(r.Body, "alice") {
				t.Fatalf("the session stored as %s still has its old values: %s", bad, r.Body)
			}
			if strings.Count(logs.String(), "corrupt") == before {
				t.Fatalf("nothing logged about the session stored as %s; log:\n%s", bad, logs.String())
			}
		})
	}
}

func TestParallelRequestsThroughTwoManagersLoseNothing(t *testing.T) {
	t.Parallel()
	apptest.ParallelUpdatesThroughTwoAppsLoseNothing(t, newStore(t, newPool(t)), 100)
}

func TestSessionDestroyedDuringSlowRequestStaysDestroyed(t *testing.T) {
	apptest.DestroyDuringSlowRequestStaysDestroyed(t, newStore(t, newPool(t)))
}

func TestServerKilledMidTraffic(t *testing.T) {
	t.Parallel()
	srv := testserver.StartPostgres(t)
	const connectTimeout = 500 * time.Millisecond
	pool := poolOn(t, srv.NewDatabase(t), func(c *pgxpool.Config) {
		c.ConnConfig.ConnectTimeout = connectTimeout
	})
	apptest.ServerKilledMidTraffic(t, newStore(t, pool), apptest.Outage{
		Kill:    srv.Kill,
		Restart: func() { srv.Restart(t) },
		// A request's store calls fail at once on a reset connection or a
		// refused dial; two calls that each wait out the connect timeout, and
		// a second of slack for a loaded machine.
		MaxLatency: 2*connectTimeout + time.Second,
	})
}

func TestErrorsDoNotShowWholeSessionID(t *testing.T) {
	st := newStore(t, newPool(t))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	id := storetest.NewID()
	_, _, err := st.Get(ctx, id)
	if err == nil || strings.Contains(err.Error(), id) || !strings.Contains(err.Error(), id[:6]) {
		t.Fatalf("Get error %q: want the start of the id, not all of it", err)
	}
	// A server error too.
	st2, err := pgstore.New(newPool(t), pgstore.WithTable("missing"), pgstore.WithCleanupInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	err = st2.Set(t.Context(), id, []byte(`{}`), time.Now().Add(time.Hour))
	if err == nil || strings.Contains(err.Error(), id) || !strings.Contains(err.Error(), id[:6]) {
		t.Fatalf("Set error %q: want the start of the id, not all of it", err)
	}
}

// countingConn counts the writes on a connection: pgx sends each statement
// (bind, execute, sync) in one write and waits for the answer, so each write
// is a network round trip.
type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// countingPool returns a pool whose connections count their round trips in n.
func countingPool(t testing.TB, n *atomic.Int64) *pgxpool.Pool {
	t.Helper()
	return poolOn(t, testserver.SharedPostgres(t).NewDatabase(t), func(c *pgxpool.Config) {
		c.MaxConns = 1 // every statement on one connection, prepared once
		dialer := &net.Dialer{}
		c.ConnConfig.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return countingConn{conn, n}, nil
		}
	})
}

func TestRoundTripsPerRequestKind(t *testing.T) {
	var writes atomic.Int64
	pool := countingPool(t, &writes)
	st := newStore(t, pool)
	// TouchAfter leaves a read-only request alone right after a save; the
	// second app touches on every unmodified request, as express does.
	reader := apptest.New(t, st, apptest.HourCookieTouchAfterMinute)
	toucher := apptest.New(t, st, apptest.HourCookie)
	// Each statement once, so that pgx has prepared them all.
	first := reader.MustDo(t, "/set?k=a&v=1", nil)
	reader.MustDo(t, "/set?k=a&v=2", first.Cookies)
	toucher.MustDo(t, "/get?k=a", first.Cookies)

	cases := []struct {
		name    string
		app     *apptest.App
		path    string
		cookies []*http.Cookie
		want    int
	}{
		{"new session", reader, "/set?k=a&v=1", nil, 1},
		{"read-only", reader, "/get?k=a", first.Cookies, 1},
		{"modifying", reader, "/set?k=b&v=3", first.Cookies, 2},
		// The touch rides on the load: UPDATE ... SET expire RETURNING sess, xmin.
		{"touch-only", toucher, "/get?k=a", first.Cookies, 1},
		{"modifying, touch app", toucher, "/set?k=c&v=5", first.Cookies, 2},
		{"no session used", reader, "/none", first.Cookies, 0},
	}
	got := map[string]int{}
	for _, c := range cases {
		before := writes.Load()
		c.app.MustDo(t, c.path, c.cookies)
		got[c.name] = int(writes.Load() - before)
	}
	want := map[string]int{}
	for _, c := range cases {
		want[c.name] = c.want
	}
	if !maps.Equal(got, want) {
		t.Errorf("round trips per request: %v, want %v", got, want)
	}
	t.Logf("round trips per request: %v", got)
}

// New warns of a pool whose connections set TimeZone however the setting is
// spelled: PostgreSQL takes the parameter's name in any letter case
// (TimeZone is its own spelling), and as a -c in the options parameter. It
// looked for the lower-case key alone, so a DSN with ?TimeZone=UTC, which
// does move the connections' expire to another wall clock, passed in
// silence.
func TestNewWarnsOfATimeZoneSetInAnyLetterCaseOrInOptions(t *testing.T) {
	dsn := testserver.SharedPostgres(t).NewDatabase(t)
	for _, param := range []string{"TimeZone=UTC", "TIMEZONE=UTC", "options=-c%20TimeZone%3DUTC", "options=--timezone%3DUTC"} {
		pool := poolOn(t, dsn+"&"+param, func(cfg *pgxpool.Config) {
			delete(cfg.ConnConfig.RuntimeParams, "timezone") // whatever PGTZ says here
		})
		// The parameter does set the zone: the server's is +05:45.
		var zone string
		if err := pool.QueryRow(t.Context(), `SHOW TimeZone`).Scan(&zone); err != nil {
			t.Fatal(err)
		}
		if zone != "UTC" {
			t.Fatalf("%s: the connection's TimeZone is %q, want UTC (the test no longer sets it)", param, zone)
		}
		var logs bytes.Buffer
		st, err := pgstore.New(pool, pgstore.WithCleanupInterval(0), pgstore.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
		if err != nil {
			t.Fatal(err)
		}
		st.Close()
		if !strings.Contains(logs.String(), "set TimeZone") {
			t.Errorf("pool with %s: no warning; logs: %q", param, logs.String())
		}
	}
}
