package session

import (
	"testing"
	"unsafe"
)

// requestState, allocated once per request with the handler's writer, stays
// within the 256-byte size class: one more field moves every request to the
// next class (288 bytes). State few requests need goes in rareState.
func TestRequestStateStaysInItsSizeClass(t *testing.T) {
	if size := unsafe.Sizeof(requestState{}); size > 256 {
		t.Fatalf("requestState is %d bytes, beyond the 256-byte size class: put what few requests need in rareState", size)
	}
}
