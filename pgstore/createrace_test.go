package pgstore_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/pgstore"
)

// Instances of an application that start at once, each with a pool of its
// own, all open their store with WithCreateTable on a database without the
// tables. A CREATE TABLE IF NOT EXISTS that misses a table committed
// meanwhile fails on its row type ("type already exists", 42710) or on a
// catalog index (23505); only the latter was retried, so New failed in some
// instances (in one to three of the 30 rounds of most runs here, never in
// a round with a schema). Each round takes a table (and in every other round
// a schema) of its own, and new connections, whose cold catalog caches
// widen the window.
func TestInstancesStartingAtOnceAllCreateTheTables(t *testing.T) {
	const instances, rounds = 10, 30
	dsn := testserver.SharedPostgres(t).NewDatabase(t)
	for round := range rounds {
		// New connections each round, as new processes have.
		pools := make([]*pgxpool.Pool, instances)
		for i := range pools {
			pools[i] = poolOn(t, dsn, func(cfg *pgxpool.Config) { cfg.MaxConns = 1 })
			if err := pools[i].Ping(t.Context()); err != nil { // connected before the start
				t.Fatal(err)
			}
		}
		opts := []pgstore.Option{pgstore.WithTable(fmt.Sprintf("race_%d", round)), pgstore.WithCreateTable(), pgstore.WithCleanupInterval(0)}
		if round%2 == 1 {
			opts = append(opts, pgstore.WithSchema(fmt.Sprintf("race_%d", round)))
		}
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, pool := range pools {
			wg.Go(func() {
				<-start
				st, err := pgstore.New(pool, opts...)
				if err != nil {
					t.Errorf("round %d, instance %d: %v", round, i, err)
					return
				}
				st.Close()
			})
		}
		close(start)
		wg.Wait()
		for _, pool := range pools {
			pool.Close()
		}
	}
}

// The check of the catalog can find a schema that the CREATE TABLE after it
// misses: PostgreSQL shows another instance's committed schema to queries a
// moment before it tells this session's catalog cache, so on a loaded
// machine instances starting at once failed New with "schema does not
// exist" (3F000). Here the schema goes between the check and the create,
// the same view from the other side: New tries again, creates the schema
// and the tables, and the store works.
func TestCreateTableRetriesASchemaThatVanishedAfterTheCheck(t *testing.T) {
	pool := poolOn(t, testserver.SharedPostgres(t).NewDatabase(t), nil)
	if _, err := pool.Exec(t.Context(), `CREATE SCHEMA vanishing`); err != nil {
		t.Fatal(err)
	}
	var tries []int
	pgstore.SetBeforeCreate(t, func(try int) {
		tries = append(tries, try)
		if try == 0 {
			if _, err := pool.Exec(t.Context(), `DROP SCHEMA vanishing`); err != nil {
				t.Error(err)
			}
		}
	})
	st, err := pgstore.New(pool, pgstore.WithSchema("vanishing"), pgstore.WithCreateTable(), pgstore.WithCleanupInterval(0))
	if err != nil {
		t.Fatalf("New: %v (tries %v)", err, tries)
	}
	defer st.Close()
	if len(tries) != 2 {
		t.Errorf("tries %v, want [0 1]", tries)
	}
	if err := st.Set(t.Context(), "sid", []byte(`{"cookie":{}}`), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, _, err := st.Get(t.Context(), "sid"); err != nil || string(got) != `{"cookie":{}}` {
		t.Fatalf("Get: %q, %v", got, err)
	}
}

// Without a schema, "schema does not exist" is a search_path that names no
// schema to create in: New says so at once, without retrying.
func TestCreateTableWithNoSchemaToCreateInFailsWithoutRetrying(t *testing.T) {
	pool := poolOn(t, testserver.SharedPostgres(t).NewDatabase(t), func(cfg *pgxpool.Config) {
		cfg.ConnConfig.RuntimeParams["search_path"] = "nowhere"
	})
	tries := 0
	pgstore.SetBeforeCreate(t, func(int) { tries++ })
	_, err := pgstore.New(pool, pgstore.WithCreateTable(), pgstore.WithCleanupInterval(0))
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "3F000" {
		t.Fatalf("New: %v, want 3F000", err)
	}
	if tries != 1 {
		t.Errorf("%d tries, want 1", tries)
	}
}

// A schema that is missing and that the role may not create (no CREATE on
// the database, which PostgreSQL grants only to the database's owner) is an
// error New reports at once: the check finds no
// schema, so the statements start with CREATE SCHEMA, which fails with
// "permission denied" (42501), not with the 3F000 that New retries.
func TestCreateTableInASchemaTheRoleMayNotCreateFailsWithoutRetrying(t *testing.T) {
	dsn := testserver.SharedPostgres(t).NewDatabase(t)
	pool := appRole(t, poolOn(t, dsn, nil), dsn, `GRANT USAGE ON SCHEMA public TO %R`)
	tries := 0
	pgstore.SetBeforeCreate(t, func(int) { tries++ })
	_, err := pgstore.New(pool, pgstore.WithSchema("nowhere"), pgstore.WithCreateTable(), pgstore.WithCleanupInterval(0))
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "42501" {
		t.Fatalf("New: %v, want 42501", err)
	}
	if tries != 1 {
		t.Errorf("%d tries, want 1", tries)
	}
}
