package boltstore

import (
	"context"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// commits returns how many write transactions s's file has committed: the
// txid of its meta page.
func commits(t *testing.T, s *Store) int {
	t.Helper()
	var id int
	if err := s.db.View(func(tx *bbolt.Tx) error { id = tx.ID(); return nil }); err != nil {
		t.Fatal(err)
	}
	return id
}

// A write that answers not found or conflict changes nothing (a Touch of a
// missing or expired session, a compare-and-swap from a stale version or a
// create over a live session), yet its transaction was committed: bbolt
// wrote its meta and freelist pages and fsynced them, so that the touch at
// the end of a request whose session expired or was destroyed since its
// load, or a save that lost to another request's, cost a commit. Such a
// transaction, of one write or of a group of them, is now rolled back; a
// group with a write that changed something still commits, and every
// write gets its own answer.
func TestWritesThatChangeNothingCommitNoTransaction(t *testing.T) {
	s, c := openTest(t)
	ctx := context.Background()
	exp := c.Now().Add(time.Hour)
	mustSet(t, s, "live", "data", exp)
	mustSet(t, s, "expiring", "data", c.Now().Add(time.Minute))
	c.Advance(2 * time.Minute)
	_, v, _, err := s.GetVersion(ctx, "live")
	if err != nil {
		t.Fatal(err)
	}
	staleVersion := v + "0"

	before := commits(t, s)
	touch := func(id string) func() error {
		return func() error {
			if found, err := s.Touch(ctx, id, exp); err != nil || found {
				t.Errorf("Touch(%q): found %v, %v; want not found", id, found, err)
			}
			return nil
		}
	}
	cas := func(old string) func() error {
		return func() error {
			if _, swapped, err := s.CompareAndSwap(ctx, "live", old, []byte("new"), exp); err != nil || swapped {
				t.Errorf("CompareAndSwap(live, %q): swapped %v, %v; want not swapped", old, swapped, err)
			}
			return nil
		}
	}
	for _, w := range []func() error{touch("missing"), touch("expiring"), cas(staleVersion), cas("")} {
		w()
	}
	if n := commits(t, s) - before; n != 0 {
		t.Errorf("4 writes that changed nothing committed %d transactions, want 0", n)
	}

	// Queued together behind a held write lock: the first in a group of its
	// own, the others in one group.
	before = commits(t, s)
	release := holdWriteLock(t, s) // commits 1
	results := queueWrites(t, s, touch("missing"), cas(staleVersion), touch("expiring"), cas(""))
	release()
	for _, r := range results {
		<-r
	}
	if n := commits(t, s) - before; n != 1 {
		t.Errorf("the held transaction and 2 groups of writes that changed nothing committed %d transactions, want 1", n)
	}

	// A group with a write that changes something commits once.
	before = commits(t, s)
	release = holdWriteLock(t, s)
	results = queueWrites(t, s, touch("missing"), cas(staleVersion), func() error { return s.Set(ctx, "new", []byte("x"), exp) }, touch("expiring"))
	release()
	for _, r := range results {
		if err := <-r; err != nil {
			t.Fatal(err)
		}
	}
	if n := commits(t, s) - before; n != 2 {
		t.Errorf("the held transaction and a group with a Set committed %d transactions, want 2", n)
	}
	wantData(t, s, "new", "x")
	wantData(t, s, "live", "data")
	wantNotFound(t, s, "missing")
}
