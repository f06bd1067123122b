package pgstore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionkit/session/pgstore"
	"github.com/sessionkit/session/storetest"
)

// TestClearDeletesTheUserIndex: Clear deletes the store's user index
// entries with its sessions, where it left them in <table>_users until
// they expired (a 30-day session's entry for 30 days), listed by
// UserSessions without their sessions. Another store's entries stay.
func TestClearDeletesTheUserIndex(t *testing.T) {
	ctx := t.Context()
	pool := newPool(t)
	st, other := newStore(t, pool), newStore(t, pool)
	exp := time.Now().Add(30 * 24 * time.Hour)
	for _, s := range []*pgstore.Store{st, other} {
		id := storetest.NewID()
		if err := s.Set(ctx, id, []byte(`{"__sessionkit_user":"alice"}`), exp); err != nil {
			t.Fatal(err)
		}
		if err := s.IndexUserSession(ctx, "alice", id, time.Now(), exp); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	var listed []string
	if err := st.UserSessions(ctx, "alice", func(id string, _, _ time.Time, _ []byte) { listed = append(listed, id) }); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 0 || indexRows(t, pool, st, "") != 0 {
		t.Fatalf("after Clear: UserSessions listed %d entries, the index table holds %d rows; want none", len(listed), indexRows(t, pool, st, ""))
	}
	if n := indexRows(t, pool, other, ""); n != 1 {
		t.Fatalf("the other store's index table holds %d rows after Clear, want its 1", n)
	}
}

// TestClearWorksWithoutAUserIndexTable: a store on connect-pg-simple's
// table, without <table>_users (opened without WithCreateTable), clears
// its sessions.
func TestClearWorksWithoutAUserIndexTable(t *testing.T) {
	ctx := t.Context()
	pool := newPool(t)
	exec(t, pool, `CREATE TABLE "session" ("sid" varchar NOT NULL PRIMARY KEY, "sess" json NOT NULL, "expire" timestamp(6) NOT NULL)`)
	st, err := pgstore.New(pool, pgstore.WithCleanupInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Set(ctx, storetest.NewID(), []byte(`{}`), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := st.Clear(ctx); err != nil {
		t.Fatalf("Clear without a user index table: %v", err)
	}
	if n, err := st.Count(ctx); err != nil || n != 0 {
		t.Fatalf("Count after Clear = %d, %v; want 0", n, err)
	}
}

// blockedBy waits until a backend waits for the backend pid (its
// pg_blocking_pids holds it) and returns its pid, or returns 0 when done
// is closed first.
func blockedBy(t *testing.T, pool *pgxpool.Pool, pid uint32, done <-chan struct{}) uint32 {
	t.Helper()
	for {
		select {
		case <-done:
			return 0
		default:
		}
		var waiter *uint32
		if err := pool.QueryRow(t.Context(), `SELECT min(pid) FROM pg_stat_activity WHERE $1::int = ANY (pg_blocking_pids(pid))`, pid).Scan(&waiter); err != nil {
			t.Fatal(err)
		}
		if waiter != nil {
			return *waiter
		}
	}
}

// TestClearAndAnIndexWriteThatPrunesDoNotDeadlock: a user's session is
// re-indexed (a save or touch) while Clear runs, and the user has an entry
// past its grace that Clear has already deleted. The index write rewrote
// its session's entry, then its pruning waited for Clear (which held the
// old entry), while Clear waited for the index write to delete the
// rewritten entry: PostgreSQL broke the deadlock (40P01) by failing one of
// them, the Clear or the user's request. The pruning now skips the entries
// another transaction holds (they are pruned later, or Clear deletes them),
// so the index write waits for nothing while it holds its entry.
//
// A transaction holding the session's entry FOR KEY SHARE stops Clear
// just before that entry, after the expired one; the index write's update
// (which changes no key) is not held up by it, as happens when the index
// write comes first by a hair.
func TestClearAndAnIndexWriteThatPrunesDoNotDeadlock(t *testing.T) {
	ctx := t.Context()
	pool := newPool(t)
	st := newStore(t, pool)
	if err := st.Set(ctx, "live", []byte(`{"__sessionkit_user":"alice"}`), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// The entries as the index writes of two sessions left them an hour
	// ago, the expired one first: Clear's scan meets it before the other.
	exec(t, pool, `INSERT INTO `+st.UsersTable()+` VALUES ('alice', 'old', now() - interval '3 hours', now() - interval '2 hours')`)
	exec(t, pool, `INSERT INTO `+st.UsersTable()+` VALUES ('alice', 'live', now() - interval '1 hour', now() + interval '1 hour')`)
	holder, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback(context.Background())
	if _, err := holder.Exec(ctx, `SELECT FROM `+st.UsersTable()+` WHERE sid = 'live' FOR KEY SHARE`); err != nil {
		t.Fatal(err)
	}
	var holderPID uint32
	if err := holder.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&holderPID); err != nil {
		t.Fatal(err)
	}
	cleared, clearDone := make(chan error, 1), make(chan struct{})
	go func() {
		defer close(clearDone)
		cleared <- st.Clear(ctx)
	}()
	clearPID := blockedBy(t, pool, holderPID, clearDone)
	if clearPID == 0 {
		t.Fatalf("Clear ended without meeting the held entry: %v", <-cleared)
	}
	indexed, indexDone := make(chan error, 1), make(chan struct{})
	go func() {
		defer close(indexDone)
		indexed <- st.IndexUserSession(ctx, "alice", "live", time.Now(), time.Now().Add(time.Hour))
	}()
	blockedBy(t, pool, clearPID, indexDone) // the index write waits for Clear, or ends
	if err := holder.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-indexed; err != nil {
		t.Errorf("IndexUserSession during Clear: %v", err)
	}
	if err := <-cleared; err != nil {
		t.Errorf("Clear during an index write: %v", err)
	}
}

// TestConcurrentClearsDoNotDeadlock: Clears of one table running at once,
// while users log in, all succeed. PostgreSQL starts a sequential scan of
// a table bigger than a quarter of shared_buffers where another scan of it
// is (synchronize_seqscans), so Clears deleted the rows in different
// orders, each holding rows another was to delete: PostgreSQL broke the
// deadlock (40P01) by failing one of them. The tables here start each
// round with 100,000 sessions (11 MB) and as many index entries, on
// a server with 32 MB of shared_buffers.
func TestConcurrentClearsDoNotDeadlock(t *testing.T) {
	ctx := t.Context()
	pool := newPool(t)
	st := newStore(t, pool)
	const rounds, clearers, clears, logins = 5, 4, 4, 4
	for round := range rounds {
		exec(t, pool, `INSERT INTO `+st.UsersTable()+` SELECT convert_to('user' || i, 'UTF8'), 'seeded' || i, now(), now() + interval '1 hour' FROM generate_series(1, 100000) i`)
		exec(t, pool, `INSERT INTO `+st.Table()+` SELECT 'seeded' || i, ('{"__sessionkit_user":"user' || i || '","csrf":"0123456789abcdef"}')::json, now() + interval '1 hour' FROM generate_series(1, 100000) i`)
		errs := make(chan error, clearers*clears+logins)
		stop := make(chan struct{})
		var loggedIn sync.WaitGroup
		for l := range logins {
			loggedIn.Go(func() {
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					id, expires := fmt.Sprintf("new%d_%d_%d", round, l, i), time.Now().Add(time.Hour)
					err := st.Set(ctx, id, []byte(`{}`), expires)
					if err == nil {
						err = st.IndexUserSession(ctx, fmt.Sprint("user", i), id, time.Now(), expires)
					}
					if err != nil {
						errs <- err
						return
					}
				}
			})
		}
		var cleared sync.WaitGroup
		for range clearers {
			cleared.Go(func() {
				for range clears {
					if err := st.Clear(ctx); err != nil {
						errs <- err
					}
				}
			})
		}
		cleared.Wait()
		close(stop)
		loggedIn.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("round %d: %v", round, err)
		}
	}
}
