package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// unsyncedPages opens the file at path, last written with NoFreelistSync,
// and returns its page size and the ids of its pages of type typ that hold
// more than one element, in order.
func unsyncedPages(t *testing.T, path, typ string) (pageSize int64, ids []int64) {
	t.Helper()
	db, err := bbolt.Open(path, fileMode, &bbolt.Options{Timeout: time.Second, NoFreelistSync: true, ReadOnly: true, PreLoadFreelist: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	pageSize = int64(db.Info().PageSize)
	err = db.View(func(tx *bbolt.Tx) error {
		for id := range tx.Size() / pageSize {
			if p, err := tx.Page(int(id)); err != nil {
				return err
			} else if p != nil && p.Type == typ && p.Count > 1 {
				ids = append(ids, id)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) == 0 {
		t.Fatalf("no %s page in the file", typ)
	}
	return pageSize, ids
}

// writeAt writes b at off in the file at path.
func writeAt(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// openInAProcess opens the store at path in a process of its own (a
// corrupt page that bbolt reads in a goroutine of its own ends the
// process), and fails the test unless Open failed there with
// ErrCorruptFile, naming the file, and left the file as it was.
func openInAProcess(t *testing.T, path string) {
	t.Helper()
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestOpenOfACorruptFileWithoutAFreelistFailsWithAClearError$", "-test.count=1")
	cmd.Env = append(os.Environ(), "BOLTSTORE_TEST_UNSYNCED_OPEN="+path)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("Open of a file without a freelist, with a corrupt page, in a process of its own: %v\n%.3000s", err, out)
	}
	if after, err := os.ReadFile(path); err != nil || !bytes.Equal(after, before) {
		t.Errorf("Open changed the corrupt file (%v)", err)
	}
}

// TestOpenOfAFileWithoutAFreelistWithACorruptBranchPageFailsWithAClearError:
// bbolt's Open of a file without a freelist walks its pages in a goroutine
// of its own and compares every key of every branch page with its
// neighbours, and Open's own walk first read the keys of leaf pages only:
// a branch page whose key lies past the file (a page overwritten in part)
// passed it, and bbolt's walk faulted reading the key, ending the process.
// And a branch page that names itself as its child (a cycle) made Open's
// walk recurse until the stack overflowed, a crash too, where bbolt's
// walk reports a page referenced twice in the goroutine of Open, whose
// recover turns it into ErrCorruptFile. Open now fails with
// ErrCorruptFile in both cases.
func TestOpenOfAFileWithoutAFreelistWithACorruptBranchPageFailsWithAClearError(t *testing.T) {
	e := binary.NativeEndian
	for _, tc := range []struct {
		name    string
		corrupt func(pageSize, branch int64) (off int64, b []byte)
	}{
		{"KeyPastTheFile", func(pageSize, branch int64) (int64, []byte) {
			// the second element's key position, 1 GiB on
			return branch*pageSize + pageHeaderSize + elementSize, e.AppendUint32(nil, 1<<30)
		}},
		{"KeySizePastThePage", func(pageSize, branch int64) (int64, []byte) {
			return branch*pageSize + pageHeaderSize + elementSize + 4, e.AppendUint32(nil, 1<<31)
		}},
		{"ChildIsItself", func(pageSize, branch int64) (int64, []byte) {
			return branch*pageSize + pageHeaderSize + 8, e.AppendUint64(nil, uint64(branch))
		}},
		{"ChildPastTheFile", func(pageSize, branch int64) (int64, []byte) {
			return branch*pageSize + pageHeaderSize + elementSize + 8, e.AppendUint64(nil, 1<<40)
		}},
		{"CountPastThePage", func(pageSize, branch int64) (int64, []byte) {
			return branch*pageSize + 10, e.AppendUint16(nil, 0xffff)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, _, _ := unsyncedFile(t)
			pageSize, branches := unsyncedPages(t, path, "branch")
			off, b := tc.corrupt(pageSize, branches[0])
			writeAt(t, path, off, b)
			openInAProcess(t, path)
		})
	}
}

// TestOpenOfAFileWithoutAFreelistWithACorruptLeafPageFailsWithAClearError:
// a leaf element whose key or value lies past the file, or a page that
// claims to span more pages than the file has, fails Open with
// ErrCorruptFile, as a page that is no page does.
func TestOpenOfAFileWithoutAFreelistWithACorruptLeafPageFailsWithAClearError(t *testing.T) {
	e := binary.NativeEndian
	for _, tc := range []struct {
		name    string
		corrupt func(pageSize, leaf int64) (off int64, b []byte)
	}{
		{"KeyPastTheFile", func(pageSize, leaf int64) (int64, []byte) {
			return leaf*pageSize + pageHeaderSize + elementSize + 4, e.AppendUint32(nil, 1<<30)
		}},
		{"OverflowPastTheFile", func(pageSize, leaf int64) (int64, []byte) {
			return leaf*pageSize + 12, e.AppendUint32(nil, 1<<31)
		}},
		{"BadPageID", func(pageSize, leaf int64) (int64, []byte) {
			return leaf * pageSize, e.AppendUint64(nil, uint64(leaf+1))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, _, _ := unsyncedFile(t)
			pageSize, leaves := unsyncedPages(t, path, "leaf")
			off, b := tc.corrupt(pageSize, leaves[0])
			writeAt(t, path, off, b)
			openInAProcess(t, path)
		})
	}
}

// TestOpenOfAFileWithoutAFreelistWithAUserIndexKeepsItsSessions: Open
// walks the buckets nested in the user index of a file without a
// freelist as bbolt does, and a whole one opens with its sessions and
// users; one whose nested bucket's page is corrupt fails with
// ErrCorruptFile.
func TestOpenOfAFileWithoutAFreelistWithAUserIndexKeepsItsSessions(t *testing.T) {
	build := func(t *testing.T) string {
		path := filepath.Join(t.TempDir(), "sessions.db")
		s, err := Open(path, WithSweepInterval(0))
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		exp := time.Now().Add(time.Hour)
		for i := range 400 {
			id := fmt.Sprintf("id%03d", i)
			if err := s.Set(ctx, id, make([]byte, 100), exp); err != nil {
				t.Fatal(err)
			}
			if err := s.IndexUserSession(ctx, fmt.Sprint("user", i%2), id, exp, exp); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		// a last commit without a freelist
		db, err := bbolt.Open(path, fileMode, &bbolt.Options{Timeout: time.Second, NoFreelistSync: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Update(func(tx *bbolt.Tx) error {
			return tx.Bucket([]byte(DefaultBucket)).Put([]byte("zz"), encode(exp.UnixNano(), 1, nil))
		}); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		return path
	}
	t.Run("Whole", func(t *testing.T) {
		path := build(t)
		s, err := Open(path, WithSweepInterval(0))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		n, err := s.Count(context.Background())
		if err != nil || n != 401 {
			t.Fatalf("Count = %d, %v; want 401", n, err)
		}
		var ids int
		if err := s.UserSessions(context.Background(), "user1", func(string, time.Time, time.Time, []byte) { ids++ }); err != nil || ids != 200 {
			t.Fatalf("user1 has %d sessions (%v); want 200", ids, err)
		}
	})
	t.Run("NestedBranchKeyPastTheFile", func(t *testing.T) {
		path := build(t)
		pageSize, branches := unsyncedPages(t, path, "branch")
		// the last branch page: the user index's nested buckets are
		// written after the sessions'
		writeAt(t, path, branches[len(branches)-1]*pageSize+pageHeaderSize+elementSize, binary.NativeEndian.AppendUint32(nil, 1<<30))
		openInAProcess(t, path)
	})
}
