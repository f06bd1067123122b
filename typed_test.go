package session

import (
	"encoding/json"
	"net/http"
	"testing"
)

// A custom Codec may give values with JSON white space around them (the
// manager accepts it, see TestCustomCodecWithValidValuesIsUsedAsIs):
// GetAs[string] reads the string, as Get does, not the bytes between the
// first quote and the last byte.
func TestGetAsStringReadsAValueWithWhiteSpaceAroundItAsGetDoes(t *testing.T) {
	doc := &Document{Values: map[string]json.RawMessage{"s": json.RawMessage("\"ada\" \n"), "t": json.RawMessage(" \"bob\"")}}
	m, _ := newTestManager(t, Options{Codec: brokenCodec{doc}})
	b := stored(t, m)
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		for k, want := range map[string]string{"s": "ada", "t": "bob"} {
			if got, ok := GetAs[string](s, k); !ok || got != want {
				t.Errorf("GetAs[string](%q) = %q, %v; want %q", k, got, ok, want)
			}
			if got := s.Get(k); got != want {
				t.Errorf("Get(%q) = %q, want %q", k, got, want)
			}
		}
	}))
	b.get("/")
}

// A stored string that is not UTF-8 (written by another program) reads as
// encoding/json reads it, with U+FFFD for each bad byte, through GetAs as
// through Get, whichever is called first.
func TestGetAsStringOfAStoredStringThatIsNotUTF8IsWhatGetReturns(t *testing.T) {
	m, st := newTestManager(t, Options{})
	data := []byte(`{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"a":"x` + "\xff" + `y","b":"x` + "\xff" + `y"}`)
	if err := st.Store.Set(t.Context(), "abc", data, st.clock.Now().Add(1<<40)); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		typedFirst, _ := GetAs[string](s, "a")
		getFirst := s.Get("b")
		typedAfter, _ := GetAs[string](s, "b")
		if typedFirst != "x\uFFFDy" || getFirst != "x\uFFFDy" || typedAfter != "x\uFFFDy" {
			t.Errorf("GetAs before Get = %q, Get = %q, GetAs after Get = %q; want %q each", typedFirst, getFirst, typedAfter, "x\uFFFDy")
		}
	})))
	b.cookie = m.signer.cookieValue("abc")
	b.get("/")
}

// GetAs reads a stored value without encoding/json for the common scalar
// types: what it reads must be what encoding/json reads, for every value a
// load accepts (a custom Codec's, white space around it included).
func FuzzGetAsScalarMatchesEncodingJSON(f *testing.F) {
	for _, s := range []string{`"x"`, "\"a\" \n", ` "b"`, "\"\xff\"", `"\u00e9"`, `"é"`, `1`, `-0`, ` 2 `, `1e3`, `1.5`,
		`9223372036854775808`, `-9223372036854775808`, `1e400`, `true`, ` false`, `null`, `[1]`, `{"a":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if end := scanValue(raw, skipSpace(raw, 0), customValueDepth); end < 0 || skipSpace(raw, end) != len(raw) {
			return // refused at the load (checkedCodec, decodeJSONDocument)
		}
		checkScalar[string](t, raw)
		checkScalar[int](t, raw)
		checkScalar[int64](t, raw)
		checkScalar[float64](t, raw)
		checkScalar[bool](t, raw)
	})
}

// checkScalar fails t unless decodeScalar[T] reads raw as json.Unmarshal
// into a T does, when it reads it at all.
func checkScalar[T comparable](t *testing.T, raw []byte) {
	t.Helper()
	got, ok := decodeScalar[T](raw)
	if !ok {
		return // GetAs falls back to json.Unmarshal
	}
	var want T
	if err := json.Unmarshal(raw, &want); err != nil || got != want {
		t.Fatalf("decodeScalar[%T](%q) = %#v; json.Unmarshal: %#v, %v", want, raw, got, want, err)
	}
}
