package session

import (
	"strings"
	"testing"
)

// With several values that cannot be encoded, the save error always names
// the same key (the first in sorted order), not one picked by map order.
func TestEncodeErrorNamesTheFirstBadKeyEveryTime(t *testing.T) {
	for range 50 {
		var v values
		v.set("c", make(chan int))
		v.set("ok", 1)
		v.set("a", func() {})
		v.set("b", complex(1, 2))
		_, err := v.encoded()
		if err == nil || !strings.Contains(err.Error(), `key "a"`) {
			t.Fatalf("encoded() = %v, want the error about key \"a\"", err)
		}
	}
}
