package mongostore_test

import (
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
