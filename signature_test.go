package session

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"
)

func TestCookieValueMatchesExpressTestVectors(t *testing.T) {
	s := newSigner([]string{"keyboard cat"})
	for id, want := range map[string]string{
		"apple": "s%3Aapple.D8Y%2BpkTAmeR0PobOhY4G97PRW%2Bj7bUnP%2F5m6%2FOn1MCU",
		"%":     "s%3A%25.kzQ6x52kKVdF35Qh62AWk4ZekS28K5XYCXKa%2FOTZ01g",
		"/foo":  "s%3A%2Ffoo.paEKBtAHbV5s1IB8B2zPnzAgYmmnRPIqObW4VRYj%2FMQ",
	} {
		if got := s.cookieValue(id); got != want {
			t.Errorf("cookieValue(%q) = %q, want %q", id, got, want)
		}
		if got, ok := s.unsign(want); !ok || got != id {
			t.Errorf("unsign(%q) = %q, %v; want %q", want, got, ok, id)
		}
	}
}

func TestUnsignAcceptsRawSignedValue(t *testing.T) {
	s := newSigner([]string{"keyboard cat"})
	raw := "s:apple.D8Y+pkTAmeR0PobOhY4G97PRW+j7bUnP/5m6/On1MCU"
	if id, ok := s.unsign(raw); !ok || id != "apple" {
		t.Fatalf("unsign(raw) = %q, %v", id, ok)
	}
}

func TestUnsignVerifiesWithEverySecretButSignsWithTheFirst(t *testing.T) {
	old := newSigner([]string{"old"})
	rotated := newSigner([]string{"new", "old"})
	if id, ok := rotated.unsign(old.cookieValue("abc")); !ok || id != "abc" {
		t.Fatalf("a cookie signed with a previous secret must verify: %q %v", id, ok)
	}
	if _, ok := old.unsign(rotated.cookieValue("abc")); ok {
		t.Fatal("the first secret must sign")
	}
	retired := newSigner([]string{"new"})
	if _, ok := retired.unsign(old.cookieValue("abc")); ok {
		t.Fatal("a cookie signed with a retired secret must not verify")
	}
}

func TestUnsignRejectsAnythingNotSignedByUs(t *testing.T) {
	s := newSigner([]string{"keyboard cat"})
	good := rawSigned(s, "apple")
	for name, v := range map[string]string{
		"empty":            "",
		"no prefix":        strings.TrimPrefix(good, "s:"),
		"unsigned":         "s:apple",
		"no dot":           "s:appleD8Y",
		"tampered id":      strings.Replace(good, "apple", "appld", 1),
		"tampered sig":     good[:len(good)-1] + "V",
		"truncated sig":    good[:len(good)-2],
		"empty id":         "s:." + good[len("s:apple."):],
		"garbage":          "\x00\xff%%%zz",
		"bad escape":       "s%3Aapple.%ZZ",
		"8 KiB":            "s:" + strings.Repeat("a", 8192) + "." + good[len("s:apple."):],
		"other secret":     rawSigned(newSigner([]string{"other"}), "apple"),
		"signature suffix": good + "A",
	} {
		if id, ok := s.unsign(v); ok {
			t.Errorf("%s: unsign(%q) accepted id %q", name, v, id)
		}
	}
}

func TestURIEscapingMatchesJavaScript(t *testing.T) {
	for in, want := range map[string]string{
		"abc-_.!~*'()": "abc-_.!~*'()",
		"a b":          "a%20b",
		"s:x+y/z=":     "s%3Ax%2By%2Fz%3D",
		"é":            "%C3%A9",
	} {
		if got := string(appendURIEncoded(nil, in)); got != want {
			t.Errorf("encodeURIComponent(%q) = %q, want %q", in, got, want)
		}
		if back, ok := appendURIDecoded(nil, want); !ok || string(back) != in {
			t.Errorf("decodeURIComponent(%q) = %q, %v", want, back, ok)
		}
	}
	for _, bad := range []string{"%", "%4", "%G1", "a%2", "%FF", "%C3", "%C3x%A9", "%ED%A0%80"} {
		if _, ok := appendURIDecoded(nil, bad); ok {
			t.Errorf("decodeURIComponent(%q) accepted a malformed escape", bad)
		}
	}
}

