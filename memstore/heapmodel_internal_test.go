package memstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/sessionkit/session/internal/testclock"
)

// checkHeap fails the test unless every shard's heap holds its map's
// entries, each knowing its index, ordered on keys that are lower bounds
// of the entries' expiries.
func checkHeap(t *testing.T, s *Store) {
	t.Helper()
	for i := range s.shards {
		sh := &s.shards[i]
		if len(sh.heap) != len(sh.m) {
			t.Fatalf("shard %d: heap has %d entries, map %d", i, len(sh.heap), len(sh.m))
		}
		for j, it := range sh.heap {
			if it.e.index != j || sh.m[it.e.id] != it.e {
				t.Fatalf("shard %d: heap slot %d is not its entry's", i, j)
			}
			if j > 0 && sh.heap[(j-1)/2].exp > it.exp {
				t.Fatalf("shard %d: heap order broken at %d", i, j)
			}
			if it.exp > it.e.expires {
				t.Fatalf("shard %d: heap key at %d is past its entry's expiry", i, j)
			}
		}
	}
}

// TestLazyHeapAgreesWithAModelThroughRandomTouchesAndClockJumps drives the
// store with random Sets, Touches (later, earlier, past), GetAndTouches,
// CompareAndSwaps, Destroys and a clock that jumps both ways, beside a
// model of what it holds: every read, Count, IDs, PurgeExpired and the
// cap's eviction (always of a session with the earliest expiry there is)
// must agree with the model, whatever keys the heap holds.
func TestLazyHeapAgreesWithAModelThroughRandomTouchesAndClockJumps(t *testing.T) {
	for _, max := range []int{0, 40} {
		t.Run(fmt.Sprint("max=", max), func(t *testing.T) {
			for seed := range uint64(8) {
				lazyHeapModelRun(t, seed, max)
			}
		})
	}
}

