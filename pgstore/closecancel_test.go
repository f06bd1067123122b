package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/pgstore"
)

// cancelLag is how late a delaying proxy passes on each chunk of data,
// pgx's cancel request among them: a statement whose client has gone runs
// on the server well before it.
const cancelLag = 300 * time.Millisecond

// proxiedPool returns a pool of one connection on dsn through a proxy,
// and the proxy.
func proxiedPool(t *testing.T, dsn string) (*pgxpool.Pool, *testserver.Proxy) {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := testserver.StartProxy(t, net.JoinHostPort(cfg.ConnConfig.Host, strconv.Itoa(int(cfg.ConnConfig.Port))))
	return poolOn(t, dsn, func(cfg *pgxpool.Config) {
		cfg.MaxConns = 1
		host, port, _ := net.SplitHostPort(proxy.Addr)
		p, _ := strconv.Atoi(port)
		cfg.ConnConfig.Host, cfg.ConnConfig.Port = host, uint16(p)
	}), proxy
}

// lockedTable starts a transaction on observer that holds table (quoted)
// in ACCESS EXCLUSIVE mode, so that the store's next purge statement waits
// on the server, and returns it with its backend's pid.
func lockedTable(t *testing.T, observer *pgxpool.Pool, table string) (pgx.Tx, uint32) {
	t.Helper()
	ctx := t.Context()
	holder, err := observer.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { holder.Rollback(context.Background()) })
	if _, err := holder.Exec(ctx, `LOCK TABLE `+table+` IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	var pid uint32
	if err := holder.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	return holder, pid
}

// waitForPurgeBlockedBy waits until a statement that deletes from table
// waits on the server for the transaction of backend pid.
func waitForPurgeBlockedBy(t *testing.T, observer *pgxpool.Pool, table string, pid uint32) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		var n int
		if err := observer.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity WHERE $1::int = ANY (pg_blocking_pids(pid)) AND query LIKE $2`,
			pid, "%DELETE FROM "+table+" %").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no purge statement waits for the lock 10s on")
		}
		<-time.After(5 * time.Millisecond)
	}
}

// waitForNoPurgeRunning waits until no backend runs a statement that
// deletes from table (one whose client went away ends once it has run).
func waitForNoPurgeRunning(t *testing.T, observer *pgxpool.Pool, table string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		var n int
		if err := observer.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity WHERE state <> 'idle' AND pid <> pg_backend_pid() AND query LIKE $1`,
			"%DELETE FROM "+table+" %").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("a purge statement still runs 10s on")
		}
		<-time.After(5 * time.Millisecond)
	}
}

// addExpiredAndCommit writes an expired session under id in holder, as
// connect-pg-simple does, and commits, which lets a purge waiting for
// holder's lock go on.
func addExpiredAndCommit(t *testing.T, holder pgx.Tx, table, id string) {
	t.Helper()
	if _, err := holder.Exec(t.Context(), fmt.Sprintf(expressSet, table), `{}`, expressSeconds(time.Now().Add(-time.Minute)), id); err != nil {
		t.Fatal(err)
	}
	if err := holder.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// Close returns once the cleanup's statement has ended on the server, not
// only in the client: pgx ends a statement whose context is cancelled by
// closing the connection, and the server went on with the statement it had
// been sent (here waiting for a lock, in the flaky run of
// TestCleanupDeletesExpiredRowsAndStopsOnClose not yet started on a loaded
// machine), so that a purge ran, and deleted rows written after Close had
// returned.
func TestCloseReturnsOnceTheCleanupsStatementHasEndedOnTheServer(t *testing.T) {
	dsn := testserver.SharedPostgres(t).NewDatabase(t)
	pool, proxy := proxiedPool(t, dsn)
	observer := poolOn(t, dsn, nil)
	st := newStore(t, pool, pgstore.WithCleanupInterval(10*time.Millisecond))
	table := st.Table()
	// A first purge prepares the statement, so that the next one is sent
	// whole (bound and executed) before it waits for the lock.
	exec(t, observer, fmt.Sprintf(expressSet, table), `{}`, expressSeconds(time.Now().Add(-time.Minute)), "expired1")
	for deadline := time.Now().Add(10 * time.Second); rowCount(t, observer, table, "") != 0; {
		if time.Now().After(deadline) {
			t.Fatal("the cleanup did not delete the expired row in 10s")
		}
		<-time.After(5 * time.Millisecond)
	}
	holder, pid := lockedTable(t, observer, table)
	waitForPurgeBlockedBy(t, observer, table, pid)
	proxy.Delay(cancelLag)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	addExpiredAndCommit(t, holder, table, "expired2")
	waitForNoPurgeRunning(t, observer, table)
	if n := rowCount(t, observer, table, ""); n != 1 {
		t.Fatalf("%d rows, want the expired one written after Close: a purge ran after Close returned", n)
	}
}

// PurgeExpired whose context ends while a statement waits on the server
// returns once the server has cancelled it, so that it deletes nothing
// after PurgeExpired returned, as its doc says.
func TestPurgeExpiredEndedByItsContextDeletesNothingAfterItReturns(t *testing.T) {
	dsn := testserver.SharedPostgres(t).NewDatabase(t)
	pool, proxy := proxiedPool(t, dsn)
	observer := poolOn(t, dsn, nil)
	st := newStore(t, pool)
	table := st.Table()
	if _, err := st.PurgeExpired(t.Context()); err != nil { // prepares the statements
		t.Fatal(err)
	}
	holder, pid := lockedTable(t, observer, table)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := st.PurgeExpired(ctx)
		done <- result{n, err}
	}()
	waitForPurgeBlockedBy(t, observer, table, pid)
	proxy.Delay(cancelLag)
	cancel()
	r := <-done
	if r.n != 0 || !errors.Is(r.err, context.Canceled) {
		t.Fatalf("PurgeExpired cancelled while its statement waits = %d, %v; want 0 and context.Canceled", r.n, r.err)
	}
	addExpiredAndCommit(t, holder, table, "expired")
	waitForNoPurgeRunning(t, observer, table)
	if n := rowCount(t, observer, table, ""); n != 1 {
		t.Fatalf("%d rows, want the expired one written after PurgeExpired returned: its statement ran after", n)
	}
}
