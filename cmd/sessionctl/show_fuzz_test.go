package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/memstore"
)

// FuzzShowAndListPrintStoredBytesSafely stores any bytes under any id (what
// another app, another program or a hand edit may leave in a store) and
// runs show and list on them: show prints the document the codec reads,
// as JSON that reads back as the same document, or fails saying why; and
// what either prints, on stdout or in its error, is UTF-8 (a lone 0x9B
// byte starts an escape sequence on a terminal in an 8-bit mode) without
// a control character but the newlines that end its lines (an escape
// sequence in a stored value or id would drive the operator's terminal)
// or a bidirectional formatting character (which would reorder what
// follows).
func FuzzShowAndListPrintStoredBytesSafely(f *testing.F) {
	f.Add([]byte(`{"cookie":{"originalMaxAge":null},"n":1}`), "abc")
	f.Add([]byte(`{"cookie":{"originalMaxAge":3600000,"expires":"2030-01-02T03:04:05.000Z"},"s":"\u001b[2J"}`), "id\x1b[31m")
	f.Add([]byte(`{"cookie":{},"s":"\u009b31m"}`), "\u009b")
	f.Add([]byte("\x1b[2Jnot json"), "x\ty")
	f.Add([]byte(`{"cookie":{"originalMaxAge":null},"a":[1,{"b":null}],"c":1e300}`), "\u202e")
	f.Add([]byte("{\"cookie\":{},\"f\u2067\":\"a\u202eb\"}"), "x")
	f.Add([]byte("{\"cookie\":{\"expires\":\"\u009b2J\u202e\"}}"), "x")
	f.Add([]byte("{\"cookie\":{},\"s\":\"\x9b2J\"}"), "x")
	f.Fuzz(func(t *testing.T, data []byte, id string) {
		if id == "" {
			t.Skip("no store takes the empty id")
		}
		st := memstore.New(memstore.WithSweepInterval(0))
		t.Cleanup(func() { st.Close() })
		ctx := t.Context()
		if err := st.Set(ctx, id, data, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		var out, errOut bytes.Buffer
		c := &cli{stdout: &out, stderr: &errOut, storeURL: "mem://", timeout: 10 * time.Second, store: st}

		err := c.show(ctx, id)
		want, decodeErr := session.JSONCodec{}.Decode(data)
		if (err == nil) != (decodeErr == nil) {
			t.Fatalf("show of %q: %v; the codec reads it with the error %v", data, err, decodeErr)
		}
		if err == nil {
			got, err := session.JSONCodec{}.Decode(out.Bytes())
			if err != nil {
				t.Fatalf("show of %q printed %q, which the codec does not read: %v", data, out.Bytes(), err)
			}
			a, errA := compact(session.JSONCodec{}.Encode(got))
			b, errB := compact(session.JSONCodec{}.Encode(want))
			if errA != nil || errB != nil || !bytes.Equal(a, b) {
				t.Fatalf("show of %q printed %q, another document (%s, %v; want %s, %v)", data, out.Bytes(), a, errA, b, errB)
			}
		} else {
			out.WriteString(err.Error())
		}
		noControl(t, "show", data, out.String())

		out.Reset()
		err = c.list(ctx, 0, 0)
		if err != nil {
			t.Fatalf("list over %q: %v", data, err)
		}
		noControl(t, "list", data, out.String()+errOut.String())
	})
}

// compact is the encoded document as encoding/json reads it (the codec
// keeps a value's JSON as it was written, spaces and escapes too), numbers
// as written.
func compact(b []byte, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// noControl fails t if printed is not UTF-8 or holds a control character
// other than '\n' or a bidirectional formatting character.
func noControl(t *testing.T, cmd string, data []byte, printed string) {
	t.Helper()
	if !utf8.ValidString(printed) {
		t.Fatalf("%s over %q printed bytes that are not UTF-8: %q", cmd, data, printed)
	}
	if i := strings.IndexFunc(printed, func(r rune) bool {
		return r != '\n' && (unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r))
	}); i >= 0 {
		t.Fatalf("%s over %q printed a control or bidirectional formatting character at byte %d: %q", cmd, data, i, printed)
	}
}
