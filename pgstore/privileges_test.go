package pgstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/pgstore"
	"github.com/sessionkit/session/storetest"
)

// appRole creates a login role of its own on the server of admin's database
// (a superuser's pool), lets admin grant it what grants says (with %R for
// the role's quoted name), and returns a pool of that role on dsn.
// The role and its privileges are dropped at cleanup.
func appRole(t *testing.T, admin *pgxpool.Pool, dsn, grants string) *pgxpool.Pool {
	t.Helper()
	var db string
	if err := admin.QueryRow(t.Context(), `SELECT current_database()`).Scan(&db); err != nil {
		t.Fatal(err)
	}
	role := db + "_app"
	quoted := pgx.Identifier{role}.Sanitize()
	exec(t, admin, `CREATE ROLE `+quoted+` LOGIN`)
	t.Cleanup(func() {
		ctx := context.Background()
		if _, err := admin.Exec(ctx, `DROP OWNED BY `+quoted); err != nil {
			t.Logf("drop owned by %s: %v", role, err)
		}
		if _, err := admin.Exec(ctx, `DROP ROLE `+quoted); err != nil {
			t.Logf("drop role %s: %v", role, err)
		}
	})
	exec(t, admin, strings.ReplaceAll(grants, "%R", quoted))
	return poolOn(t, dsn, func(cfg *pgxpool.Config) { cfg.ConnConfig.User = role })
}

// useStore checks that st reads and writes its session and user index tables.
func useStore(t *testing.T, st *pgstore.Store) {
	t.Helper()
	ctx := t.Context()
	id := storetest.NewID()
	exp := time.Now().Add(time.Hour)
	if err := st.Set(ctx, id, []byte(`{"a":1}`), exp); err != nil {
		t.Fatal(err)
	}
	if _, found, err := st.Get(ctx, id); !found || err != nil {
		t.Fatalf("Get after Set: found %v, %v", found, err)
	}
	if err := st.IndexUserSession(ctx, "alice", id, time.Now(), exp); err != nil {
		t.Fatal(err)
	}
	live := 0
	if err := st.UserSessions(ctx, "alice", func(_ string, _, _ time.Time, data []byte) {
		if data != nil {
			live++
		}
	}); err != nil || live != 1 {
		t.Fatalf("UserSessions = %d live, %v; want 1", live, err)
	}
}

// A role that may only use the tables, made by a migration under another
// role (the database's owner), opens the store with WithCreateTable, as
// connect-pg-simple opens them with createTableIfMissing. CREATE ... IF NOT
// EXISTS checks privileges before it looks for its object, so New failed
// with "permission denied for schema public" (no CREATE on the schema,
// PostgreSQL 15's default for public), "permission denied for database"
// (a schema) or "must be owner of table" (an index), although everything
// existed.
func TestWithCreateTableWorksForARoleThatMayOnlyUseTheTables(t *testing.T) {
	for _, schema := range []string{"", "web"} {
		t.Run("schema="+schema, func(t *testing.T) {
			dsn := testserver.SharedPostgres(t).NewDatabase(t)
			admin := poolOn(t, dsn, nil)
			exec(t, admin, pgstore.CreateTableSQL(schema, "session"))
			usage := `GRANT USAGE ON SCHEMA public TO %R;`
			if schema != "" {
				usage = `GRANT USAGE ON SCHEMA web TO %R;`
			}
			tables := pgx.Identifier{schema, "session"}.Sanitize() + `, ` + pgx.Identifier{schema, "session_users"}.Sanitize()
			if schema == "" {
				tables = `session, session_users`
			}
			pool := appRole(t, admin, dsn, `REVOKE CREATE ON SCHEMA public FROM PUBLIC; `+usage+` GRANT SELECT, INSERT, UPDATE, DELETE ON `+tables+` TO %R`)
			st, err := pgstore.New(pool, pgstore.WithSchema(schema), pgstore.WithCreateTable(), pgstore.WithCleanupInterval(0))
			if err != nil {
				t.Fatalf("New with WithCreateTable, every object made by another role: %v", err)
			}
			defer st.Close()
			useStore(t, st)
		})
	}
}

// connect-pg-simple's table, made by another role, and a role that may
// create tables in the schema: WithCreateTable creates the user index table
// beside it and leaves the session table and its index alone. New failed
// with "must be owner of table session" (CREATE INDEX IF NOT EXISTS of the
// existing expire index).
func TestWithCreateTableAddsTheUserIndexTableBesideATableOfAnotherRole(t *testing.T) {
	dsn := testserver.SharedPostgres(t).NewDatabase(t)
	admin := poolOn(t, dsn, nil)
	exec(t, admin, `CREATE TABLE "session" (
  "sid" varchar NOT NULL COLLATE "default" PRIMARY KEY,
  "sess" json NOT NULL,
  "expire" timestamp(6) NOT NULL
);
CREATE INDEX "IDX_session_expire" ON "session" ("expire");`)
	pool := appRole(t, admin, dsn, `GRANT USAGE, CREATE ON SCHEMA public TO %R; GRANT SELECT, INSERT, UPDATE, DELETE ON session TO %R`)
	st, err := pgstore.New(pool, pgstore.WithCreateTable(), pgstore.WithCleanupInterval(0))
	if err != nil {
		t.Fatalf("New with WithCreateTable on another role's session table: %v", err)
	}
	defer st.Close()
	useStore(t, st)
}