func FuzzUnsign(f *testing.F) {
	s := newSigner([]string{"keyboard cat", "old"})
	f.Add(s.cookieValue("apple"))
	f.Add(newSigner([]string{"old"}).cookieValue("apple")) // verifies, but not current
	f.Add(rawSigned(s, "/foo"))
	f.Add("s%3A%25.kzQ6x52kKVdF35Qh62AWk4ZekS28K5XYCXKa%2FOTZ01g")
	f.Add("s:x%41y%.B0Zw7R0d/M9oOvrjgEDPqsOE1q9T8DGlQMsa2ay31hs")
	f.Add("s:.")
	f.Add("%")
	f.Fuzz(func(t *testing.T, v string) {
		id, current, ok := s.verifyValue(v)
		if !ok {
			return
		}
		// A value is current exactly when it is what the manager sends for
		// its id, so that sending it back is the same as signing anew.
		if sent := s.cookieValue(id); current != (v == sent) {
			t.Fatalf("verifyValue(%q) says current %v; the manager sends %q", v, current, sent)
		}
		// Whatever verified must be exactly what one of the secrets would
		// have signed: the value itself, or (when it decodes) its decoded form.
		if dec, decoded := appendURIDecoded(nil, v); decoded {
			v = string(dec)
		}
		var signed []string
		for i := range s.pools {
			var sig [sigLen]byte
			s.mac(i, []byte(id), &sig)
			signed = append(signed, "s:"+id+"."+string(sig[:]))
		}
		if !slices.Contains(signed, v) {
			t.Fatalf("unsign accepted id %q from %q, which is none of %q", id, v, signed)
		}
	})
}

func TestVerifiedCookieCacheNeverAcceptsWhatTheSignerRejects(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	good := m.signer.cookieValue("abc")
	for range 2 { // the second round is served from the cache
		if v, ok := m.verify(good); !ok || v.id != "abc" || !v.current {
			t.Fatalf("verify(good) = %+v, %v", v, ok)
		}
		for _, bad := range []string{good[:len(good)-1] + "A", "s%3Aabc", ""} {
			if _, ok := m.verify(bad); ok {
				t.Fatalf("verify(%q) accepted", bad)
			}
		}
	}
	for i := range verifiedShards * verifiedPerShard * 2 { // overflow every shard: it stays bounded
		m.verified.put(fmt.Sprint(i), verifiedValue{id: "x"})
	}
	n := 0
	for i := range m.verified.shards {
		n += len(m.verified.shards[i].values)
	}
	if n > verifiedShards*verifiedPerShard {
		t.Fatalf("cache holds %d entries", n)
	}
	if v, ok := m.verify(good); !ok || v.id != "abc" {
		t.Fatal("a good value must verify after the cache was emptied")
	}
}

// A cookie value and its id are slices of the request's Cookie header,
// which may be a megabyte long. Neither the verified cache nor the session
// (whose id a store may keep as a key) may hold on to the header: a client
// that sends many spellings of one signed cookie, each in a large header,
// would otherwise pin every header in memory.
func TestVerifiedCookieKeepsNothingOfTheRequestHeader(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	b := stored(t, m)
	header := "sid=" + b.cookie + "; pad=" + strings.Repeat("x", 64<<10)
	var id string
	h := m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		id = s.ID()
		s.Set("views", 2) // a save, which a store keys by the id
	}))
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Cookie", header)
	h.ServeHTTP(httptest.NewRecorder(), r)
	inHeader := func(v string) bool {
		start, p := uintptr(unsafe.Pointer(unsafe.StringData(header))), uintptr(unsafe.Pointer(unsafe.StringData(v)))
		return v != "" && p >= start && p < start+uintptr(len(header))
	}
	if id == "" || inHeader(id) {
		t.Fatalf("the session's id %q is a slice of the Cookie header", id)
	}
	n := 0
	for i := range m.verified.shards {
		for value, v := range m.verified.shards[i].values {
			n++
			if inHeader(value) || inHeader(v.id) {
				t.Fatalf("the verified cache keeps %q (id %q) as a slice of the Cookie header", value, v.id)
			}
		}
	}
	if n == 0 {
		t.Fatal("the cookie was not cached: the test checks nothing")
	}
}

