package boltstore

import (
	"bytes"
	"encoding/binary"
	"hash/fnv"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// FuzzLengthCheckOfAnyFileStart gives lastCommitSize, which Open runs on a
// file before bbolt maps it, any bytes as the start of the file (a damaged
// file, another program's, a hand edit): it never panics, and a size it
// reports comes from a meta page that carries the magic, the version and
// its checksum, and is a whole number of that page's pages. The seeds are
// the two meta pages of a real bbolt file, at 1 KiB and 4 KiB pages.
func FuzzLengthCheckOfAnyFileStart(f *testing.F) {
	for _, pageSize := range []int{1024, 4096} {
		path := filepath.Join(f.TempDir(), "seed.db")
		db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second, PageSize: pageSize})
		if err != nil {
			f.Fatal(err)
		}
		db.Close()
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b[:2*pageSize])
	}
	f.Add([]byte{})
	f.Add(make([]byte, 2048))
	f.Fuzz(func(t *testing.T, start []byte) {
		size, ok := lastCommitSize(bytes.NewReader(start))
		if !ok {
			return
		}
		if size <= 0 {
			t.Fatalf("lastCommitSize = %d, true; want a positive size", size)
		}
		// Some meta page in start is valid and gives this size.
		for off := 0; off+metaOffset+metaLen <= len(start); off++ {
			m := start[off+metaOffset : off+metaOffset+metaLen]
			e := binary.NativeEndian
			h := fnv.New64a()
			h.Write(m[:metaSumBytes])
			if e.Uint32(m[0:]) != metaMagic || e.Uint32(m[4:]) != metaVersion || e.Uint64(m[56:]) != h.Sum64() {
				continue
			}
			if pageSize := int64(e.Uint32(m[8:])); pageSize > 0 && int64(e.Uint64(m[40:]))*pageSize == size && size%pageSize == 0 {
				return
			}
		}
		t.Fatalf("lastCommitSize = %d, true; no valid meta page in the %d bytes gives it", size, len(start))
	})
}
