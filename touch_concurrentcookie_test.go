package session

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// staleTouchKinds are the kinds of store (storeKinds) whose end-of-request
// touch can tell that another request wrote the session since the load: a
// GetToucher's and a VersionGetToucher's touch answer what they touched. A
// plain Toucher's (or VersionToucher's) cannot, without a read of its own
// (see the README's notes on touches).
var staleTouchKinds = []string{"GetToucher", "VersionGetToucher"}

// cookieChangedDuringRead runs a read-only request of a stored session
// during which another request (another tab) saves the session with its
// cookie's max age set to saved; own, if not zero, is the max age the
// session was stored with. It returns the read's response, the store, and
// the session's id.
func cookieChangedDuringRead(t *testing.T, kind string, opts Options, own, saved time.Duration) (rec *http.Response, cs *countingStore, id string) {
	t.Helper()
	var m *Manager
	for _, k := range storeKinds {
		if k.name == kind {
			m, cs = newKindManager(t, k.make, opts)
		}
	}
	b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Set("user", "u")
		if own > 0 {
			s.Cookie().SetMaxAge(own)
		}
	})))
	b.get("/")
	if b.cookie == "" {
		t.Fatal("no session cookie for the login")
	}
	other := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Cookie().SetMaxAge(saved)
	})))
	other.cookie = b.cookie
	reader := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		if s.Get("user") != "u" {
			t.Errorf("the read got user %v", s.Get("user"))
		}
		cs.clock.Advance(time.Second)
		if c := setCookie(other.get("/")); !strings.Contains(c, "Max-Age="+strconv.Itoa(int(saved/time.Second))) {
			t.Errorf("the other request's Set-Cookie %q, want Max-Age=%d", c, int(saved/time.Second))
		}
	})))
	reader.cookie = b.cookie
	return reader.get("/").Result(), cs, mustID(t, m, b.cookie)
}

// aliveAfter reports whether the store still holds session id after d.
func aliveAfter(t *testing.T, cs *countingStore, id string, d time.Duration) bool {
	t.Helper()
	cs.clock.Advance(d)
	_, found, err := cs.Store.Get(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// TestAConcurrentRememberMeIsNotCutByAReadsTouch: a session with a 7-day
// cookie of its own is read while another tab saves it with a 30-day
// cookie ("remember me"). The read's touch at the end of the request must
// not set the stored expiry back to 7 days: the browser holds the 30-day
// cookie. With the options' cookie (the read's touch is the load's), too.
func TestAConcurrentRememberMeIsNotCutByAReadsTouch(t *testing.T) {
	const day = 24 * time.Hour
	for _, kind := range staleTouchKinds {
		for _, own := range []time.Duration{7 * day, 0} {
			t.Run(kind+"/own="+own.String(), func(t *testing.T) {
				res, cs, id := cookieChangedDuringRead(t, kind, Options{Cookie: CookieOptions{MaxAge: time.Hour}}, own, 30*day)
				if c := res.Header.Values("Set-Cookie"); len(c) != 0 {
					t.Errorf("the read sent Set-Cookie %q", c)
				}
				if !aliveAfter(t, cs, id, 8*day) {
					t.Fatal("the session is gone after 8 days, though the other tab's save gave it a 30-day cookie")
				}
				if aliveAfter(t, cs, id, 23*day) {
					t.Fatal("the session is still stored after 31 days")
				}
			})
		}
	}
}

// TestAConcurrentShorterCookieIsNotUndoneByARollingRead: with Rolling, a
// read of a session with the options' 1-hour cookie runs while another
// request saves it with a 1-minute cookie. The read's touch must leave
// the session at 1 minute, and the cookie it sends must say so.
func TestAConcurrentShorterCookieIsNotUndoneByARollingRead(t *testing.T) {
	for _, kind := range staleTouchKinds {
		t.Run(kind, func(t *testing.T) {
			res, cs, id := cookieChangedDuringRead(t, kind, Options{Rolling: true, Cookie: CookieOptions{MaxAge: time.Hour}}, 0, time.Minute)
			c := res.Header.Get("Set-Cookie")
			if !strings.Contains(c, "; Max-Age=60;") {
				t.Errorf("the read's Set-Cookie %q, want Max-Age=60, the cookie the session now has", c)
			}
			if aliveAfter(t, cs, id, 2*time.Minute) {
				t.Fatal("the session is still stored 2 minutes after it was saved with a 1-minute cookie")
			}
		})
	}
}
