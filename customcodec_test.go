package session

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"
)

// brokenCodec encodes as JSONCodec does, and decodes every stored session to
// doc, whatever was stored: a custom Codec with a bug.
type brokenCodec struct{ doc *Document }

func (brokenCodec) Encode(doc *Document) ([]byte, error) { return JSONCodec{}.Encode(doc) }
func (c brokenCodec) Decode([]byte) (*Document, error)   { return c.doc, nil }

// A custom Codec that returns values that are not JSON, or no document at
// all, gives a logged corrupt session (a fresh one for the request), never
// a panic in Get or GetAs.
func TestCustomCodecReturningInvalidJSONIsACorruptSessionNotAPanic(t *testing.T) {
	bad := map[string]*Document{"no document": nil}
	for _, v := range []string{"", " ", `1 2`, `"`, `"abc`, `"a"b"`, `-Inf`, `-.5`, `00`, `tru`, `{`, `[1,`, "\"\x00\""} {
		bad[fmt.Sprintf("value %q", v)] = &Document{Values: map[string]json.RawMessage{"good": json.RawMessage(`"x"`), "bad": json.RawMessage(v)}}
	}
	for name, doc := range bad {
		var logs bytes.Buffer
		m, _ := newTestManager(t, Options{Codec: brokenCodec{doc}, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		b := stored(t, m)
		var got []string
		b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("%s: panic: %v", name, p)
				}
			}()
			for _, k := range s.Keys() {
				s.Get(k)
				GetAs[string](s, k)
				GetAs[float64](s, k)
				GetAs[int](s, k)
				got = append(got, k)
			}
		}))
		if rec := b.get("/"); rec.Code != http.StatusOK {
			t.Errorf("%s: status %d", name, rec.Code)
		}
		if len(got) != 0 {
			t.Errorf("%s: the request saw keys %q, want a fresh session", name, got)
		}
		if !strings.Contains(logs.String(), "corrupt") {
			t.Errorf("%s: not logged as corrupt: %s", name, logs.String())
		}
	}
}

// decodeAny never panics, whatever bytes it is given.
func FuzzDecodeAnyNeverPanics(f *testing.F) {
	for _, s := range []string{"", `"`, `"abc`, `-Inf`, `00`, `"x"`, `[1,{"a":2}]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		x, err := decodeAny(raw)
		if err == nil && !json.Valid(raw) {
			if _, isFloat := x.(float64); !isFloat { // ParseFloat is laxer than JSON
				t.Fatalf("decodeAny(%q) = %#v for invalid JSON", raw, x)
			}
		}
	})
}

// The check lets a correct custom codec through, JSON whitespace included.
func TestCustomCodecWithValidValuesIsUsedAsIs(t *testing.T) {
	doc := &Document{Values: map[string]json.RawMessage{"n": json.RawMessage(" 1\n"), "s": json.RawMessage(`"x"`)}}
	m, _ := newTestManager(t, Options{Codec: brokenCodec{doc}})
	b := stored(t, m)
	var got string
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		got = fmt.Sprintf("%v %v", s.Get("n"), s.Get("s"))
	}))
	b.get("/")
	if got != "1 x" {
		t.Fatalf("Get = %q, want the codec's values", got)
	}
}

// keepingCodec is JSONCodec that keeps every document it is given.
type keepingCodec struct{ docs []*Document }

func (c *keepingCodec) Encode(doc *Document) ([]byte, error) {
	c.docs = append(c.docs, doc)
	return JSONCodec{}.Encode(doc)
}
func (c *keepingCodec) Decode(data []byte) (*Document, error) { return JSONCodec{}.Decode(data) }

// A custom Codec gets the whole document, cookie included, and may keep it:
// a later save does not change what an earlier one gave it.
func TestCustomCodecGetsTheCookieAndMayKeepTheDocument(t *testing.T) {
	codec := &keepingCodec{}
	m, st := newTestManager(t, Options{Codec: codec, Cookie: CookieOptions{MaxAge: time.Hour}})
	b := newBrowser(t, m.Handler(incrViews))
	b.get("/")
	first := st.clock.Now().Add(time.Hour)
	st.clock.Advance(time.Minute)
	b.get("/")
	if len(codec.docs) != 2 {
		t.Fatalf("%d documents encoded, want 2", len(codec.docs))
	}
	for i, want := range []time.Time{first, first.Add(time.Minute)} {
		c := codec.docs[i].Cookie
		if c.Expires == nil || !c.Expires.Equal(want) || c.OriginalMaxAge == nil || *c.OriginalMaxAge != time.Hour.Milliseconds() ||
			c.Secure != nil || !c.HTTPOnly || c.Path != "/" {
			t.Errorf("save %d: cookie %+v (expires %v), want expires %v, originalMaxAge 3600000, no secure", i+1, c, c.Expires, want)
		}
	}
	if string(codec.docs[1].Values["views"]) != "2" {
		t.Errorf("second save's views = %s", codec.docs[1].Values["views"])
	}
}

// A *JSONCodec is JSONCodec: the same document is stored, and read back.
func TestPointerToJSONCodecStoresTheExpressDocument(t *testing.T) {
	for _, codec := range []Codec{JSONCodec{}, &JSONCodec{}} {
		m, st := newTestManager(t, Options{Codec: codec})
		b := newBrowser(t, m.Handler(incrViews))
		b.get("/")
		b.get("/")
		data, _, _ := st.Store.Get(t.Context(), mustID(t, m, b.cookie))
		if !bytes.HasPrefix(data, []byte(`{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},`)) ||
			!bytes.HasSuffix(data, []byte(`,"views":2}`)) {
			t.Fatalf("%T: stored %s", codec, data)
		}
	}
}
