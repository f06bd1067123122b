package boltstore

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// unsyncedFile writes 300 sessions to a fresh file with bbolt's
// NoFreelistSync, as a program that shares the file through New, or
// etcd's tools, may: its last commit records no freelist, and bbolt's
// Open finds the free pages by reading every page in use. It returns the
// path, and the id of the last leaf page of the sessions, a leaf a
// transaction reaches only when it reads its sessions.
func unsyncedFile(t *testing.T) (path string, leaf int64, pageSize int64) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "sessions.db")
	db, err := bbolt.Open(path, fileMode, &bbolt.Options{Timeout: time.Second, NoFreelistSync: true})
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour).UnixNano()
	err = db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucket([]byte(DefaultBucket))
		if err != nil {
			return err
		}
		for i := range 300 {
			if err := b.Put(fmt.Appendf(nil, "id%03d", i), encode(exp, uint64(i+1), make([]byte, 100))); err != nil {
				return err
			}
		}
		return nil
	})
	pageSize = int64(db.Info().PageSize)
	if err == nil {
		err = db.View(func(tx *bbolt.Tx) error {
			for id := range tx.Size() / pageSize {
				if p, err := tx.Page(int(id)); err != nil {
					return err
				} else if p != nil && p.Type == "leaf" && p.Count > 1 {
					leaf = id
				}
			}
			return nil
		})
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if m, ok := lastCommit(f); !ok || m.freelist != noFreelist {
		t.Fatalf("the file's last commit records a freelist (%v): %+v", ok, m)
	}
	if leaf == 0 {
		t.Fatal("no leaf of sessions in the file")
	}
	return path, leaf, pageSize
}

// TestOpenOfACorruptFileWithoutAFreelistFailsWithAClearError: a file
// whose last commit records no freelist (written with NoFreelistSync)
// makes bbolt's Open read every page in use to find the free ones, in a
// goroutine of its own: a corrupt page there (one a disk or a copy filled
// with bytes that are no page) made bbolt panic in that goroutine, which
// no recover of Open's reaches, and the process crashed as it opened
// the store. Open now reads those pages itself first, in its own
// goroutine and guard, and fails with ErrCorruptFile, naming the file,
// which it leaves as it is. (The test opens the file in a process of its
// own: the crash was the process's.)
func TestOpenOfACorruptFileWithoutAFreelistFailsWithAClearError(t *testing.T) {
	if path := os.Getenv("BOLTSTORE_TEST_UNSYNCED_OPEN"); path != "" {
		s, err := Open(path, WithSweepInterval(0))
		if err == nil {
			s.Close()
			t.Fatal("Open of a file with a corrupt page succeeded")
		}
		if !errors.Is(err, ErrCorruptFile) || !strings.Contains(err.Error(), path) {
			t.Fatalf("unclear error: %v", err)
		}
		return
	}
	path, leaf, pageSize := unsyncedFile(t)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(bytes.Repeat([]byte{0xff, 0x13}, int(pageSize/2)), leaf*pageSize); err != nil {
		t.Fatal(err)
	}
	f.Close()
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), "BOLTSTORE_TEST_UNSYNCED_OPEN="+path)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("Open of a file without a freelist, with a corrupt page, in a process of its own: %v\n%s", err, out)
	}
	if after, err := os.ReadFile(path); err != nil || !bytes.Equal(after, before) {
		t.Errorf("Open changed the corrupt file (%v)", err)
	}
}

// TestOpenOfAWholeFileWithoutAFreelistKeepsItsSessions: Open reads the
// pages of a file without a freelist before bbolt's Open does, and a
// whole file opens with its sessions, its freelist written by the first
// commit, as bbolt does for a program that syncs it.
func TestOpenOfAWholeFileWithoutAFreelistKeepsItsSessions(t *testing.T) {
	path, _, _ := unsyncedFile(t)
	s, err := Open(path, WithSweepInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.Count(t.Context())
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err != nil || n != 300 {
		t.Fatalf("Count = %d, %v; want the file's 300 sessions", n, err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if m, ok := lastCommit(f); !ok || m.freelist == noFreelist {
		t.Errorf("the file's last commit, after Open, records no freelist (%v)", ok)
	}
}
