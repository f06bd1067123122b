package boltstore

import (
	"encoding/binary"
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// TestNewLeavesAnotherProgramsBucketNamedLikeAnEarlierIndexAlone opens a
// store on a file that an application already uses for its own data, with
// a bucket "sessions.users" holding a nested bucket per user: the name
// earlier versions gave the user index of a store in bucket "sessions". The
// store has never run on that file (it has no bucket "sessions" yet), so
// that bucket cannot be its earlier index. New moved the application's
// nested buckets into the user index, where the sweep then deleted their
// keys as index entries of sessions that do not exist.
func TestNewLeavesAnotherProgramsBucketNamedLikeAnEarlierIndexAlone(t *testing.T) {
	c := newClock()
	path := filepath.Join(t.TempDir(), "app.db")
	db, err := bbolt.Open(path, fileMode, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	appBucket := []byte(DefaultBucket + legacyUsersSuffix)
	err = db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucket(appBucket)
		if err != nil {
			return err
		}
		alice, err := b.CreateBucket([]byte("alice"))
		if err != nil {
			return err
		}
		return alice.Put([]byte("role"), []byte("admin"))
	})
	if err != nil {
		t.Fatal(err)
	}

	s, err := New(db, withClock(c), WithSweepInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.PurgeExpired(t.Context()); err != nil {
		t.Fatal(err)
	}
	err = db.View(func(tx *bbolt.Tx) error {
		alice := tx.Bucket(appBucket).Bucket([]byte("alice"))
		if alice == nil {
			t.Fatalf("the application's bucket %q lost its nested bucket alice to the store", appBucket)
		}
		if got := alice.Get([]byte("role")); string(got) != "admin" {
			t.Errorf("the application's alice/role = %q, want %q", got, "admin")
		}
		if ub := tx.Bucket(s.usersBucket()); ub != nil && ub.Bucket([]byte("alice")) != nil {
			t.Errorf("the user index holds the application's bucket alice")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestNewMergingAUsersEntryKeepsTheReadableOne opens a file where a user
// has an entry for one session in both the earlier index bucket
// ("<bucket>.users") and the current one, one of the two too short to hold
// an expiry (a hand edit, another program): the merge kept the current
// index's entry unless the moved one expired later, which it cannot tell
// of an entry with no expiry, so an unreadable current entry stayed over a
// readable moved one. The session was then listed with a zero last use,
// as its user's least recently used, which MaxSessionsPerUser ends first
// at the next login over the cap, and with no expiry to prune the entry
// by. The readable entry is kept, whichever bucket holds it.
func TestNewMergingAUsersEntryKeepsTheReadableOne(t *testing.T) {
	for _, c := range []struct {
		name              string
		currentUnreadable bool // else the moved entry is the unreadable one
	}{
		{"unreadable in the current index", true},
		{"unreadable in the earlier index", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			clock := newClock()
			path := filepath.Join(t.TempDir(), "sessions.db")
			s, err := Open(path, withClock(clock), WithSweepInterval(0))
			if err != nil {
				t.Fatal(err)
			}
			start := clock.Now()
			used, expires := start.Add(-time.Minute), start.Add(time.Hour)
			mustSet(t, s, "both", "{}", expires)
			if err := s.IndexUserSession(t.Context(), "u", "both", used, expires); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			readable := make([]byte, 16)
			binary.BigEndian.PutUint64(readable[0:8], uint64(expires.UnixNano()))
			binary.BigEndian.PutUint64(readable[8:16], uint64(used.UnixNano()))
			current, moved := readable, []byte("?")
			if c.currentUnreadable {
				current, moved = moved, current
			}
			db, err := bbolt.Open(path, fileMode, &bbolt.Options{Timeout: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			err = db.Update(func(tx *bbolt.Tx) error {
				if err := tx.Bucket([]byte(DefaultBucket+usersSuffix)).Bucket([]byte("u")).Put([]byte("both"), current); err != nil {
					return err
				}
				old, err := tx.CreateBucket([]byte(DefaultBucket + legacyUsersSuffix))
				if err != nil {
					return err
				}
				u, err := old.CreateBucket([]byte("u"))
				if err != nil {
					return err
				}
				return u.Put([]byte("both"), moved)
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}

			s, err = Open(path, withClock(clock), WithSweepInterval(0))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			n := 0
			err = s.UserSessions(t.Context(), "u", func(id string, gotUsed, gotExpires time.Time, _ []byte) {
				n++
				if id != "both" || !gotUsed.Equal(used) || !gotExpires.Equal(expires) {
					t.Errorf("listed %q used %v, expires %v; want both, used %v, expires %v (the readable entry)", id, gotUsed, gotExpires, used, expires)
				}
			})
			if err != nil || n != 1 {
				t.Fatalf("UserSessions listed %d entries, %v; want the one", n, err)
			}
		})
	}
}