// macOf returns the signature part of a cookie for id, as cookie-signature
// computes it (base64 without padding, not percent-encoded).
func macOf(s *signer, id string) string {
	var sig [sigLen]byte
	s.mac(0, []byte(id), &sig)
	return string(sig[:])
}

// rawSigned returns the signed value "s:<id>.<sig>" before percent-encoding,
// the form cookie-signature produces and express also accepts.
func rawSigned(s *signer, id string) string { return "s:" + id + "." + macOf(s, id) }

// A value whose percent-decoding fails is verified as it stands, exactly as
// express does (cookie's tryDecode keeps the raw value when decodeURIComponent
// throws, then cookie-signature unsigns it). The vectors were checked against
// express-session 1.19 with cookie 0.7.2 and cookie-signature 1.0.7.
func TestUnsignVerifiesTheRawValueWhenDecodingFails(t *testing.T) {
	s := newSigner([]string{"keyboard cat"})
	// "%41" decodes, then "%." is malformed: express verifies the raw id "x%41y%".
	raw := "s:x%41y%." + macOf(s, "x%41y%")
	if raw != "s:x%41y%.B0Zw7R0d/M9oOvrjgEDPqsOE1q9T8DGlQMsa2ay31hs" {
		t.Fatalf("signature differs from cookie-signature's: %s", raw)
	}
	if id, ok := s.unsign(raw); !ok || id != "x%41y%" {
		t.Errorf("unsign(%q) = %q, %v; express accepts it as id x%%41y%%", raw, id, ok)
	}
	// The same escapes signed for what a half-done decode overwrote the raw
	// value with: express rejects it.
	for _, forged := range []string{"xAy1y%", "xAy"} {
		v := "s:x%41y%." + macOf(s, forged)
		if id, ok := s.unsign(v); ok {
			t.Errorf("unsign(%q) accepted id %q; express rejects it", v, id)
		}
	}
	// decodeURIComponent also throws on escapes that are not UTF-8: the raw
	// value then does not start with "s:", so express sees no session.
	// A character half escaped, half raw is not UTF-8 to decodeURIComponent either.
	halfEscaped := "s%3A%C3\xbf." + string(appendURIEncoded(nil, macOf(s, "ÿ")))
	for _, v := range []string{s.cookieValue("\xff"), halfEscaped} {
		if id, ok := s.unsign(v); ok {
			t.Errorf("unsign(%q) accepted id %q; express rejects it", v, id)
		}
	}
	if id, ok := s.unsign(s.cookieValue("ÿ")); !ok || id != "ÿ" {
		t.Errorf("unsign of the UTF-8 id ÿ = %q, %v", id, ok)
	}
}

// A response that sends the session cookie sends it as the first secret
// signs it, percent-encoded: the request's own value only when it is just
// that, never one signed with an older secret or left unencoded.
func TestTheCookieSentIsSignedWithTheFirstSecretWhateverTheRequestCarried(t *testing.T) {
	// A persistent cookie: every response that saves sends it again.
	cookie := CookieOptions{MaxAge: time.Hour}
	old, st := newTestManager(t, Options{Secrets: []string{"old secret"}, Cookie: cookie})
	rotated, _ := newTestManager(t, Options{Secrets: []string{"new secret", "old secret"}, Store: st, Cookie: cookie})
	rotated.now = st.clock.Now
	b := stored(t, old)
	v, ok := old.verify(b.cookie)
	if !ok {
		t.Fatalf("setting up: the cookie %q does not verify", b.cookie)
	}
	want := rotated.signer.cookieValue(v.id)

	b.h = rotated.Handler(incrViews)
	for _, tc := range []struct{ name, sent string }{
		{"signed with the old secret", b.cookie},
		{"signed with the first secret", want},
		{"again, from the cache", want},
		{"signed with the first secret, not percent-encoded", rawSigned(rotated.signer, v.id)},
	} {
		b.cookie = tc.sent
		rec := b.get("/")
		if b.cookie != want {
			t.Errorf("%s: the response set the cookie %q, want %q", tc.name, b.cookie, want)
		}
		if got := rec.Body.String(); got == "1" {
			t.Errorf("%s: the request did not carry the session (views %s)", tc.name, got)
		}
	}
}
