package boltstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"

	"go.etcd.io/bbolt"
)

// ErrTruncated is the error of Open and New for a file shorter than the
// pages its last commit uses: a copy cut short, a backup restored halfway,
// a disk that ran out of space while the file was written outside bbolt.
// bbolt maps the file and reads a page when a transaction reaches it, so
// without this check such a file would open without error, and the first
// read of a missing page would crash the process (a fault of the memory
// map, which no recover catches), or bbolt's Open would panic reading its
// freelist. The file is left as it is: restore it from a backup, or remove
// it to start with no sessions.
var ErrTruncated = errors.New("boltstore: the file is truncated")

// ErrCorruptFile is the error of Open and New for a file with a page that
// bbolt cannot read as the file is opened (its freelist, its root): bbolt
// panics on such a page, and Open and New turn that panic into this error,
// naming the file. The file is left as it is: restore it from a backup, or
// remove it. A corrupt page that only a later call reaches panics in that
// call's goroutine (see the package doc).
var ErrCorruptFile = errors.New("boltstore: the file is corrupt")

// opening runs fn, which opens a bbolt file or reads it first, and turns a
// panic of bbolt, or a fault of its memory map (a page id far past the
// file's end), into an error wrapping ErrCorruptFile. Any other panic (of
// a bbolt Logger the application gave bbolt.Open, which bbolt calls as it
// opens and begins transactions) is no corrupt file: it goes on.
func opening(path string, fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if v := recover(); v != nil {
			if !fileFault(v) {
				panic(v)
			}
			err = fmt.Errorf("%w: %s: bbolt panicked reading it: %v; restore it from a backup, or remove it to start with no sessions", ErrCorruptFile, path, v)
		}
	}()
	return fn()
}

// fileFault reports whether the panic v, being recovered by the deferred
// function that calls it, is one of the file: a fault of the memory map
// (a runtime error with the address, which only SetPanicOnFault gives; a
// nil dereference has none), or a panic raised in bbolt's code, its own
// (an invalid page) or the runtime's (an index out of range on a page):
// the first function on the stack above the panic outside the runtime is
// bbolt's.
func fileFault(v any) bool {
	if f, ok := v.(interface{ Addr() uintptr }); ok {
		if _, ok := v.(runtime.Error); ok && f.Addr() != 0 {
			return true
		}
	}
	var pcs [64]uintptr
	frames := runtime.CallersFrames(pcs[:runtime.Callers(3, pcs[:])]) // past Callers, fileFault, the deferred function
	for inPanic := false; ; {
		f, more := frames.Next()
		switch {
		case !inPanic:
			inPanic = f.Function == "runtime.gopanic"
		case strings.HasPrefix(f.Function, "runtime."):
		default:
			return strings.HasPrefix(f.Function, "go.etcd.io/bbolt.") || strings.HasPrefix(f.Function, "go.etcd.io/bbolt/")
		}
		if !more {
			return false
		}
	}
}

// truncated returns an error wrapping ErrTruncated if the file at path,
// size bytes long, is shorter than need, the bytes its last commit uses.
func truncated(path string, size, need int64) error {
	if size >= need {
		return nil
	}
	return fmt.Errorf("%w: %s has %d bytes, where its last commit uses %d: restore it from a backup, or remove it to start with no sessions", ErrTruncated, path, size, need)
}

// checkLength compares the size of the bbolt file at path with the bytes
// its last commit uses, read from its meta pages, before bbolt maps it (a
// truncated file makes bbolt.Open itself panic or fault). It returns nil
// when no meta page can be read and checked: a file that is not there yet
// or is empty (bbolt creates it), or is no bbolt file, or whose meta pages
// are both corrupt (bbolt.Open says which), or that a process holds for
// writing (bbolt's exclusive lock): that process may be creating it, its
// meta pages written and the pages after them not yet (bbolt writes the
// four pages of a new file at once, but a reader can see the write in
// part), and bbolt.Open waits for the lock. The check runs under a shared
// lock, which keeps such a process from opening the file meanwhile; one
// that opens it after only ever grows it before it commits.
func checkLength(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return nil // bbolt.Open creates it, or reports why not
	}
	defer f.Close() // and releases the lock

	if !sharedLock(f) { // lock_*.go
		return nil
	}
	need, ok := lastCommitSize(f)
	if !ok {
		return nil
	}
	fi, err := f.Stat()
	if err != nil {
		return nil
	}
	return truncated(path, fi.Size(), need)
}

