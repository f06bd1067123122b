package storeurl_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/pgstore"
	"github.com/sessionkit/session/storeurl"
)

// TestMain stops the shared PostgreSQL server after the tests.
func TestMain(m *testing.M) { os.Exit(testserver.Main(m)) }

func TestPostgresURLOpensStoreWithTableSchemaAndTTL(t *testing.T) {
	dsn := testserver.SharedPostgres(t).NewDatabase(t)
	// sslmode (in dsn) and application_name are pgx's; the rest is the store's.
	st := openNetStore(t, dsn+"&schema=app&table=web_sessions&create_table=true&default_ttl=1h&cleanup_interval=0&application_name=storeurl-test")
	ps, ok := st.(*pgstore.Store)
	if !ok {
		t.Fatalf("Open gave a %T, want a *pgstore.Store", st)
	}
	if ps.Table() != `"app"."web_sessions"` {
		t.Fatalf("table %s, want app.web_sessions", ps.Table())
	}
	netRoundTrip(t, st, "abc")
	raw, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close(t.Context())
	var left time.Duration
	if err := raw.QueryRow(t.Context(), `SELECT expire::timestamptz - now() FROM app.web_sessions WHERE sid = 'abc'`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left <= 59*time.Minute || left > time.Hour {
		t.Fatalf("a session without expiry expires in %v, want 1h (default_ttl from the URL)", left)
	}
	var apps int
	if err := raw.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity WHERE application_name = 'storeurl-test'`).Scan(&apps); err != nil || apps == 0 {
		t.Fatalf("connections with application_name from the URL: %d, %v; want the store's", apps, err)
	}
}

func TestPostgresqlSchemeAndDefaultTable(t *testing.T) {
	dsn := testserver.SharedPostgres(t).NewDatabase(t)
	st := openNetStore(t, "postgresql"+strings.TrimPrefix(dsn, "postgres")+"&create_table=true")
	if ps := st.(*pgstore.Store); ps.Table() != `"session"` {
		t.Fatalf("table %s, want connect-pg-simple's session", ps.Table())
	}
	netRoundTrip(t, st, "abc")
}

func TestPostgresURLOfServerThatIsDownFailsAtOpen(t *testing.T) {
	srv := testserver.SharedPostgres(t)
	// A server that is down: its port refuses, whoever else starts meanwhile.
	dsn := strings.Replace(srv.NewDatabase(t), srv.Addr, testserver.RefusingAddr(t), 1)
	start := time.Now()
	_, _, err := storeurl.Open(t.Context(), dsn+"&connect_timeout=1")
	if err == nil || !strings.Contains(err.Error(), "ping") {
		t.Fatalf("Open of a server that is down: %v, want a ping error", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("Open took %v with connect_timeout=1", took)
	}
}

// TestPostgresURLWithoutItsTableFailsAtOpen opens a database that has no
// session table without create_table=true: Open fails, naming the table
// and the parameter that creates it, where it opened the store and every
// request then failed (the demo listened and answered 500). Once the table
// is there, the same URL opens.
func TestPostgresURLWithoutItsTableFailsAtOpen(t *testing.T) {
	dsn := testserver.SharedPostgres(t).NewDatabase(t)
	st, closer, err := storeurl.Open(t.Context(), dsn+"&cleanup_interval=0")
	if err == nil {
		closer.Close()
		t.Fatalf("Open without the session table gave a %T, want an error", st)
	}
	for _, want := range []string{`no session table "session"`, "add create_table=true"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Open without the session table: %v, want it to say %q", err, want)
		}
	}
	openNetStore(t, dsn+"&create_table=true&cleanup_interval=0")
	netRoundTrip(t, openNetStore(t, dsn+"&cleanup_interval=0"), "abc")
}

// TestPostgresURLOfARoleThatMayNotReadItsTableFailsAtOpen: a role without
// SELECT on the session table fails Open with PostgreSQL's error and the
// table's name, where the store opened and every request then failed.
func TestPostgresURLOfARoleThatMayNotReadItsTableFailsAtOpen(t *testing.T) {
	dsn := testserver.SharedPostgres(t).NewDatabase(t)
	openNetStore(t, dsn+"&create_table=true&cleanup_interval=0")
	admin, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	var db string
	if err := admin.QueryRow(t.Context(), `SELECT current_database()`).Scan(&db); err != nil {
		t.Fatal(err)
	}
	role := db + "_noread"
	quoted := pgx.Identifier{role}.Sanitize()
	if _, err := admin.Exec(t.Context(), `CREATE ROLE `+quoted+` LOGIN; GRANT USAGE ON SCHEMA public TO `+quoted); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		admin, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Logf("drop role %s: %v", role, err)
			return
		}
		defer admin.Close(ctx)
		if _, err := admin.Exec(ctx, `DROP OWNED BY `+quoted+`; DROP ROLE `+quoted); err != nil {
			t.Logf("drop role %s: %v", role, err)
		}
	})
	st, closer, err := storeurl.Open(t.Context(), strings.Replace(dsn, testserver.PostgresUser+"@", role+"@", 1)+"&cleanup_interval=0")
	if err == nil {
		closer.Close()
		t.Fatalf("Open by a role that may not read the session table gave a %T, want an error", st)
	}
	for _, want := range []string{`session table "session"`, "permission denied"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Open by a role that may not read the session table: %v, want it to say %q", err, want)
		}
	}
}

func TestPostgresURLErrorsSayWhatIsWrong(t *testing.T) {
	for _, c := range []struct{ url, want string }{
		{"postgres://u@h/db?create_table=maybe", "parameter create_table"},
		{"postgres://u@h/db?table=", "empty table name"},
		{"postgres://u@h/db?schema=", "empty schema name"},
		{"postgres://u@h/db?default_ttl=0", "parameter default_ttl"},
		{"postgres://u@h/db?cleanup_interval=-1s", "parameter cleanup_interval"},
		{"postgres://u@h/db?table=a&table=b", `parameter "table" given 2 times`},
		{"postgres:db", "want postgres://user@host:port/db"},
		{"postgres://u:secret@h/db?sslmode=bogus", "sslmode is invalid"},
	} {
		_, _, err := storeurl.Open(t.Context(), c.url)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Open(%q): %v, want an error containing %q", c.url, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("Open(%q): the error shows the password: %v", c.url, err)
		}
	}
}

// A pool in the query exec modes PgBouncer's transaction pooling needs
// (README, pgstore) opens from the URL and stores sessions.
func TestPostgresURLInTheExecModesAPoolerNeeds(t *testing.T) {
	for _, mode := range []string{"exec", "simple_protocol"} {
		t.Run(mode, func(t *testing.T) {
			dsn := testserver.SharedPostgres(t).NewDatabase(t)
			st := openNetStore(t, dsn+"&create_table=true&default_query_exec_mode="+mode)
			netRoundTrip(t, st, "abc")
		})
	}
}
