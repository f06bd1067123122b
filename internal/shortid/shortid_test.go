package shortid

import (
	"strings"
	"testing"
)

func TestOfKeepsTooLittleToUse(t *testing.T) {
	id := "s3cr3tS3ssionIdThatMustNotLeakIntoLogs"
	got := Of(id)
	if strings.Contains(got, id[keep:]) || !strings.HasPrefix(got, id[:keep]) || !strings.HasSuffix(got, "…") {
		t.Fatalf("Of(%q) = %q: want the first %d bytes and an ellipsis", id, got, keep)
	}
}

func TestOfLeavesShortIDsAlone(t *testing.T) {
	for _, id := range []string{"", "a", "abcdefgh"} {
		if got := Of(id); got != id {
			t.Errorf("Of(%q) = %q, want it unchanged", id, got)
		}
	}
}
