package session

import (
	"strings"
	"testing"
)

// With several values that cannot be encoded, the save error always names
// the same key (the first in sorted order), whatever the order they were set in.
func TestEncodeErrorNamesTheFirstBadKeyEveryTime(t *testing.T) {
	for range 50 {
		var v values
		v.set("c", make(chan int))
		v.set("ok", 1)
		v.set("a", func() {})
		v.set("b", complex(1, 2))
		err := v.encode()
		if err == nil || !strings.Contains(err.Error(), `key "a"`) {
			t.Fatalf("encode() = %v, want the error about key \"a\"", err)
		}
	}
}
