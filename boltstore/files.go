package boltstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/fnv"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

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
// truncated file makes bbolt.Open itself panic or fault). It reports
// whether that commit wrote no freelist (see readPages). It returns nil
// and false when no meta page can be read and checked: a file that is not
// there yet or is empty (bbolt creates it), or is no bbolt file, or whose
// meta pages are both corrupt (bbolt.Open says which), or that a process
// holds for writing (bbolt's exclusive lock): that process may be
// creating it, its meta pages written and the pages after them not yet
// (bbolt writes the four pages of a new file at once, but a reader can
// see the write in part), and bbolt.Open waits for the lock. The check
// runs under a shared lock, which keeps such a process from opening the
// file meanwhile; one that opens it after only ever grows it before it
// commits.
func checkLength(path string) (noFreelistSynced bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return false, nil // bbolt.Open creates it, or reports why not
	}
	defer f.Close() // and releases the lock

	if !sharedLock(f) { // lock_*.go
		return false, nil
	}
	m, ok := lastCommit(f)
	if !ok {
		return false, nil
	}
	need, ok := size(m)
	if !ok {
		return false, nil
	}
	fi, err := f.Stat()
	if err != nil {
		return false, nil
	}
	return m.freelist == noFreelist, truncated(path, fi.Size(), need)
}

// readPages reads, in a read-only bbolt.Open of the file at path, every
// page and key that bbolt's Open of it for writing reads to find its free
// pages, as it does for a file whose last commit wrote no freelist
// (written with NoFreelistSync): bbolt reads them in a goroutine of its
// own, where a panic on a corrupt page, or a fault of its memory map,
// ends the process, beyond any recover of Open's. Run in opening, the
// same reads here panic in the goroutine of Open, which turns that into
// ErrCorruptFile. A read-only bbolt.Open reads no such page (it loads no
// freelist), and takes a shared lock, waiting up to timeout for a process
// that holds the file for writing.
//
// bbolt walks the pages of every bucket that is not inline, each page's
// elements, the keys (in order, which it checks), and the value of each
// nested bucket; and it records every page an overflowing page spans, one
// by one: a page that claims more pages than the file has would make it
// count to 2^32. The cursors here read the same pages, elements, keys and
// bucket values, and Bucket.Stats the same pages and their overflows,
// which must add up to fewer pages than the file's last commit uses.
func readPages(path string, timeout time.Duration) error {
	db, err := bbolt.Open(path, fileMode, &bbolt.Options{Timeout: timeout, ReadOnly: true})
	if err != nil {
		return err
	}
	defer db.Close()
	return db.View(func(tx *bbolt.Tx) error {
		pages := tx.Size() / int64(db.Info().PageSize)
		var used int64
		var sum uint32
		err := tx.ForEach(func(name []byte, b *bbolt.Bucket) error {
			sum = crc32.Update(sum, crc32.IEEETable, name)
			if b == nil {
				return nil
			}
			st := b.Stats()
			used += int64(st.BranchPageN) + int64(st.BranchOverflowN) + int64(st.LeafPageN) + int64(st.LeafOverflowN)
			sum = readKeys(b, sum)
			return nil
		})
		if err == nil && used > pages {
			return fmt.Errorf("%w: %s: its buckets' pages and their overflows add up to %d pages, past the %d its last commit uses; restore it from a backup, or remove it to start with no sessions", ErrCorruptFile, path, used, pages)
		}
		return err
	})
}

// readKeys reads every key of b and of the buckets nested in it, and
// returns sum updated with them (so that the reads are made).
func readKeys(b *bbolt.Bucket, sum uint32) uint32 {
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		sum = crc32.Update(sum, crc32.IEEETable, k)
		if v == nil {
			if child := b.Bucket(k); child != nil {
				sum = readKeys(child, sum)
			}
		}
	}
	return sum
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

// noFreelist is the freelist page id of a commit that wrote no freelist
// (bbolt's NoFreelistSync).
const noFreelist = 1<<64 - 1

// meta is what Open needs of a meta page.
type meta struct {
	pageSize uint32
	freelist uint64 // the freelist's page id, or noFreelist
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
	return meta{pageSize: e.Uint32(m[8:]), freelist: e.Uint64(m[32:]), pages: e.Uint64(m[40:]), txid: e.Uint64(m[48:])}, true
}

// lastCommitSize returns the bytes the pages of the file's last commit
// span, and false if it has no valid meta page.
func lastCommitSize(f io.ReaderAt) (int64, bool) {
	m, ok := lastCommit(f)
	if !ok {
		return 0, false
	}
	return size(m)
}

// lastCommit returns the valid meta page with the higher transaction id
// (bbolt's choice), and false if neither is valid. The second meta page
// is one page into the file; without a valid first one to give the page
// size, it is looked for where bbolt looks, at 1 KiB to 16 MiB.
func lastCommit(f io.ReaderAt) (meta, bool) {
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
		return m0, true
	case ok1:
		return m1, true
	}
	return meta{}, false
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
