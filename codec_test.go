package session

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/session/internal/testclock"
)

func TestStoredDocumentIsTheExpressDocument(t *testing.T) {
	// A pinned date for readable output, on the clock the store reads too:
	// with the store on the real clock this session would be expired once
	// the real time passes the pinned expiry.
	m, st := newTestManager(t, Options{Cookie: CookieOptions{MaxAge: time.Minute}})
	now := testclock.Epoch()
	st.clock.Set(now)
	b := stored(t, m)
	data, _, _ := st.Store.Get(t.Context(), mustID(t, m, b.cookie))
	want := `{"cookie":{"originalMaxAge":60000,"expires":"` + now.Add(time.Minute).Format(isoMillis) + `","httpOnly":true,"path":"/"},"` +
		CreatedKey + `":"` + now.Format(isoMillis) + `","views":1}`
	if string(data) != want {
		t.Fatalf("stored\n%s\nwant\n%s", data, want)
	}
}

func TestBrowserSessionCookieIsStoredWithNulls(t *testing.T) {
	m, st := newTestManager(t, Options{})
	b := stored(t, m)
	data, _, _ := st.Store.Get(t.Context(), mustID(t, m, b.cookie))
	if !bytes.HasPrefix(data, []byte(`{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},`)) {
		t.Fatalf("stored %s", data)
	}
}

func TestCookieKeysAreInExpressOrder(t *testing.T) {
	ms, exp, yes := int64(1000), time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC), true
	doc := &Document{Cookie: DocumentCookie{
		OriginalMaxAge: &ms, Partitioned: &yes, Priority: "high", Expires: &exp, Secure: &yes,
		HTTPOnly: true, Domain: "example.com", Path: "/", SameSite: "lax",
	}}
	data, err := JSONCodec{}.Encode(doc)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"cookie":{"originalMaxAge":1000,"partitioned":true,"priority":"high","expires":"2026-01-02T03:04:05.006Z","secure":true,"httpOnly":true,"domain":"example.com","path":"/","sameSite":"lax"}}`
	if string(data) != want {
		t.Fatalf("got  %s\nwant %s", data, want)
	}
	back, err := JSONCodec{}.Decode(data)
	if err != nil || !reflect.DeepEqual(back.Cookie, doc.Cookie) {
		t.Fatalf("round trip: %+v, %v; want %+v", back.Cookie, err, doc.Cookie)
	}
}

func TestDecodeReadsWhatExpressWrites(t *testing.T) {
	// As express-session 1.19 with connect-redis writes it (JSON.stringify order).
	data := []byte(`{"cookie":{"originalMaxAge":86400000,"expires":"2026-11-23T10:00:00.000Z","secure":false,"httpOnly":true,"path":"/","sameSite":true},"views":3,"user":{"name":"ada","roles":["admin"]},"flash":{"info":["hi"]}}`)
	doc, err := JSONCodec{}.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if *doc.Cookie.OriginalMaxAge != 86400000 || doc.Cookie.SameSite != "strict" || doc.Cookie.Secure == nil || *doc.Cookie.Secure {
		t.Fatalf("cookie %+v", doc.Cookie)
	}
	if string(doc.Values["views"]) != "3" || string(doc.Values["user"]) != `{"name":"ada","roles":["admin"]}` || len(doc.Values) != 3 {
		t.Fatalf("values %s", doc.Values)
	}
}

func TestDecodeRejectsWhatIsNotADocument(t *testing.T) {
	for _, bad := range []string{"", "null", "[]", `"s"`, "{", `{"cookie":{"expires":"soon"}}`, `{"cookie":[1]}`, "\xff",
		// JSON objects without the cookie key, which every express-session
		// document has: a custom serializer's envelope, or anything else.
		`{}`, `{"v":1,"data":{"cookie":{"originalMaxAge":null,"expires":null},"a":1}}`} {
		if _, err := (JSONCodec{}).Decode([]byte(bad)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("Decode(%q) = %v, want ErrCorrupt", bad, err)
		}
	}
}

func TestUnencodableValueIsAClearSaveError(t *testing.T) {
	var got error
	m, _ := newTestManager(t, Options{ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) { got = err; w.WriteHeader(500) }})
	newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Set("ch", make(chan int))
	}))).get("/")
	if got == nil || !strings.Contains(got.Error(), `encode key "ch"`) {
		t.Fatalf("error = %v", got)
	}
}

func FuzzDecodeDocument(f *testing.F) {
	f.Add([]byte(`{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"views":3}`))
	f.Add([]byte(`{"cookie":{"originalMaxAge":1,"expires":"2026-11-22T10:00:00.000Z","sameSite":true},"a\"b":[1,{"c":"}"}],"e":"\u00e9"}`))
	f.Add([]byte(`{ "x" : 1 , "y" : "2" }`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := JSONCodec{}.Decode(data)
		if err != nil {
			return
		}
		for k, v := range doc.Values {
			if !json.Valid(v) {
				t.Fatalf("value of %q is not valid JSON: %q", k, v)
			}
		}
		out, err := JSONCodec{}.Encode(doc)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		again, err := JSONCodec{}.Decode(out)
		if err != nil {
			t.Fatalf("decode of re-encoded %q: %v", out, err)
		}
		if len(again.Values) != len(doc.Values) {
			t.Fatalf("keys changed on round trip: %d vs %d", len(again.Values), len(doc.Values))
		}
		for k, v := range doc.Values {
			if !bytes.Equal(again.Values[k], v) {
				t.Fatalf("value of %q changed: %q vs %q", k, v, again.Values[k])
			}
		}
	})
}

// FuzzScanMatchesEncodingJSON holds the document scanner to json.Valid: it
// accepts exactly the valid JSON objects, and nothing else.
func FuzzScanMatchesEncodingJSON(f *testing.F) {
	for _, s := range []string{`{}`, ` {"a" : [1, -0.5e+3, "x\u00e9\n", true, null, {}]} `, `{"a":01}`, `{"a":"\x01"}`,
		`{"a":1,}`, `{"a":"\ud800"}`, `{"\u00e9t\u00e9":1,"a\"b":4,"long key with more than eight bytes":5}`, "{\"caf\u00e9 cr\u00e8me\":2,\"\xff\":3}", `{"a":1} x`, `[1]`, `{"a":-}`, `{"a":1.}`, `{"a":"\q"}`, `{"a":tru}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var keys []string
		err := eachMember(data, func(k, v []byte) error { keys = append(keys, string(k)); return nil })
		i := skipSpace(data, 0)
		want := json.Valid(data) && i < len(data) && data[i] == '{'
		if (err == nil) != want {
			t.Fatalf("eachMember(%q) = %v, json.Valid says object=%v", data, err, want)
		}
		var m map[string]json.RawMessage
		if err == nil && json.Unmarshal(data, &m) == nil {
			for _, k := range keys {
				if _, ok := m[k]; !ok {
					t.Fatalf("%q: key %q, which encoding/json reads as one of %q", data, k, slices.Collect(maps.Keys(m)))
				}
			}
		}
	})
}

