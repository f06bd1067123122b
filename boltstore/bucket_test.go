package boltstore_test

import (
	"encoding/binary"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/sessionkit/session/boltstore"
)

// openDB opens a bbolt file of its own, closed in t.Cleanup.
func openDB(t *testing.T) *bbolt.DB {
	t.Helper()
	db, err := bbolt.Open(filepath.Join(t.TempDir(), "sessions.db"), 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// storeOn returns a store over db in bucket, without a sweeper, closed in
// t.Cleanup.
func storeOn(t *testing.T, db *bbolt.DB, bucket string) *boltstore.Store {
	t.Helper()
	st, err := boltstore.New(db, boltstore.WithBucket(bucket), boltstore.WithSweepInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// listed returns the ids UserSessions lists for user, with whether each has
// data.
func listed(t *testing.T, st *boltstore.Store, user string) map[string]bool {
	t.Helper()
	got := map[string]bool{}
	err := st.UserSessions(t.Context(), user, func(id string, _, _ time.Time, data []byte) { got[id] = data != nil })
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestStoresInBucketsXAndXUsersOfOneFileKeepApart keeps two stores in one
// file, in buckets "x" and "x.users": the user index of the first was the
// bucket "x.users" too, so the second could not store a session whose id
// was a user id of the first (bbolt refuses a value under a bucket's key),
// and its Clear deleted the first's index.
func TestStoresInBucketsXAndXUsersOfOneFileKeepApart(t *testing.T) {
	ctx := t.Context()
	db := openDB(t)
	x, xUsers := storeOn(t, db, "x"), storeOn(t, db, "x.users")
	exp := time.Now().Add(time.Hour)
	if err := x.IndexUserSession(ctx, "alice", "s1", time.Now(), exp); err != nil {
		t.Fatal(err)
	}
	if err := x.Set(ctx, "s1", []byte(`{}`), exp); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"b1", "alice"} {
		if err := xUsers.Set(ctx, id, []byte(`{}`), exp); err != nil {
			t.Errorf("Set(%s) of the store in bucket x.users: %v", id, err)
		}
	}
	if _, err := xUsers.PurgeExpired(ctx); err != nil {
		t.Errorf("PurgeExpired of the store in bucket x.users: %v", err)
	}
	if ids, err := xUsers.IDs(ctx); err != nil || !slices.Equal(ids, []string{"alice", "b1"}) {
		t.Errorf("IDs of the store in bucket x.users = %q, %v; want [alice b1]", ids, err)
	}
	if err := xUsers.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	if got := listed(t, x, "alice"); len(got) != 1 || !got["s1"] {
		t.Errorf("UserSessions(alice) of the store in bucket x after the other store's Clear = %v, want s1 with its data", got)
	}
	if _, err := x.PurgeExpired(ctx); err != nil {
		t.Errorf("PurgeExpired of the store in bucket x: %v", err)
	}
}

// TestBucketNamedLikeAUserIndexIsRefused: the user index of the store in
// bucket "x" is "x\x00users", so no store may keep its sessions there.
func TestBucketNamedLikeAUserIndexIsRefused(t *testing.T) {
	db := openDB(t)
	if st, err := boltstore.New(db, boltstore.WithBucket("x\x00users")); err == nil || !strings.Contains(err.Error(), "user index") {
		if st != nil {
			st.Close()
		}
		t.Fatalf("New with the bucket name of a user index: %v, want a refusal that says why", err)
	}
	x := storeOn(t, db, "x")
	if got := x.UsersBucket(); got != "x\x00users" {
		t.Errorf("UsersBucket() = %q, want %q", got, "x\x00users")
	}
}

// indexValue is an index entry as the store writes it: the expiry and the
// last use, Unix nanoseconds, big-endian.
func indexValue(expires, used time.Time) []byte {
	v := make([]byte, 16)
	binary.BigEndian.PutUint64(v[0:8], uint64(expires.UnixNano()))
	binary.BigEndian.PutUint64(v[8:16], uint64(used.UnixNano()))
	return v
}

// TestNewMovesTheUserIndexOfAnEarlierVersion opens a file whose user index
// is where earlier versions kept it, the bucket "sessions.users": every
// entry is listed afterwards. A user with entries in both places (an
// earlier version ran on the file after this one) gets them merged, an
// entry in both keeping the later expiry; keys of the old bucket that are
// not user buckets (another store's sessions) stay.
func TestNewMovesTheUserIndexOfAnEarlierVersion(t *testing.T) {
	ctx := t.Context()
	db := openDB(t)
	now := time.Now()
	soon, later := now.Add(time.Hour), now.Add(2*time.Hour)
	// The index of this version, written before the earlier version ran.
	st := storeOn(t, db, boltstore.DefaultBucket)
	if err := st.IndexUserSession(ctx, "alice", "both", now, soon); err != nil {
		t.Fatal(err)
	}
	if err := st.IndexUserSession(ctx, "alice", "new", now, soon); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	// What the earlier version wrote.
	err := db.Update(func(tx *bbolt.Tx) error {
		old, err := tx.CreateBucket([]byte(boltstore.DefaultBucket + ".users"))
		if err != nil {
			return err
		}
		for user, ids := range map[string][]string{"alice": {"both", "old"}, "bob": {"b1", "b2"}} {
			u, err := old.CreateBucket([]byte(user))
			if err != nil {
				return err
			}
			for _, id := range ids {
				if err := u.Put([]byte(id), indexValue(later, now)); err != nil {
					return err
				}
			}
		}
		return old.Put([]byte("a-session"), []byte("of a store in bucket sessions.users"))
	})
	if err != nil {
		t.Fatal(err)
	}

	st = storeOn(t, db, boltstore.DefaultBucket)
	for _, id := range []string{"both", "new", "old", "b1", "b2"} {
		if err := st.Set(ctx, id, []byte(`{}`), soon); err != nil {
			t.Fatal(err)
		}
	}
	if got := listed(t, st, "alice"); len(got) != 3 || !got["both"] || !got["new"] || !got["old"] {
		t.Errorf("UserSessions(alice) = %v, want both, new and old", got)
	}
	if got := listed(t, st, "bob"); len(got) != 2 || !got["b1"] || !got["b2"] {
		t.Errorf("UserSessions(bob) = %v, want b1 and b2", got)
	}
	err = st.UserSessions(ctx, "alice", func(id string, used, expires time.Time, _ []byte) {
		if id == "both" && !expires.Equal(later) {
			t.Errorf("the entry in both indexes expires %v, want the later expiry, %v", expires, later)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	err = db.View(func(tx *bbolt.Tx) error {
		old := tx.Bucket([]byte(boltstore.DefaultBucket + ".users"))
		if old == nil {
			t.Fatal("the old index bucket is gone: another store may keep its sessions there")
		}
		var keys []string
		if err := old.ForEach(func(k, _ []byte) error { keys = append(keys, string(k)); return nil }); err != nil {
			return err
		}
		if !slices.Equal(keys, []string{"a-session"}) {
			t.Errorf("the old index bucket holds %q after the move, want only the key that is no user bucket", keys)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
