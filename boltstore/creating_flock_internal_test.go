//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package boltstore

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// TestOpenOfAFileItsHolderIsCreatingWaitsForItsLock: bbolt creates a file
// under its lock, writing its first four pages (two meta pages, the
// freelist, the root) in one write, which a reader can see in part, the
// meta pages already there. Open checked the file's length before it took
// the lock, so an Open racing another process's creation of the file (two
// instances started at once, sessionctl at the application's first start)
// found a meta page asking for four pages in a file of two and failed with
// ErrTruncated, whose message says to remove the file: a healthy file,
// another process's. The length is now checked only of a file nobody holds
// for writing: Open waits for the lock, and opens the file once its holder
// has written and released it.
func TestOpenOfAFileItsHolderIsCreatingWaitsForItsLock(t *testing.T) {
	// The first pages of a file as bbolt creates it.
	fresh := filepath.Join(t.TempDir(), "fresh.db")
	db, err := bbolt.Open(fresh, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	pageSize := db.Info().PageSize
	db.Close()
	created, err := os.ReadFile(fresh)
	if err != nil {
		t.Fatal(err)
	}
	if len(created) != 4*pageSize {
		t.Fatalf("bbolt created a file of %d bytes, not its four pages of %d", len(created), pageSize)
	}

	// Another process creating the file: its lock taken, its meta pages
	// written, the rest not yet.
	path := filepath.Join(t.TempDir(), "sessions.db")
	holder, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	if err := syscall.Flock(int(holder.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	if _, err := holder.WriteAt(created[:2*pageSize], 0); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path, WithSweepInterval(0), WithOpenTimeout(50*time.Millisecond))
	if err == nil {
		s.Close()
		t.Fatal("Open of a file another process holds succeeded")
	}
	if errors.Is(err, ErrTruncated) || !errors.Is(err, berrors.ErrTimeout) {
		t.Fatalf("Open of a file its holder is creating: %v; want the lock's timeout", err)
	}

	// The holder done: the file opens.
	if _, err := holder.WriteAt(created[2*pageSize:], int64(2*pageSize)); err != nil {
		t.Fatal(err)
	}
	if err := holder.Close(); err != nil { // releases the lock
		t.Fatal(err)
	}
	s, err = Open(path, WithSweepInterval(0))
	if err != nil {
		t.Fatalf("Open once the holder released the file: %v", err)
	}
	s.Close()
}

// TestOpenOfAFileWhoseFreelistIsCorruptReleasesItsLock: bbolt's Open
// panics on a corrupt freelist page after it has locked and mapped the
// file, and Open, which turns the panic into ErrCorruptFile, closed the
// file but left it locked: the memory map bbolt leaves holds the file open,
// and with it the lock, until the process ends. The operator who then
// restored the file in place (cp backup sessions.db) could not open it
// from this process: every Open timed out saying that another process, or
// another Open in this one, held it. Open now releases the lock too.
func TestOpenOfAFileWhoseFreelistIsCorruptReleasesItsLock(t *testing.T) {
	path := corruptPageFile(t, 3, 2, freelistPage)
	corrupt, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s *Store
	noCrash(t, "Open", func() { s, err = Open(path, WithSweepInterval(0)) })
	if err == nil {
		s.Close()
		t.Fatal("Open of a file whose freelist page is corrupt succeeded")
	}
	if !errors.Is(err, ErrCorruptFile) {
		t.Fatalf("Open of a file whose freelist page is corrupt: %v; want ErrCorruptFile", err)
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 50 * time.Millisecond, ReadOnly: true})
	if err != nil {
		t.Fatalf("the file after the failed Open: %v", err)
	}
	db.Close()

	// The file restored in place, as cp does: a whole file, in the same
	// inode, whose freelist is the one that the other pages say.
	good := filepath.Join(t.TempDir(), "backup.db")
	b, err := Open(good, WithSweepInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	backup, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, backup, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path, WithSweepInterval(0), WithOpenTimeout(50*time.Millisecond))
	if err != nil {
		t.Fatalf("Open of the file restored in place (%d bytes, corrupt were %d): %v", len(backup), len(corrupt), err)
	}
	s.Close()
}