func FuzzDecodeAnyMatchesEncodingJSON(f *testing.F) {
	for _, s := range []string{`"x"`, `"\u00e9"`, `"é"`, "\"\x83\"", `-1.5e3`, `1e400`, `true`, `null`, `[1,{"a":2}]`, `0`, `-0`, `-42`, `123456789012345`, `-1234567890123456`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if !json.Valid(raw) || scanValue(raw, 0, 0) != len(raw) {
			return
		}
		var want any
		wantErr := json.Unmarshal(raw, &want)
		got, err := decodeAny(raw)
		if (err == nil) != (wantErr == nil) || (err == nil && !reflect.DeepEqual(got, want)) {
			t.Fatalf("decodeAny(%q) = %#v, %v; encoding/json: %#v, %v", raw, got, err, want, wantErr)
		}
	})
}

// FuzzDocumentDecodeAcceptsOnlyValidJSON holds Decode, which validates the
// cookie object as it reads it rather than in a pass of its own, to
// json.Valid: what it accepts is valid JSON, and what it refuses that is a
// valid JSON object, it refuses for what the object holds, not its syntax.
func FuzzDocumentDecodeAcceptsOnlyValidJSON(f *testing.F) {
	for _, s := range []string{`{"cookie":{"a":1},"b":true}`, `{"cookie":{"a":01}}`, `{"cookie":{"a":"x\q"},"b":1}`,
		`{"cookie":{"a":[1,}]}}`, `{"cookie":"x\"}`, `{"cookie":{"a":"}"}} `, `{"cookie":{"a":1},"cookie":{"b":[]}}`,
		`{"cookie":1}`, `{"cookie":{"a":tru}}`, `{"cookie":{"a":1}`, `{"cookie":{"path":"\u00e9"}} x`,
		`{"cookie":{"expires":"2026-11-22T10:00:00.000Z","originalMaxAge":1.5e3}}`, `{"cookie":{"expires":"soon"}}`,
		`{"cookie":{"expires":"2026-11-22T10:00:00.000Z"},"` + CreatedKey + `":"2026-11-22T10:00:00.000Z"}`,
		`{"cookie":{"expires":"2026-11-22T10:00:00.000Z`, `{"cookie":{"expires":"2026-11-22T10:00:00.000Z"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var doc Document
		err := decodeJSONDocument(data, &doc, &cookieValues{}, &values{})
		i := skipSpace(data, 0)
		object := json.Valid(data) && i < len(data) && data[i] == '{'
		switch {
		case err == nil && !object:
			t.Fatalf("decoded %q, which is not a valid JSON object", data)
		case err != nil && object && (strings.Contains(err.Error(), "invalid JSON") || strings.Contains(err.Error(), "not a JSON object")):
			t.Fatalf("refused the valid JSON object %q as invalid: %v", data, err)
		}
	})
}

// The stored cookie's expires and created are parsed without time.Parse or
// time.Date; the instant must be the one time.Date gives, a day past the
// month's end (which express never writes) included.
func TestStoredTimesParseToTheInstantTimeDateGives(t *testing.T) {
	type date struct{ y, mo, d, h, mi, s, ms int }
	dates := []date{{1970, 1, 1, 0, 0, 0, 0}, {0, 1, 1, 0, 0, 0, 0}, {0, 2, 29, 23, 59, 59, 999}, {1900, 2, 29, 1, 2, 3, 4},
		{2000, 2, 29, 0, 0, 0, 0}, {2400, 12, 31, 23, 59, 59, 999}, {2026, 2, 31, 12, 0, 0, 0}, {9999, 12, 31, 23, 59, 59, 999}}
	r := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		dates = append(dates, date{r.IntN(10000), 1 + r.IntN(12), 1 + r.IntN(31), r.IntN(24), r.IntN(60), r.IntN(60), r.IntN(1000)})
	}
	for _, d := range dates {
		s := fmt.Sprintf(`"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ"`, d.y, d.mo, d.d, d.h, d.mi, d.s, d.ms)
		want := time.Date(d.y, time.Month(d.mo), d.d, d.h, d.mi, d.s, d.ms*1e6, time.UTC)
		if got, ok := parseISOTime([]byte(s)); !ok || got != want {
			t.Fatalf("parseISOTime(%s) = %v, %v; want %v", s, got, ok, want)
		}
	}
}

// originalMaxAge is read without strconv when it is an integer; any number
// reads as strconv.ParseFloat truncated, and what is not a number fails.
func TestOriginalMaxAgeReadsAsParseFloatTruncated(t *testing.T) {
	for _, s := range []string{"0", "-0", "1", "86400000", "-5", "1.5", "-1.5", "1e3", "2.5E-1", "999999999999999",
		"9999999999999999", "-123456789012345678", "12345678901234567890", "", "-", "1-2", "abc", "0x10", "1.2.3"} {
		f, err := strconv.ParseFloat(s, 64)
		got, ok := jsonMillis([]byte(s))
		if ok != (err == nil) || ok && got != int64(f) {
			t.Errorf("jsonMillis(%q) = %d, %v; ParseFloat gives %v, %v", s, got, ok, f, err)
		}
	}
}

// Encode writes each value as it is, so it refuses one that is not JSON,
// naming the first such key in order whatever the map's order.
func TestEncodeRefusesAValueThatIsNotJSONNamingTheFirstKey(t *testing.T) {
	doc := &Document{Values: map[string]json.RawMessage{"a": json.RawMessage(`1`), "c": json.RawMessage(`{`), "b": json.RawMessage(`x`)}}
	for range 20 {
		if _, err := (JSONCodec{}).Encode(doc); err == nil || !strings.Contains(err.Error(), `key "b"`) {
			t.Fatalf("Encode = %v, want an error about key \"b\"", err)
		}
	}
	doc.Values["b"], doc.Values["c"] = json.RawMessage(`"x"`), json.RawMessage(`{}`)
	if data, err := (JSONCodec{}).Encode(doc); err != nil || !strings.HasSuffix(string(data), `,"a":1,"b":"x","c":{}}`) {
		t.Fatalf("Encode = %s, %v", data, err)
	}
}

// Integers are read without strconv; -0 stays the float -0 that
// encoding/json gives (reflect.DeepEqual, and so the fuzz target, cannot
// tell it from 0).
func TestNegativeZeroDecodesAsEncodingJSONDoes(t *testing.T) {
	got, err := decodeAny([]byte("-0"))
	if f, ok := got.(float64); err != nil || !ok || f != 0 || !math.Signbit(f) {
		t.Fatalf("decodeAny(-0) = %#v, %v; want float64 -0", got, err)
	}
}

// A time in the stored layout with a byte that is not a digit is refused
// by the fast parse, and then by time.Parse.
func TestStoredTimeWithANonDigitIsRefused(t *testing.T) {
	good := []byte(`"2026-11-22T10:00:00.000Z"`)
	for i, c := range good {
		if c < '0' || c > '9' {
			continue
		}
		for _, bad := range []byte{'/', ':', 'a', ' ', 0xff} {
			v := slices.Clone(good)
			v[i] = bad
			if tm, ok := parseISOTime(v); ok {
				t.Errorf("parseISOTime(%s) = %v, want refused", v, tm)
			}
		}
	}
}

// express keeps a cookie's originalMaxAge in milliseconds, which may be
// longer than a time.Duration holds (about 292 years), as for an app that
// means "never expires". A session loaded from such a document and saved
// again keeps an expiry and originalMaxAge at least that long: they used to
// wrap around, to 49 years for 634 years, and to a negative max age for
// 1,000 years, which express, reading it back, takes for an expired cookie.
func TestStoredOriginalMaxAgeLongerThanADurationIsNotWrapped(t *testing.T) {
	for _, years := range []int64{634, 1000, 5000} {
		m, st := newTestManager(t, Options{})
		now := st.clock.Now()
		ms := years * 365 * 24 * time.Hour.Milliseconds()
		express := fmt.Sprintf(`{"cookie":{"originalMaxAge":%d,"expires":%q,"httpOnly":true,"path":"/"},"views":1}`,
			ms, now.AddDate(int(years), 0, 0).UTC().Format(isoMillis))
		if err := st.Store.Set(t.Context(), "abc", []byte(express), now.AddDate(int(years), 0, 0)); err != nil {
			t.Fatal(err)
		}
		b := newBrowser(t, m.Handler(incrViews))
		b.cookie = m.signer.cookieValue("abc")
		if got := b.get("/").Body.String(); got != "2" {
			t.Fatalf("%d years: views = %s, want the stored session", years, got)
		}
		data, _, _ := st.Store.Get(t.Context(), "abc")
		doc, err := JSONCodec{}.Decode(data)
		if err != nil || doc.Cookie.OriginalMaxAge == nil || doc.Cookie.Expires == nil {
			t.Fatalf("%d years: stored %s, %v", years, data, err)
		}
		const longest = time.Duration(math.MaxInt64)
		if got := *doc.Cookie.OriginalMaxAge; got < longest.Milliseconds() {
			t.Errorf("%d years: stored originalMaxAge %d ms, want at least %d (the longest time.Duration)", years, got, longest.Milliseconds())
		}
		if got := doc.Cookie.Expires.Sub(now); got < longest-time.Second {
			t.Errorf("%d years: stored expiry %v from now, want at least %v", years, got, longest)
		}
	}
}

// JSONCodec.Encode refuses a key that is not UTF-8, which Decode would read
// back with U+FFFD in place of its bad bytes, another key.
func TestJSONCodecEncodeRefusesAKeyThatIsNotUTF8(t *testing.T) {
	doc := &Document{Values: map[string]json.RawMessage{"a\xffb": json.RawMessage(`1`), "z": json.RawMessage(`2`)}}
	if data, err := (JSONCodec{}).Encode(doc); err == nil || !strings.Contains(err.Error(), `encode key "a\xffb"`) {
		t.Fatalf("Encode = %s, %v; want an error naming the key", data, err)
	}
}

func TestDecodeReadsCookieExpiresFalseAsABrowserSession(t *testing.T) {
	// express-session 1.19 after req.session.cookie.expires = false, which
	// Connect documented for a browser-session cookie: both keys false.
	data := []byte(`{"cookie":{"originalMaxAge":false,"expires":false,"httpOnly":true,"path":"/"},"views":3}`)
	doc, err := JSONCodec{}.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if doc.Cookie.OriginalMaxAge != nil || doc.Cookie.Expires != nil || string(doc.Values["views"]) != "3" {
		t.Fatalf("cookie %+v, values %s: want a browser-session cookie and views 3", doc.Cookie, doc.Values)
	}
	back, err := JSONCodec{}.Encode(doc)
	if want := `{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"views":3}`; err != nil || string(back) != want {
		t.Fatalf("Encode = %s, %v; want %s", back, err, want)
	}
}
