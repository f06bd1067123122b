package boltstore

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/testclock"
)

// indexed returns the ids of user's index entries, as the file holds them
// (pruned or not), in byte order.
func indexed(t *testing.T, s *Store, user string) []string {
	t.Helper()
	var ids []string
	err := s.db.View(func(tx *bbolt.Tx) error {
		ub := tx.Bucket(s.usersBucket())
		if ub == nil {
			return nil
		}
		u := ub.Bucket([]byte(user))
		if u == nil {
			return nil
		}
		return u.ForEach(func(k, v []byte) error {
			if !nestedBucket(u, k, v) {
				ids = append(ids, string(k))
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// putAsAnEarlierVersion writes user's entry of session id expiring at
// expires as the previous version's IndexUserSession wrote it (after its
// walk): a 16-byte value, and the user's bucket's sequence left alone.
func putAsAnEarlierVersion(t *testing.T, db *bbolt.DB, bucket, user, id string, expires time.Time) {
	t.Helper()
	err := db.Update(func(tx *bbolt.Tx) error {
		ub, err := tx.CreateBucketIfNotExists([]byte(bucket))
		if err != nil {
			return err
		}
		u, err := ub.CreateBucketIfNotExists([]byte(user))
		if err != nil {
			return err
		}
		return u.Put([]byte(id), entryOf(expires, expires.Add(-time.Hour)))
	})
	if err != nil {
		t.Fatal(err)
	}
}

// userDueIn returns the due recorded in user's bucket, and whether one is.
func userDueIn(t *testing.T, s *Store, user string) (int64, bool) {
	t.Helper()
	var due int64
	var known bool
	err := s.db.View(func(tx *bbolt.Tx) error {
		due, known = dueOf(tx.Bucket(s.usersBucket()).Bucket([]byte(user)))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return due, known
}

func mustIndex(t *testing.T, s *Store, c *testclock.Clock, user, id string, expires time.Time) {
	t.Helper()
	if err := s.IndexUserSession(t.Context(), user, id, c.Now(), expires); err != nil {
		t.Fatal(err)
	}
}

// TestAnIndexEntryIsPrunedByTheFirstIndexWriteOnceItIsDue indexes many
// sessions of one user, each expiring a second after the one before: an
// entry past its deadline (expiry plus IndexGrace) is pruned by the user's
// first index write after it, also when the earliest deadline the store
// recorded has been moved on by a touch, and none is pruned before.
func TestAnIndexEntryIsPrunedByTheFirstIndexWriteOnceItIsDue(t *testing.T) {
	s, c := openTest(t)
	start := c.Now()
	const sessions = 100
	for i := range sessions {
		mustIndex(t, s, c, "u", fmt.Sprint("s", i), start.Add(time.Hour+time.Duration(i)*time.Second))
	}
	mustIndex(t, s, c, "u", "s0", start.Add(3*time.Hour)) // a touch moves the earliest deadline on

	c.Set(start.Add(time.Hour + session.IndexGrace)) // s0's old deadline, s1's not yet
	mustIndex(t, s, c, "u", "late", start.Add(3*time.Hour))
	if n := len(indexed(t, s, "u")); n != sessions+1 {
		t.Fatalf("%d entries; want %d, none past its deadline", n, sessions+1)
	}
	c.Set(start.Add(time.Hour + session.IndexGrace + 10*time.Second + time.Millisecond)) // s1 to s10 are past theirs
	mustIndex(t, s, c, "u", "later", start.Add(3*time.Hour))
	ids := indexed(t, s, "u")
	for i := 1; i <= 10; i++ {
		if slices.Contains(ids, fmt.Sprint("s", i)) {
			t.Errorf("s%d outlived its deadline and an index write of its user", i)
		}
	}
	for _, id := range []string{"s0", "s11", "late", "later"} {
		if !slices.Contains(ids, id) {
			t.Errorf("%s was pruned before its deadline", id)
		}
	}
	if len(ids) != sessions+2-10 {
		t.Errorf("%d entries, want %d", len(ids), sessions+2-10)
	}
}

// TestIndexWritesAndSweepsBeforeTheDueLeaveTheEntriesAloneAndTheFirstAfterItPrunesThem:
// an earlier version (run on the file after a downgrade) adds entries to a
// user's bucket without lowering the due the store recorded there. The
// user's index writes and the sweeps before that due do not walk their
// entries, so they leave the one already past its deadline, which the
// listing does not show; the first sweep after the due walks the user,
// prunes every entry past its deadline, and records the next deadline.
// (The sweep walked every user whatever the due until it went by the due
// too, and pruned such an entry at once.)
func TestIndexWritesAndSweepsBeforeTheDueLeaveTheEntriesAloneAndTheFirstAfterItPrunesThem(t *testing.T) {
	s, c := openTest(t)
	ctx := t.Context()
	start := c.Now()
	mustIndex(t, s, c, "u", "a", start.Add(time.Hour)) // the recorded due: a's deadline
	putAsAnEarlierVersion(t, s.db, s.UsersBucket(), "u", "stale", start.Add(time.Minute))
	putAsAnEarlierVersion(t, s.db, s.UsersBucket(), "u", "soon", start.Add(10*time.Minute))

	c.Set(start.Add(3 * time.Minute)) // stale is past its deadline, soon is not
	mustIndex(t, s, c, "u", "b", start.Add(3*time.Hour))
	if _, err := s.PurgeExpired(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := indexed(t, s, "u"), []string{"a", "b", "soon", "stale"}; !slices.Equal(got, want) {
		t.Fatalf("after an index write and a sweep before the recorded due: entries %q, want %q (no walk)", got, want)
	}
	var listed []string
	if err := s.UserSessions(ctx, "u", func(id string, _, _ time.Time, _ []byte) { listed = append(listed, id) }); err != nil {
		t.Fatal(err)
	}
	if want := []string{"a", "b", "soon"}; !slices.Equal(listed, want) {
		t.Errorf("UserSessions = %q, want %q (stale is past its deadline)", listed, want)
	}

	c.Set(start.Add(time.Hour + session.IndexGrace + time.Millisecond)) // the recorded due has passed
	if _, err := s.PurgeExpired(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := indexed(t, s, "u"), []string{"b"}; !slices.Equal(got, want) {
		t.Fatalf("after a sweep past the recorded due: entries %q, want %q", got, want)
	}
	if due, _ := userDueIn(t, s, "u"); due != start.Add(3*time.Hour+session.IndexGrace).UnixNano() {
		t.Errorf("recorded due %v, want b's deadline %v", time.Unix(0, due).UTC(), start.Add(3*time.Hour+session.IndexGrace))
	}
}

// TestAnEntryWithNoReadableExpiryIsPrunedByTheUsersNextIndexWriteOnceItsSessionIsGone:
// such an entry has no deadline, so once a walk has seen it (here the
// sweep's, once the due recorded before the entry was edited has passed;
// it keeps the entry while its session lives) every index write of its
// user walks, as each did before the due, and the first after its session
// is gone prunes it.
func TestAnEntryWithNoReadableExpiryIsPrunedByTheUsersNextIndexWriteOnceItsSessionIsGone(t *testing.T) {
	s, c := openTest(t)
	ctx := t.Context()
	start := c.Now()
	mustSet(t, s, "x", "{}", start.Add(time.Hour))
	mustIndex(t, s, c, "u", "x", start.Add(time.Hour))
	mustIndex(t, s, c, "u", "w", start.Add(time.Minute)) // the recorded due: w's deadline
	err := s.db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(s.usersBucket()).Bucket([]byte("u")).Put([]byte("x"), []byte("???"))
	})
	if err != nil {
		t.Fatal(err)
	}
	c.Set(start.Add(3 * time.Minute)) // w is past its deadline; x's session lives
	if _, err := s.PurgeExpired(ctx); err != nil {
		t.Fatal(err)
	}
	mustIndex(t, s, c, "u", "y", start.Add(time.Hour))
	if got, want := indexed(t, s, "u"), []string{"x", "y"}; !slices.Equal(got, want) {
		t.Fatalf("while x's session lives: entries %q, want %q", got, want)
	}
	if err := s.Destroy(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	mustIndex(t, s, c, "u", "z", start.Add(time.Hour))
	if got, want := indexed(t, s, "u"), []string{"y", "z"}; !slices.Equal(got, want) {
		t.Errorf("after x's session was destroyed and an index write: entries %q, want %q", got, want)
	}
}

// TestIndexPruningHoldsAcrossAReopenAndAnUpgrade: the due is in the file,
// so an entry whose deadline passed while the store was closed is pruned
// by the first index write after a reopen; and a user's bucket written by
// an earlier version (which recorded no due) is walked by its first index
// write, which prunes the entries already past their deadline.
func TestIndexPruningHoldsAcrossAReopenAndAnUpgrade(t *testing.T) {
	s, c := openTest(t)
	path := s.db.Path()
	start := c.Now()
	mustIndex(t, s, c, "u", "s0", start.Add(time.Hour))
	mustIndex(t, s, c, "u", "s1", start.Add(2*time.Hour))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// An earlier version, on the same file: a user it indexed.
	db, err := bbolt.Open(path, fileMode, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	putAsAnEarlierVersion(t, db, DefaultBucket+usersSuffix, "old", "o0", start.Add(time.Hour))
	putAsAnEarlierVersion(t, db, DefaultBucket+usersSuffix, "old", "o1", start.Add(2*time.Hour))
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	c.Set(start.Add(time.Hour + session.IndexGrace + time.Second)) // s0 and o0 are past their deadline
	s, err = Open(path, withClock(c), WithSweepInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	mustIndex(t, s, c, "u", "s2", start.Add(3*time.Hour))
	mustIndex(t, s, c, "old", "o2", start.Add(3*time.Hour))
	if got, want := indexed(t, s, "u"), []string{"s1", "s2"}; !slices.Equal(got, want) {
		t.Errorf("after a reopen: entries of u %q, want %q", got, want)
	}
	if got, want := indexed(t, s, "old"), []string{"o1", "o2"}; !slices.Equal(got, want) {
		t.Errorf("a bucket of an earlier version: entries %q, want %q", got, want)
	}
}

// TestAUserMergedFromTheEarlierIndexBucketIsWalkedByTheirNextIndexWrite:
// New merges a user's bucket of the earlier index bucket ("<bucket>.users")
// into the user's bucket of this version's, whose due was recorded before
// the merge: the merged entry past its deadline is pruned by the user's
// next index write, not kept until the recorded due.
func TestAUserMergedFromTheEarlierIndexBucketIsWalkedByTheirNextIndexWrite(t *testing.T) {
	s, c := openTest(t)
	path := s.db.Path()
	start := c.Now()
	mustIndex(t, s, c, "u", "new", start.Add(time.Hour))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bbolt.Open(path, fileMode, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	putAsAnEarlierVersion(t, db, DefaultBucket+legacyUsersSuffix, "u", "old", start.Add(time.Minute))
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	c.Set(start.Add(3 * time.Minute)) // old is past its deadline, new is not
	s, err = Open(path, withClock(c), WithSweepInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	mustIndex(t, s, c, "u", "next", start.Add(time.Hour))
	if got, want := indexed(t, s, "u"), []string{"new", "next"}; !slices.Equal(got, want) {
		t.Errorf("after the merge and an index write: entries %q, want %q", got, want)
	}
}

// TestATouchThatShortensAnEntryLowersTheDue: a session's entry rewritten
// with an earlier expiry than it had (a touch with a shorter lifetime) is
// pruned by the first index write after its new deadline, though the due
// recorded before was a later entry's: the write that shortened it lowered
// the due without walking.
func TestATouchThatShortensAnEntryLowersTheDue(t *testing.T) {
	s, c := openTest(t)
	start := c.Now()
	mustIndex(t, s, c, "u", "a", start.Add(3*time.Hour))
	mustIndex(t, s, c, "u", "b", start.Add(2*time.Hour))
	mustIndex(t, s, c, "u", "a", start.Add(time.Minute)) // before b's deadline: no walk

	c.Set(start.Add(time.Minute + session.IndexGrace + time.Millisecond)) // a's new deadline has passed
	mustIndex(t, s, c, "u", "c", start.Add(time.Hour))
	if got, want := indexed(t, s, "u"), []string{"b", "c"}; !slices.Equal(got, want) {
		t.Errorf("entries %q, want %q (a shortened and past its deadline)", got, want)
	}
}
