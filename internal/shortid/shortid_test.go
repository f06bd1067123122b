package shortid

import (
	"strings"
	"testing"
	"unicode/utf8"
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

// An id of a custom GenerateID may hold bytes that are not printable (a
// NUL, a control character, a multi-byte character the cut would split):
// they show as '?', so that a log line or an error message never carries
// them raw, and the result is valid UTF-8.
func TestOfShowsOnlyPrintableASCII(t *testing.T) {
	for id, want := range map[string]string{
		"ab\x00cd":         "ab?cd",
		"a\tb":             "a?b",
		"abcdé-rest-of-id": "abcd??…",
		"\xff\xfe1234567":  "??1234…",
		"s3cr3tS3ssion":    "s3cr3t…",
	} {
		got := Of(id)
		if got != want || !utf8.ValidString(got) {
			t.Errorf("Of(%q) = %q, want %q", id, got, want)
		}
	}
}
