package mongostore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sessionkit/session/internal/testclock"
	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/mongostore"
)

// TestWritesGoOnWhilePurgeExpiredWaitsOnADeadConnection: on FerretDB,
// while a batch of PurgeExpired waits on a connection that went silently
// dead in the middle of its deleteMany, the store's writes of other
// sessions (CompareAndSwap, Set, Touch, GetAndTouch) go through on the
// store's other connections. Each batch's deleteMany held every per-id
// lock of the store under the purge's context (for the interval cleanup,
// up to the whole interval: 15 minutes), so every write of the process
// waited for it, and failed when its own context ended.
func TestWritesGoOnWhilePurgeExpiredWaitsOnADeadConnection(t *testing.T) {
	st, proxy, clock := proxiedStore(t)
	ctx := t.Context()
	for id, ttl := range map[string]time.Duration{"old": time.Minute, "live": time.Hour} {
		if err := st.Set(ctx, id, []byte(`{"n":1}`), clock.Now().Add(ttl)); err != nil {
			t.Fatal(err)
		}
	}
	_, version, _, err := st.GetVersion(ctx, "live")
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Minute) // "old" has expired

	purged := purgeStalledAtDelete(t, context.Background(), st, proxy, 1) // bounded by the client's Timeout (10 s)

	// Each write with a context of its own, shorter than the purge's.
	wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	exp := clock.Now().Add(time.Hour)
	start := time.Now()
	if _, ok, err := st.CompareAndSwap(wctx, "live", version, []byte(`{"n":2}`), exp); !ok || err != nil {
		t.Errorf("CompareAndSwap while the purge waits on a dead connection: swapped %v, %v; want swapped", ok, err)
	}
	if err := st.Set(wctx, "other", []byte(`{}`), exp); err != nil {
		t.Errorf("Set while the purge waits on a dead connection: %v", err)
	}
	if found, err := st.Touch(wctx, "live", exp); !found || err != nil {
		t.Errorf("Touch while the purge waits on a dead connection: found %v, %v; want found", found, err)
	}
	if _, _, found, err := st.GetAndTouch(wctx, "live", exp); !found || err != nil {
		t.Errorf("GetAndTouch while the purge waits on a dead connection: found %v, %v; want found", found, err)
	}
	t.Logf("the four writes took %v", time.Since(start))

	healAndAwaitPurge(t, proxy, purged)
	if _, found, err := st.Get(ctx, "live"); !found || err != nil {
		t.Errorf("the live session after the purge: found %v, %v", found, err)
	}
}

// TestPurgeExpiredHoldsBackTheWritesItCouldRace: on FerretDB, whose
// deleteMany is a find and then a delete by _id, a batch of PurgeExpired
// holds back, until its deleteMany has returned, the writes that could
// renew a session between the two: a write of a session the batch is
// deleting, and a write whose time is before the purge's (a clock that
// went back), which could renew a session that expired before the purge's
// time and is not yet found. Here the batch's deleteMany waits on a
// connection that went silently dead: such a write waits, and fails when
// its own context ends; once the batch has ended it goes through.
func TestPurgeExpiredHoldsBackTheWritesItCouldRace(t *testing.T) {
	st, proxy, clock := proxiedStore(t)
	ctx := t.Context()
	start := clock.Now()
	if err := st.Set(ctx, "old", []byte(`{"n":1}`), start.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	purgeAt := start.Add(2 * time.Minute) // "old" has expired
	clock.Set(purgeAt)

	purged := purgeStalledAtDelete(t, context.Background(), st, proxy, 1)

	held := func(what string, write func(ctx context.Context) error) {
		t.Helper()
		wctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		if err := write(wctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s while the batch's deleteMany is in flight: %v, want it held back until its context ends", what, err)
		}
	}
	renew := func(ctx context.Context) error {
		return st.Set(ctx, "old", []byte(`{"n":2}`), clock.Now().Add(time.Hour))
	}
	held("a Set of a session the batch deletes", renew)
	clock.Set(purgeAt.Add(-time.Second)) // the clock went back
	held("a Set at a time before the purge's", func(ctx context.Context) error {
		return st.Set(ctx, "new", []byte(`{}`), clock.Now().Add(30*time.Second))
	})
	clock.Set(purgeAt)

	healAndAwaitPurge(t, proxy, purged)
	if err := renew(ctx); err != nil {
		t.Fatalf("Set after the batch ended: %v", err)
	}
	if data, found, err := st.Get(ctx, "old"); !found || err != nil || string(data) != `{"n":2}` {
		t.Errorf("Get after the purge and the Set = %s, %v, %v; want the Set's session", data, found, err)
	}
}

// TestPurgeExpiredDoesNotHoldBackTouchesOfTheSessionsItDeletes: on
// FerretDB, while a batch of PurgeExpired is deleting an expired session
// (here its deleteMany waits on a connection that went silently dead), a
// GetAndTouch, a Touch or a CompareAndSwap from a version of that session
// answers at once that it is missing (or swapped nothing): each filters
// on an expiry after its time, which is not before the purge's, so none
// can renew a session the batch deletes. Only a Set, or a CompareAndSwap
// that creates the session, can, and those wait for the batch. They all
// waited, so a request that brought the cookie of a session that had
// expired (an idle timeout shorter than the cookie's) and loaded it with
// GetAndTouch, as the manager does by default, waited for the batch, and
// on a dead connection failed when its own context ended.
func TestPurgeExpiredDoesNotHoldBackTouchesOfTheSessionsItDeletes(t *testing.T) {
	st, proxy, clock := proxiedStore(t)
	ctx := t.Context()
	if err := st.Set(ctx, "old", []byte(`{"n":1}`), clock.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	_, version, _, err := st.GetVersion(ctx, "old")
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Minute) // "old" has expired

	purged := purgeStalledAtDelete(t, context.Background(), st, proxy, -1)

	wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	exp := clock.Now().Add(time.Hour)
	if _, _, found, err := st.GetAndTouch(wctx, "old", exp); found || err != nil {
		t.Errorf("GetAndTouch of a session the batch deletes: found %v, %v; want missing at once", found, err)
	}
	if found, err := st.Touch(wctx, "old", exp); found || err != nil {
		t.Errorf("Touch of a session the batch deletes: found %v, %v; want missing at once", found, err)
	}
	if _, ok, err := st.CompareAndSwap(wctx, "old", version, []byte(`{"n":2}`), exp); ok || err != nil {
		t.Errorf("CompareAndSwap from a version of a session the batch deletes: swapped %v, %v; want no swap at once", ok, err)
	}
	hctx, hcancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer hcancel()
	if _, _, err := st.CompareAndSwap(hctx, "old", "", []byte(`{"n":3}`), exp); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("CompareAndSwap creating a session the batch deletes: %v, want it held back until its context ends", err)
	}

	healAndAwaitPurge(t, proxy, purged)
	if _, found, err := st.Get(ctx, "old"); found || err != nil {
		t.Errorf("Get of the purged session: found %v, %v; want missing", found, err)
	}
}

