package storetest

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/session"
)

// testConcurrentCookieOutlivesARead pins, through the manager on the store,
// that a read-only request's touch at the end of the request does not undo
// the cookie another request saved the session with while it ran: the
// store keeps the session as long as that cookie says, not as long as the
// cookie the read loaded. A store whose touch cannot tell that the session
// was written since the load (a plain session.Toucher) is skipped: its
// touch sets the loaded cookie's expiry (see the README's notes on touches).
func testConcurrentCookieOutlivesARead(t *testing.T, newStore func(*testing.T) session.Store, cfg *config) {
	// short is a lifetime the store keeps a session for, and then ends it,
	// within the test; EarlyExpiry's allowance keeps it above a store's
	// granularity.
	short := ExpiryWait + time.Second + cfg.early
	// Both scenarios run first and then wait out short once, together: the
	// wait holds one of go test's -parallel slots, which the other
	// subtests of every Run in the package queue for.
	//
	// RememberMeIsNotCut: the session's own cookie is short; another tab
	// logs in with "remember me" (an hour) while a read runs.
	rememberStore := newStore(t)
	remember, rememberID, rememberRead := cookieSavedDuringRead(t, rememberStore, session.Options{Cookie: session.CookieOptions{MaxAge: 24 * time.Hour}}, short, time.Hour)
	// RollingReadKeepsAShorterCookie: another request shortens the cookie
	// while a read runs.
	rollingStore := newStore(t)
	rolling, rollingID, rollingRead := cookieSavedDuringRead(t, rollingStore, session.Options{Rolling: true, Cookie: session.CookieOptions{MaxAge: time.Hour}}, 0, short)
	// The old cookie of one and the shortened cookie of the other have run
	// out: a touch that set the old cookie's expiry again, or that kept
	// the longer one, would show.
	time.Sleep(time.Until(rememberRead.Add(short)))
	time.Sleep(time.Until(rollingRead.Add(short)))
	t.Run("RememberMeIsNotCut", func(t *testing.T) {
		if c := remember.Header.Values("Set-Cookie"); len(c) != 0 {
			t.Errorf("the read sent Set-Cookie %q", c)
		}
		if _, found, err := rememberStore.Get(ctx(t), rememberID); err != nil || !found {
			t.Fatalf("after the session's old cookie ran out, Get: found %v, %v; want the session, whose stored cookie (and the browser's) lasts an hour", found, err)
		}
	})
	t.Run("RollingReadKeepsAShorterCookie", func(t *testing.T) {
		c := rolling.Header.Get("Set-Cookie")
		i := strings.Index(c, "; Max-Age=")
		if i < 0 {
			t.Fatalf("the Rolling read's Set-Cookie %q has no Max-Age", c)
		}
		age, _ := strconv.Atoi(strings.SplitN(c[i+len("; Max-Age="):], ";", 2)[0])
		if time.Duration(age)*time.Second > short {
			t.Errorf("the Rolling read's Set-Cookie %q outlives the cookie the session was saved with meanwhile (%v)", c, short)
		}
		if _, found, err := rollingStore.Get(ctx(t), rollingID); err != nil || found {
			t.Fatalf("after the cookie another request saved ran out, Get: found %v, %v; want the session gone", found, err)
		}
	})
}

// cookieSavedDuringRead logs in on a manager with opts on st (with a
// cookie of max age own, if not zero), then sends a read-only request
// during which another request saves the session with a cookie of max age
// saved. It returns the read's response, the session's id, and when the
// read ended plus its own time (the longest a write inside it can have
// taken, for a store whose server counts a TTL from when the write reaches
// it) and expiryMargin: a cookie of max age d set during the read has run
// out in the store d after that.
func cookieSavedDuringRead(t *testing.T, st session.Store, opts session.Options, own, saved time.Duration) (*http.Response, string, time.Time) {
	t.Helper()
	capability[session.Toucher](t, st)
	capability[session.VersionedStore](t, st)
	_, gets := st.(session.GetToucher)
	_, versionGets := st.(session.VersionGetToucher)
	if !gets && !versionGets {
		t.Skip("store is neither a session.GetToucher nor a session.VersionGetToucher")
	}
	opts.Store = st
	opts.Secrets = []string{"3e9a1c7f5b2d4e6a8c0f1b3d5e7a9c2e4f6a8b0d1c3e5f7a9b2d4c6e8f0a1b3c"}
	opts.Logger = testLogger(t)
	m, err := session.New(opts)
	if err != nil {
		t.Fatalf("session.New: %v", err)
	}
	var id string
	send := func(h http.Handler, cookie string) *http.Response {
		req := httptest.NewRequestWithContext(t.Context(), "GET", "/", nil)
		if cookie != "" {
			req.Header.Set("Cookie", "sid="+cookie)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		return rec.Result()
	}
	login := send(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.From(r)
		s.Set("name", "ada")
		if own > 0 {
			s.Cookie().SetMaxAge(own)
		}
		id = s.ID()
	})), "")
	var cookie string
	for _, c := range login.Cookies() {
		if c.Name == "sid" {
			cookie = c.Value
		}
	}
	if cookie == "" {
		t.Fatal("the login got no session cookie")
	}
	other := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		session.From(r).Cookie().SetMaxAge(saved)
	}))
	read := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got := session.From(r).Get("name"); got != "ada" {
			t.Errorf("the read got name %v, want ada", got)
		}
		if c := send(other, cookie).Header.Get("Set-Cookie"); c == "" {
			t.Error("the other request sent no cookie for the session it saved")
		}
	}))
	start := time.Now()
	res := send(read, cookie)
	took := time.Since(start)
	return res, id, time.Now().Add(took + expiryMargin)
}
