package memstore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/testclock"
	"github.com/sessionkit/session/memstore"
	"github.com/sessionkit/session/storetest"
)

var (
	_ session.Store          = (*memstore.Store)(nil)
	_ session.Toucher        = (*memstore.Store)(nil)
	_ session.GetToucher     = (*memstore.Store)(nil)
	_ session.VersionedStore = (*memstore.Store)(nil)
	_ session.Lister         = (*memstore.Store)(nil)
	_ session.Purger         = (*memstore.Store)(nil)
)

func newStore(t testing.TB, opts ...memstore.Option) *memstore.Store {
	s := memstore.New(opts...)
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) session.Store { return newStore(t) })
}

func TestConformanceWithCap(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) session.Store { return newStore(t, memstore.WithMaxSessions(1000)) })
}

func TestExpiredSessionIsNeverReturned(t *testing.T) {
	ctx := context.Background()
	clock := testclock.New(testclock.Epoch())
	s := newStore(t, memstore.WithSweepInterval(0), memstore.WithClock(clock.Now)) // nothing sweeps: the read must check
	expires := clock.Now().Add(30 * time.Second)
	s.Set(ctx, "plain", []byte("{}"), expires)
	s.Set(ctx, "versioned", []byte("{}"), expires)
	_, v, _, err := s.GetVersion(ctx, "versioned")
	if err != nil {
		t.Fatal(err)
	}
	clock.Set(expires)

	if _, found, err := s.Get(ctx, "plain"); err != nil || found {
		t.Errorf("Get of an expired session: %v, want not found", err)
	}
	if _, _, found, err := s.GetVersion(ctx, "versioned"); err != nil || found {
		t.Errorf("GetVersion of an expired session: %v, want not found", err)
	}
	if _, swapped, err := s.CompareAndSwap(ctx, "versioned", v, []byte("{}"), clock.Now().Add(time.Hour)); err != nil || swapped {
		t.Errorf("CompareAndSwap of an expired session: %v, want not swapped", err)
	}
	if found, err := s.Touch(ctx, "plain", clock.Now().Add(time.Hour)); err != nil || found {
		t.Errorf("Touch of an expired session: %v, want not found", err)
	}
	if n, _ := s.Count(ctx); n != 0 {
		t.Errorf("Count = %d, want 0", n)
	}
	if ids, _ := s.IDs(ctx); len(ids) != 0 {
		t.Errorf("IDs = %q, want none", ids)
	}
}

func TestPurgeExpiredRemovesOnlyExpiredSessions(t *testing.T) {
	ctx := context.Background()
	// A pinned clock: with the real one, a Set that a loaded machine held
	// past its session's 10 ms expiry stored nothing, and one session fewer
	// was purged.
	clock := testclock.New(testclock.Epoch())
	s := newStore(t, memstore.WithSweepInterval(0), memstore.WithClock(clock.Now))
	for i := range 10 {
		s.Set(ctx, fmt.Sprint("short", i), []byte("{}"), clock.Now().Add(10*time.Millisecond))
	}
	s.Set(ctx, "long", []byte("{}"), clock.Now().Add(time.Hour))
	clock.Advance(20 * time.Millisecond)
	n, err := s.PurgeExpired(ctx)
	if err != nil || n != 10 {
		t.Fatalf("PurgeExpired = %d, %v; want 10, nil", n, err)
	}
	if ids, _ := s.IDs(ctx); !slices.Equal(ids, []string{"long"}) {
		t.Fatalf("IDs after purge = %q, want [long]", ids)
	}
	if n, _ := s.PurgeExpired(ctx); n != 0 {
		t.Fatalf("second PurgeExpired = %d, want 0", n)
	}
}