// proxiedStore is a store of the "sessions" collection of a new database
// of the shared server, reached through a proxy that can stall its
// connections, on a test clock, with no interval cleanup. The proxy heals
// before the client disconnects.
func proxiedStore(t *testing.T) (st *mongostore.Store, proxy *testserver.Proxy, clock *testclock.Clock) {
	st, proxy, clock, _, _ = proxiedStoreOf(t)
	return st, proxy, clock
}

// proxiedStoreOf is proxiedStore, with the URI of the server (direct, not
// through the proxy) and the name of the database.
func proxiedStoreOf(t *testing.T) (st *mongostore.Store, proxy *testserver.Proxy, clock *testclock.Clock, uri, db string) {
	t.Helper()
	srv := testserver.SharedMongo(t)
	proxy = testserver.StartProxy(t, srv.Addr)
	uri, db = srv.NewDatabase(t)
	client := connect(t, "mongodb://"+proxy.Addr+"/")
	t.Cleanup(proxy.Heal) // before the disconnection
	clock = testclock.New(testclock.Epoch())
	st = newStore(t, client.Database(db).Collection("sessions"), mongostore.WithClock(clock.Now), mongostore.WithCleanupInterval(0))
	return st, proxy, clock, uri, db
}

// purgeStalledAtDelete runs st.PurgeExpired(ctx) in a goroutine with
// proxy stalling the connection that carries its deleteMany, and returns
// once that deleteMany has reached the proxy (failing t if the purge ends
// first, or sends none in 20 s). The channel gets the purge's error when it
// ends; a purge that succeeds must have deleted want sessions, unless want
// is negative.
func purgeStalledAtDelete(t *testing.T, ctx context.Context, st *mongostore.Store, proxy *testserver.Proxy, want int) <-chan error {
	t.Helper()
	stalled := proxy.StallConnAt("delete")
	purged := make(chan error, 1)
	go func() {
		n, err := st.PurgeExpired(ctx)
		if err == nil && want >= 0 && n != want {
			t.Errorf("PurgeExpired deleted %d sessions, want %d", n, want)
		}
		purged <- err
	}()
	select {
	case <-stalled:
	case err := <-purged:
		t.Fatalf("PurgeExpired ended (%v) before its deleteMany reached the server", err)
	case <-time.After(20 * time.Second):
		t.Fatal("PurgeExpired sent no deleteMany in 20s")
	}
	return purged
}

// healAndAwaitPurge lets the stalled connection of purgeStalledAtDelete go
// on and waits for its purge to end, which must succeed within 20 s.
func healAndAwaitPurge(t *testing.T, proxy *testserver.Proxy, purged <-chan error) {
	t.Helper()
	proxy.Heal()
	select {
	case err := <-purged:
		if err != nil {
			t.Fatalf("PurgeExpired after the connection came back: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("PurgeExpired still runs 20s after the connection came back")
	}
}
