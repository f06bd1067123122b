package boltstore

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// openReadOnly opens the bbolt file at path read-only and closes it in
// t.Cleanup.
func openReadOnly(t *testing.T, path string) *bbolt.DB {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestNewOverAReadOnlyDatabaseReadsItsSessions: New over a database opened
// read-only (to inspect a copy of the file, or a file on a read-only mount)
// failed with "create bucket ...: database is in read-only mode" though
// the bucket was there, so that no session could be read. It now reads
// them, runs no sweeper (whose every sweep would fail), and its writes fail
// with bbolt's ErrDatabaseReadOnly; a file without the store's bucket is
// refused with an error that says so.
func TestNewOverAReadOnlyDatabaseReadsItsSessions(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sessions.db")
	st, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	mustSet(t, st, "kept", "data", time.Now().Add(time.Hour))
	if err := st.IndexUserSession(ctx, "alice", "kept", time.Now(), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	ro, err := New(openReadOnly(t, path), WithSweepInterval(time.Millisecond))
	if err != nil {
		t.Fatalf("New over a read-only database holding the bucket: %v", err)
	}
	t.Cleanup(func() { ro.Close() })
	wantData(t, ro, "kept", "data")
	if n, err := ro.Count(ctx); err != nil || n != 1 {
		t.Errorf("Count: %d, %v; want 1", n, err)
	}
	listed := 0
	if err := ro.UserSessions(ctx, "alice", func(id string, _, _ time.Time, data []byte) {
		if id == "kept" && string(data) == "data" {
			listed++
		}
	}); err != nil || listed != 1 {
		t.Errorf("UserSessions(alice): %d of the session listed, %v; want it", listed, err)
	}
	if ro.sweepDone != nil {
		t.Error("a sweeper runs over the read-only database")
	}
	if err := ro.Set(ctx, "new", []byte("x"), time.Now().Add(time.Hour)); !errors.Is(err, berrors.ErrDatabaseReadOnly) {
		t.Errorf("Set over a read-only database: %v; want ErrDatabaseReadOnly", err)
	}
	if err := ro.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}

	if _, err := New(openReadOnly(t, path), WithBucket("other")); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("New over a read-only database without the bucket: %v; want an error that says it cannot be created", err)
	}
}