// A touch that pushes a session's expiry later leaves it where it was in
// its shard's heap: the sweep, Count and the cap must still go by the
// expiry it has now.
func TestSessionTouchedPastItsFirstExpiryIsKeptCountedAndSweptLater(t *testing.T) {
	ctx := context.Background()
	clock := testclock.New(testclock.Epoch())
	s := newStore(t, memstore.WithSweepInterval(0), memstore.WithClock(clock.Now))
	const n = 500
	for i := range n {
		s.Set(ctx, fmt.Sprint(i), []byte("{}"), clock.Now().Add(time.Duration(1+i%7)*time.Minute))
	}
	for i := 0; i < n; i += 2 { // the even ones, each by a few hours
		if found, err := s.Touch(ctx, fmt.Sprint(i), clock.Now().Add(time.Duration(1+i%5)*time.Hour)); err != nil || !found {
			t.Fatal(found, err)
		}
	}
	clock.Advance(10 * time.Minute) // every first expiry has passed
	if c, _ := s.Count(ctx); c != n/2 {
		t.Fatalf("Count = %d, want the %d touched sessions", c, n/2)
	}
	if removed, _ := s.PurgeExpired(ctx); removed != n/2 {
		t.Fatalf("PurgeExpired removed %d, want the %d sessions left untouched", removed, n/2)
	}
	for i := range n {
		if _, found, _ := s.Get(ctx, fmt.Sprint(i)); found != (i%2 == 0) {
			t.Fatalf("session %d: found %v after the sweep", i, found)
		}
	}
	clock.Advance(3 * time.Hour) // the touches of i%5 < 3 have passed too
	want := 0
	for i := 0; i < n; i += 2 {
		if i%5 < 3 {
			want++
		}
	}
	if removed, _ := s.PurgeExpired(ctx); removed != want {
		t.Fatalf("second PurgeExpired removed %d, want %d", removed, want)
	}
	if c, _ := s.Count(ctx); c != n/2-want {
		t.Fatalf("Count = %d, want %d", c, n/2-want)
	}
}

func TestCapEvictsSessionsClosestToExpiry(t *testing.T) {
	ctx := context.Background()
	const max, total = 10, 200
	s := newStore(t, memstore.WithMaxSessions(max), memstore.WithSweepInterval(0))
	base := time.Now().Add(time.Hour)
	// Insert in a shuffled order so that the latest expiries are spread
	// over the shards and over time.
	order := rand.Perm(total)
	for _, i := range order {
		if err := s.Set(ctx, fmt.Sprintf("s%03d", i), []byte("{}"), base.Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	var want []string
	for i := total - max; i < total; i++ {
		want = append(want, fmt.Sprintf("s%03d", i))
	}
	got, _ := s.IDs(ctx)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("kept %q, want the %d latest-expiring %q", got, max, want)
	}

	t.Run("NewSessionClosestToExpiryIsItselfEvicted", func(t *testing.T) {
		s.Set(ctx, "early", []byte("{}"), base)
		if _, found, err := s.Get(ctx, "early"); err != nil || found {
			t.Fatalf("Get of a new session expiring before all kept ones: %v, want not found", err)
		}
		if n, _ := s.Count(ctx); n != max {
			t.Fatalf("Count = %d, want %d", n, max)
		}
	})
	t.Run("TouchMovesASessionAwayFromEviction", func(t *testing.T) {
		first := fmt.Sprintf("s%03d", total-max)
		second := fmt.Sprintf("s%03d", total-max+1)
		if found, err := s.Touch(ctx, first, base.Add(24*time.Hour)); err != nil || !found {
			t.Fatal(err)
		}
		s.Set(ctx, "late", []byte("{}"), base.Add(48*time.Hour))
		if _, found, err := s.Get(ctx, first); err != nil || !found {
			t.Errorf("touched session was evicted: %v", err)
		}
		if _, found, err := s.Get(ctx, second); err != nil || found {
			t.Errorf("the session now closest to expiry is still there: %v", err)
		}
	})
	t.Run("ReplacingASessionEvictsNothing", func(t *testing.T) {
		before, _ := s.IDs(ctx)
		for _, id := range before {
			s.Set(ctx, id, []byte(`{"n":1}`), base.Add(72*time.Hour))
		}
		after, _ := s.IDs(ctx)
		slices.Sort(before)
		slices.Sort(after)
		if !slices.Equal(before, after) {
			t.Fatalf("rewriting the stored sessions changed the set: %q, then %q", before, after)
		}
	})
}

func TestCapHoldsUnderParallelWrites(t *testing.T) {
	ctx := context.Background()
	const max = 100
	s := newStore(t, memstore.WithMaxSessions(max), memstore.WithSweepInterval(0))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				id := fmt.Sprintf("g%d-%d", g, i)
				if i%2 == 0 {
					s.CompareAndSwap(ctx, id, "", []byte("{}"), time.Now().Add(time.Hour))
				} else {
					s.Set(ctx, id, []byte("{}"), time.Now().Add(time.Hour))
				}
			}
		})
	}
	wg.Wait()
	if n, _ := s.Count(ctx); n != max {
		t.Fatalf("Count = %d after 4000 parallel writes with a cap of %d", n, max)
	}
}

