package mongostore_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/sessionkit/session/mongostore"
)

// TestDocumentSessionThatIsNotUTF8ComesBackByteForByte: with
// WithStringify(false), a JSON session whose string holds bytes that are
// not UTF-8 (from json.RawMessage, or another app) comes back as it was
// written, or is refused; it is never changed in silence. It was decoded
// into a document, which replaced each such byte with U+FFFD: Set reported
// success and Get gave another session.
func TestDocumentSessionThatIsNotUTF8ComesBackByteForByte(t *testing.T) {
	ctx := t.Context()
	st, _, clock := clocked(t, mongostore.WithStringify(false))
	exp := clock.Now().Add(time.Hour)
	for i, data := range []string{"{\"a\":\"\xe9\"}", "{\"\xff\":1}"} {
		id := "doc" + string(rune('a'+i))
		if err := st.Set(ctx, id, []byte(data), exp); err != nil {
			continue // refused: nothing changed
		}
		if got, found, err := st.Get(ctx, id); err != nil || !found || string(got) != data {
			t.Errorf("Get after Set(%q) = %q, found %v, %v; want it back byte for byte", data, got, found, err)
		}
		v, swapped, err := st.CompareAndSwap(ctx, id+"-cas", "", []byte(data), exp)
		if err != nil || !swapped {
			continue
		}
		if got, v2, found, err := st.GetVersion(ctx, id+"-cas"); err != nil || !found || string(got) != data || v2 != v {
			t.Errorf("GetVersion after creating %q = %q, %q, found %v, %v; want it back byte for byte, version %q", data, got, v2, found, err, v)
		}
	}
}

// TestDocumentFormStoresASessionThatIsNotAJSONObjectAsBinary: with
// WithStringify(false), a session that is UTF-8 but no JSON object (a
// Codec with a text format, or a binary Codec's bytes that happen to be
// UTF-8, as the small protobuf message here) is stored as binary data and
// comes back byte for byte, through Set and a compare-and-swap's create
// and swap. The store refused it: every save of such a session failed.
func TestDocumentFormStoresASessionThatIsNotAJSONObjectAsBinary(t *testing.T) {
	ctx := t.Context()
	st, _, clock := clocked(t, mongostore.WithStringify(false))
	exp := clock.Now().Add(time.Hour)
	for i, data := range []string{"\x0a\x03ada", "user=ada; n=1", "[1,2]", "42", `{"a":1} {"b":2}`, ""} {
		id := fmt.Sprint("text", i)
		if err := st.Set(ctx, id, []byte(data), exp); err != nil {
			t.Errorf("Set(%q): %v; want it stored", data, err)
			continue
		}
		if got, found, err := st.Get(ctx, id); err != nil || !found || string(got) != data {
			t.Errorf("Get after Set(%q) = %q, found %v, %v; want it back byte for byte", data, got, found, err)
		}
		v, swapped, err := st.CompareAndSwap(ctx, id+"-cas", "", []byte(data), exp)
		if err != nil || !swapped {
			t.Errorf("create of %q: swapped %v, %v", data, swapped, err)
			continue
		}
		next := data + "!"
		if _, swapped, err := st.CompareAndSwap(ctx, id+"-cas", v, []byte(next), exp); err != nil || !swapped {
			t.Errorf("swap from %q's version: swapped %v, %v", data, swapped, err)
		}
		if got, _, found, err := st.GetVersion(ctx, id+"-cas"); err != nil || !found || string(got) != next {
			t.Errorf("GetVersion after the swap to %q = %q, found %v, %v", next, got, found, err)
		}
	}
	// A JSON object stays a document, and one no document holds is still
	// refused.
	if err := st.Set(ctx, "doc", []byte(`{"$where":1}`), exp); err == nil {
		t.Error(`Set of {"$where":1} as a document succeeded; want it refused`)
	}
}
