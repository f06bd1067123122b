package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/pgstore"
	"github.com/sessionkit/session/storetest"
)

// addExpired adds n expired sessions sid<prefix>0 ... to st's table, their
// expiries in three whole seconds (connect-pg-simple's are whole seconds,
// so many rows share one), and n index entries past their grace.
func addExpired(t *testing.T, pool *pgxpool.Pool, st *pgstore.Store, prefix string, n int) {
	t.Helper()
	exec(t, pool, `INSERT INTO `+st.Table()+` (sid, sess, expire)
SELECT $1::text || i, '{}', date_trunc('second', localtimestamp) - interval '1 minute' - (i % 3) * interval '1 second' FROM generate_series(0, $2::int - 1) i`, prefix, n)
	exec(t, pool, `INSERT INTO `+st.UsersTable()+` (user_id, sid, used, expire)
SELECT convert_to('user' || i, 'UTF8'), $1::text || i, $3::timestamptz, $3::timestamptz FROM generate_series(0, $2::int - 1) i`, prefix, n, time.Now().Add(-2*session.IndexGrace))
}

// rowCount returns the number of rows of table (quoted) matching where.
func rowCount(t *testing.T, pool *pgxpool.Pool, table, where string) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(t.Context(), `SELECT count(*) FROM `+table+` `+where).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// PurgeExpired deletes in batches, each starting where the last one ended
// in expire order; rows sharing an expiry across a batch's end, and the
// user index's entries, are all deleted, in every query mode (the position
// goes back to the server as an argument).
func TestPurgeExpiredDeletesEveryExpiredRowOfManyBatches(t *testing.T) {
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeExec, pgx.QueryExecModeSimpleProtocol} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			pool := poolOn(t, testserver.SharedPostgres(t).NewDatabase(t), func(cfg *pgxpool.Config) {
				cfg.ConnConfig.DefaultQueryExecMode = mode
			})
			st := newStore(t, pool)
			expired := 2*pgstore.PurgeBatch + pgstore.PurgeBatch/2
			addExpired(t, pool, st, "old", expired)
			for _, id := range []string{"live1", "live2"} {
				if err := st.Set(ctx, id, []byte(`{}`), time.Now().Add(time.Hour)); err != nil {
					t.Fatal(err)
				}
				if err := st.IndexUserSession(ctx, "alice", id, time.Now(), time.Now().Add(time.Hour)); err != nil {
					t.Fatal(err)
				}
			}
			if n, err := st.PurgeExpired(ctx); n != expired || err != nil {
				t.Fatalf("PurgeExpired = %d, %v; want %d", n, err, expired)
			}
			if n := rowCount(t, pool, st.Table(), ""); n != 2 {
				t.Errorf("%d sessions left, want the 2 live ones", n)
			}
			if n := rowCount(t, pool, st.UsersTable(), ""); n != 2 {
				t.Errorf("%d index entries left, want the 2 live ones", n)
			}
			if n, err := st.PurgeExpired(ctx); n != 0 || err != nil {
				t.Fatalf("second PurgeExpired = %d, %v; want 0", n, err)
			}
		})
	}
}

