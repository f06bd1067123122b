package boltstore

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// corruptPageFile writes n sessions of size bytes to a fresh file, closes
// it, and fills the last of its pages that pick picks with bytes that are
// no page, as a disk or a copy can; bbolt panics when a transaction reads
// that page.
func corruptPageFile(t *testing.T, n, size int, pick func(typ string, count int) bool) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sessions.db")
	s, err := Open(path, WithSweepInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	db := s.DB()
	exp := time.Now().Add(time.Hour).UnixNano()
	var page, pageSize int64 = -1, int64(db.Info().PageSize)
	err = db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(s.bucket)
		for i := range n {
			if err := b.Put(fmt.Appendf(nil, "id%03d", i), encode(exp, uint64(i+1), make([]byte, size))); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		err = db.View(func(tx *bbolt.Tx) error {
			for id := range tx.Size() / pageSize {
				if p, err := tx.Page(int(id)); err != nil {
					return err
				} else if p != nil && pick(p.Type, p.Count) {
					page = id
				}
			}
			return nil
		})
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if page < 0 {
		t.Fatal("no such page in the file")
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(bytes.Repeat([]byte{0xff, 0x13}, int(pageSize/2)), page*pageSize); err != nil {
		t.Fatal(err)
	}
	return path
}

// freelistPage picks the freelist page of a file.
func freelistPage(typ string, _ int) bool { return typ == "freelist" }

// rootFile is a file whose root page is corrupt: its only leaf, as the
// bucket of its three small sessions is inline in it.
func rootFile(t *testing.T) string {
	return corruptPageFile(t, 3, 2, func(typ string, _ int) bool { return typ == "leaf" })
}

// TestOpenOfACorruptFileFailsWithAClearError: bbolt panics on a page that
// is no page, and Open met one while bbolt read the file's freelist, or
// while the store looked up its bucket in the root page: Open panicked,
// with bbolt's "invalid freelist page" or "Page expected to be", naming
// no file. Open now fails with an error that names the file and says it
// is corrupt, leaves it as it is, and, past bbolt's Open, releases it (a
// panic of bbolt's Open leaves its memory map of the file, and with it the
// lock); New over a database whose root page is corrupt fails the same way.
func TestOpenOfACorruptFileFailsWithAClearError(t *testing.T) {
	for _, tc := range []struct {
		name string
		file func(t *testing.T) string
	}{
		{"Freelist", func(t *testing.T) string { return corruptPageFile(t, 3, 2, freelistPage) }},
		{"Root", rootFile},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.file(t)
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var s *Store
			noCrash(t, "Open", func() { s, err = Open(path, WithSweepInterval(0)) })
			if err == nil {
				s.Close()
				t.Fatal("Open of a file with a corrupt page succeeded")
			}
			if !strings.Contains(err.Error(), "corrupt") || !strings.Contains(err.Error(), path) {
				t.Errorf("unclear error: %v", err)
			}
			if after, err := os.ReadFile(path); err != nil || !bytes.Equal(after, before) {
				t.Errorf("Open changed the corrupt file (%v)", err)
			}
			if tc.name == "Freelist" {
				// bbolt.Open panicked: its memory map holds the file open, and
				// its lock where Open cannot release it (no flock; see
				// TestOpenOfAFileWhoseFreelistIsCorruptReleasesItsLock).
				return
			}
			// The file is not left locked: bbolt opens it read-only (a shared
			// lock, which the failed Open's exclusive one would refuse).
			if db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 100 * time.Millisecond, ReadOnly: true}); err != nil {
				t.Errorf("the file after the failed Open: %v", err)
			} else {
				db.Close()
			}
		})
	}
	t.Run("New", func(t *testing.T) {
		path := rootFile(t)
		db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var s *Store
		noCrash(t, "New", func() { s, err = New(db, WithSweepInterval(0)) })
		if err == nil {
			s.Close()
			t.Fatal("New over a database whose root page is corrupt succeeded")
		}
		if !strings.Contains(err.Error(), "corrupt") || !strings.Contains(err.Error(), path) {
			t.Errorf("unclear error: %v", err)
		}
	})
}
