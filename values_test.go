package session

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// With several values that cannot be encoded, the save error always names
// the same key (the first in sorted order), whatever the order they were set in.
func TestEncodeErrorNamesTheFirstBadKeyEveryTime(t *testing.T) {
	for range 50 {
		var v values
		v.set("c", make(chan int))
		v.set("ok", 1)
		v.set("a", func() {})
		v.set("b", complex(1, 2))
		err := v.encode(documentValueDepth)
		if err == nil || !strings.Contains(err.Error(), `key "a"`) {
			t.Fatalf("encode() = %v, want the error about key \"a\"", err)
		}
	}
}

// Keys set in any order, some deleted again, come back from the store all
// there, in order, each with its value.
func TestManyKeysSurviveASaveAndALoad(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	keys := rand.Perm(500)
	b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		for _, k := range keys {
			s.Set(fmt.Sprintf("k%03d", k), k)
		}
		for k := 0; k < 500; k += 3 {
			s.Delete(fmt.Sprintf("k%03d", k))
		}
	})))
	b.get("/")
	var want []string
	for k := range 500 {
		if k%3 != 0 {
			want = append(want, fmt.Sprintf("k%03d", k))
		}
	}
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		if got := s.Keys(); !slices.Equal(got, want) {
			t.Fatalf("keys after a load: %d, want %d in order", len(got), len(want))
		}
		for _, k := range want {
			if n, ok := GetAs[int](s, k); !ok || fmt.Sprintf("k%03d", n) != k {
				t.Fatalf("%s = %d, %v", k, n, ok)
			}
		}
	}))
	b.get("/")
}

// A document written by express has its keys in insertion order, and JSON
// allows a key twice: the last one counts, as in encoding/json.
func TestKeysOutOfOrderAndRepeatedLoadAsEncodingJSONReadsThem(t *testing.T) {
	var v values
	data := []byte(`{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"b":1,"a":2,"c":{"x":1},"b":3}`)
	if err := decodeJSONDocument(data, &Document{}, &cookieValues{}, &v); err != nil {
		t.Fatal(err)
	}
	if got := v.keys(); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("keys %q", got)
	}
	if got, _ := v.get("b"); got != 3.0 {
		t.Fatalf("b = %v, want the last, 3", got)
	}
}

// Documents of up to 20 keys, in every order and with keys repeated,
// load as encoding/json reads them (the last of a repeated key counts),
// sorted, in a slice of their number: as many as a load sorts on its stack
// and more, which it moves to the heap as it reads them.
func TestDocumentsOfManyKeysInAnyOrderLoadAsEncodingJSONReadsThem(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := range 21 {
		for range 50 {
			var doc strings.Builder
			doc.WriteString(`{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"}`)
			for i := range n {
				fmt.Fprintf(&doc, `,"k%02d":%d`, r.IntN(n+n/3+1), i)
			}
			doc.WriteString(`}`)
			var want map[string]any
			if err := json.Unmarshal([]byte(doc.String()), &want); err != nil {
				t.Fatal(err)
			}
			delete(want, cookieKey)
			var v values
			if err := decodeJSONDocument([]byte(doc.String()), &Document{}, &cookieValues{}, &v); err != nil {
				t.Fatal(err)
			}
			if keys := v.keys(); !slices.Equal(keys, slices.Sorted(maps.Keys(want))) {
				t.Fatalf("%s: keys %q", doc.String(), keys)
			}
			if len(v.list) <= 8 && cap(v.list) != len(v.list) {
				t.Fatalf("%s: %d keys in a slice of %d", doc.String(), len(v.list), cap(v.list))
			}
			for k, w := range want {
				if got, _ := v.get(k); got != w {
					t.Fatalf("%s: %s = %v, want %v", doc.String(), k, got, w)
				}
			}
		}
	}
}

// A key is written as a JSON string, which holds only UTF-8: a key that is
// not UTF-8 would be stored with U+FFFD in place of its bad bytes and read
// back under another name (Get of the key set gives nil). Its save fails
// instead, with an error naming the key, and nothing is written.
// A string value that is not UTF-8 (string(randomBytes) as a token) fails
// the save naming its key, where json.Marshal stored U+FFFD for its bad
// bytes, so that the value read back was another string.
func TestAStringValueThatIsNotUTF8FailsTheSave(t *testing.T) {
	var got error
	m, st := newTestManager(t, Options{ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) { got = err; w.WriteHeader(500) }})
	b := stored(t, m)
	st.reset()
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Set("tok", "a\xffb")
		s.Set("views", 9)
	}))
	if rec := b.get("/"); rec.Code != http.StatusInternalServerError || got == nil ||
		!strings.Contains(got.Error(), `encode key "tok"`) || !strings.Contains(got.Error(), "UTF-8") {
		t.Fatalf("status %d, error %v; want the save to fail naming the key", rec.Code, got)
	}
	if st.writes() != 0 {
		t.Fatalf("the failed save wrote: %v", st.calls)
	}
	// Valid UTF-8, and bytes as a []byte, are stored and read back as set.
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Set("tok", "é🎉")
		s.Set("raw", []byte("a\xffb"))
	}))
	if rec := b.get("/"); rec.Code != http.StatusOK {
		t.Fatalf("status %d saving valid values", rec.Code)
	}
	var tok string
	var raw []byte
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		tok, _ = GetAs[string](s, "tok")
		raw, _ = GetAs[[]byte](s, "raw")
	}))
	b.get("/")
	if tok != "é🎉" || string(raw) != "a\xffb" {
		t.Fatalf("read back %q and %q", tok, raw)
	}
}

