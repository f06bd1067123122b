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

// readPages reads, under the shared lock of a read-only bbolt.Open of the
// file at path, every page and key that bbolt's Open of it for writing
// reads to find its free pages, as it does for a file whose last commit
// wrote no freelist (written with NoFreelistSync): bbolt reads them in a
// goroutine of its own, where a panic on a corrupt page, or a fault of its
// memory map, ends the process, beyond any recover of Open's. A read-only
// bbolt.Open reads no such page (it loads no freelist), and takes a shared
// lock, waiting up to timeout for a process that holds the file for
// writing.
//
// bbolt walks the pages of every bucket that is not inline, from the root
// bucket down: each page (its id and type checked, a panic if wrong),
// every page an overflowing page spans (one by one: a page that claims
// more pages than the file has would make it count to 2^32), every key of
// every branch and leaf page (compared with its neighbours), and the
// value of each nested bucket. pageWalk reads the same from the file,
// with ReadAt, not through a memory map, and fails with ErrCorruptFile on
// anything that is not within the file's last commit: a page id, its
// type, its span, an element or key or bucket value past its page, or a
// page reached twice (bbolt reports that, and a page that is its own
// child would make a walk recurse without end). A page that passes is one
// bbolt's walk reads without a panic or a fault.
func readPages(path string, timeout time.Duration) error {
	db, err := bbolt.Open(path, fileMode, &bbolt.Options{Timeout: timeout, ReadOnly: true})
	if err != nil {
		return err
	}
	defer db.Close()
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	m, ok := lastCommit(f)
	if !ok {
		return nil // bbolt.Open says why
	}
	if m.pageSize < pageHeaderSize || m.pages > uint64(1<<62)/uint64(m.pageSize) {
		return nil
	}
	w := pageWalk{f: f, pageSize: int64(m.pageSize), pages: m.pages, seen: make([]uint64, (m.pages+63)/64)}
	if err := w.tree(m.root, 0); err != nil {
		return fmt.Errorf("%w: %s: %v; restore it from a backup, or remove it to start with no sessions", ErrCorruptFile, path, err)
	}
	return nil
}

// The layout of a bbolt page: a 16-byte header (its id, 8 bytes; its
// flags and element count, 2 bytes each; the pages it spans past its
// own, 4 bytes), then its elements, 16 bytes each: on a branch page the
// key's position (from the element) and size, 4 bytes each, and the child
// page's id; on a leaf page flags, the key's position and size, and the
// value's size, 4 bytes each. A nested bucket's value begins with its
// root page id (0 for a bucket inline in its value) and sequence.
const (
	pageHeaderSize   = 16
	elementSize      = 16
	bucketHeaderSize = 16
	branchPage       = 0x01
	leafPage         = 0x02
	bucketElement    = 0x01
)

// pageWalk reads the pages of a bbolt file's buckets, as bbolt's Open of
// a file without a freelist does (readPages).
type pageWalk struct {
	f        io.ReaderAt
	pageSize int64
	pages    uint64   // the high water mark
	seen     []uint64 // a bit a page
	bufs     [][]byte // a page buffer a level of the tree
}

// tree reads the page id at depth and the pages and nested buckets under it.
func (w *pageWalk) tree(id uint64, depth int) error {
	p, err := w.page(id, depth)
	if err != nil {
		return err
	}
	e := binary.NativeEndian
	flags, count := e.Uint16(p[8:]), uint64(e.Uint16(p[10:]))
	if pageHeaderSize+count*elementSize > uint64(len(p)) {
		return fmt.Errorf("page %d: its %d elements run past its end", id, count)
	}
	for i := range count {
		el := pageHeaderSize + i*elementSize
		var pos, ksize, vsize uint64
		if flags == branchPage {
			pos, ksize = uint64(e.Uint32(p[el:])), uint64(e.Uint32(p[el+4:]))
		} else {
			pos, ksize, vsize = uint64(e.Uint32(p[el+4:])), uint64(e.Uint32(p[el+8:])), uint64(e.Uint32(p[el+12:]))
		}
		if el+pos+ksize+vsize > uint64(len(p)) {
			return fmt.Errorf("page %d: element %d's key or value lies past the page", id, i)
		}
		switch {
		case flags == branchPage:
			if err := w.tree(e.Uint64(p[el+8:]), depth+1); err != nil {
				return err
			}
		case e.Uint32(p[el:])&bucketElement != 0:
			if vsize < bucketHeaderSize {
				return fmt.Errorf("page %d: element %d is a bucket of %d bytes", id, i, vsize)
			}
			if root := e.Uint64(p[el+pos+ksize:]); root != 0 { // 0: inline, which bbolt skips
				if err := w.tree(root, depth+1); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// page reads the page id, and the pages it spans, into the buffer of
// depth, checking its id, its type, that its span is within the file's
// last commit, and that no page of it was read before.
func (w *pageWalk) page(id uint64, depth int) ([]byte, error) {
	if id < 2 || id >= w.pages {
		return nil, fmt.Errorf("page id %d is not within the %d pages of the file's last commit", id, w.pages)
	}
	for len(w.bufs) <= depth {
		w.bufs = append(w.bufs, make([]byte, w.pageSize))
	}
	p := w.bufs[depth][:pageHeaderSize]
	if _, err := w.f.ReadAt(p, int64(id)*w.pageSize); err != nil {
		return nil, fmt.Errorf("page %d: %v", id, err)
	}
	e := binary.NativeEndian
	if got := e.Uint64(p); got != id {
		return nil, fmt.Errorf("page %d says it is page %d", id, got)
	}
	if flags := e.Uint16(p[8:]); flags != branchPage && flags != leafPage {
		return nil, fmt.Errorf("page %d is no branch or leaf page (flags %#x)", id, flags)
	}
	overflow := uint64(e.Uint32(p[12:]))
	if overflow >= w.pages-id {
		return nil, fmt.Errorf("page %d spans %d pages more, past the %d of the file's last commit", id, overflow, w.pages)
	}
	for i := id; i <= id+overflow; i++ {
		if w.seen[i/64]&(1<<(i%64)) != 0 {
			return nil, fmt.Errorf("page %d is reached twice", i)
		}
		w.seen[i/64] |= 1 << (i % 64)
	}
	n := int64(overflow+1) * w.pageSize
	if int64(cap(w.bufs[depth])) < n {
		w.bufs[depth] = make([]byte, n)
	}
	p = w.bufs[depth][:n]
	if _, err := w.f.ReadAt(p, int64(id)*w.pageSize); err != nil {
		return nil, fmt.Errorf("page %d: %v", id, err)
	}
	return p, nil
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
	root     uint64 // the root bucket's page id
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
	return meta{pageSize: e.Uint32(m[8:]), root: e.Uint64(m[16:]), freelist: e.Uint64(m[32:]), pages: e.Uint64(m[40:]), txid: e.Uint64(m[48:])}, true
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
