package memstore

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/session/internal/testclock"
)

// withClock makes the store read the time from now (unix ns).
func withClock(now func() int64) Option { return func(c *config) { c.now = now } }

// stored returns how many entries the store holds, expired or not.
func stored(s *Store) int64 { return s.n.Load() }

// waitFor polls cond until it holds or d has passed.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func heapAlloc() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// heapGivenBack measures the heap after a sweep and fails unless it is back
// within a tenth of before (at least 512 KiB) of where it was; peak, with
// what (say "200000 sessions"), is logged beside it. (The heap comes back
// to within about 20 KiB; a sweep that kept the shards' heap slices at
// their peak capacity keeps about 1.9 MiB for 200,000 sessions, which the
// 2 MiB allowed before let pass.)
func heapGivenBack(t *testing.T, before, peak uint64, what string) {
	t.Helper()
	after := heapAlloc()
	allowed := max(before/10, 512<<10)
	t.Logf("heap: %d KiB before, %d KiB with %s, %d KiB after the sweep (allowed %d KiB)",
		before>>10, peak>>10, what, after>>10, (before+allowed)>>10)
	if after > before+allowed {
		t.Errorf("heap after the sweep is %d KiB, want at most %d KiB (%d KiB before)", after>>10, (before+allowed)>>10, before>>10)
	}
}

