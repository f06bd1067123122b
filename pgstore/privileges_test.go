package pgstore_test

import (
	"context"
	"fmt"
	"slices"
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
	id, user := storetest.NewID(), storetest.NewID()
	exp := time.Now().Add(time.Hour)
	if err := st.Set(ctx, id, []byte(`{"a":1}`), exp); err != nil {
		t.Fatal(err)
	}
	if _, found, err := st.Get(ctx, id); !found || err != nil {
		t.Fatalf("Get after Set: found %v, %v", found, err)
	}
	if err := st.IndexUserSession(ctx, user, id, time.Now(), exp); err != nil {
		t.Fatal(err)
	}
	live := 0
	if err := st.UserSessions(ctx, user, func(_ string, _, _ time.Time, data []byte) {
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

// expireIndexes returns the indexes of table whose first column is expire.
func expireIndexes(t *testing.T, pool *pgxpool.Pool, table string) []string {
	t.Helper()
	rows, err := pool.Query(t.Context(), `SELECT x.indexrelid::regclass::text FROM pg_index x
		JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = x.indkey[0]
		WHERE x.indrelid = to_regclass($1) AND a.attname = 'expire' ORDER BY 1`, table)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// connect-pg-simple's createTableIfMissing with tableName "web_sessions"
// runs its table.sql with "session" replaced by the table's quoted name,
// which leaves its index named "IDX_session_expire". WithCreateTable on
// that table keeps that index as the table's expire index: it added a
// second one, "IDX_web_sessions_expire", which every touch wrote too, and
// for a role that does not own the table New failed ("must be owner of
// table web_sessions").
func TestWithCreateTableKeepsTheExpireIndexConnectPgSimpleNamedForAnotherTable(t *testing.T) {
	dsn := testserver.SharedPostgres(t).NewDatabase(t)
	admin := poolOn(t, dsn, nil)
	exec(t, admin, `CREATE TABLE "web_sessions" (
  "sid" varchar NOT NULL COLLATE "default",
  "sess" json NOT NULL,
  "expire" timestamp(6) NOT NULL
)
WITH (OIDS=FALSE);
ALTER TABLE "web_sessions" ADD CONSTRAINT "session_pkey" PRIMARY KEY ("sid") NOT DEFERRABLE INITIALLY IMMEDIATE;
CREATE INDEX "IDX_session_expire" ON "web_sessions" ("expire");`)
	for _, c := range []struct {
		name string
		pool *pgxpool.Pool
	}{
		{"a role that may create tables in the schema", appRole(t, admin, dsn, `GRANT USAGE, CREATE ON SCHEMA public TO %R; GRANT SELECT, INSERT, UPDATE, DELETE ON web_sessions TO %R`)},
		{"the table's owner", admin},
	} {
		st, err := pgstore.New(c.pool, pgstore.WithTable("web_sessions"), pgstore.WithCreateTable(), pgstore.WithCleanupInterval(0))
		if err != nil {
			t.Fatalf("New with WithCreateTable as %s: %v", c.name, err)
		}
		defer st.Close()
		useStore(t, st)
		if got := expireIndexes(t, admin, "web_sessions"); !slices.Equal(got, []string{`"IDX_session_expire"`}) {
			t.Errorf("after New as %s, indexes on expire: %v, want connect-pg-simple's alone", c.name, got)
		}
	}
	if got := expireIndexes(t, admin, "web_sessions_users"); !slices.Equal(got, []string{`"IDX_web_sessions_users_expire"`}) {
		t.Errorf("indexes on the user index table's expire: %v", got)
	}
}

// Opening a store with WithCreateTable on tables that exist takes no lock
// on them. CREATE INDEX IF NOT EXISTS takes a SHARE lock on its table
// before it finds the index exists, so an instance starting while a write
// transaction was open on the sessions table (a long cleanup of another
// instance, a migration of the data) waited for it, and every session write
// of every instance queued behind that lock request meanwhile.
func TestNewWithCreateTableDoesNotWaitForAWriteOnTheTables(t *testing.T) {
	ctx := t.Context()
	pool := newPool(t)
	st := newStore(t, pool)
	if err := st.Set(ctx, "id", []byte(`{}`), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `UPDATE `+st.Table()+` SET expire = expire WHERE sid = 'id'`); err != nil {
		t.Fatal(err)
	}
	// The bound of a call that waits for the transaction, which stays open.
	bounded, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	other, err := pgstore.NewContext(bounded, pool, pgstore.WithTable(strings.Trim(st.Table(), `"`)), pgstore.WithCreateTable(), pgstore.WithCleanupInterval(0))
	if err != nil {
		t.Fatalf("New with WithCreateTable while a write transaction is open on the table: %v", err)
	}
	other.Close()
	if err := st.Set(bounded, storetest.NewID(), []byte(`{}`), time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("Set while the transaction is open, after New: %v", err)
	}
}

// The default search_path, "$user", public, puts a schema named after the
// role first. connect-pg-simple's table is in public, and the role owns a
// schema of its name: WithCreateTable finds the table where its statements
// find it, as connect-pg-simple's createTableIfMissing does (to_regclass),
// and the store shares it. CREATE TABLE IF NOT EXISTS looked in the
// schema it would create in, the role's, and made an empty table there
// that the store then used: the Go app saw none of Express's sessions.
func TestWithCreateTableUsesTheTableTheSearchPathFinds(t *testing.T) {
	dsn := testserver.SharedPostgres(t).NewDatabase(t)
	admin := poolOn(t, dsn, nil)
	exec(t, admin, pgstore.CreateTableSQL("", "session"))
	pool := appRole(t, admin, dsn, `CREATE SCHEMA %R AUTHORIZATION %R; GRANT USAGE ON SCHEMA public TO %R; GRANT SELECT, INSERT, UPDATE, DELETE ON session, session_users TO %R`)
	st, err := pgstore.New(pool, pgstore.WithCreateTable(), pgstore.WithCleanupInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	id := storetest.NewID()
	exec(t, admin, fmt.Sprintf(expressSet, `public.session`), `{"from":"express"}`, expressSeconds(time.Now().Add(time.Hour)), id)
	if data, found, err := st.Get(t.Context(), id); !found || err != nil || string(data) != `{"from":"express"}` {
		t.Fatalf("Get of a session connect-pg-simple wrote in public.session: %q, found %v, %v", data, found, err)
	}
	var tables []string
	rows, err := admin.Query(t.Context(), `SELECT table_schema || '.' || table_name FROM information_schema.tables WHERE table_name LIKE 'session%' ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	if tables, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tables, []string{"public.session", "public.session_users"}) {
		t.Errorf("session tables after New: %v, want public's alone", tables)
	}
}

// An Express app's table made by connect-pg-simple's createTableIfMissing
// with another tableName holds the index "IDX_session_expire", the name
// WithCreateTable gives the expire index of a table named "session" in the
// same schema. A Go app opening the default table there with
// WithCreateTable creates its table with an expire index of its own (the
// cleanup and Count range over it): CREATE INDEX IF NOT EXISTS met the
// other table's index by its name and skipped, so the table had none, and
// every later New ran it again, waiting for a write on the table (its SHARE
// lock) or, for a role that does not own the table, failing.
func TestWithCreateTableIndexesATableWhoseIndexNameAnotherTableHas(t *testing.T) {
	dsn := testserver.SharedPostgres(t).NewDatabase(t)
	admin := poolOn(t, dsn, nil)
	exec(t, admin, `CREATE TABLE "express_sessions" (
  "sid" varchar NOT NULL COLLATE "default",
  "sess" json NOT NULL,
  "expire" timestamp(6) NOT NULL
)
WITH (OIDS=FALSE);
ALTER TABLE "express_sessions" ADD CONSTRAINT "session_pkey" PRIMARY KEY ("sid") NOT DEFERRABLE INITIALLY IMMEDIATE;
CREATE INDEX "IDX_session_expire" ON "express_sessions" ("expire");`)
	st, err := pgstore.New(admin, pgstore.WithCreateTable(), pgstore.WithCleanupInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	useStore(t, st)
	if got := expireIndexes(t, admin, "session"); len(got) != 1 {
		t.Errorf("indexes on the session table's expire: %v, want one", got)
	}
	if got := expireIndexes(t, admin, "express_sessions"); !slices.Equal(got, []string{`"IDX_session_expire"`}) {
		t.Errorf("indexes on connect-pg-simple's table's expire: %v, want its own alone", got)
	}
	// A role that may use the tables opens the store with WithCreateTable.
	pool := appRole(t, admin, dsn, `GRANT USAGE ON SCHEMA public TO %R; GRANT SELECT, INSERT, UPDATE, DELETE ON session, session_users TO %R`)
	other, err := pgstore.New(pool, pgstore.WithCreateTable(), pgstore.WithCleanupInterval(0))
	if err != nil {
		t.Fatalf("New with WithCreateTable as a role that may use the tables: %v", err)
	}
	other.Close()
}

// connect-pg-simple's table in public, made by a migration, and an
// application role with a schema of its own, as PostgreSQL's documentation
// advises (the default search_path, "$user", public, puts it first):
// WithCreateTable creates the user index table beside the session table,
// where every role that uses the session table finds it. It created the
// table where an unqualified CREATE TABLE does, in the role's schema, so
// that another role (an admin tool, a second service) found no index, or
// its own one, and listed none of the sessions this one indexed.
func TestWithCreateTableMakesTheUserIndexTableBesideTheSessionTable(t *testing.T) {
	dsn := testserver.SharedPostgres(t).NewDatabase(t)
	admin := poolOn(t, dsn, nil)
	exec(t, admin, `CREATE TABLE "session" (
  "sid" varchar NOT NULL COLLATE "default" PRIMARY KEY,
  "sess" json NOT NULL,
  "expire" timestamp(6) NOT NULL
);
CREATE INDEX "IDX_session_expire" ON "session" ("expire");`)
	pool := appRole(t, admin, dsn, `CREATE SCHEMA %R AUTHORIZATION %R; GRANT USAGE, CREATE ON SCHEMA public TO %R; GRANT SELECT, INSERT, UPDATE, DELETE ON session TO %R`)
	st, err := pgstore.New(pool, pgstore.WithCreateTable(), pgstore.WithCleanupInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	useStore(t, st)
	rows, err := admin.Query(t.Context(), `SELECT schemaname || '.' || tablename FROM pg_tables WHERE tablename LIKE 'session%' ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tables, []string{"public.session", "public.session_users"}) {
		t.Errorf("session tables after New: %v, want both in public", tables)
	}
	if got := expireIndexes(t, admin, "session_users"); len(got) != 1 {
		t.Errorf("indexes on the user index table's expire: %v, want one", got)
	}
	// A store of another role on public's tables lists what this one
	// indexed.
	listed := 0
	ost, err := pgstore.New(admin, pgstore.WithSchema("public"), pgstore.WithCleanupInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour)
	if err := st.Set(t.Context(), "shared", []byte(`{}`), exp); err != nil {
		t.Fatal(err)
	}
	if err := st.IndexUserSession(t.Context(), "bob", "shared", time.Now(), exp); err != nil {
		t.Fatal(err)
	}
	if err := ost.UserSessions(t.Context(), "bob", func(string, time.Time, time.Time, []byte) { listed++ }); err != nil || listed != 1 {
		t.Errorf("UserSessions of another store on public's tables = %d, %v; want the entry this one wrote", listed, err)
	}
}

// A role with a schema of its own that may not create in public, beside
// connect-pg-simple's table: WithCreateTable creates the user index table
// in the role's schema, where an unqualified CREATE TABLE does, rather
// than fail in New (an application that binds no session to a user needs
// none).
func TestWithCreateTableMakesTheUserIndexTableInTheRolesSchemaIfItMayNotCreateBesideTheSessionTable(t *testing.T) {
	dsn := testserver.SharedPostgres(t).NewDatabase(t)
	admin := poolOn(t, dsn, nil)
	exec(t, admin, `CREATE TABLE "session" (
  "sid" varchar NOT NULL COLLATE "default" PRIMARY KEY,
  "sess" json NOT NULL,
  "expire" timestamp(6) NOT NULL
);
CREATE INDEX "IDX_session_expire" ON "session" ("expire");`)
	pool := appRole(t, admin, dsn, `REVOKE CREATE ON SCHEMA public FROM PUBLIC; CREATE SCHEMA %R AUTHORIZATION %R; GRANT USAGE ON SCHEMA public TO %R; GRANT SELECT, INSERT, UPDATE, DELETE ON session TO %R`)
	st, err := pgstore.New(pool, pgstore.WithCreateTable(), pgstore.WithCleanupInterval(0))
	if err != nil {
		t.Fatalf("New with WithCreateTable, a role that may create in its own schema only: %v", err)
	}
	defer st.Close()
	useStore(t, st)
}
