package main

import (
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzCellShowsNoControlCharacter checks cell, through which sessionctl
// shows what a store hands it (ids any writer chose, the user agent and IP
// a client sent) in a terminal table: the output is UTF-8 without a control
// character (a tab would shift the columns, an escape sequence drive the
// terminal) or a bidirectional formatting character; text without any is
// shown as it is; and what is escaped reads back, as a Go string literal,
// as the input.
func FuzzCellShowsNoControlCharacter(f *testing.F) {
	f.Add("ada")
	f.Add("a\tb\nc")
	f.Add("\x1b[31mred\x1b[0m")
	f.Add("abc\u202egnp.exe")
	f.Add("\xff\xfe")
	f.Add("\u2028\u0085\u00ad")
	f.Add("\ufffd")
	f.Fuzz(func(t *testing.T, s string) {
		out := cell(s)
		if !utf8.ValidString(out) {
			t.Fatalf("cell(%q) = %q is not UTF-8", s, out)
		}
		if i := strings.IndexFunc(out, func(r rune) bool {
			return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r)
		}); i >= 0 {
			t.Fatalf("cell(%q) = %q holds a control or bidirectional formatting character at byte %d", s, out, i)
		}
		safe := utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool {
			return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r)
		})
		if safe && out != s {
			t.Fatalf("cell(%q) = %q, want it as it is", s, out)
		}
		if !strings.ContainsAny(s, `"\`) {
			if back, err := strconv.Unquote(`"` + out + `"`); err != nil || back != s {
				t.Fatalf("cell(%q) = %q reads back as %q, %v", s, out, back, err)
			}
		}
	})
}
