package boltstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// truncatedFile writes 2,000 sessions to a fresh file, deletes half of
// them, closes it, and cuts
// it short: to half the pages its last commit uses, and to fewer if
// needed so that its freelist page is cut off (freelistCut) or kept. It
// returns the path, and the bytes the last commit needs.
func truncatedFile(t *testing.T, freelistCut bool) (path string, need int64) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "sessions.db")
	s, err := Open(path, WithSweepInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	db := s.DB()
	exp := time.Now().Add(time.Hour).UnixNano()
	err = db.Update(func(tx *bbolt.Tx) error { // one commit: the test needs pages, not fsyncs
		b := tx.Bucket(s.bucket)
		for i := range 2000 {
			if err := b.Put(fmt.Appendf(nil, "id%d", i), encode(exp, uint64(i+1), make([]byte, 500))); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Deleting the first half frees pages low in the file, and the small
	// commits after it write the freelist to one of them.
	err = db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(s.bucket)
		for i := range 1000 {
			if err := b.Delete(fmt.Appendf(nil, "id%d", i)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		mustSet(t, s, fmt.Sprint("late", i), "x", time.Now().Add(time.Hour))
	}
	pageSize := int64(db.Info().PageSize)
	var freelist int64
	err = db.View(func(tx *bbolt.Tx) error {
		need = tx.Size()
		for id := range need / pageSize {
			p, err := tx.Page(int(id))
			if err != nil {
				return err
			}
			if p != nil && p.Type == "freelist" {
				freelist = id
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	keep := need / pageSize / 2
	if freelistCut {
		keep = min(keep, freelist)
	} else if freelist >= keep {
		t.Fatalf("the freelist is on page %d of %d: cutting the file to half its pages cuts it off", freelist, need/pageSize)
	}
	if err := os.Truncate(path, keep*pageSize); err != nil {
		t.Fatal(err)
	}
	return path, need
}

// noCrash runs f with faults on bbolt's memory map turned into panics, and
// fails the test if f panicked: the store's code without the check let a
// read of a page past the end of the file crash the process (a fault,
// which no recover catches) or made bbolt panic.
func noCrash(t *testing.T, what string, f func()) {
	t.Helper()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if v := recover(); v != nil {
			t.Fatalf("%s panicked (without SetPanicOnFault, a fault kills the process): %v", what, v)
		}
	}()
	f()
}

// TestOpenOfATruncatedFileFailsWithAClearError: a file cut short (a copy
// that ran out of disk, a backup restored halfway) was opened as if whole:
// with its last pages gone, Open returned no error and the first read of a
// page past the end crashed the process with a fault that no recover
// catches; with more gone, bbolt's Open panicked reading its freelist. Open
// now compares the file's size with what its last commit uses, before
// bbolt maps it, and fails with an error that says the file is truncated,
// leaving the file as it is.
func TestOpenOfATruncatedFileFailsWithAClearError(t *testing.T) {
	for _, freelistCut := range []bool{false, true} {
		t.Run(fmt.Sprintf("freelistCut=%v", freelistCut), func(t *testing.T) {
			path, need := truncatedFile(t, freelistCut)
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var s *Store
			noCrash(t, "Open", func() { s, err = Open(path, WithSweepInterval(0)) })
			if err == nil {
				noCrash(t, "Count", func() { _, err = s.Count(context.Background()) })
				s.Close()
				t.Fatalf("Open of a file of %d bytes whose last commit uses %d succeeded (Count: %v)", len(before), need, err)
			}
			if !errors.Is(err, ErrTruncated) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), fmt.Sprint(need)) {
				t.Errorf("unclear error: %v", err)
			}
			after, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(after) != string(before) {
				t.Errorf("Open changed the truncated file: %d bytes before, %d after", len(before), len(after))
			}
		})
	}
}

// TestNewOverATruncatedDatabaseFailsWithAClearError: bbolt.Open of a file
// that lost its last pages succeeds (the pages are read only when a
// transaction reaches them), and New returned a store whose first read of
// such a page crashed the process. New now fails with an error that says
// the file is truncated.
func TestNewOverATruncatedDatabaseFailsWithAClearError(t *testing.T) {
	path, need := truncatedFile(t, false)
	for _, readOnly := range []bool{false, true} {
		db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second, ReadOnly: readOnly})
		if err != nil {
			t.Fatalf("bbolt.Open of the file cut to half its pages (read-only %v): %v", readOnly, err)
		}
		var s *Store
		noCrash(t, "New", func() { s, err = New(db, WithSweepInterval(0)) })
		if err == nil {
			noCrash(t, "Count", func() { _, err = s.Count(context.Background()) })
			s.Close()
			db.Close()
			t.Fatalf("New over a database of a file cut short of the %d bytes its last commit uses succeeded (read-only %v; Count: %v)", need, readOnly, err)
		}
		if !errors.Is(err, ErrTruncated) || !strings.Contains(err.Error(), path) {
			t.Errorf("unclear error (read-only %v): %v", readOnly, err)
		}
		db.Close()
	}
}

// TestLengthCheckReadsEitherMetaPageOfAnyPageSize: the check before bbolt
// maps the file reads the size of the last commit from a file of another
// page size than the machine's, and from its second meta page when the
// first is unreadable, as bbolt does; a whole file of each kind opens.
func TestLengthCheckReadsEitherMetaPageOfAnyPageSize(t *testing.T) {
	for _, pageSize := range []int{1024, 16384} {
		path := filepath.Join(t.TempDir(), "sessions.db")
		db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second, PageSize: pageSize})
		if err != nil {
			t.Fatal(err)
		}
		s, err := New(db, WithSweepInterval(0))
		if err != nil {
			t.Fatal(err)
		}
		for i := range 50 {
			mustSet(t, s, fmt.Sprint("id", i), strings.Repeat("x", 300), time.Now().Add(time.Hour))
		}
		var need int64
		if err := db.View(func(tx *bbolt.Tx) error { need = tx.Size(); return nil }); err != nil {
			t.Fatal(err)
		}
		s.Close()
		db.Close()
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := lastCommitSize(f); !ok || got != need {
			t.Errorf("page size %d: lastCommitSize = %d, %v; want %d, true", pageSize, got, ok, need)
		}
		// The first meta page unreadable: the second has the commit
		// before the last, which bbolt falls back to.
		if _, err := f.WriteAt(make([]byte, 512), 0); err != nil {
			t.Fatal(err)
		}
		if got, ok := lastCommitSize(f); !ok || got <= 0 || got > need {
			t.Errorf("page size %d, first meta page zeroed: lastCommitSize = %d, %v; want the second's, at most %d", pageSize, got, ok, need)
		}
		f.Close()
		s2, err := Open(path, WithSweepInterval(0))
		if err != nil {
			t.Fatalf("page size %d: Open of the whole file, first meta page zeroed: %v", pageSize, err)
		}
		s2.Close()
	}
}
