package session

import (
	"bytes"
	"context"
	"encoding/gob"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/sessionkit/session/internal/jsondepth"
)

// nestedRaw is an array nested levels deep: [[[...]]].
func nestedRaw(levels int) json.RawMessage {
	return json.RawMessage(strings.Repeat("[", levels) + strings.Repeat("]", levels))
}

// nestedSlice is a []any nested levels deep, as nestedRaw encodes.
func nestedSlice(levels int) any {
	var v any = []any{}
	for range levels - 1 {
		v = []any{v}
	}
	return v
}

// depthCase is one value a request sets under "deep".
type depthCase struct {
	name  string
	value any
}

// tooDeepToLoad are values whose stored document a load would refuse: a
// json.RawMessage that json.Valid accepts, whose first level is the
// document's second, and a Go value that json.Marshal encodes at any depth.
func tooDeepToLoad(valueLevels int) []depthCase {
	return []depthCase{
		{"RawMessage one level over", nestedRaw(valueLevels + 1)},
		{"deep []any", nestedSlice(2 * jsondepth.Max)},
	}
}

// deepestLoadable are values exactly as deep as a load reads back.
func deepestLoadable(valueLevels int) []depthCase {
	return []depthCase{
		{"RawMessage at the bound", nestedRaw(valueLevels)},
		{"[]any at the bound", nestedSlice(valueLevels)},
	}
}

// checkTooDeepIsNotSaved stores a session with keep = "earlier", then has a
// request set deep (and keep = "changed"): its save must fail with a clear
// error naming the key, leave the stored bytes as they were, and the next
// request must load the earlier session.
func checkTooDeepIsNotSaved(t *testing.T, opts Options, c depthCase) {
	t.Helper()
	var handlerErr error
	opts.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		handlerErr = err
		w.WriteHeader(http.StatusInternalServerError)
	}
	m, st := newTestManager(t, opts)
	b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Set("keep", "earlier")
	})))
	b.get("/")
	id := mustID(t, m, b.cookie)
	before, found, err := st.Store.Get(context.Background(), id)
	if err != nil || !found {
		t.Fatalf("setting up: stored session %v, %v", found, err)
	}
	var saveErr error
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Set("keep", "changed")
		s.Set("deep", c.value)
		saveErr = s.Save(r.Context())
	}))
	rec := b.get("/")
	for what, err := range map[string]error{"Save": saveErr, "the end-of-request save": handlerErr} {
		if err == nil || !strings.Contains(err.Error(), `encode key "deep"`) || !strings.Contains(err.Error(), "levels deep") {
			t.Errorf("%s: %s = %v, want an error naming key \"deep\" and its depth", c.name, what, err)
		}
	}
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("%s: status %d, want the ErrorHandler's 500", c.name, rec.Code)
	}
	after, found, err := st.Store.Get(context.Background(), id)
	if err != nil || !found || !bytes.Equal(after, before) {
		t.Fatalf("%s: stored session changed: %d bytes (%v, %v), want the earlier %d bytes", c.name, len(after), found, err, len(before))
	}
	var keep any
	var hasDeep bool
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		keep, hasDeep = s.Get("keep"), s.Has("deep")
	}))
	b.get("/")
	if keep != "earlier" || hasDeep {
		t.Errorf("%s: next request: keep = %v, has deep %v; want the earlier copy, keep = earlier and no deep", c.name, keep, hasDeep)
	}
	if id2 := mustID(t, m, b.cookie); id2 != id {
		t.Errorf("%s: the session moved from %s to %s", c.name, id, id2)
	}
}

// checkDeepestIsSavedAndLoads has a request set deep at the deepest level a
// load reads back: it is saved, and the next request reads it back whole.
func checkDeepestIsSavedAndLoads(t *testing.T, opts Options, c depthCase, levels int) {
	t.Helper()
	var handlerErr error
	opts.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) { handlerErr = err }
	m, _ := newTestManager(t, opts)
	b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Set("deep", c.value)
	})))
	b.get("/")
	if handlerErr != nil {
		t.Fatalf("%s: save: %v", c.name, handlerErr)
	}
	var got json.RawMessage
	var ok bool
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		got, ok = GetAs[json.RawMessage](s, "deep")
	}))
	b.get("/")
	if !ok || !bytes.Equal(got, nestedRaw(levels)) {
		t.Fatalf("%s: next request: deep read back %v (%d bytes), want %d levels", c.name, ok, len(got), levels)
	}
}

