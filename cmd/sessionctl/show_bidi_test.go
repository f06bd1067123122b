package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/sessionkit/session/memstore"
)

// A stored value or key with a bidirectional formatting character (a
// right-to-left override, U+202E, or an isolate, U+2066 to U+2069) would
// reorder what show prints after it on the operator's terminal, so that it
// reads as something else than what is stored (a "Trojan source" trick).
// show escapes them as \u escapes, as the table cells do, so the output is
// the same JSON document; other text, accented letters and symbols
// included, is printed as it is.
func TestShowEscapesBidirectionalFormattingCharacters(t *testing.T) {
	bidi := "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
	values := map[string]any{
		"file":       "invoice\u202egnp.exe",
		"role\u2067": "user\u2069 admin",
		"every":      bidi,
		"plain":      "héllo ✓ 日本",
	}
	st := memstore.New(memstore.WithSweepInterval(0))
	t.Cleanup(func() { st.Close() })
	ctx := t.Context()
	expires := time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond)
	if err := st.Set(ctx, "s1", document(t, &expires, values), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	c := &cli{stdout: &out, stderr: &errOut, storeURL: "mem://", timeout: 10 * time.Second, store: st}
	if err := c.show(ctx, "s1"); err != nil {
		t.Fatal(err)
	}
	printed := out.String()
	if i := strings.IndexFunc(printed, func(r rune) bool { return unicode.Is(unicode.Bidi_Control, r) }); i >= 0 {
		t.Fatalf("show printed a bidirectional formatting character at byte %d: %q", i, printed)
	}
	for _, want := range []string{`"invoice\u202egnp.exe"`, `"role\u2067": "user\u2069 admin"`, `"héllo ✓ 日本"`} {
		if !strings.Contains(printed, want) {
			t.Errorf("show printed %q, want it to hold %s", printed, want)
		}
	}
	var got map[string]any
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("show printed %q, not JSON: %v", printed, err)
	}
	for k, v := range values {
		if got[k] != v {
			t.Errorf("show printed %q as %q, which reads back as %q", k, v, got[k])
		}
	}
}