func TestDataIsCopiedInAndOut(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	buf := []byte(`{"a":1}`)
	s.Set(ctx, "x", buf, time.Time{})
	copy(buf, `{"b":2}`)
	got, _, _ := s.Get(ctx, "x")
	if string(got) != `{"a":1}` {
		t.Fatalf("Get = %s after the caller reused its buffer, want {\"a\":1}", got)
	}
	copy(got, `XXXXXXX`)
	if again, _, _ := s.Get(ctx, "x"); string(again) != `{"a":1}` {
		t.Fatalf("Get = %s after the caller changed a returned slice", again)
	}
}

func TestTouchKeepsTheVersion(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	s.Set(ctx, "x", []byte("{}"), time.Now().Add(time.Hour))
	_, v, _, _ := s.GetVersion(ctx, "x")
	if found, err := s.Touch(ctx, "x", time.Now().Add(2*time.Hour)); err != nil || !found {
		t.Fatal(err)
	}
	if _, swapped, err := s.CompareAndSwap(ctx, "x", v, []byte(`{"a":1}`), time.Now().Add(time.Hour)); err != nil || !swapped {
		t.Fatalf("CompareAndSwap after a Touch: %v; a touch changes no data, so the version stays", err)
	}
}

func TestTouchWithPastExpiresDeletes(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	s.Set(ctx, "x", []byte("{}"), time.Now().Add(time.Hour))
	if found, err := s.Touch(ctx, "x", time.Now().Add(-time.Second)); err != nil || !found {
		t.Fatal(err)
	}
	if _, found, err := s.Get(ctx, "x"); err != nil || found {
		t.Fatalf("Get after a touch into the past: %v, want not found", err)
	}
}

func TestVersionFromAnotherStoreOrGarbageConflicts(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	s.Set(ctx, "x", []byte("{}"), time.Now().Add(time.Hour))
	for _, v := range []string{"not a version", "-1", "zzzzzzzzzzzzzzzzzzzzzz"} {
		if _, swapped, err := s.CompareAndSwap(ctx, "x", v, []byte(`{"a":1}`), time.Now().Add(time.Hour)); err != nil || swapped {
			t.Errorf("CompareAndSwap with version %q: %v, want not swapped", v, err)
		}
	}
}

func TestClosedStoreStillServes(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	s.Set(ctx, "x", []byte("{}"), time.Time{})
	if _, found, err := s.Get(ctx, "x"); err != nil || !found {
		t.Fatalf("Get after Close: %v", err)
	}
}

func TestSessionsOfManyGoroutinesDoNotInterfere(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			id := fmt.Sprint("g", g)
			for i := range 300 {
				want := []byte(fmt.Sprintf(`{"g":%d,"i":%d}`, g, i))
				if err := s.Set(ctx, id, want, time.Now().Add(time.Hour)); err != nil {
					t.Error(err)
					return
				}
				got, _, err := s.Get(ctx, id)
				if err != nil || string(got) != string(want) {
					t.Errorf("Get(%s) = %s, %v; want %s", id, got, err, want)
					return
				}
			}
		})
	}
	wg.Wait()
}
