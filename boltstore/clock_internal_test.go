package boltstore

import (
	"context"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// stallTransactions makes new bbolt transactions of s wait, as they wait in
// production when a long read-only transaction (a backup's tx.WriteTo over
// DB(), or a large UserSessions) runs while a commit grows the file: the
// commit's remap waits for every read transaction to end, and every
// transaction begun meanwhile, read or write, waits for the remap. It holds
// a read transaction, starts a write big enough to grow the file (in a
// bucket of its own, so that the sessions are those of the test), and returns
// once that write waits to remap the file. release ends the held transaction
// and waits for the write.
func stallTransactions(t *testing.T, s *Store) (release func()) {
	t.Helper()
	held, err := s.db.Begin(false)
	if err != nil {
		t.Fatal(err)
	}
	grown := make(chan error, 1)
	go func() {
		// Far beyond the file's first mapping, so that its commit remaps.
		grown <- s.db.Update(func(tx *bbolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("another application's"))
			if err != nil {
				return err
			}
			return b.Put([]byte("big"), make([]byte, 4<<20))
		})
	}()
	for deadline := time.Now().Add(10 * time.Second); !waitingToRemap(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			held.Rollback()
			t.Fatal("the file-growing write never came to wait for the read transaction to remap the file")
		}
	}
	return func() {
		t.Helper()
		if err := held.Rollback(); err != nil {
			t.Error(err)
		}
		if err := <-grown; err != nil {
			t.Error(err)
		}
	}
}

// waitingToRemap reports whether a goroutine waits in bbolt's remap for the
// read transactions to end: from then on, every transaction begun waits too
// (sync.RWMutex lets no reader in past a waiting writer).
func waitingToRemap() bool {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "[sync.RWMutex.Lock") && strings.Contains(g, "bbolt.(*DB).mmap(") {
			return true
		}
	}
	return false
}

// TestSessionThatExpiresWhileACallWaitsForATransactionIsGone stores a
// session that expires in a second, makes new transactions wait (a long
// read-only transaction while a commit grows the file; for a write, the
// commit queue waits behind that commit too), starts each call on the
// session, and moves the clock past the session's expiry before it lets the
// transactions through. The call must find the session expired: Get,
// GetVersion, IDs, Count and UserSessions do not return it, Touch and
// GetAndTouch do not push its expiry forward (nor does GetAndTouch return it), and a CompareAndSwap from the version read before
// does not swap. The reads read the clock before they began their read
// transaction, so that the session, expired by the time they read it, was
// returned; the writes read it in the write transaction, and this pins that.
func TestSessionThatExpiresWhileACallWaitsForATransactionIsGone(t *testing.T) {
	ctx := context.Background()
	const (
		id   = "expiring"
		user = "ann"
	)
	calls := []struct {
		name string
		// call runs the call with the version read before and reports
		// whether it found (or swapped) the session.
		call func(s *Store, version string, later time.Time) (bool, error)
	}{
		{"Get", func(s *Store, _ string, _ time.Time) (bool, error) {
			_, found, err := s.Get(ctx, id)
			return found, err
		}},
		{"GetVersion", func(s *Store, _ string, _ time.Time) (bool, error) {
			_, _, found, err := s.GetVersion(ctx, id)
			return found, err
		}},
		{"IDs", func(s *Store, _ string, _ time.Time) (bool, error) {
			ids, err := s.IDs(ctx)
			for _, got := range ids {
				if got == id {
					return true, err
				}
			}
			return false, err
		}},
		{"Count", func(s *Store, _ string, _ time.Time) (bool, error) {
			n, err := s.Count(ctx)
			return n > 0, err
		}},
		{"UserSessions", func(s *Store, _ string, _ time.Time) (bool, error) {
			found := false
			err := s.UserSessions(ctx, user, func(got string, _, _ time.Time, data []byte) {
				found = found || (got == id && data != nil)
			})
			return found, err
		}},
		{"Touch", func(s *Store, _ string, later time.Time) (bool, error) {
			return s.Touch(ctx, id, later)
		}},
		{"GetAndTouch", func(s *Store, _ string, later time.Time) (bool, error) {
			_, _, found, err := s.GetAndTouch(ctx, id, later)
			return found, err
		}},
		{"CompareAndSwap", func(s *Store, version string, later time.Time) (bool, error) {
			_, swapped, err := s.CompareAndSwap(ctx, id, version, []byte(`{"b":2}`), later)
			return swapped, err
		}},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			clock := newClock()
			read := make(chan struct{}, 1)
			s, err := Open(filepath.Join(t.TempDir(), "sessions.db"), WithSweepInterval(0), func(cfg *config) {
				cfg.now = func() time.Time {
					select {
					case read <- struct{}{}:
					default:
					}
					return clock.Now()
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			expires := clock.Now().Add(time.Second)
			if err := s.Set(ctx, id, []byte(`{"a":1}`), expires); err != nil {
				t.Fatal(err)
			}
			if err := s.IndexUserSession(ctx, user, id, clock.Now(), expires); err != nil {
				t.Fatal(err)
			}
			_, version, found, err := s.GetVersion(ctx, id)
			if err != nil || !found {
				t.Fatalf("GetVersion: found %v, %v", found, err)
			}
			release := stallTransactions(t, s)
			select { // the last read of the calls before
			case <-read:
			default:
			}
			type result struct {
				found bool
				err   error
			}
			done := make(chan result, 1)
			go func() {
				found, err := c.call(s, version, clock.Now().Add(time.Hour))
				done <- result{found, err}
			}()
			// A call that reads the clock before it waits has read it once
			// this returns; one that reads it in its transaction cannot
			// have, and reads it after the clock moved.
			select {
			case <-read:
			case <-time.After(100 * time.Millisecond):
			}
			clock.Set(expires.Add(time.Second))
			release()
			r := <-done
			if r.err != nil {
				t.Fatal(r.err)
			}
			if r.found {
				t.Errorf("%s found the session, which expired while it waited for its transaction", c.name)
			}
			if _, found, _ := s.Get(ctx, id); found {
				t.Errorf("after %s the session, expired, is still there", c.name)
			}
		})
	}
}