func lazyHeapModelRun(t *testing.T, seed uint64, max int) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(seed, 99))
	clock := testclock.New(testclock.Epoch())
	s := New(WithSweepInterval(0), WithClock(clock.Now), WithMaxSessions(max), WithDefaultTTL(30*time.Minute))
	defer s.Close()
	model := map[string]int64{} // what the store holds, expired or not: id -> expiry
	versions := map[string]string{}
	now := func() int64 { return clock.Now().UnixNano() }
	expiry := func() (time.Time, int64) {
		switch rng.IntN(10) {
		case 0:
			return time.Time{}, now() + int64(30*time.Minute)
		case 1:
			e := clock.Now().Add(-time.Duration(rng.IntN(60)) * time.Minute) // past: deletes
			return e, e.UnixNano()
		}
		e := clock.Now().Add(time.Duration(1+rng.IntN(240)) * time.Minute)
		return e, e.UnixNano()
	}
	// added checks the cap's eviction after id was stored as a new entry:
	// one session of the earliest expiry goes, whatever the heap's keys.
	added := func(op string, step int, id string) {
		if max == 0 || len(model) <= max {
			return
		}
		least := int64(0)
		first := true
		for _, e := range model {
			if first || e < least {
				least, first = e, false
			}
		}
		var gone []string
		for mid := range model {
			if e, _ := s.peek(mid); e == -1 {
				gone = append(gone, mid)
			}
		}
		if len(gone) != 1 {
			t.Fatalf("seed %d step %d %s %s: %d sessions evicted (%v), want one", seed, step, op, id, len(gone), gone)
		}
		if model[gone[0]] != least {
			t.Fatalf("seed %d step %d %s %s: evicted %s expiring at %d, but the earliest expiry is %d", seed, step, op, id, gone[0], model[gone[0]], least)
		}
		delete(model, gone[0])
	}
	for step := range 3000 {
		id := fmt.Sprint("s", rng.IntN(300))
		n := now()
		old, held := model[id]
		live := held && old > n
		switch op := rng.IntN(12); op {
		case 0, 1, 2: // Set
			exp, ns := expiry()
			if err := s.Set(ctx, id, []byte("{}"), exp); err != nil {
				t.Fatal(err)
			}
			if ns <= n {
				delete(model, id)
				break
			}
			model[id] = ns
			if !held {
				added("Set", step, id)
			}
		case 3, 4, 5: // Touch, often earlier
			exp, ns := expiry()
			found, err := s.Touch(ctx, id, exp)
			if err != nil || found != live {
				t.Fatalf("seed %d step %d: Touch %s = %v, %v; model has it live: %v", seed, step, id, found, err, live)
			}
			if !live || ns <= n {
				delete(model, id)
			} else {
				model[id] = ns
			}
		case 6: // GetAndTouch
			exp, ns := expiry()
			_, ver, found, err := s.GetAndTouch(ctx, id, exp)
			if err != nil || found != (live && ns > n) {
				t.Fatalf("seed %d step %d: GetAndTouch %s found %v, %v; model: live %v", seed, step, id, found, err, live)
			}
			if !live || ns <= n {
				delete(model, id)
			} else {
				model[id], versions[id] = ns, ver
			}
		case 7: // CompareAndSwap from the last version seen, or a create
			exp, ns := expiry()
			ver := versions[id]
			if !live {
				ver = ""
			}
			nv, swapped, err := s.CompareAndSwap(ctx, id, ver, []byte("{}"), exp)
			if err != nil {
				t.Fatal(err)
			}
			if held && !live {
				delete(model, id) // found expired, removed
				held = false
			}
			if !swapped {
				break
			}
			if ns <= n {
				delete(model, id)
				break
			}
			model[id], versions[id] = ns, nv
			if !held {
				added("CompareAndSwap", step, id)
			}
		case 8: // Get
			_, ver, found, err := s.GetVersion(ctx, id)
			if err != nil || found != live {
				t.Fatalf("seed %d step %d: Get %s found %v, %v; model: live %v", seed, step, id, found, err, live)
			}
			if held && !live {
				delete(model, id)
			}
			if found {
				versions[id] = ver
			}
		case 9:
			s.Destroy(ctx, id)
			delete(model, id)
		case 10: // the clock jumps, mostly forward
			d := time.Duration(rng.IntN(90)) * time.Minute
			if rng.IntN(4) == 0 {
				d = -d / 2
			}
			clock.Set(clock.Now().Add(d))
		case 11: // listings
			n := now()
			var want []string
			for mid, e := range model {
				if e > n {
					want = append(want, mid)
				}
			}
			slices.Sort(want)
			ids, _ := s.IDs(ctx)
			slices.Sort(ids)
			if !slices.Equal(ids, want) {
				t.Fatalf("seed %d step %d: IDs %v, model %v", seed, step, ids, want)
			}
			if c, _ := s.Count(ctx); c != len(want) {
				t.Fatalf("seed %d step %d: Count %d, model %d", seed, step, c, len(want))
			}
			if rng.IntN(2) == 0 {
				removed, _ := s.PurgeExpired(ctx)
				if removed != len(model)-len(want) {
					t.Fatalf("seed %d step %d: PurgeExpired removed %d, model has %d expired", seed, step, removed, len(model)-len(want))
				}
				for mid, e := range model {
					if e <= n {
						delete(model, mid)
					}
				}
			}
		}
		checkHeap(t, s)
		for mid, e := range model {
			if got, _ := s.peek(mid); got != e {
				t.Fatalf("seed %d step %d: %s expires at %d in the store, %d in the model", seed, step, mid, got, e)
			}
		}
		if total := s.n.Load(); int(total) != len(model) {
			t.Fatalf("seed %d step %d: store counts %d entries, model %d", seed, step, total, len(model))
		}
	}
}

// peek returns id's stored expiry, expired or not, without removing it;
// -1 when the store does not hold it.
func (st *state) peek(id string) (int64, bool) {
	sh := st.shard(id)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	if e, ok := sh.m[id]; ok {
		return e.expires, true
	}
	return -1, false
}
