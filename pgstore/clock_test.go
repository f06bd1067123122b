package pgstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/pgstore"
)

// holdSession begins a transaction on its own connection that holds the
// session's row or its table, and returns it with its backend's pid:
//
//   - lock "write" rewrites the row, keeping its expiry, as a migration of
//     the sessions' data in one transaction does (it holds every row it
//     wrote until it commits); end it with Commit.
//   - lock "table" takes the table, as an ALTER TABLE, a VACUUM FULL or a
//     REINDEX does, which a SELECT waits for too; end it with Rollback.
func holdSession(t *testing.T, pool *pgxpool.Pool, st *pgstore.Store, id, lock string) (pgx.Tx, uint32) {
	t.Helper()
	ctx := t.Context()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback(context.Background()) })
	sql := `UPDATE ` + st.Table() + ` SET sess = sess WHERE sid = $1`
	args := []any{id}
	if lock == "table" {
		sql, args = `LOCK TABLE `+st.Table()+` IN ACCESS EXCLUSIVE MODE`, nil
	}
	if _, err := tx.Exec(ctx, sql, args...); err != nil {
		t.Fatal(err)
	}
	var pid uint32
	if err := tx.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	return tx, pid
}

// TestSessionThatExpiresWhileACallWaitsForItsRowIsGone stores a session
// that expires a second later by the server's clock (longer in a try
// again, when the steps before the call took longer than that), holds it in another
// transaction (its row, rewritten and committed after the expiry, for the
// calls that write it; its table for those that only read it), starts each
// call on the session, waits until the call waits for the other transaction
// and the server's clock has passed the session's expiry, and ends the
// other transaction. The call must find the session expired: Get and
// GetVersion do not return it, UserSessions lists its entry without its
// data, Touch and GetAndTouch do not push its expiry forward (nor does a
// Touch to a past expiry report it found), and a CompareAndSwap that
// creates the session (old "") replaces the expired row. Their statements
// compared expire with now(), the time their transaction began, before the
// wait: PostgreSQL re-evaluates an UPDATE's or DELETE's WHERE on the row
// version it waited for with that same now(), and a SELECT reads the rows
// as they are after its wait, so that the session, expired by then, was
// returned or touched back to life, and the create failed on it as on a
// live session.
//
// A CompareAndSwap from a version is not among them: the other
// transaction's write changes the row's xmin, so it fails either way. A
// wait for a transaction that ends without changing the row (a SELECT ...
// FOR UPDATE, a rollback) is not re-evaluated by PostgreSQL at all, and
// stays open (see the package documentation).
func TestSessionThatExpiresWhileACallWaitsForItsRowIsGone(t *testing.T) {
	t.Parallel()
	dsn := testserver.SharedPostgres(t).NewDatabase(t)
	pool := poolOn(t, dsn, func(c *pgxpool.Config) { c.MaxConns = 30 })
	const (
		id   = "expiring"
		user = "ann"
	)
	calls := []struct {
		name string
		lock string // what the other transaction holds: "write" or "table" (holdSession)
		// call runs the call with the version read before and reports
		// whether it found (or swapped) the session.
		call func(ctx context.Context, st *pgstore.Store, id, version string) (bool, error)
		// created: the call is to replace the expired session with
		// {"new":1} and report it swapped.
		created bool
	}{
		{name: "Get", lock: "table", call: func(ctx context.Context, st *pgstore.Store, id, _ string) (bool, error) {
			_, found, err := st.Get(ctx, id)
			return found, err
		}},
		{name: "GetVersion", lock: "table", call: func(ctx context.Context, st *pgstore.Store, id, _ string) (bool, error) {
			_, _, found, err := st.GetVersion(ctx, id)
			return found, err
		}},
		{name: "UserSessions", lock: "table", call: func(ctx context.Context, st *pgstore.Store, id, _ string) (bool, error) {
			found := false
			err := st.UserSessions(ctx, user, func(got string, _, _ time.Time, data []byte) {
				found = found || (got == id && data != nil)
			})
			return found, err
		}},
		{name: "Touch", lock: "write", call: func(ctx context.Context, st *pgstore.Store, id, _ string) (bool, error) {
			return st.Touch(ctx, id, time.Now().Add(time.Hour))
		}},
		{name: "Touch to a past expiry", lock: "write", call: func(ctx context.Context, st *pgstore.Store, id, _ string) (bool, error) {
			return st.Touch(ctx, id, time.Now().Add(-time.Hour))
		}},
		{name: "GetAndTouch", lock: "write", call: func(ctx context.Context, st *pgstore.Store, id, _ string) (bool, error) {
			_, _, found, err := st.GetAndTouch(ctx, id, time.Now().Add(time.Hour))
			return found, err
		}},
		{name: "CompareAndSwap creating", lock: "write", created: true, call: func(ctx context.Context, st *pgstore.Store, id, _ string) (bool, error) {
			_, swapped, err := st.CompareAndSwap(ctx, id, "", []byte(`{"new":1}`), time.Now().Add(time.Hour))
			return swapped, err
		}},
		{name: "CompareAndSwap creating to a past expiry", lock: "table", created: true, call: func(ctx context.Context, st *pgstore.Store, id, _ string) (bool, error) {
			// Nothing to create: it swaps if no live session is there.
			_, swapped, err := st.CompareAndSwap(ctx, id, "", []byte(`{"new":1}`), time.Now().Add(-time.Hour))
			return swapped, err
		}},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			// A try whose steps before the call outlasted the session's
			// life (a loaded machine) proves nothing: the call finds the
			// session expired without waiting for the lock. It is made
			// again with a session that lives twice as long.
			for try, life := 1, time.Second; ; try, life = try+1, 2*life {
				if expiresWhileTheCallWaits(t, dsn, pool, c.call, c.name, c.lock, c.created, fmt.Sprintf("%s%d", id, try), user, life) {
					return
				}
				if life >= 8*time.Second {
					t.Fatalf("the steps before %s outlasted the session's life of %v, in every try", c.name, life)
				}
				t.Logf("the steps before %s outlasted the session's life of %v: again with %v", c.name, life, 2*life)
			}
		})
	}
}