func TestMemoryIsGivenBackAfterExpiredSessionsAreSwept(t *testing.T) {
	const sessions = 200_000
	ctx := context.Background()
	before := heapAlloc()

	// A clock that stands still while the sessions are created, so that all
	// of them are live at once, and then jumps past their expiry.
	var clock atomic.Int64
	start := time.Now()
	clock.Store(start.UnixNano())
	s := New(WithSweepInterval(20*time.Millisecond), withClock(clock.Load))
	defer s.Close()
	data := make([]byte, 100)
	id := make([]byte, 0, 32)
	for i := range sessions {
		id = fmt.Appendf(id[:0], "session-%026d", i) // 32 bytes, like real ids
		if err := s.Set(ctx, string(id), data, start.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	peak := heapAlloc()
	if n := stored(s); n != sessions {
		t.Fatalf("%d sessions stored, want %d", n, sessions)
	}
	clock.Store(start.Add(2 * time.Minute).UnixNano())
	waitFor(t, 10*time.Second, "the sweeper has not removed every expired session", func() bool { return stored(s) == 0 })
	// The shard that emptied last is rebuilt in the same sweep pass; give
	// the sweeper one more pass to be sure it finished the round.
	time.Sleep(50 * time.Millisecond)
	heapGivenBack(t, before, peak, fmt.Sprint(sessions, " sessions"))
	runtime.KeepAlive(s)
}

// TestUserIndexMemoryIsGivenBackAfterItsEntriesAreSwept indexes many users
// with one session each, then sweeps them all away: the map of users is
// rebuilt like the shards' maps, so the heap returns to about where it
// started (the emptied map used to keep its buckets: about 7 MB here).
func TestUserIndexMemoryIsGivenBackAfterItsEntriesAreSwept(t *testing.T) {
	const users = 200_000
	ctx := context.Background()
	before := heapAlloc()

	// A clock that stands still while the users are indexed and then jumps
	// past their entries' expiry and the grace. The sweep is run by hand,
	// so that it has finished when the heap is measured.
	var clock atomic.Int64
	start := time.Now()
	clock.Store(start.UnixNano())
	s := New(WithSweepInterval(0), withClock(clock.Load))
	defer s.Close()
	id := make([]byte, 0, 32)
	user := make([]byte, 0, 32)
	for i := range users {
		id = fmt.Appendf(id[:0], "session-%026d", i) // 32 bytes, like real ids
		user = fmt.Appendf(user[:0], "user-%d", i)
		if err := s.IndexUserSession(ctx, string(user), string(id), start, start.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	peak := heapAlloc()
	clock.Store(start.Add(time.Minute + indexGrace).UnixNano())
	s.purge()
	if n := len(s.users.m); n != 0 {
		t.Fatalf("%d users still indexed after the sweep, want none", n)
	}
	heapGivenBack(t, before, peak, fmt.Sprint(users, " indexed users"))
	runtime.KeepAlive(s)
}

// TestUserIndexMemoryOfAUserIsGivenBackAfterMostOfTheirEntriesAreSwept
// indexes many sessions of one user, then sweeps all but one away: the
// user stays in the index, and their map of entries is rebuilt like the
// map of users, so the heap returns to about where it started (the map
// kept its buckets while the user kept one entry: about 12 MB here).
func TestUserIndexMemoryOfAUserIsGivenBackAfterMostOfTheirEntriesAreSwept(t *testing.T) {
	const sessions = 200_000
	ctx := context.Background()
	before := heapAlloc()

	// A clock that stands still while the sessions are indexed and then
	// jumps past their entries' expiry and the grace, but for one entry.
	// The sweep is run by hand, so that it has finished when the heap is
	// measured.
	var clock atomic.Int64
	start := time.Now()
	clock.Store(start.UnixNano())
	s := New(WithSweepInterval(0), withClock(clock.Load))
	defer s.Close()
	if err := s.IndexUserSession(ctx, "alice", "kept", start, start.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// All but the last are put in as IndexUserSession puts them, and the
	// last goes through it.
	ids := s.users.m["alice"]
	id := make([]byte, 0, 32)
	expires := start.Add(time.Minute).UnixNano()
	for i := range sessions - 1 {
		id = fmt.Appendf(id[:0], "session-%026d", i) // 32 bytes, like real ids
		ids.put(string(id), userEntry{used: start.UnixNano(), expires: expires, deadline: expires + int64(indexGrace)})
	}
	if err := s.IndexUserSession(ctx, "alice", "last", start, start.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if n := len(s.users.m["alice"].m); n != sessions+1 {
		t.Fatalf("alice has %d entries, want %d", n, sessions+1)
	}
	peak := heapAlloc()
	clock.Store(start.Add(time.Minute + indexGrace).UnixNano())
	s.purge()
	if ids := s.users.m["alice"]; ids == nil || len(ids.m) != 1 {
		t.Fatalf("alice's entries after the sweep: %v, want only the one that has not expired", ids)
	}
	heapGivenBack(t, before, peak, fmt.Sprint(sessions, " entries of one user"))
	runtime.KeepAlive(s)
}

func TestSweeperRemovesExpiredSessions(t *testing.T) {
	ctx := context.Background()
	s := New(WithSweepInterval(10 * time.Millisecond))
	defer s.Close()
	for i := range 100 {
		if err := s.Set(ctx, fmt.Sprint("short-", i), []byte("{}"), time.Now().Add(30*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Set(ctx, "long", []byte("{}"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "expired sessions still stored", func() bool { return stored(s) == 1 })
	if _, found, err := s.Get(ctx, "long"); err != nil || !found {
		t.Fatalf("the unexpired session was swept too: %v", err)
	}
}

func TestCloseStopsTheSweeper(t *testing.T) {
	// A pinned clock: with the real one, a Set that a loaded machine held
	// past its session's 10 ms expiry stored nothing to stay stored.
	clock := testclock.New(testclock.Epoch())
	s := New(WithSweepInterval(time.Millisecond), WithClock(clock.Now))
	sp := s.stopper
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-sp.done:
	default:
		t.Fatal("the sweeper is still running after Close returned")
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	// Without a sweeper, expired sessions stay stored but are not returned.
	ctx := context.Background()
	if err := s.Set(ctx, "a", []byte("{}"), clock.Now().Add(10*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	clock.Advance(30 * time.Millisecond)
	time.Sleep(30 * time.Millisecond) // a sweeper still running would have swept by now
	if stored(s) != 1 {
		t.Fatalf("%d sessions stored; want the expired one still there, as nothing sweeps", stored(s))
	}
	if _, found, _ := s.Get(ctx, "a"); found {
		t.Fatal("an expired session was returned after Close")
	}
}

func TestDroppedStoreStopsItsSweeper(t *testing.T) {
	s := New(WithSweepInterval(time.Millisecond))
	sp := s.stopper
	s = nil
	_ = s
	deadline := time.Now().Add(5 * time.Second)
	for {
		runtime.GC()
		select {
		case <-sp.done:
			return
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the sweeper of an unreachable store is still running")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestZeroExpiresGetsTheDefaultTTL(t *testing.T) {
	ctx := context.Background()
	t.Run("Default24Hours", func(t *testing.T) {
		s := New()
		defer s.Close()
		start := time.Now()
		if err := s.Set(ctx, "a", []byte("{}"), time.Time{}); err != nil {
			t.Fatal(err)
		}
		sh := s.shard("a")
		got := time.Unix(0, sh.m["a"].expires)
		if want := start.Add(24 * time.Hour); got.Before(want) || got.After(want.Add(time.Minute)) {
			t.Fatalf("a browser-session session expires at %v, want about %v", got, want)
		}
	})
	t.Run("Configured", func(t *testing.T) {
		var clock atomic.Int64
		clock.Store(time.Now().UnixNano())
		s := New(WithDefaultTTL(time.Minute), WithSweepInterval(0), withClock(clock.Load))
		if err := s.Set(ctx, "a", []byte("{}"), time.Time{}); err != nil {
			t.Fatal(err)
		}
		clock.Add(int64(time.Minute - time.Nanosecond))
		if _, found, err := s.Get(ctx, "a"); err != nil || !found {
			t.Fatalf("Get just before the default lifetime ends: %v", err)
		}
		clock.Add(int64(time.Nanosecond))
		if _, found, _ := s.Get(ctx, "a"); found {
			t.Fatal("a browser-session session outlived the configured default lifetime")
		}
	})
	// now + lifetime past what int64 nanoseconds count (year 2262) is the
	// farthest deadline there is; it wrapped into the past, and Set deleted.
	t.Run("BeyondYear2262IsTheFarthestDeadline", func(t *testing.T) {
		var clock atomic.Int64
		clock.Store(testclock.Epoch().UnixNano())
		s := New(WithDefaultTTL(math.MaxInt64), WithSweepInterval(0), withClock(clock.Load))
		if err := s.Set(ctx, "a", []byte("{}"), time.Time{}); err != nil {
			t.Fatal(err)
		}
		if found, err := s.Touch(ctx, "a", time.Time{}); err != nil || !found {
			t.Fatalf("Touch of a session stored with a zero expiry and WithDefaultTTL(max): found %v, %v", found, err)
		}
		clock.Add(int64(24 * time.Hour))
		if _, found, err := s.Get(ctx, "a"); err != nil || !found {
			t.Fatalf("Get a day after a zero-expiry Set and Touch with WithDefaultTTL(max): found %v, %v", found, err)
		}
	})
}

func TestHeapStaysOrderedThroughUpdates(t *testing.T) {
	ctx := context.Background()
	s := New(WithSweepInterval(0))
	base := time.Now().Add(time.Hour)
	for i := range 2000 {
		id := fmt.Sprint(i)
		exp := base.Add(time.Duration((i*7919)%2000) * time.Second)
		switch i % 4 {
		case 0, 1:
			s.Set(ctx, id, []byte("{}"), exp)
		case 2:
			s.Set(ctx, id, []byte("{}"), exp)
			s.Touch(ctx, id, exp.Add(-time.Duration(i)*time.Second))
		case 3:
			s.Set(ctx, id, []byte("{}"), exp)
			s.Destroy(ctx, fmt.Sprint(i-1))
		}
	}
	for i := range s.shards {
		sh := &s.shards[i]
		if len(sh.heap) != len(sh.m) {
			t.Fatalf("shard %d: heap has %d entries, map %d", i, len(sh.heap), len(sh.m))
		}
		for j, it := range sh.heap {
			e := it.e
			if e.index != j {
				t.Fatalf("shard %d: entry at %d says index %d", i, j, e.index)
			}
			if j > 0 && sh.heap[(j-1)/2].exp > it.exp {
				t.Fatalf("shard %d: heap order broken at %d", i, j)
			}
			if it.exp > e.expires {
				t.Fatalf("shard %d: heap key at %d is past its entry's expiry", i, j)
			}
			if sh.m[e.id] != e {
				t.Fatalf("shard %d: heap entry %q is not the map's", i, e.id)
			}
		}
	}
}