// A session whose stored document would nest deeper than a load reads back
// (jsondepth.Max levels, the document the first, as encoding/json) is not
// saved: Save and the end-of-request save fail with an error naming the
// key, as for a value that does not encode, and the earlier stored copy
// stays as it was and loads. It was saved, and the next request found it
// corrupt and got a fresh session, the data lost. A session exactly as deep
// as a load reads is saved and loads.
func TestASessionTooDeepToLoadIsNotSaved(t *testing.T) {
	valueLevels := jsondepth.Max - 1 // the document is the first level
	if !json.Valid(nestedRaw(valueLevels + 1)) {
		t.Fatal("json.Valid refuses the RawMessage one level over: the case tests nothing")
	}
	for _, c := range tooDeepToLoad(valueLevels) {
		checkTooDeepIsNotSaved(t, Options{}, c)
	}
	for _, c := range deepestLoadable(valueLevels) {
		checkDeepestIsSavedAndLoads(t, Options{}, c, valueLevels)
	}
}

// gobCodec is a custom Codec with no bound of its own on nesting: the
// document in encoding/gob, each value as its JSON bytes.
type gobCodec struct{}

func (gobCodec) Encode(doc *Document) ([]byte, error) {
	var b bytes.Buffer
	err := gob.NewEncoder(&b).Encode(doc)
	return b.Bytes(), err
}

func (gobCodec) Decode(data []byte) (*Document, error) {
	doc := new(Document)
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(doc); err != nil {
		return nil, err
	}
	return doc, nil
}

// With a custom Codec, a load checks each value on its own (checkedCodec),
// which reads jsondepth.Max levels: a value one level deeper is not saved,
// the earlier copy staying, and a value that deep is saved and loads. (A
// codec that nests the values inside a document of its own, as
// JSONCodec.Encode does, refuses what its own Decode would.)
func TestACustomCodecSessionTooDeepToLoadIsNotSaved(t *testing.T) {
	valueLevels := jsondepth.Max
	opts := Options{Codec: gobCodec{}}
	for _, c := range tooDeepToLoad(valueLevels)[1:] { // json.Marshal refuses a RawMessage over Max itself
		checkTooDeepIsNotSaved(t, opts, c)
	}
	for _, c := range deepestLoadable(valueLevels) {
		checkDeepestIsSavedAndLoads(t, opts, c, valueLevels)
	}
}

// JSONCodec.Encode refuses a document its Decode would refuse, one whose
// value nests jsondepth.Max levels (the document the first above it), and
// encodes one a level shallower, which Decode reads back. A value that is
// not JSON is still said to be so, whatever brackets its strings hold.
func TestJSONCodecEncodeRefusesADocumentTooDeepToDecode(t *testing.T) {
	doc := &Document{Values: map[string]json.RawMessage{"a": json.RawMessage(`1`), "deep": nestedRaw(jsondepth.Max)}}
	if data, err := (JSONCodec{}).Encode(doc); err == nil || !strings.Contains(err.Error(), `encode key "deep"`) || !strings.Contains(err.Error(), "levels deep") {
		t.Fatalf("Encode = %d bytes, %v; want an error naming key \"deep\" and its depth", len(data), err)
	}
	doc.Values["deep"] = json.RawMessage(`["\"` + strings.Repeat("[", jsondepth.Max) + `"]x`)
	if data, err := (JSONCodec{}).Encode(doc); err == nil || !strings.HasSuffix(err.Error(), `encode key "deep": not valid JSON`) {
		t.Fatalf("Encode of brackets in a string, then x = %d bytes, %v; want not valid JSON", len(data), err)
	}
	doc.Values["deep"] = nestedRaw(jsondepth.Max - 1)
	data, err := (JSONCodec{}).Encode(doc)
	if err != nil {
		t.Fatalf("Encode at the bound: %v", err)
	}
	back, err := (JSONCodec{}).Decode(data)
	if err != nil || !bytes.Equal(back.Values["deep"], doc.Values["deep"]) {
		t.Fatalf("Decode of what Encode wrote: %v", err)
	}
}

