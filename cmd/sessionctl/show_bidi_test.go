package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sessionkit/session"
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

// A stored cookie whose expires or originalMaxAge is a string the codec
// cannot read makes show fail with the codec's reason, which quotes that
// string as stored: show escapes it as it escapes its output, so that a
// C1 control (U+009B, a terminal's escape sequence start) or a
// bidirectional formatting character in it does not reach the operator's
// terminal as it is.
func TestShowEscapesTheStoredTextItQuotesInAnError(t *testing.T) {
	st := memstore.New(memstore.WithSweepInterval(0))
	t.Cleanup(func() { st.Close() })
	ctx := t.Context()
	for _, data := range []string{
		"{\"cookie\":{\"expires\":\"\u009b2J\"}}",
		"{\"cookie\":{\"originalMaxAge\":\"1\u202e000\"}}",
	} {
		if err := st.Set(ctx, "s1", []byte(data), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		var out, errOut bytes.Buffer
		c := &cli{stdout: &out, stderr: &errOut, storeURL: "mem://", timeout: 10 * time.Second, store: st}
		err := c.show(ctx, "s1")
		if err == nil || !strings.Contains(err.Error(), "not a session document") {
			t.Fatalf("show of %q: %v, want it to say that it is not a session document", data, err)
		}
		if i := strings.IndexFunc(err.Error(), func(r rune) bool {
			return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r)
		}); i >= 0 {
			t.Fatalf("show of %q failed with %q, which holds a control or bidirectional formatting character at byte %d", data, err, i)
		}
		if !errors.Is(err, session.ErrCorrupt) {
			t.Errorf("show of %q failed with %v, which does not wrap session.ErrCorrupt", data, err)
		}
	}
}

// A stored string may hold bytes that are not UTF-8 (another program's
// write, a hand edit): the codec keeps them, and show printed them as they
// were, a lone 0x9B among them, which a terminal in an 8-bit mode takes
// for the start of an escape sequence (CSI). show writes each as \ufffd,
// which is how encoding/json reads it, so the output is UTF-8 and the same
// document as encoding/json reads it.
func TestShowWritesBytesThatAreNotUTF8AsReplacementCharacters(t *testing.T) {
	data := []byte("{\"cookie\":{},\"s\":\"\x9b2J\",\"t\":\"caf\xe9 \xf0\x9f\x98\"}")
	st := memstore.New(memstore.WithSweepInterval(0))
	t.Cleanup(func() { st.Close() })
	ctx := t.Context()
	if err := st.Set(ctx, "s1", data, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	c := &cli{stdout: &out, stderr: &errOut, storeURL: "mem://", timeout: 10 * time.Second, store: st}
	if err := c.show(ctx, "s1"); err != nil {
		t.Fatal(err)
	}
	if !utf8.Valid(out.Bytes()) {
		t.Fatalf("show printed %q, which is not UTF-8", out.Bytes())
	}
	var got, want struct{ S, T string }
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("show printed %q, not JSON: %v", out.Bytes(), err)
	}
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("show printed %q, which reads as %+v; the stored document reads as %+v", out.Bytes(), got, want)
	}
	for _, s := range []string{`"\ufffd2J"`, `"caf\ufffd \ufffd\ufffd\ufffd"`} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("show printed %q, want it to hold %s", out.Bytes(), s)
		}
	}
}