// A transaction that holds an expired session's row, or an index entry
// past its grace (a migration of the data, connect-pg-simple's touch in a
// transaction, a SELECT ... FOR UPDATE), does not hold up PurgeExpired: it
// deletes the other rows and leaves those, which the next call deletes
// once the transaction has ended. PurgeExpired was one DELETE of every
// expired row, which waited for the transaction, holding every expired row
// it had deleted so far meanwhile (a save of any of them waited in turn).
func TestPurgeExpiredSkipsRowsAnotherTransactionHolds(t *testing.T) {
	ctx := t.Context()
	pool := newPool(t)
	st := newStore(t, pool)
	addExpired(t, pool, st, "old", 4)
	holder, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback(context.Background())
	for _, table := range []string{st.Table(), st.UsersTable()} {
		if _, err := holder.Exec(ctx, `SELECT FROM `+table+` WHERE sid = 'old0' FOR UPDATE`); err != nil {
			t.Fatal(err)
		}
	}
	var pid uint32
	if err := holder.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := st.PurgeExpired(ctx)
		done <- result{n, err}
	}()
	var r result
	for purged := false; !purged; {
		select {
		case r = <-done:
			purged = true
		default:
			var waiting bool
			if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_stat_activity WHERE $1::int = ANY (pg_blocking_pids(pid)))`, pid).Scan(&waiting); err != nil {
				t.Fatal(err)
			}
			if waiting {
				t.Fatal("PurgeExpired waits for the transaction that holds an expired row")
			}
		}
	}
	if r.n != 3 || r.err != nil {
		t.Fatalf("PurgeExpired while a row is held = %d, %v; want the 3 others", r.n, r.err)
	}
	if n := rowCount(t, pool, st.Table(), ""); n != 1 {
		t.Errorf("%d sessions left, want the held one", n)
	}
	if n := rowCount(t, pool, st.UsersTable(), ""); n != 1 {
		t.Errorf("%d index entries left, want the held one", n)
	}
	if err := holder.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := st.PurgeExpired(ctx); n != 1 || err != nil {
		t.Fatalf("PurgeExpired after the transaction = %d, %v; want the held row", n, err)
	}
	if n := rowCount(t, pool, st.UsersTable(), ""); n != 0 {
		t.Errorf("%d index entries left after the transaction, want none", n)
	}
}

// deleteTracer calls after when a statement that deletes from the table
// whose quoted name is table ends.
type deleteTracer struct {
	table string
	after func()
}

type deleteKey struct{}

func (d *deleteTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	return context.WithValue(ctx, deleteKey{}, strings.Contains(data.SQL, "DELETE FROM "+d.table+" "))
}

func (d *deleteTracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryEndData) {
	if ctx.Value(deleteKey{}) == true && d.after != nil {
		d.after()
	}
}

// PurgeExpired checks its context between batches: cancelled while a batch
// runs, it returns that batch's rows with the context's error and leaves
// the other expired rows for a later call.
func TestPurgeExpiredStopsBetweenBatchesWhenItsContextEnds(t *testing.T) {
	tracer := &deleteTracer{}
	pool := poolOn(t, testserver.SharedPostgres(t).NewDatabase(t), func(cfg *pgxpool.Config) { cfg.ConnConfig.Tracer = tracer })
	st := newStore(t, pool)
	tracer.table = st.Table()
	addExpired(t, pool, st, "old", 3*pgstore.PurgeBatch)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	tracer.after = cancel
	n, err := st.PurgeExpired(ctx)
	tracer.after = nil
	if n != pgstore.PurgeBatch || !errors.Is(err, context.Canceled) {
		t.Fatalf("PurgeExpired cancelled during its first batch = %d, %v; want %d and context.Canceled", n, err, pgstore.PurgeBatch)
	}
	if left := rowCount(t, pool, st.Table(), ""); left != 2*pgstore.PurgeBatch {
		t.Fatalf("%d expired sessions left, want %d: the purge went on after its context ended", left, 2*pgstore.PurgeBatch)
	}
	if n, err := st.PurgeExpired(t.Context()); n != 2*pgstore.PurgeBatch || err != nil {
		t.Fatalf("next PurgeExpired = %d, %v; want %d", n, err, 2*pgstore.PurgeBatch)
	}
}

// A table whose expire is a timestamptz, which the README says works,
// passes the conformance suite, and PurgeExpired deletes its expired rows
// across batches.
func TestStoreWorksOnATimestamptzExpireColumn(t *testing.T) {
	pool := newPool(t)
	tzStore := func(t *testing.T) *pgstore.Store {
		table := fmt.Sprintf("tz_session_%d", tableSeq.Add(1))
		exec(t, pool, strings.Replace(pgstore.CreateTableSQL("", table), `"expire" timestamp(6) NOT NULL`, `"expire" timestamptz NOT NULL`, 1))
		return newStore(t, pool, pgstore.WithTable(table))
	}
	storetest.Run(t, func(t *testing.T) session.Store { return tzStore(t) }, storetest.KeepsOnlyJSON(pgstore.ErrNotJSON))
	t.Run("PurgeExpiredOfManyBatches", func(t *testing.T) {
		st := tzStore(t)
		expired := 2*pgstore.PurgeBatch + 1
		addExpired(t, pool, st, "old", expired)
		if n, err := st.PurgeExpired(t.Context()); n != expired || err != nil {
			t.Fatalf("PurgeExpired = %d, %v; want %d", n, err, expired)
		}
	})
}

// The batches of PurgeExpired go on from the last expire of the batch
// before, which comes back to PostgreSQL as an argument. On a table whose
// expire is a timestamptz (which the README says works) in a database whose
// TimeZone is not the Go process's, in the query modes a pool behind
// PgBouncer uses (exec, simple_protocol), that position came back as the
// wall-clock time of the Go process's zone read in the database's: later
// than every row left (here by the 12 hours and more between UTC-12 and
// any other zone), so the second batch found nothing, and each purge
// (each cleanup run) deleted 1,000 rows at most.
func TestPurgeExpiredDeletesEveryBatchOfATimestamptzTableInADatabaseOfAnotherTimeZone(t *testing.T) {
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeCacheDescribe, pgx.QueryExecModeDescribeExec, pgx.QueryExecModeExec, pgx.QueryExecModeSimpleProtocol} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			dsn := testserver.SharedPostgres(t).NewDatabase(t)
			admin := poolOn(t, dsn, nil)
			// Etc/GMT+12 is UTC-12: west of every zone the Go process may have but one.
			exec(t, admin, `DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET timezone = %L', current_database(), 'Etc/GMT+12'); END $$`)
			pool := poolOn(t, dsn, func(cfg *pgxpool.Config) { cfg.ConnConfig.DefaultQueryExecMode = mode })
			table := fmt.Sprintf("tz_session_%d", tableSeq.Add(1))
			exec(t, pool, strings.Replace(pgstore.CreateTableSQL("", table), `"expire" timestamp(6) NOT NULL`, `"expire" timestamptz NOT NULL`, 1))
			st := newStore(t, pool, pgstore.WithTable(table))
			expired := 2*pgstore.PurgeBatch + 1
			addExpired(t, pool, st, "old", expired)
			if n, err := st.PurgeExpired(t.Context()); n != expired || err != nil {
				t.Fatalf("PurgeExpired = %d, %v; want %d", n, err, expired)
			}
		})
	}
}
