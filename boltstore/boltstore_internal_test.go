package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/sessionkit/session/internal/testclock"
)

// newClock returns the tests' settable clock at the pinned test date; it is
// safe to read from the sweeper.
func newClock() *testclock.Clock { return testclock.New(testclock.Epoch()) }

func withClock(c *testclock.Clock) Option { return func(cfg *config) { cfg.now = c.Now } }

// openTest opens a store on a fresh file with a fake clock and no background sweeper.
func openTest(t *testing.T, opts ...Option) (*Store, *testclock.Clock) {
	t.Helper()
	c := newClock()
	opts = append([]Option{withClock(c), WithSweepInterval(0)}, opts...)
	s, err := Open(filepath.Join(t.TempDir(), "sessions.db"), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, c
}

// raw returns the stored value of id, or nil.
func raw(t *testing.T, s *Store, id string) []byte {
	t.Helper()
	var v []byte
	err := s.db.View(func(tx *bbolt.Tx) error {
		v = bytes.Clone(tx.Bucket(s.bucket).Get([]byte(id)))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func mustSet(t *testing.T, s *Store, id, data string, expires time.Time) {
	t.Helper()
	if err := s.Set(context.Background(), id, []byte(data), expires); err != nil {
		t.Fatal(err)
	}
}

func wantData(t *testing.T, s *Store, id, want string) {
	t.Helper()
	got, found, err := s.Get(context.Background(), id)
	if err != nil || !found {
		t.Fatalf("Get(%q): found %v, %v", id, found, err)
	}
	if string(got) != want {
		t.Fatalf("Get(%q) = %q, want %q", id, got, want)
	}
}

func wantNotFound(t *testing.T, s *Store, id string) {
	t.Helper()
	got, found, err := s.Get(context.Background(), id)
	if err != nil || found {
		t.Fatalf("Get(%q) = %q, found %v, %v; want not found", id, got, found, err)
	}
}

func TestSetThenGetReturnsTheBytes(t *testing.T) {
	s, c := openTest(t)
	mustSet(t, s, "a", `{"views":1}`, c.Now().Add(time.Hour))
	wantData(t, s, "a", `{"views":1}`)
	mustSet(t, s, "a", `{"views":2}`, c.Now().Add(time.Hour))
	wantData(t, s, "a", `{"views":2}`)
	wantNotFound(t, s, "b")
}

func TestGetReturnsACopyThatOutlivesTheTransaction(t *testing.T) {
	s, c := openTest(t)
	mustSet(t, s, "a", "first", c.Now().Add(time.Hour))
	got, _, _ := s.Get(context.Background(), "a")
	mustSet(t, s, "a", "other", c.Now().Add(time.Hour))
	for i := range 200 { // grow the file so bbolt remaps
		mustSet(t, s, fmt.Sprint("filler", i), string(make([]byte, 4096)), c.Now().Add(time.Hour))
	}
	if string(got) != "first" {
		t.Fatalf("bytes returned by Get changed to %q", got)
	}
}

func TestEmptyDataIsStoredAsEmptyNotMissing(t *testing.T) {
	s, c := openTest(t)
	mustSet(t, s, "a", "", c.Now().Add(time.Hour))
	got, _, err := s.Get(context.Background(), "a")
	if err != nil || got == nil || len(got) != 0 {
		t.Fatalf("Get = %q (nil: %v), %v; want empty, non-nil", got, got == nil, err)
	}
}

func TestExpiredSessionIsNeverReturned(t *testing.T) {
	s, c := openTest(t)
	mustSet(t, s, "a", "x", c.Now().Add(time.Minute))
	c.Advance(time.Minute - time.Nanosecond)
	wantData(t, s, "a", "x")
	c.Advance(time.Nanosecond)
	wantNotFound(t, s, "a")
	if _, _, found, err := s.GetVersion(context.Background(), "a"); err != nil || found {
		t.Fatalf("GetVersion of expired session: found %v, %v; want not found", found, err)
	}
	if ids, _ := s.IDs(context.Background()); len(ids) != 0 {
		t.Fatalf("IDs lists the expired session: %q", ids)
	}
	if n, _ := s.Count(context.Background()); n != 0 {
		t.Fatalf("Count = %d, want 0", n)
	}
}

func TestZeroExpiresGetsTheDefaultLifetime(t *testing.T) {
	s, c := openTest(t, WithDefaultTTL(2*time.Hour))
	mustSet(t, s, "a", "x", time.Time{})
	v := raw(t, s, "a")
	if got, want := int64(binary.BigEndian.Uint64(v[:8])), c.Now().Add(2*time.Hour).UnixNano(); got != want {
		t.Fatalf("stored expiry = %v, want now+2h = %v", time.Unix(0, got), time.Unix(0, want))
	}
	c.Advance(2*time.Hour - time.Second)
	wantData(t, s, "a", "x")
	c.Advance(time.Second)
	wantNotFound(t, s, "a")
}

func TestSetWithPastExpiresDeletes(t *testing.T) {
	s, c := openTest(t)
	mustSet(t, s, "a", "x", c.Now().Add(time.Hour))
	mustSet(t, s, "a", "y", c.Now().Add(-time.Second))
	if v := raw(t, s, "a"); v != nil {
		t.Fatalf("record still stored: %q", v)
	}
	mustSet(t, s, "b", "y", c.Now()) // expiring now is expired
	if v := raw(t, s, "b"); v != nil {
		t.Fatalf("record expiring now was stored: %q", v)
	}
}

func TestFarFutureExpiresIsClampedNotWrapped(t *testing.T) {
	s, _ := openTest(t)
	mustSet(t, s, "a", "x", time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC))
	wantData(t, s, "a", "x")
}

func TestDestroyDeletesAndMissingIsNotAnError(t *testing.T) {
	s, c := openTest(t)
	ctx := context.Background()
	mustSet(t, s, "a", "x", c.Now().Add(time.Hour))
	if err := s.Destroy(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	wantNotFound(t, s, "a")
	if err := s.Destroy(ctx, "a"); err != nil {
		t.Fatalf("destroying a missing session: %v", err)
	}
}

func TestTouchMovesExpiryWithoutRewritingDataOrVersion(t *testing.T) {
	s, c := openTest(t)
	ctx := context.Background()
	mustSet(t, s, "a", "x", c.Now().Add(time.Minute))
	_, v1, _, _ := s.GetVersion(ctx, "a")
	if found, err := s.Touch(ctx, "a", c.Now().Add(time.Hour)); err != nil || !found {
		t.Fatal(err)
	}
	c.Advance(30 * time.Minute)
	data, v2, _, err := s.GetVersion(ctx, "a")
	if err != nil || string(data) != "x" {
		t.Fatalf("after touch and 30m: %q, %v", data, err)
	}
	if v1 != v2 {
		t.Fatalf("touch changed the version from %q to %q", v1, v2)
	}
	if _, swapped, err := s.CompareAndSwap(ctx, "a", v1, []byte("y"), c.Now().Add(time.Hour)); err != nil || !swapped {
		t.Fatalf("CAS with the version read before the touch: %v", err)
	}
}

func TestTouchOfMissingOrExpiredSessionIsNotFoundAndCreatesNothing(t *testing.T) {
	s, c := openTest(t)
	ctx := context.Background()
	if found, err := s.Touch(ctx, "nope", c.Now().Add(time.Hour)); err != nil || found {
		t.Fatalf("Touch(missing) = %v, want not found", err)
	}
	if v := raw(t, s, "nope"); v != nil {
		t.Fatalf("touch created a record: %q", v)
	}
	mustSet(t, s, "old", "x", c.Now().Add(time.Second))
	c.Advance(time.Second)
	if found, err := s.Touch(ctx, "old", c.Now().Add(time.Hour)); err != nil || found {
		t.Fatalf("Touch(expired) = %v, want not found", err)
	}
	wantNotFound(t, s, "old")
}

func TestTouchWithPastExpiresDeletes(t *testing.T) {
	s, c := openTest(t)
	mustSet(t, s, "a", "x", c.Now().Add(time.Hour))
	if found, err := s.Touch(context.Background(), "a", c.Now().Add(-time.Second)); err != nil || !found {
		t.Fatal(err)
	}
	if v := raw(t, s, "a"); v != nil {
		t.Fatalf("record still stored: %q", v)
	}
}

func TestCompareAndSwap(t *testing.T) {
	ctx := context.Background()
	t.Run("create-if-absent succeeds once", func(t *testing.T) {
		s, c := openTest(t)
		v, swapped, err := s.CompareAndSwap(ctx, "a", "", []byte("1"), c.Now().Add(time.Hour))
		if err != nil || !swapped || v == "" {
			t.Fatalf("first create: %q, %v", v, err)
		}
		if _, swapped, err := s.CompareAndSwap(ctx, "a", "", []byte("2"), c.Now().Add(time.Hour)); err != nil || swapped {
			t.Fatalf("second create: %v, want not swapped", err)
		}
		wantData(t, s, "a", "1")
	})
	t.Run("create over an expired session succeeds", func(t *testing.T) {
		s, c := openTest(t)
		mustSet(t, s, "a", "old", c.Now().Add(time.Second))
		c.Advance(time.Second)
		if _, swapped, err := s.CompareAndSwap(ctx, "a", "", []byte("new"), c.Now().Add(time.Hour)); err != nil || !swapped {
			t.Fatal(err)
		}
		wantData(t, s, "a", "new")
	})
	t.Run("the version from GetVersion wins once", func(t *testing.T) {
		s, c := openTest(t)
		mustSet(t, s, "a", "0", c.Now().Add(time.Hour))
		_, v, _, _ := s.GetVersion(ctx, "a")
		v2, swapped, err := s.CompareAndSwap(ctx, "a", v, []byte("1"), c.Now().Add(time.Hour))
		if err != nil || !swapped {
			t.Fatal(err)
		}
		if _, swapped, err := s.CompareAndSwap(ctx, "a", v, []byte("2"), c.Now().Add(time.Hour)); err != nil || swapped {
			t.Fatalf("stale version: %v, want not swapped", err)
		}
		_, cur, _, _ := s.GetVersion(ctx, "a")
		if cur != v2 {
			t.Fatalf("CAS returned %q but GetVersion says %q", v2, cur)
		}
		wantData(t, s, "a", "1")
	})
	t.Run("a plain Set in between makes it conflict", func(t *testing.T) {
		s, c := openTest(t)
		mustSet(t, s, "a", "0", c.Now().Add(time.Hour))
		_, v, _, _ := s.GetVersion(ctx, "a")
		mustSet(t, s, "a", "other", c.Now().Add(time.Hour))
		if _, swapped, err := s.CompareAndSwap(ctx, "a", v, []byte("1"), c.Now().Add(time.Hour)); err != nil || swapped {
			t.Fatalf("got %v, want not swapped", err)
		}
	})
	t.Run("a destroyed session is not resurrected", func(t *testing.T) {
		s, c := openTest(t)
		mustSet(t, s, "a", "0", c.Now().Add(time.Hour))
		_, v, _, _ := s.GetVersion(ctx, "a")
		s.Destroy(ctx, "a")
		if _, swapped, err := s.CompareAndSwap(ctx, "a", v, []byte("1"), c.Now().Add(time.Hour)); err != nil || swapped {
			t.Fatalf("got %v, want not swapped", err)
		}
		wantNotFound(t, s, "a")
	})
	t.Run("a destroyed and re-created session gets a new version", func(t *testing.T) {
		s, c := openTest(t)
		mustSet(t, s, "a", "0", c.Now().Add(time.Hour))
		_, v, _, _ := s.GetVersion(ctx, "a")
		s.Destroy(ctx, "a")
		mustSet(t, s, "a", "new", c.Now().Add(time.Hour))
		if _, swapped, err := s.CompareAndSwap(ctx, "a", v, []byte("stale"), c.Now().Add(time.Hour)); err != nil || swapped {
			t.Fatalf("got %v, want not swapped", err)
		}
		wantData(t, s, "a", "new")
	})
	t.Run("an expired session conflicts", func(t *testing.T) {
		s, c := openTest(t)
		mustSet(t, s, "a", "0", c.Now().Add(time.Second))
		_, v, _, _ := s.GetVersion(ctx, "a")
		c.Advance(time.Second)
		if _, swapped, err := s.CompareAndSwap(ctx, "a", v, []byte("1"), c.Now().Add(time.Hour)); err != nil || swapped {
			t.Fatalf("got %v, want not swapped", err)
		}
	})
	t.Run("garbage version conflicts", func(t *testing.T) {
		s, c := openTest(t)
		mustSet(t, s, "a", "0", c.Now().Add(time.Hour))
		if _, swapped, err := s.CompareAndSwap(ctx, "a", "not-a-version", []byte("1"), c.Now().Add(time.Hour)); err != nil || swapped {
			t.Fatalf("got %v, want not swapped", err)
		}
	})
	t.Run("past expires deletes and returns no version", func(t *testing.T) {
		s, c := openTest(t)
		mustSet(t, s, "a", "0", c.Now().Add(time.Hour))
		_, v, _, _ := s.GetVersion(ctx, "a")
		v2, swapped, err := s.CompareAndSwap(ctx, "a", v, []byte("1"), c.Now().Add(-time.Second))
		if err != nil || !swapped || v2 != "" {
			t.Fatalf("got %q, %v; want \"\", nil", v2, err)
		}
		wantNotFound(t, s, "a")
	})
}

// TestParallelCompareAndSwapLosesNoIncrement is the lost-update race: many
// goroutines read-modify-write one counter, retrying on conflict.
func TestParallelCompareAndSwapLosesNoIncrement(t *testing.T) {
	s, c := openTest(t)
	ctx := context.Background()
	exp := c.Now().Add(time.Hour)
	if _, swapped, err := s.CompareAndSwap(ctx, "n", "", []byte("0"), exp); err != nil || !swapped {
		t.Fatal(err)
	}
	const workers, each = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for range each {
				for {
					data, v, _, err := s.GetVersion(ctx, "n")
					if err != nil {
						errs <- err
						return
					}
					var n int
					fmt.Sscan(string(data), &n)
					_, swapped, err := s.CompareAndSwap(ctx, "n", v, []byte(fmt.Sprint(n+1)), exp)
					if err != nil {
						errs <- err
						return
					}
					if swapped {
						break
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	wantData(t, s, "n", fmt.Sprint(workers*each))
}

func TestIDsAndCountListOnlyUnexpiredSessions(t *testing.T) {
	s, c := openTest(t)
	ctx := context.Background()
	mustSet(t, s, "live1", "x", c.Now().Add(time.Hour))
	mustSet(t, s, "live2", "x", time.Time{})
	mustSet(t, s, "dying", "x", c.Now().Add(time.Minute))
	c.Advance(time.Minute)
	ids, err := s.IDs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(ids)
	if fmt.Sprint(ids) != "[live1 live2]" {
		t.Fatalf("IDs = %q", ids)
	}
	if n, err := s.Count(ctx); err != nil || n != 2 {
		t.Fatalf("Count = %d, %v; want 2", n, err)
	}
}

func TestClearDeletesOnlyThisStoresBucketAndVersionsKeepGrowing(t *testing.T) {
	c := newClock()
	path := filepath.Join(t.TempDir(), "shared.db")
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	a, err := New(db, WithBucket("app-a"), withClock(c), WithSweepInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(db, WithBucket("app-b"), withClock(c), WithSweepInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	mustSet(t, a, "s1", "a", c.Now().Add(time.Hour))
	mustSet(t, b, "s1", "b", c.Now().Add(time.Hour))
	_, before, _, _ := a.GetVersion(ctx, "s1")
	if err := a.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	wantNotFound(t, a, "s1")
	wantData(t, b, "s1", "b")
	mustSet(t, a, "s1", "again", c.Now().Add(time.Hour))
	if _, swapped, err := a.CompareAndSwap(ctx, "s1", before, []byte("stale"), c.Now().Add(time.Hour)); err != nil || swapped {
		t.Fatalf("version from before Clear still matches: %v", err)
	}
	a.Close()
	b.Close()
	if err := db.View(func(*bbolt.Tx) error { return nil }); err != nil {
		t.Fatalf("Close of a store from New closed the caller's db: %v", err)
	}
}

func TestPurgeExpiredDeletesOnlyExpiredAcrossBatches(t *testing.T) {
	s, c := openTest(t, WithSweepBatchSize(3))
	ctx := context.Background()
	for i := range 20 {
		if i%4 == 0 {
			mustSet(t, s, fmt.Sprintf("k%02d", i), "live", c.Now().Add(time.Hour))
		} else {
			mustSet(t, s, fmt.Sprintf("k%02d", i), "dying", c.Now().Add(time.Minute))
		}
	}
	c.Advance(time.Minute)
	n, err := s.PurgeExpired(ctx)
	if err != nil || n != 15 {
		t.Fatalf("PurgeExpired = %d, %v; want 15", n, err)
	}
	for i := range 20 {
		v := raw(t, s, fmt.Sprintf("k%02d", i))
		if (i%4 == 0) != (v != nil) {
			t.Fatalf("k%02d: stored=%v after purge", i, v != nil)
		}
	}
	if n, _ := s.PurgeExpired(ctx); n != 0 {
		t.Fatalf("second purge removed %d", n)
	}
}

func TestPurgeExpiredStopsWhenContextIsDone(t *testing.T) {
	s, c := openTest(t, WithSweepBatchSize(1))
	mustSet(t, s, "a", "x", c.Now().Add(time.Second))
	c.Advance(time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.PurgeExpired(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

func TestCorruptRecordIsMissingAndPurged(t *testing.T) {
	s, c := openTest(t)
	err := s.db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(s.bucket).Put([]byte("bad"), []byte("short")) })
	if err != nil {
		t.Fatal(err)
	}
	mustSet(t, s, "good", "x", c.Now().Add(time.Hour))
	wantNotFound(t, s, "bad")
	if n, _ := s.Count(context.Background()); n != 1 {
		t.Fatalf("Count = %d, want 1 (corrupt record not counted)", n)
	}
	if n, err := s.PurgeExpired(context.Background()); err != nil || n != 1 {
		t.Fatalf("PurgeExpired = %d, %v; want 1", n, err)
	}
	wantData(t, s, "good", "x")
}

func TestBackgroundSweeperDeletesExpiredSessions(t *testing.T) {
	c := newClock()
	s, err := Open(filepath.Join(t.TempDir(), "s.db"), withClock(c), WithSweepInterval(5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mustSet(t, s, "dying", "x", c.Now().Add(time.Minute))
	mustSet(t, s, "live", "x", c.Now().Add(time.Hour))
	c.Advance(time.Minute)
	deadline := time.Now().Add(10 * time.Second)
	for raw(t, s, "dying") != nil {
		if time.Now().After(deadline) {
			t.Fatal("the sweeper did not delete the expired session within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	wantData(t, s, "live", "x")
}

func TestCloseStopsTheSweeperAndReleasesTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := Open(path, WithSweepInterval(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.sweepDone:
	default:
		t.Fatal("sweeper still running after Close")
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := s.Set(context.Background(), "a", nil, time.Time{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Set after Close: %v, want ErrClosed", err)
	}
	s2, err := Open(path, WithOpenTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatalf("reopening after Close: %v", err)
	}
	s2.Close()
}

// TestEveryWriteAfterCloseFailsWithErrClosedAndChangesNothing closes stores
// over a database the caller keeps open (New) and over their own file
// (Open): every writing method then fails with ErrClosed, and over the open
// database nothing changed. Clear and PurgeExpired wrote to the database
// directly, so after Close Clear still wiped the sessions of a store from New.
func TestEveryWriteAfterCloseFailsWithErrClosedAndChangesNothing(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	writes := func(s *Store) map[string]func() error {
		exp := c.Now().Add(time.Hour)
		return map[string]func() error{
			"Set":     func() error { return s.Set(ctx, "new", []byte("x"), exp) },
			"Destroy": func() error { return s.Destroy(ctx, "live") },
			"Touch": func() error {
				_, err := s.Touch(ctx, "live", exp.Add(time.Hour))
				return err
			},
			"GetAndTouch": func() error {
				_, _, _, err := s.GetAndTouch(ctx, "live", exp.Add(time.Hour))
				return err
			},
			"CompareAndSwap": func() error {
				_, _, err := s.CompareAndSwap(ctx, "new", "", []byte("x"), exp)
				return err
			},
			"Clear": func() error { return s.Clear(ctx) },
			"PurgeExpired": func() error {
				_, err := s.PurgeExpired(ctx)
				return err
			},
			"IndexUserSession":   func() error { return s.IndexUserSession(ctx, "u", "new", c.Now(), exp) },
			"UnindexUserSession": func() error { return s.UnindexUserSession(ctx, "u", "live") },
		}
	}
	fill := func(t *testing.T, s *Store) {
		t.Helper()
		mustSet(t, s, "live", "x", c.Now().Add(2*time.Hour))
		mustSet(t, s, "dying", "x", c.Now().Add(time.Minute))
		if err := s.IndexUserSession(ctx, "u", "live", c.Now(), c.Now().Add(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("New", func(t *testing.T) {
		db, err := bbolt.Open(filepath.Join(t.TempDir(), "s.db"), 0o600, &bbolt.Options{Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		s, err := New(db, withClock(c), WithSweepInterval(0))
		if err != nil {
			t.Fatal(err)
		}
		fill(t, s)
		c.Advance(time.Hour) // "dying" has expired: a purge would delete it
		var before bytes.Buffer
		if err := db.View(func(tx *bbolt.Tx) error { _, err := tx.WriteTo(&before); return err }); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		for name, write := range writes(s) {
			if err := write(); !errors.Is(err, ErrClosed) {
				t.Errorf("%s after Close: %v, want ErrClosed", name, err)
			}
		}
		var after bytes.Buffer
		if err := db.View(func(tx *bbolt.Tx) error { _, err := tx.WriteTo(&after); return err }); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(before.Bytes(), after.Bytes()) {
			t.Error("writes after Close changed the caller's database")
		}
		// Reads still read the caller's database.
		wantData(t, s, "live", "x")
		wantNotFound(t, s, "dying")
	})
	t.Run("Open", func(t *testing.T) {
		s, err := Open(filepath.Join(t.TempDir(), "s.db"), withClock(c), WithSweepInterval(0))
		if err != nil {
			t.Fatal(err)
		}
		fill(t, s)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		for name, write := range writes(s) {
			if err := write(); !errors.Is(err, ErrClosed) {
				t.Errorf("%s after Close: %v, want ErrClosed", name, err)
			}
		}
		// Reads fail: the store closed its file.
		if _, _, err := s.Get(ctx, "live"); err == nil {
			t.Error("Get after Close of a store from Open read a closed file without an error")
		}
	})
}

func TestBadOptionsAreRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	for name, o := range map[string]Option{
		"empty bucket": WithBucket(""),
		"zero batch":   WithSweepBatchSize(0),
	} {
		if s, err := Open(path, o); err == nil {
			s.Close()
			t.Errorf("%s: Open succeeded", name)
		}
	}
	if _, err := New(nil); err == nil {
		t.Error("New(nil) succeeded")
	}
}

// holdWriteLock keeps bbolt's single writer lock until the returned function
// is called, so that writes queue up behind it.
func holdWriteLock(t *testing.T, s *Store) (release func()) {
	t.Helper()
	locked, unlock, finished := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		s.db.Update(func(*bbolt.Tx) error {
			close(locked)
			<-unlock
			return nil
		})
	}()
	<-locked
	return func() { close(unlock); <-finished }
}

// queueWrites starts n writes and waits until the committer has taken the
// first one (it is blocked on the write lock) and the rest are queued.
func queueWrites(t *testing.T, s *Store, writes ...func() error) []chan error {
	t.Helper()
	results := make([]chan error, len(writes))
	for i, w := range writes {
		results[i] = make(chan error, 1)
		go func() { results[i] <- w() }()
		// Wait for this write to be taken or queued before starting the next,
		// so that the order (and the first one's group of one) is fixed.
		deadline := time.Now().Add(10 * time.Second)
		for len(s.writes) != max(i, 0) || (i == 0 && !committerBusy(s)) {
			if time.Now().After(deadline) {
				t.Fatalf("write %d never queued", i)
			}
			time.Sleep(time.Millisecond)
		}
	}
	return results
}

// committerBusy reports whether the committer has taken a write and is
// waiting for the write lock: the queue is empty but no send can complete
// without the committer.
func committerBusy(s *Store) bool { return len(s.writes) == 0 && s.pending.Load() > 0 }

func TestAFailingWriteDoesNotFailTheWritesCommittedWithIt(t *testing.T) {
	s, c := openTest(t)
	ctx := context.Background()
	exp := c.Now().Add(time.Hour)
	set := func(id string) func() error { return func() error { return s.Set(ctx, id, []byte(id), exp) } }
	tooLong := string(make([]byte, bbolt.MaxKeySize+1))

	release := holdWriteLock(t, s)
	results := queueWrites(t, s, set("first"), set("good1"), set(tooLong), set("good2"))
	release()

	for i, want := range []bool{true, true, false, true} {
		if err := <-results[i]; (err == nil) != want {
			t.Errorf("write %d: err = %v, want success %v", i, err, want)
		}
	}
	for _, id := range []string{"first", "good1", "good2"} {
		wantData(t, s, id, id)
	}
}

func TestWritesQueuedTogetherGetTheirOwnResults(t *testing.T) {
	s, c := openTest(t)
	ctx := context.Background()
	exp := c.Now().Add(time.Hour)
	mustSet(t, s, "a", "0", exp)
	_, v, _, _ := s.GetVersion(ctx, "a")
	// Each queued write reports its answer as an error: errConflict for a
	// CAS that did not swap, errMissing for a touch that found nothing.
	cas := func(data string) func() error {
		return func() error {
			_, swapped, err := s.CompareAndSwap(ctx, "a", v, []byte(data), exp)
			if err == nil && !swapped {
				return errConflict
			}
			return err
		}
	}
	touchMissing := func() error {
		found, err := s.Touch(ctx, "missing", exp)
		if err == nil && !found {
			return errMissing
		}
		return err
	}

	release := holdWriteLock(t, s)
	results := queueWrites(t, s, func() error { return s.Set(ctx, "b", nil, exp) }, cas("1"), cas("2"), touchMissing)
	release()

	if err := <-results[0]; err != nil {
		t.Fatal(err)
	}
	if err := <-results[1]; err != nil {
		t.Fatalf("first CAS from the version: %v", err)
	}
	if err := <-results[2]; !errors.Is(err, errConflict) {
		t.Fatalf("second CAS from the same version, in the same transaction: %v, want not swapped", err)
	}
	if err := <-results[3]; !errors.Is(err, errMissing) {
		t.Fatalf("touch of a missing session: %v, want not found", err)
	}
	wantData(t, s, "a", "1")
}

func TestCloseCommitsTheWritesAlreadyQueued(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := Open(path, WithSweepInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var writes []func() error
	for i := range 5 {
		writes = append(writes, func() error { return s.Set(ctx, fmt.Sprint("id", i), []byte("x"), time.Time{}) })
	}
	release := holdWriteLock(t, s)
	results := queueWrites(t, s, writes...)
	closed := make(chan error)
	go func() { closed <- s.Close() }()
	release()
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	for i, r := range results {
		if err := <-r; err != nil {
			t.Fatalf("queued write %d: %v", i, err)
		}
	}
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n, _ := s.Count(ctx); n != 5 {
		t.Fatalf("%d of 5 queued writes in the file after Close", n)
	}
}

func TestWriteBehindAStuckCommitGivesUpAtItsDeadline(t *testing.T) {
	s, c := openTest(t)
	release := holdWriteLock(t, s) // another writer holds bbolt's lock: commits stall
	defer release()
	for _, write := range map[string]func(ctx context.Context) error{
		"Set":     func(ctx context.Context) error { return s.Set(ctx, "a", []byte("x"), c.Now().Add(time.Hour)) },
		"Destroy": func(ctx context.Context) error { return s.Destroy(ctx, "a") },
		"Touch": func(ctx context.Context) error {
			_, err := s.Touch(ctx, "a", c.Now().Add(time.Hour))
			return err
		},
		"CompareAndSwap": func(ctx context.Context) error {
			_, _, err := s.CompareAndSwap(ctx, "a", "", []byte("x"), c.Now().Add(time.Hour))
			return err
		},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		done := make(chan error, 1)
		go func() { done <- write(ctx) }()
		select {
		case err := <-done:
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("write behind a stuck commit: %v, want context.DeadlineExceeded", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a write behind a stuck commit ignored its deadline")
		}
		cancel()
	}
}

// A write that gave up at its deadline may still be committed (its op stays
// queued), but only with the bytes the caller passed: the caller may reuse
// its buffer as soon as the call returned (storetest's
// CallerBuffersAreNotRetained).
func TestSetThatGaveUpNeverStoresLaterBytesOfTheCallersBuffer(t *testing.T) {
	s, c := openTest(t)
	exp := c.Now().Add(time.Hour)
	for name, write := range map[string]func(ctx context.Context, id string, buf []byte) error{
		"Set": func(ctx context.Context, id string, buf []byte) error { return s.Set(ctx, id, buf, exp) },
		"CompareAndSwap": func(ctx context.Context, id string, buf []byte) error {
			_, _, err := s.CompareAndSwap(ctx, id, "", buf, exp)
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			id := "gave-up-" + name
			buf := []byte("original")
			release := holdWriteLock(t, s) // commits stall: the write stays queued
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			err := write(ctx, id, buf)
			cancel()
			copy(buf, "SCRIBBLE") // the caller reuses its buffer
			release()
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("%s behind a stuck commit: %v, want context.DeadlineExceeded", name, err)
			}
			// The committer takes writes in order: once this one is on disk,
			// the one that gave up has been committed too.
			mustSet(t, s, "after-"+name, "x", exp)
			if v := raw(t, s, id); v == nil {
				t.Fatalf("the %s that gave up was not committed after all; the test proves nothing", name)
			}
			wantData(t, s, id, "original")
		})
	}
}