// The meta page of a bbolt file (format version 2): a 16-byte page header,
// then, in the machine's byte order, magic, version, page size and flags
// (4 bytes each), the root bucket (page id, sequence), the freelist's page
// id, the high water mark (the number of pages in use), the transaction id
// and an FNV-64a checksum of the fields before it (8 bytes each).
const (
	metaOffset   = 16
	metaMagic    = 0xED0CDAED
	metaVersion  = 2
	metaLen      = 64
	metaSumBytes = 56
)

// meta is what lastCommitSize needs of a meta page.
type meta struct {
	pageSize uint32
	pages    uint64 // the high water mark
	txid     uint64
}

// readMeta reads the meta page at off, and reports whether it is valid.
func readMeta(f io.ReaderAt, off int64) (meta, bool) {
	var buf [metaOffset + metaLen]byte
	if _, err := f.ReadAt(buf[:], off); err != nil {
		return meta{}, false
	}
	m := buf[metaOffset:]
	e := binary.NativeEndian
	h := fnv.New64a()
	h.Write(m[:metaSumBytes])
	if e.Uint32(m[0:]) != metaMagic || e.Uint32(m[4:]) != metaVersion || e.Uint64(m[56:]) != h.Sum64() {
		return meta{}, false
	}
	return meta{pageSize: e.Uint32(m[8:]), pages: e.Uint64(m[40:]), txid: e.Uint64(m[48:])}, true
}

// lastCommitSize returns the bytes the pages of the file's last commit
// span, from the valid meta page with the higher transaction id (bbolt's
// choice), and false if neither meta page is valid. The second meta page
// is one page into the file; without a valid first one to give the page
// size, it is looked for where bbolt looks, at 1 KiB to 16 MiB.
func lastCommitSize(f io.ReaderAt) (int64, bool) {
	m0, ok0 := readMeta(f, 0)
	var m1 meta
	ok1 := false
	if ok0 {
		m1, ok1 = readMeta(f, int64(m0.pageSize))
	} else {
		for i := range 15 {
			if m1, ok1 = readMeta(f, 1024<<i); ok1 {
				break
			}
		}
	}
	switch {
	case ok0 && (!ok1 || m0.txid >= m1.txid):
		return size(m0)
	case ok1:
		return size(m1)
	}
	return 0, false
}

// size returns the bytes m's pages span, and false if that overflows.
func size(m meta) (int64, bool) {
	if m.pageSize == 0 || m.pages > uint64(1<<62)/uint64(m.pageSize) {
		return 0, false
	}
	return int64(m.pages) * int64(m.pageSize), true
}

// checkDB is checkLength for a database bbolt has opened (New): its last
// commit's size is the transaction's, and the file it checks is the one
// bbolt opened, not the one at its path now, which a file renamed over it
// may be (a backup restored, a deploy moving a new file in place).
func checkDB(db *bbolt.DB) error {
	var need, size int64
	err := db.View(func(tx *bbolt.Tx) error {
		need = tx.Size()
		var p lengthProbe
		_, err := tx.WriteTo(&p)
		size = p.size
		if errors.Is(err, errProbed) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil
		}
		return err
	})
	if err != nil {
		return nil // the store's first transaction reports it
	}
	return truncated(db.Path(), size, need)
}

// errProbed ends a lengthProbe's WriteTo once it has the length.
var errProbed = errors.New("boltstore: length probed")

// lengthProbe is the writer of a Tx.WriteTo that learns the length of the
// file bbolt opened: bbolt has no method that gives its *os.File, and its
// WriteTo reads the pages after the meta pages from that file (not from
// the path, which it documents as the fix for a file renamed over it). It
// writes the meta pages, then copies the rest as an *io.LimitedReader over
// an *io.SectionReader of the file: ReadFrom takes the file's length from
// the file under it, reading nothing. Given any other reader, it reads
// what there is, and the length is the bytes read, fewer than the last
// commit uses only if the file is shorter.
type lengthProbe struct{ size int64 }

func (p *lengthProbe) Write(b []byte) (int, error) {
	p.size += int64(len(b))
	return len(b), nil
}

func (p *lengthProbe) ReadFrom(r io.Reader) (int64, error) {
	if lr, ok := r.(*io.LimitedReader); ok {
		if sr, ok := lr.R.(*io.SectionReader); ok {
			if f, ok := outer(sr).(interface{ Stat() (os.FileInfo, error) }); ok {
				if fi, err := f.Stat(); err == nil {
					p.size = fi.Size()
					return 0, errProbed
				}
			}
		}
	}
	n, err := io.Copy(io.Discard, r)
	p.size += n
	return n, err
}

// outer returns the reader under sr.
func outer(sr *io.SectionReader) io.ReaderAt {
	r, _, _ := sr.Outer()
	return r
}
