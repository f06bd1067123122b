package session

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// An Express app whose cookie.maxAge is longer than a time.Duration holds
// (about 292 years: the "never expire" maxAge: 9999999999999 is 317) stores
// that originalMaxAge. A Go request that uses and saves such a session keeps
// a long, positive original max age: the cookie is still renewed on every
// request, and the document written back does not carry a negative one,
// with which Express's next touch would expire the session at once.
func TestExpressOriginalMaxAgeBeyondADurationStaysLong(t *testing.T) {
	m, st := newTestManager(t, Options{})
	const ms = 9999999999999
	id := "express-made-session-id-0123456789"
	expires := st.clock.Now().Add(100 * 365 * 24 * time.Hour).UTC().Format(isoMillis)
	express := fmt.Sprintf(`{"cookie":{"originalMaxAge":%d,"expires":%q,"httpOnly":true,"path":"/"},"views":1}`, ms, expires)
	if err := st.Store.Set(t.Context(), id, []byte(express), time.Time{}); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, m.Handler(incrViews))
	b.cookie = mustCookie(m, id)
	if got := b.get("/").Body.String(); got != "2" {
		t.Fatalf("views = %s, want the Express session", got)
	}
	data, _, _ := st.Store.Get(t.Context(), id)
	doc, err := JSONCodec{}.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	const longest = int64(1<<63-1) / int64(time.Millisecond)
	if doc.Cookie.OriginalMaxAge == nil || *doc.Cookie.OriginalMaxAge < longest || doc.Cookie.Expires == nil ||
		doc.Cookie.Expires.Sub(st.clock.Now()) < 290*365*24*time.Hour {
		t.Fatalf("stored cookie %s; want originalMaxAge of at least %d ms and the expiry renewed to about 292 years from now", data, longest)
	}
}

// A session whose cookie has less than a second left when it is sent (a
// MaxAge under a second, as tests of expiry use) gets Max-Age=1, not
// Max-Age=0, which tells the browser to delete the cookie at once while the
// session lives on: Max-Age counts down whole seconds but never to zero
// for a cookie that has not expired. An expired one (SetExpires in the
// past) still gets Max-Age=0.
func TestMaxAgeUnderASecondIsOneNotZero(t *testing.T) {
	m, st := newTestManager(t, Options{Cookie: CookieOptions{MaxAge: 500 * time.Millisecond}})
	b := newBrowser(t, m.Handler(incrViews))
	if c := setCookie(b.get("/")); !strings.Contains(c, "; Max-Age=1;") {
		t.Fatalf("Set-Cookie %q, want Max-Age=1", c)
	}
	if got := b.get("/").Body.String(); got != "2" {
		t.Fatalf("views = %s within the session's half second, want 2", got)
	}
	st.clock.Advance(time.Second)
	if got := b.get("/").Body.String(); got != "1" {
		t.Fatalf("views = %s after the session's half second, want a fresh session", got)
	}
	past := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Set("k", "v")
		s.Cookie().SetExpires(st.clock.Now().Add(-time.Hour))
	})))
	if c := setCookie(past.get("/")); !strings.Contains(c, "; Max-Age=0;") {
		t.Fatalf("Set-Cookie of an expired cookie %q, want Max-Age=0", c)
	}
}
