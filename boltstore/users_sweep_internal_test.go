package boltstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/sessionkit/session"
)

// writes returns how many pages and meta pages the store's file has
// written; it grows with every committed write transaction.
func writes(s *Store) int64 { st := s.db.Stats(); return st.TxStats.GetWrite() }

// users returns the users of the index, in byte order.
func users(t *testing.T, s *Store) []string {
	t.Helper()
	var names []string
	err := s.db.View(func(tx *bbolt.Tx) error {
		ub := tx.Bucket(s.usersBucket())
		if ub == nil {
			return nil
		}
		return ub.ForEachBucket(func(k []byte) error { names = append(names, string(k)); return nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func mustPurge(t *testing.T, s *Store) {
	t.Helper()
	if _, err := s.PurgeExpired(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// TestSweepSkipsUsersWhoseEntriesAreNotDue indexes many users whose
// entries are all an hour from their deadline, and adds to one of them, as
// an earlier version would (without lowering the recorded due), an entry
// already past its deadline, which only a walk of that user's entries
// could find: the sweep leaves it, and writes nothing at all, as no user's
// recorded due has passed.
func TestSweepSkipsUsersWhoseEntriesAreNotDue(t *testing.T) {
	s, c := openTest(t, WithSweepBatchSize(7))
	start := c.Now()
	for i := range 50 {
		for j := range 3 {
			mustIndex(t, s, c, fmt.Sprint("user", i), fmt.Sprint("s", i, "-", j), start.Add(time.Hour))
		}
	}
	putAsAnEarlierVersion(t, s.db, s.UsersBucket(), "user7", "stale", start.Add(time.Minute))
	c.Set(start.Add(10 * time.Minute)) // stale is past its deadline; the recorded dues are not

	before := writes(s)
	mustPurge(t, s)
	if n := writes(s) - before; n != 0 {
		t.Errorf("the sweep wrote %d pages; want none: no user is due", n)
	}
	if got := indexed(t, s, "user7"); !slices.Contains(got, "stale") {
		t.Errorf("user7's entries %q: stale was pruned, so the sweep walked a user whose recorded due is ahead", got)
	}
	if n := len(users(t, s)); n != 50 {
		t.Errorf("%d users after the sweep, want 50", n)
	}
}

// TestSweepStillPrunesUsersWhoseDueHasPassed: the sweep walks the users
// whose recorded due has passed, prunes their entries past their deadline,
// drops a user left with none, leaves a user not yet due alone, and
// records each walked user's next deadline, so that the next sweep, before
// it, writes nothing.
func TestSweepStillPrunesUsersWhoseDueHasPassed(t *testing.T) {
	s, c := openTest(t, WithSweepBatchSize(2))
	start := c.Now()
	mustIndex(t, s, c, "kept", "short", start.Add(time.Minute))
	mustIndex(t, s, c, "kept", "long", start.Add(2*time.Hour))
	mustIndex(t, s, c, "gone", "short", start.Add(time.Minute))
	mustIndex(t, s, c, "later", "soon", start.Add(time.Hour))
	putAsAnEarlierVersion(t, s.db, s.UsersBucket(), "later", "stale", start.Add(time.Minute)) // no walk finds it before the hour

	c.Set(start.Add(time.Minute + session.IndexGrace + time.Millisecond)) // "short" is past its deadline
	mustPurge(t, s)
	if got, want := users(t, s), []string{"kept", "later"}; !slices.Equal(got, want) {
		t.Fatalf("users after the sweep %q, want %q (gone had no entry left)", got, want)
	}
	if got, want := indexed(t, s, "kept"), []string{"long"}; !slices.Equal(got, want) {
		t.Errorf("kept's entries %q, want %q", got, want)
	}
	if got, want := indexed(t, s, "later"), []string{"soon", "stale"}; !slices.Equal(got, want) {
		t.Errorf("later's entries %q, want %q (not due: not walked)", got, want)
	}
	if due, known := userDueIn(t, s, "kept"); !known || due != start.Add(2*time.Hour+session.IndexGrace).UnixNano() {
		t.Errorf("kept's recorded due %v (known %v), want long's deadline %v", time.Unix(0, due).UTC(), known, start.Add(2*time.Hour+session.IndexGrace))
	}

	before := writes(s)
	mustPurge(t, s)
	if n := writes(s) - before; n != 0 {
		t.Errorf("a second sweep wrote %d pages; want none: the first recorded each walked user's next deadline", n)
	}

	c.Set(start.Add(time.Hour + session.IndexGrace + time.Millisecond)) // later's recorded due has passed
	mustPurge(t, s)
	if got, want := users(t, s), []string{"kept"}; !slices.Equal(got, want) {
		t.Errorf("users after a sweep past later's due %q, want %q", got, want)
	}
}

// TestSweepWalksAUserWithNoRecordedDue: a user's bucket that records no due
// (one an earlier version made) is walked by every sweep, as all were
// before: its entries past their deadline are pruned, and the due of the
// rest recorded.
func TestSweepWalksAUserWithNoRecordedDue(t *testing.T) {
	s, c := openTest(t)
	start := c.Now()
	putAsAnEarlierVersion(t, s.db, s.UsersBucket(), "old", "stale", start.Add(time.Minute))
	putAsAnEarlierVersion(t, s.db, s.UsersBucket(), "old", "live", start.Add(time.Hour))
	if _, known := userDueIn(t, s, "old"); known {
		t.Fatal("an earlier version's bucket records a due")
	}
	c.Set(start.Add(time.Minute + session.IndexGrace + time.Millisecond))
	mustPurge(t, s)
	if got, want := indexed(t, s, "old"), []string{"live"}; !slices.Equal(got, want) {
		t.Errorf("entries %q, want %q", got, want)
	}
	if due, known := userDueIn(t, s, "old"); !known || due != start.Add(time.Hour+session.IndexGrace).UnixNano() {
		t.Errorf("recorded due %v (known %v), want live's deadline %v", time.Unix(0, due).UTC(), known, start.Add(time.Hour+session.IndexGrace))
	}
}

// TestSweepPrunesUsersInShortTransactions: with a batch of one, the sweep
// prunes each due user in a transaction of its own, and a write (a
// session's Set) sent between two batches gets in at once rather than
// waiting for the whole sweep; a user whose last entry was removed between
// the scan of their batch and its prune is skipped.
func TestSweepPrunesUsersInShortTransactions(t *testing.T) {
	s, c := openTest(t, WithSweepBatchSize(1))
	start := c.Now()
	names := []string{"u0", "u1", "u2", "u3"}
	for _, u := range names {
		mustIndex(t, s, c, u, u+"-s", start.Add(time.Minute))
	}
	c.Set(start.Add(time.Minute + session.IndexGrace + time.Millisecond)) // every entry is past its deadline

	batch := 0
	s.sweepHook = func() {
		defer func() { batch++ }()
		// Batch i has been scanned; the users before it are pruned already.
		if got, want := users(t, s), names[batch:]; !slices.Equal(got, want) {
			t.Errorf("before the prune of batch %d: users %q, want %q", batch, got, want)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		if err := s.Set(ctx, fmt.Sprint("between-", batch), []byte("{}"), c.Now().Add(time.Hour)); err != nil {
			t.Errorf("a write sent before the prune of batch %d: %v; want it to get in", batch, err)
		}
		if batch == 2 { // u2's last entry goes between its scan and its prune
			if err := s.UnindexUserSession(ctx, "u2", "u2-s"); err != nil {
				t.Error(err)
			}
		}
	}
	mustPurge(t, s)
	if batch != len(names) {
		t.Errorf("%d batches, want %d", batch, len(names))
	}
	if got := users(t, s); len(got) != 0 {
		t.Errorf("users after the sweep %q, want none", got)
	}
}

// TestSweepOfTheUsersStopsWhenTheContextIsDone: a context cancelled during
// the sweep of the user index stops it before the next batch, with the
// context's error, leaving the later users for the next sweep; here it is
// cancelled while the sweep reads a batch with no user due (u1), which
// has no write to fail.
func TestSweepOfTheUsersStopsWhenTheContextIsDone(t *testing.T) {
	s, c := openTest(t, WithSweepBatchSize(1))
	start := c.Now()
	mustIndex(t, s, c, "u0", "u0-s", start.Add(time.Minute))
	mustIndex(t, s, c, "u1", "u1-s", start.Add(time.Hour))
	mustIndex(t, s, c, "u2", "u2-s", start.Add(time.Minute))
	c.Set(start.Add(time.Minute + session.IndexGrace + time.Millisecond)) // u0 and u2 are due

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	batches := 0
	s.sweepHook = func() {
		batches++
		if batches == 2 {
			cancel()
		}
	}
	_, err := s.PurgeExpired(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("PurgeExpired = %v, want context.Canceled", err)
	}
	if batches != 2 {
		t.Errorf("%d batches scanned, want 2 (none after the cancel)", batches)
	}
	if got, want := users(t, s), []string{"u1", "u2"}; !slices.Equal(got, want) {
		t.Errorf("users %q, want %q: u0 pruned before the cancel, u2 left", got, want)
	}
}
