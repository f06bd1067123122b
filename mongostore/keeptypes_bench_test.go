package mongostore

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkSessionValueKeepingTypes is the conversion of a compare-and-swap
// with WithStringify(false) over a session of keys top-level objects, one
// of which changed: without a stored session to keep the types of (prev
// nil, a create's) and with one (keepTypes), which costs a second parse and
// a write of the stored values' JSON, but no more than that per key.
//
//	go test -run '^$' -bench SessionValueKeepingTypes ./mongostore
func BenchmarkSessionValueKeepingTypes(b *testing.B) {
	session := func(keys int, changed bool) []byte {
		var s strings.Builder
		s.WriteString(`{"cookie":{"originalMaxAge":3600000,"expires":"2030-01-01T00:00:00.000Z","httpOnly":true,"path":"/"}`)
		for i := range keys {
			n := 1
			if changed && i == keys/2 {
				n = 2
			}
			fmt.Fprintf(&s, `,"k%05d":{"at":"2026-11-22T09:59:00.123Z","id":"6b0e635ee89075c14d84eb42","n":%d,"l":[1,2,"x"]}`, i, n)
		}
		s.WriteString("}")
		return []byte(s.String())
	}
	st := &Store{cfg: config{stringify: false}}
	for _, keys := range []int{3, 100, 1000, 5000} {
		_, v, err := st.sessionValue(session(keys, false))
		if err != nil {
			b.Fatal(err)
		}
		prev, next := []byte(v[len(versionObject):]), session(keys, true)
		for _, c := range []struct {
			name string
			prev []byte
		}{{"create", nil}, {"keeping", prev}} {
			b.Run(fmt.Sprintf("keys=%d/%s", keys, c.name), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, _, err := st.sessionValueKeeping(next, c.prev); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
