package boltstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// wholeFile writes n sessions of 500 bytes to a fresh file in dir, and
// returns its path and size.
func wholeFile(t *testing.T, dir string, n int) (string, int64) {
	t.Helper()
	path := filepath.Join(dir, fmt.Sprintf("whole%d.db", n))
	s, err := Open(path, WithSweepInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour).UnixNano()
	err = s.DB().Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(s.bucket)
		for i := range n {
			if err := b.Put(fmt.Appendf(nil, "id%d", i), encode(exp, uint64(i+1), make([]byte, 500))); err != nil {
				return err
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
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, fi.Size()
}

// TestNewChecksTheLengthOfTheFileItsDatabaseOpened: New compares the
// bytes the database's last commit uses with the length of its file, and
// took the length of the file at the database's path, not of the one
// bbolt opened: a file renamed over that path in between (a backup
// restored, a deploy moving a new file in place) was checked in its
// place. Over a database whose file was cut short, New succeeded because
// the new file at the path was long enough, and the first read of a
// missing page crashed the process; over a whole database, New failed
// with ErrTruncated because the new file was shorter. New now checks the
// length of the file bbolt opened.
func TestNewChecksTheLengthOfTheFileItsDatabaseOpened(t *testing.T) {
	t.Run("TruncatedReplacedByAWholeFile", func(t *testing.T) {
		path, need := truncatedFile(t, false)
		restored, size := wholeFile(t, t.TempDir(), 2500)
		if size < need {
			t.Fatalf("the restored file has %d bytes, fewer than the %d the truncated one's last commit uses", size, need)
		}
		db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := os.Rename(restored, path); err != nil {
			t.Fatal(err)
		}
		var s *Store
		noCrash(t, "New", func() { s, err = New(db, WithSweepInterval(0)) })
		if err == nil {
			noCrash(t, "Count", func() { _, err = s.Count(context.Background()) })
			s.Close()
			t.Fatalf("New over a database whose file is cut short of the %d bytes its last commit uses succeeded, a whole file renamed over its path (Count: %v)", need, err)
		}
		if !errors.Is(err, ErrTruncated) || !strings.Contains(err.Error(), path) {
			t.Errorf("unclear error: %v", err)
		}
	})
	t.Run("WholeReplacedByAShorterFile", func(t *testing.T) {
		dir := t.TempDir()
		path, _ := wholeFile(t, dir, 2000)
		other, _ := wholeFile(t, dir, 1)
		db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := os.Rename(other, path); err != nil {
			t.Fatal(err)
		}
		s, err := New(db, WithSweepInterval(0))
		if err != nil {
			t.Fatalf("New over a whole database, a shorter file renamed over its path: %v", err)
		}
		defer s.Close()
		if n, err := s.Count(context.Background()); err != nil || n != 2000 {
			t.Errorf("Count = %d, %v; want the 2000 sessions of the database New was given", n, err)
		}
	})
}
