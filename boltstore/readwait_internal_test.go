package boltstore

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// TestAReadWaitingForItsTransactionGivesUpAtItsDeadline makes new bbolt
// transactions wait, as a commit that grows the file makes them wait while
// a long read transaction (a backup's tx.WriteTo over DB()) runs, and calls
// each read with a deadline: it returns the deadline's error once the
// deadline passes, as a write queued behind the same commit does, instead of
// waiting for the backup to end. The reads began their read transaction
// without looking at their context, so that a request with StoreTimeout's
// deadline hung for as long as the backup ran.
func TestAReadWaitingForItsTransactionGivesUpAtItsDeadline(t *testing.T) {
	reads := []struct {
		name string
		call func(ctx context.Context, s *Store) error
	}{
		{"Get", func(ctx context.Context, s *Store) error { _, _, err := s.Get(ctx, "a"); return err }},
		{"GetVersion", func(ctx context.Context, s *Store) error { _, _, _, err := s.GetVersion(ctx, "a"); return err }},
		{"IDs", func(ctx context.Context, s *Store) error { _, err := s.IDs(ctx); return err }},
		{"Count", func(ctx context.Context, s *Store) error { _, err := s.Count(ctx); return err }},
		{"UserSessions", func(ctx context.Context, s *Store) error {
			return s.UserSessions(ctx, "ann", func(string, time.Time, time.Time, []byte) {})
		}},
		{"PurgeExpired", func(ctx context.Context, s *Store) error { _, err := s.PurgeExpired(ctx); return err }},
	}
	for _, r := range reads {
		t.Run(r.name, func(t *testing.T) {
			s, c := openTest(t)
			mustSet(t, s, "a", `{}`, c.Now().Add(time.Hour))
			if err := s.IndexUserSession(t.Context(), "ann", "a", c.Now(), c.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			release := sync.OnceFunc(stallTransactions(t, s))
			defer release()
			ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- r.call(ctx, s) }()
			select {
			case err := <-done:
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("%s behind a stalled transaction: %v, want context.DeadlineExceeded", r.name, err)
				}
			case <-time.After(5 * time.Second):
				t.Errorf("%s with a 50ms deadline still waits for its transaction after 5s", r.name)
				release()
				<-done
			}
		})
	}
}

// TestClearAndPurgeWaitingForTheWriteLockGiveUpAtTheirDeadline: Clear and
// the deletions of PurgeExpired run in a write transaction of their own,
// outside the commit queue, which waits for bbolt's writer lock, held here
// as a long write holds it (an application's own over DB(), or a commit
// that grows the file while a backup's read transaction runs, for as long as
// the backup). With a deadline they return its error once it
// passes, as a write queued in the commit queue does; they waited for the
// lock without looking at their context.
func TestClearAndPurgeWaitingForTheWriteLockGiveUpAtTheirDeadline(t *testing.T) {
	writes := []struct {
		name string
		call func(ctx context.Context, s *Store) error
	}{
		{"Clear", func(ctx context.Context, s *Store) error { return s.Clear(ctx) }},
		{"PurgeExpired", func(ctx context.Context, s *Store) error { _, err := s.PurgeExpired(ctx); return err }},
	}
	for _, w := range writes {
		t.Run(w.name, func(t *testing.T) {
			s, c := openTest(t)
			mustSet(t, s, "a", `{}`, c.Now().Add(time.Minute))
			c.Set(c.Now().Add(time.Hour)) // a is expired: PurgeExpired deletes it
			release := sync.OnceFunc(holdWriteLock(t, s))
			defer release()
			ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- w.call(ctx, s) }()
			select {
			case err := <-done:
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("%s behind a held write lock: %v, want context.DeadlineExceeded", w.name, err)
				}
			case <-time.After(5 * time.Second):
				t.Errorf("%s with a 50ms deadline still waits for the write lock after 5s", w.name)
				release()
				<-done
			}
		})
	}
}