// expiresWhileTheCallWaits is one try of a call of
// TestSessionThatExpiresWhileACallWaitsForItsRowIsGone on session id of
// user, which expires life after it is stored by the server's clock. It
// reports false, having checked nothing, when the call did not wait for
// the lock because the session had expired by then.
func expiresWhileTheCallWaits(t *testing.T, dsn string, pool *pgxpool.Pool, call func(ctx context.Context, st *pgstore.Store, id, version string) (bool, error), name, lock string, created bool, id, user string, life time.Duration) bool {
	t.Helper()
	ctx := t.Context()
	// The store's own connection, so that the call runs the
	// statement pgx has prepared on it, as in a running
	// application: a statement being prepared first waits for the
	// table lock, and its execution's now() is later.
	one := poolOn(t, dsn, func(c *pgxpool.Config) { c.MaxConns = 1 })
	st := newStore(t, one)
	var expires time.Time // by the server's clock, which decides
	if err := pool.QueryRow(ctx, `SELECT clock_timestamp() + $1::interval`, life).Scan(&expires); err != nil {
		t.Fatal(err)
	}
	if err := st.Set(ctx, id, []byte(`{"a":1}`), expires); err != nil {
		t.Fatal(err)
	}
	if err := st.IndexUserSession(ctx, user, id, time.Now(), expires); err != nil {
		t.Fatal(err)
	}
	_, version, found, err := st.GetVersion(ctx, id)
	if err != nil || !found {
		t.Fatalf("GetVersion: found %v, %v", found, err)
	}
	if _, err := call(ctx, st, "another", version); err != nil { // prepares its statement
		t.Fatal(err)
	}
	holder, pid := holdSession(t, pool, st, id, lock)
	type result struct {
		found bool
		err   error
	}
	done := make(chan result, 1)
	go func() {
		found, err := call(ctx, st, id, version)
		done <- result{found, err}
	}()
	expired := func() bool {
		var expired bool
		if err := pool.QueryRow(ctx, `SELECT clock_timestamp() > $1::timestamptz`, expires).Scan(&expired); err != nil {
			t.Fatal(err)
		}
		return expired
	}
	// Wait until the call waits for the holder, then until the
	// session has expired by the server's clock.
	for waiting := false; !waiting; time.Sleep(5 * time.Millisecond) {
		err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE $1::int = ANY (pg_blocking_pids(pid)))`, pid).Scan(&waiting)
		if err != nil {
			t.Fatal(err)
		}
		select {
		case r := <-done:
			if expired() { // maybe before the call ran: it had nothing to wait for
				if err := holder.Rollback(ctx); err != nil {
					t.Fatal(err)
				}
				return false
			}
			t.Fatalf("%s returned (found %v, %v) without waiting for the lock", name, r.found, r.err)
		default:
		}
	}
	for !expired() {
		time.Sleep(20 * time.Millisecond)
	}
	end := holder.Rollback
	if lock == "write" {
		end = holder.Commit
	}
	if err := end(ctx); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	data, found, err := st.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if created {
		if !r.found {
			t.Errorf("%s did not replace the session, which expired while it waited for the lock", name)
		}
		return true
	}
	if r.found {
		t.Errorf("%s found the session, which expired while it waited for the lock", name)
	}
	if found {
		t.Errorf("after %s the session, expired, is there again: %s", name, data)
	}
	return true
}
