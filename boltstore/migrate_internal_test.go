package boltstore

import (
	"encoding/binary"
	"path/filepath"
	"slices"
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
			current, moved := entryOf(expires, used), []byte("?")
			if c.currentUnreadable {
				current, moved = moved, current
			}
			editFile(t, path, func(tx *bbolt.Tx) error {
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

// TestNewMergingTheEarlierIndexOverKeysOfTheOtherKindOpens: the current
// index holds a key of the other kind under a name the earlier index
// bucket moves there (a hand edit, another program): a nested bucket (no
// entry) in a user's bucket named like an entry of the same user in the
// earlier bucket, or a value (no user) in the index bucket named like a
// user's bucket in the earlier one. The merge put the entry under the
// nested bucket's key, or moved the user's bucket under the value's key,
// which bbolt refuses, so New, and Open, failed ("incompatible value"):
// the store could not be opened at all. What clashes is left in the
// earlier bucket, as a nested bucket that clashes with an entry is, and
// the store opens with everything else moved.
func TestNewMergingTheEarlierIndexOverKeysOfTheOtherKindOpens(t *testing.T) {
	for _, c := range []struct {
		name  string
		clash func(ub *bbolt.Bucket) error // puts the clashing key into the current index bucket
		// the user of the earlier bucket whose entry "clash" clashes
		user string
		// the entries of u listed after the merge
		want []string
	}{
		{"a nested bucket named like an entry", func(ub *bbolt.Bucket) error {
			_, err := ub.Bucket([]byte("u")).CreateBucket([]byte("clash"))
			return err
		}, "u", []string{"kept", "moved"}},
		{"a value named like a user", func(ub *bbolt.Bucket) error {
			return ub.Put([]byte("v"), []byte("no user"))
		}, "v", []string{"kept"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			clock := newClock()
			path := filepath.Join(t.TempDir(), "sessions.db")
			s, err := Open(path, withClock(clock), WithSweepInterval(0))
			if err != nil {
				t.Fatal(err)
			}
			exp := clock.Now().Add(time.Hour)
			mustIndex(t, s, clock, "u", "kept", exp)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			entry := entryOf(exp, time.Unix(0, 0))
			editFile(t, path, func(tx *bbolt.Tx) error {
				if err := c.clash(tx.Bucket([]byte(DefaultBucket + usersSuffix))); err != nil {
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
				if err := u.Put([]byte("moved"), entry); err != nil {
					return err
				}
				clashing := u
				if c.user != "u" {
					if clashing, err = old.CreateBucket([]byte(c.user)); err != nil {
						return err
					}
				}
				return clashing.Put([]byte("clash"), entry)
			})

			s, err = Open(path, withClock(clock), WithSweepInterval(0))
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			t.Cleanup(func() { s.Close() })
			if c.user == "u" {
				if got := indexed(t, s, "u"); !slices.Equal(got, c.want) {
					t.Errorf("entries of u after the merge %q, want %q", got, c.want)
				}
			}
			err = s.db.View(func(tx *bbolt.Tx) error {
				u := tx.Bucket([]byte(DefaultBucket + legacyUsersSuffix)).Bucket([]byte(c.user))
				if u == nil || u.Get([]byte("clash")) == nil {
					t.Errorf("the clashing entry of %s is gone from the earlier index bucket; want it left there", c.user)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// entryOf is an index entry as the store writes it: the expiry and the last
// use, Unix nanoseconds, big-endian.
func entryOf(expires, used time.Time) []byte {
	v := make([]byte, 16)
	binary.BigEndian.PutUint64(v[0:8], uint64(expires.UnixNano()))
	binary.BigEndian.PutUint64(v[8:16], uint64(used.UnixNano()))
	return v
}

// editFile opens the file at path, closed by its store, runs edit in a
// write transaction of its own and closes the file again, as another
// program, or an earlier version, would.
func editFile(t *testing.T, path string, edit func(tx *bbolt.Tx) error) {
	t.Helper()
	db, err := bbolt.Open(path, fileMode, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(edit); err != nil {
		db.Close()
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}
