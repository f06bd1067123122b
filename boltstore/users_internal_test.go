package boltstore

import (
	"fmt"
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
