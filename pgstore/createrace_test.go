package pgstore_test

import (
	"fmt"
	"sync"
	"testing"

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
