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

	"github.com/sessionkit/session/memstore"
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

// outputKeepingCodec encodes as JSONCodec does, and keeps each slice it returns
// beside a copy of it, as a custom codec may keep its output (the last
// document, say).
type outputKeepingCodec struct{ kept *[][2][]byte }

func (c outputKeepingCodec) Encode(doc *Document) ([]byte, error) {
	b, err := JSONCodec{}.Encode(doc)
	*c.kept = append(*c.kept, [2][]byte{b, bytes.Clone(b)})
	return b, err
}

func (outputKeepingCodec) Decode(data []byte) (*Document, error) { return JSONCodec{}.Decode(data) }

// The bytes a custom Codec returns stay the codec's: no save, of its
// manager or another one on a memstore, writes into them, as a save writes
// into a buffer that an earlier JSONCodec save to a memstore handed back.
func TestACustomCodecsEncodedBytesAreNeverWrittenByAnotherSave(t *testing.T) {
	customStore, plainStore := memstore.New(), memstore.New()
	t.Cleanup(func() { customStore.Close(); plainStore.Close() })
	var kept [][2][]byte
	custom, _ := newTestManager(t, Options{Store: customStore, Codec: outputKeepingCodec{&kept}})
	plain, _ := newTestManager(t, Options{Store: plainStore})
	// The plain manager's documents are shorter than the codec's, and
	// differ from them, so that one written into the codec's bytes shows.
	setV := handle(func(w http.ResponseWriter, r *http.Request, s *Session) { s.Set("v", 2) })
	customBrowser, plainBrowser := newBrowser(t, custom.Handler(incrViews)), newBrowser(t, plain.Handler(setV))
	for range 20 {
		customBrowser.get("/")
		plainBrowser.get("/")
	}
	if len(kept) != 20 {
		t.Fatalf("the codec encoded %d times, want 20", len(kept))
	}
	for i, k := range kept {
		if !bytes.Equal(k[0], k[1]) {
			t.Fatalf("save %d: the bytes the codec returned were overwritten: %q, was %q", i+1, k[0], k[1])
		}
	}
}
