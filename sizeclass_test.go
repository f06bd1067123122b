package session

import (
	"testing"
	"unsafe"
)

// requestState, allocated once per request with the handler's writer,
// context and request (which are views of it, or in it), stays within the
// 512-byte size class: one more field moves every request to the next
// class (576 bytes). State few requests need goes in rareState.
func TestRequestStateStaysInItsSizeClass(t *testing.T) {
	if size := unsafe.Sizeof(requestState{}); size > 512 {
		t.Fatalf("requestState is %d bytes, beyond the 512-byte size class: put what few requests need in rareState", size)
	}
}

// Session, allocated once per request that uses its session, stays within
// the 352-byte size class: 16 bytes more move every such request to the
// next class (384 bytes).
func TestSessionStaysInItsSizeClass(t *testing.T) {
	if size := unsafe.Sizeof(Session{}); size > 352 {
		t.Fatalf("Session is %d bytes, beyond the 352-byte size class", size)
	}
}
