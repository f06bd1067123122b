package boltstore

import (
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