// FuzzEncodeAcceptsWhatDecodeReadsBack holds both encoders to the decoders:
// JSONCodec.Encode accepts a value exactly when Decode reads the document
// back, with the value as it was; a save's values.encode accepts a
// json.RawMessage exactly when json.Marshal does and the load reads it
// back, at a JSONCodec document's depth and at a custom codec's. wrap nests
// the value in that many arrays, to reach the bound.
func FuzzEncodeAcceptsWhatDecodeReadsBack(f *testing.F) {
	for _, s := range []string{`[]`, `{"a":[]}`, `"]"`, `"[\"["`, `1`, ` [ ] `, `[`, `]`, `x`, `{"a":{"b":[1,"}"]}}`, `1,"x":2`, `1,"k":2`} {
		for _, wrap := range []uint16{0, 9996, 9997, 9998, 9999, 10000} {
			f.Add([]byte(s), wrap)
		}
	}
	f.Fuzz(func(t *testing.T, inner []byte, wrap uint16) {
		n := int(wrap) % (jsondepth.Max + 2)
		v := append(append([]byte(strings.Repeat("[", n)), inner...), strings.Repeat("]", n)...)
		trim := func(b []byte) []byte { return bytes.Trim(b, " \t\r\n") }

		// JSONCodec.Encode, and the document written by hand.
		data, err := (JSONCodec{}).Encode(&Document{Values: map[string]json.RawMessage{"k": v}})
		// The document by hand holds the value only if Decode reads one
		// value back, k as it was: a v of 1,"x":2 makes a valid document
		// of two values, and Encode rightly refuses it.
		byHand, handErr := (JSONCodec{}).Decode(append(append([]byte(`{"cookie":{},"k":`), v...), '}'))
		handHolds := handErr == nil && len(byHand.Values) == 1 && bytes.Equal(byHand.Values["k"], trim(v))
		if (err == nil) != handHolds {
			if handErr == nil {
				t.Fatalf("Encode: %v, but Decode of the document: values %q", err, byHand.Values)
			}
			t.Fatalf("Encode: %v, but Decode of the document: %v", err, handErr)
		}
		if err == nil {
			back, err := (JSONCodec{}).Decode(data)
			if err != nil || !bytes.Equal(back.Values["k"], trim(v)) {
				t.Fatalf("Decode of what Encode wrote: %v", err)
			}
		}

		// A save's encode, then the load of its document.
		_, marshalErr := json.Marshal(json.RawMessage(v))
		for _, depth := range []int{documentValueDepth, customValueDepth} {
			var vals values
			vals.set("k", json.RawMessage(v))
			err := vals.encode(depth)
			raw := vals.raw("k")
			var loadErr error
			if err == nil {
				if depth == documentValueDepth {
					var doc Document
					var loaded values
					loadErr = decodeJSONDocument(encodeJSONDocument(&doc, &vals, nil), &doc, &cookieValues{}, &loaded)
					if loadErr == nil && !bytes.Equal(loaded.raw("k"), raw) {
						t.Fatalf("depth %d: the load read %d bytes back, the save wrote %d", depth, len(loaded.raw("k")), len(raw))
					}
				} else {
					_, loadErr = checkedCodec{brokenCodec{&Document{Values: map[string]json.RawMessage{"k": raw}}}}.Decode(nil)
				}
			}
			if loadErr != nil {
				t.Fatalf("depth %d: the save encoded %d bytes, which the load refuses: %v", depth, len(raw), loadErr)
			}
			if err != nil && marshalErr == nil && scanValue(trim(v), 0, depth) == len(trim(v)) {
				t.Fatalf("depth %d: the save refused a value json.Marshal encodes and the load reads: %v", depth, err)
			}
		}
	})
}