func TestAKeyThatIsNotUTF8FailsTheSave(t *testing.T) {
	var got error
	m, st := newTestManager(t, Options{ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) { got = err; w.WriteHeader(500) }})
	b := stored(t, m)
	st.reset()
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Set("tok\xff", "x")
		s.Set("views", 9)
	}))
	if rec := b.get("/"); rec.Code != http.StatusInternalServerError || got == nil ||
		!strings.Contains(got.Error(), `encode key "tok\xff"`) || !strings.Contains(got.Error(), "UTF-8") {
		t.Fatalf("status %d, error %v; want the save to fail naming the key", rec.Code, got)
	}
	if st.writes() != 0 {
		t.Fatalf("the failed save wrote: %v", st.calls)
	}
	var views any
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) { views = s.Get("views") }))
	b.get("/")
	if views != 1.0 {
		t.Fatalf("views = %v, want the session as stored before (1)", views)
	}
}

// marshalValue writes the common scalars itself: each must come out as
// encoding/json writes it, and anything else must still go to it.
func TestMarshalValueWritesWhatEncodingJSONWrites(t *testing.T) {
	vals := []any{
		nil, true, false,
		0, 1, -1, 42, math.MaxInt64, math.MinInt64,
		int64(0), int64(-7), int64(math.MaxInt64), int64(math.MinInt64),
		0.0, math.Copysign(0, -1), 1.0, -1.0, 3.0, 0.5, -2.5, 1e15, -1e15, float64(1 << 53), -float64(1 << 53),
		float64(1<<53 + 2), -float64(1<<53 + 2), float64(1<<53 - 1), 1e20, 1e21, 1e-7, 123456789.125, math.MaxFloat64, math.SmallestNonzeroFloat64,
		"", "plain", "with space", `quo"te`, `back\slash`, "<html>", "a&b", "tab\there", "new\nline",
		"\x7f", "é", "\u2028", "日本", string([]byte{0xff, 'a'}), "~`!@#$%^*()_+-={}[]|:;',.?/",
		int32(5), uint(6), float32(1.5), []int{1}, map[string]int{"a": 1},
	}
	for _, v := range vals {
		want, werr := json.Marshal(v)
		got, gerr := marshalValue(v)
		if string(got) != string(want) || (gerr == nil) != (werr == nil) {
			t.Errorf("marshalValue(%#v) = %q, %v; json.Marshal gives %q, %v", v, got, gerr, want, werr)
		}
	}
	for _, v := range []any{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if _, err := marshalValue(v); err == nil {
			t.Errorf("marshalValue(%v) did not fail, as json.Marshal does", v)
		}
	}
}

// Set compares a value with a stored one from its JSON where it can
// (slot.same): it must find the same as decoding the stored value and
// comparing (sameScalar), for every kind of stored value and of new one.
func TestSetComparesWithAStoredValueAsDecodingItWould(t *testing.T) {
	raws := []string{
		`1`, `-1`, `0`, `-0`, `1.0`, `1.5`, `1e3`, `9007199254740992`, `9007199254740993`, `123456789012345678`,
		`"x"`, `""`, `"1"`, `"a\"b"`, `"\u0041"`, `"é"`, `"true"`, `true`, `false`, `null`, `[1]`, `{"a":1}`,
	}
	vals := []any{
		1, -1, 0, 1000, 1 << 53, 1<<53 + 1, 1.0, 1.5, 0.0, math.Copysign(0, -1), 1000.0, float64(1 << 53),
		"x", "", "1", `a"b`, "A", "é", "true", true, false, nil, []int{1}, map[string]int{"a": 1}, int64(1), struct{}{},
	}
	for _, raw := range raws {
		for _, v := range vals {
			old, err := decodeAny([]byte(raw))
			want := err == nil && sameScalar(old, v)
			sl := slot{raw: []byte(raw)}
			if got := sl.same(v); got != want {
				t.Errorf("stored %s, Set(%#v): same = %v, decoding and comparing gives %v", raw, v, got, want)
			}
			decoded := slot{val: old, hasVal: true}
			if got := decoded.same(v); got != want {
				t.Errorf("decoded %s, Set(%#v): same = %v, want %v", raw, v, got, want)
			}
		}
	}
}

// Setting a loaded counter, or a loaded plain string, to the value it has
// decodes nothing into an any: no allocation.
func TestSettingAStoredNumberOrStringToItsValueAllocatesNothing(t *testing.T) {
	n, s := slot{raw: []byte(`41`)}, slot{raw: []byte(`"tea"`)}
	if a := testing.AllocsPerRun(100, func() {
		if !n.same(41) || !s.same("tea") {
			t.Fatal("not the same")
		}
	}); a != 0 {
		t.Fatalf("%v allocations, want 0", a)
	}
}
