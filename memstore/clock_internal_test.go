package memstore

import (
	"context"
	"testing"
	"time"

	"github.com/sessionkit/session/internal/testclock"
)

// TestSessionThatExpiresWhileACallWaitsForItsShardIsGone stores a session
// that expires in a second, holds its shard's lock (as a sweep of a large
// shard, or a write of another session of the shard, does), starts each
// call on the session, and moves the clock past the session's expiry
// before it lets the call through. The call must find the session expired:
// Get and GetVersion return nothing, Touch and GetAndTouch find nothing and
// do not push the expiry forward, and a CompareAndSwap from the version
// read before does not swap. Each read the clock before waiting for the
// lock, so that the session, expired by the time they held it, was
// returned, revived by a touch, or written over by the swap.
func TestSessionThatExpiresWhileACallWaitsForItsShardIsGone(t *testing.T) {
	ctx := context.Background()
	calls := []struct {
		name string
		// call runs the call on id with the version read before and
		// reports whether it found (or swapped) the session.
		call func(s *Store, id, version string, later time.Time) (bool, error)
	}{
		{"Get", func(s *Store, id, _ string, _ time.Time) (bool, error) {
			_, found, err := s.Get(ctx, id)
			return found, err
		}},
		{"GetVersion", func(s *Store, id, _ string, _ time.Time) (bool, error) {
			_, _, found, err := s.GetVersion(ctx, id)
			return found, err
		}},
		{"Touch", func(s *Store, id, _ string, later time.Time) (bool, error) {
			return s.Touch(ctx, id, later)
		}},
		{"GetAndTouch", func(s *Store, id, _ string, later time.Time) (bool, error) {
			_, _, found, err := s.GetAndTouch(ctx, id, later)
			return found, err
		}},
		{"CompareAndSwap", func(s *Store, id, version string, later time.Time) (bool, error) {
			_, swapped, err := s.CompareAndSwap(ctx, id, version, []byte(`{"b":2}`), later)
			return swapped, err
		}},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			clock := testclock.New(testclock.Epoch())
			read := make(chan struct{}, 1)
			s := New(WithSweepInterval(0), withClock(func() int64 {
				select {
				case read <- struct{}{}:
				default:
				}
				return clock.Now().UnixNano()
			}))
			const id = "expiring"
			expires := clock.Now().Add(time.Second)
			if err := s.Set(ctx, id, []byte(`{"a":1}`), expires); err != nil {
				t.Fatal(err)
			}
			_, version, found, err := s.GetVersion(ctx, id)
			if err != nil || !found {
				t.Fatalf("GetVersion: found %v, %v", found, err)
			}
			<-read // the Set's and the GetVersion's reads
			sh := s.shard(id)
			sh.mu.Lock()
			type result struct {
				found bool
				err   error
			}
			done := make(chan result, 1)
			go func() {
				found, err := c.call(s, id, version, clock.Now().Add(time.Hour))
				done <- result{found, err}
			}()
			// A call that reads the clock before the lock has read it once
			// this returns; one that reads it under the lock cannot have,
			// and reads it after the clock moved, however long it takes to
			// get to the lock.
			select {
			case <-read:
			case <-time.After(100 * time.Millisecond):
			}
			clock.Set(expires.Add(time.Second))
			sh.mu.Unlock()
			r := <-done
			if r.err != nil {
				t.Fatal(r.err)
			}
			if r.found {
				t.Errorf("%s found the session, which expired while it waited for its shard", c.name)
			}
			if _, found, _ := s.Get(ctx, id); found {
				t.Errorf("after %s the session, expired, is still there", c.name)
			}
		})
	}
}
