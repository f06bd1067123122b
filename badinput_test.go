package session

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A bad, forged, truncated or oversized cookie is "no session": a fresh
// session, never an error page and never someone else's session.
func TestBadCookiesGiveAFreshSessionNeverAnErrorOrAnotherSession(t *testing.T) {
	m, st := newTestManager(t, Options{Secrets: []string{"new", "old"}})
	victim := stored(t, m) // views = 1
	good := victim.cookie
	id := mustID(t, m, good)
	retired, _ := New(Options{Secrets: []string{"retired"}})
	raw := rawSigned(m.signer, id)
	for name, cookies := range map[string][]string{
		"tampered signature":     {changedAt(good, strings.LastIndexByte(good, '.')+1)},
		"tampered id":            {changedAt(good, len("s%3A"))},
		"unsigned":               {id},
		"unsigned with s:":       {"s:" + id},
		"garbage":                {"%%%\u00ff\u0000garbage"},
		"8 KiB":                  {strings.Repeat("A", 8192)},
		"8 KiB signed-shape":     {"s:" + strings.Repeat("A", 8192) + "." + raw[len(raw)-43:]},
		"retired secret":         {retired.signer.cookieValue(id)},
		"bad first, good second": {"s%3Aforged.AAAA", good},
	} {
		st.reset()
		req := httptest.NewRequest("GET", "/", nil)
		for _, c := range cookies {
			req.Header.Add("Cookie", "sid="+c)
		}
		rec := httptest.NewRecorder()
		m.Handler(readViews).ServeHTTP(rec, req)
		if rec.Code != 200 || rec.Body.String() != "0" {
			t.Errorf("%s: status %d body %q, want a fresh session", name, rec.Code, rec.Body)
		}
		if st.n("GetVersion")+st.n("Get") != 0 {
			t.Errorf("%s: the store was asked for an unverified id", name)
		}
	}
	// The raw, unencoded form of a good cookie works, as does the first of two.
	for name, cookies := range map[string][]string{"raw s: form": {raw}, "good first, bad second": {good, "garbage"}} {
		req := httptest.NewRequest("GET", "/", nil)
		for _, c := range cookies {
			req.Header.Add("Cookie", "sid="+c)
		}
		rec := httptest.NewRecorder()
		m.Handler(readViews).ServeHTTP(rec, req)
		if rec.Body.String() != "1" {
			t.Errorf("%s: views = %s, want the session", name, rec.Body)
		}
	}
}

// changedAt is s with the byte at i changed: to 'A', or to 'B' if it was
// one. A fixed replacement ("abc" for the signature's end, "AAAA" for the
// id's start) left the value as it was, and valid, when the random id or
// its signature happened to hold it there (one run in 65,536 for "abc").
func changedAt(s string, i int) string {
	c := byte('A')
	if s[i] == c {
		c = 'B'
	}
	return s[:i] + string(c) + s[i+1:]
}

func TestCorruptStoredSessionIsLoggedAndTreatedAsMissing(t *testing.T) {
	var logs bytes.Buffer
	m, st := newTestManager(t, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	b := stored(t, m)
	id := mustID(t, m, b.cookie)
	for _, garbage := range []string{"not json", `{"cookie":{"expires":"yesterday"}}`, `[1,2]`, `{"cookie":`, ""} {
		st.Store.Set(t.Context(), id, []byte(garbage), time.Time{})
		rec := b.get("/")
		if rec.Code != 200 || rec.Body.String() != "1" {
			t.Fatalf("%q: status %d body %s, want a fresh session", garbage, rec.Code, rec.Body)
		}
		b.cookie = mustCookie(m, id)
	}
	if !strings.Contains(logs.String(), "corrupt") {
		t.Fatalf("corruption not logged: %s", logs.String())
	}
}

func mustCookie(m *Manager, id string) string { return m.signer.cookieValue(id) }

func TestOutsideTheMiddlewareFromIsNil(t *testing.T) {
	if From(httptest.NewRequest("GET", "/", nil)) != nil {
		t.Fatal("From without the middleware")
	}
	_ = http.StatusOK
}

// FuzzCookieHeader sends arbitrary Cookie headers through the middleware:
// never a panic, never an error page, never the stored session (which no
// fuzzer can forge a signature for) unless the header carries its signed
// id, in any encoding (the fuzzer rewrites the seeded cookie's escapes).
func FuzzCookieHeader(f *testing.F) {
	m, err := New(Options{Secrets: []string{"keyboard cat"}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.Fatal(err)
	}
	b := &browser{h: m.Handler(incrViews)}
	b.get("/") // one stored session with views = 1
	h := m.Handler(readViews)
	signed := percentDecoded(b.cookie) // s:<id>.<signature>
	f.Add("sid=" + b.cookie)
	f.Add("sid=s%3Aabc.def; sid=" + b.cookie)
	f.Add(`sid="s:x.y"; other=1`)
	f.Add("sid=%%%; ;;=;sid")
	// The stored session's cookie as other encodings of the same value:
	// lower-case hex in its escapes, and the raw s: form.
	f.Add("sid=" + strings.ReplaceAll(b.cookie, "%3A", "%3a"))
	f.Add("sid=" + percentDecoded(b.cookie))
	f.Fuzz(func(t *testing.T, header string) {
		if strings.Contains(percentDecoded(header), signed) {
			return // the stored session's cookie, in one of its encodings
		}
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Cookie", header)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || rec.Body.String() != "0" {
			t.Fatalf("Cookie %q: status %d body %q", header, rec.Code, rec.Body)
		}
	})
}

// percentDecoded is s with each %XX escape of two hex digits decoded and
// anything else left as it is: every value a cookie parser can read from s
// by decoding its escapes, raw or decoded, appears in it.
func percentDecoded(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if c, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(c))
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
