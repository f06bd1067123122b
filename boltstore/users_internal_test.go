package boltstore

import (
	"bytes"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// indexSize counts the index entries of user, and the users in the index.
func indexSize(t *testing.T, s *Store, user string) (entries, users int) {
	t.Helper()
	err := s.db.View(func(tx *bbolt.Tx) error {
		ub := tx.Bucket(s.usersBucket())
		if ub == nil {
			return nil
		}
		if u := ub.Bucket([]byte(user)); u != nil {
			entries = u.Stats().KeyN
		}
		return ub.ForEachBucket(func([]byte) error { users++; return nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	return entries, users
}

// TestUserIndexOfDailyLoginsForAYearStaysBounded logs one user in every day
// for a year, each session living 30 days: the index never holds more than
// one lifetime's entries, and once every session has expired the sweep
// leaves no trace of the user.
func TestUserIndexOfDailyLoginsForAYearStaysBounded(t *testing.T) {
	c := newClock()
	s, _ := openTest(t, withClock(c))
	const life = 30 * 24 * time.Hour
	for day := range 365 {
		now := c.Now()
		id := fmt.Sprintf("s%03d", day)
		if err := s.IndexUserSession(t.Context(), "u", id, now, now.Add(life)); err != nil {
			t.Fatal(err)
		}
		if err := s.Set(t.Context(), id, []byte("{}"), now.Add(life)); err != nil {
			t.Fatal(err)
		}
		if n, _ := indexSize(t, s, "u"); n > 31 {
			t.Fatalf("day %d: %d index entries, want at most 31", day, n)
		}
		c.Advance(24 * time.Hour)
	}
	c.Advance(life)
	if _, err := s.PurgeExpired(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n, users := indexSize(t, s, "u"); n != 0 || users != 0 {
		t.Fatalf("after every session expired and a sweep: %d entries, %d users; want none", n, users)
	}
}

// TestIndexEntryWithNoReadableExpiryIsPrunedOnceItsSessionIsGone: an entry
// too short to hold an expiry is never pruned by what it holds; index writes
// and sweeps keep it while its session lives, and the sweep prunes it once
// the session is gone, so that the user does not stay in the index forever.
// An entry with a readable expiry and an unreadable rest is pruned by that
// expiry.
func TestIndexEntryWithNoReadableExpiryIsPrunedOnceItsSessionIsGone(t *testing.T) {
	s, c := openTest(t)
	ctx := t.Context()
	mustSet(t, s, "no-expiry", "{}", c.Now().Add(48*time.Hour))
	for _, id := range []string{"no-expiry", "bad-used", "empty"} {
		if err := s.IndexUserSession(ctx, "u", id, c.Now(), c.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	err := s.db.Update(func(tx *bbolt.Tx) error {
		u := tx.Bucket(s.usersBucket()).Bucket([]byte("u"))
		bad := append(bytes.Clone(u.Get([]byte("bad-used"))[:8]), "??"...)
		if err := u.Put([]byte("bad-used"), bad); err != nil {
			return err
		}
		if err := u.Put([]byte("empty"), []byte{}); err != nil {
			return err
		}
		return u.Put([]byte("no-expiry"), []byte("?"))
	})
	if err != nil {
		t.Fatal(err)
	}
	listed := func() map[string][2]time.Time {
		got := map[string][2]time.Time{}
		if err := s.UserSessions(ctx, "u", func(id string, used, expires time.Time, _ []byte) { got[id] = [2]time.Time{used, expires} }); err != nil {
			t.Fatal(err)
		}
		return got
	}
	got := listed()
	if len(got) != 3 || !got["no-expiry"][0].IsZero() || !got["no-expiry"][1].IsZero() || !got["empty"][1].IsZero() ||
		!got["bad-used"][0].IsZero() || !got["bad-used"][1].Equal(c.Now().Add(time.Hour)) {
		t.Fatalf("UserSessions = %v; want all three with a zero used, bad-used with its expiry, the others with a zero expires", got)
	}
	c.Advance(2 * time.Hour) // bad-used's expiry and the grace have passed; "empty" has no session
	if err := s.IndexUserSession(ctx, "u", "new", c.Now(), c.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PurgeExpired(ctx); err != nil {
		t.Fatal(err)
	}
	if got := listed(); len(got) != 2 || got["no-expiry"] != [2]time.Time{} || got["new"][1].IsZero() {
		t.Fatalf("after an index write and a sweep, UserSessions = %v; want new and no-expiry (its session lives)", got)
	}
	if err := s.Destroy(ctx, "no-expiry"); err != nil {
		t.Fatal(err)
	}
	c.Advance(2 * time.Hour)
	if _, err := s.PurgeExpired(ctx); err != nil {
		t.Fatal(err)
	}
	if n, users := indexSize(t, s, "u"); n != 0 || users != 0 {
		t.Fatalf("after its session was destroyed and a sweep: %d entries, %d users; want none", n, users)
	}
}

// TestANestedBucketInAUsersIndexFailsNeitherTheirIndexWritesNorTheSweep puts
// a nested bucket into alice's index bucket (bbolt gives it a nil value):
// pruning used to Delete it, which bbolt refuses, so every index write of
// alice (every save of her sessions) failed, and so did every sweep's
// pruning of every user, which runs in one transaction. Now it is skipped,
// left alone and logged (by an index write that walks her entries: the
// first, as her bucket was made by another program), and not listed.
func TestANestedBucketInAUsersIndexFailsNeitherTheirIndexWritesNorTheSweep(t *testing.T) {
	var logs bytes.Buffer
	s, c := openTest(t, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	ctx := t.Context()
	exp := c.Now().Add(time.Hour)
	err := s.db.Update(func(tx *bbolt.Tx) error {
		ub, err := tx.CreateBucketIfNotExists(s.usersBucket())
		if err != nil {
			return err
		}
		u, err := ub.CreateBucket([]byte("alice"))
		if err != nil {
			return err
		}
		_, err = u.CreateBucket([]byte("junk"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"s1", "s2"} {
		if err := s.IndexUserSession(ctx, "alice", id, c.Now(), exp); err != nil {
			t.Errorf("IndexUserSession of the user with a nested bucket: %v", err)
		}
	}
	if !bytes.Contains(logs.Bytes(), []byte("nested buckets")) {
		t.Errorf("no warning logged about the nested bucket; logs: %s", logs.Bytes())
	}
	if err := s.IndexUserSession(ctx, "bob", "b1", c.Now(), c.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	var listed []string
	if err := s.UserSessions(ctx, "alice", func(id string, _, _ time.Time, _ []byte) { listed = append(listed, id) }); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 2 || listed[0] != "s1" || listed[1] != "s2" {
		t.Errorf("UserSessions(alice) = %q, want [s1 s2] (the nested bucket is no entry)", listed)
	}
	c.Advance(2 * time.Minute) // bob's entry is past its expiry and the grace
	if _, err := s.PurgeExpired(ctx); err != nil {
		t.Fatalf("PurgeExpired with a nested bucket in alice's index: %v", err)
	}
	if n, users := indexSize(t, s, "bob"); n != 0 || users != 1 {
		t.Errorf("after the sweep: bob has %d entries and the index %d users; want bob pruned and dropped, alice kept", n, users)
	}
	err = s.db.View(func(tx *bbolt.Tx) error {
		if tx.Bucket(s.usersBucket()).Bucket([]byte("alice")).Bucket([]byte("junk")) == nil {
			t.Error("the nested bucket was deleted; want it left alone")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
