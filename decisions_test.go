package session

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// saveUninitialized true, no cookie: the new session is
// saved even though nothing was set, and its cookie sent.
func TestSaveUninitializedTrueStoresAndSendsAnUntouchedNewSession(t *testing.T) {
	for _, resave := range []bool{false, true} {
		m, st := newTestManager(t, Options{SaveUninitialized: true, Resave: resave})
		rec := newBrowser(t, m.Handler(readViews)).get("/")
		if st.writes() != 1 || setCookie(rec) == "" {
			t.Fatalf("resave=%v: writes=%d cookie=%q; want 1 write and a cookie", resave, st.writes(), setCookie(rec))
		}
	}
}

// saveUninitialized true, cookie sent, resave false: the
// unmodified session is not saved again.
func TestSaveUninitializedTrueDoesNotSaveAnUnmodifiedLoadedSession(t *testing.T) {
	m, st := newTestManager(t, Options{SaveUninitialized: true})
	b := stored(t, m)
	b.h = m.Handler(readViews)
	st.reset()
	b.get("/")
	if st.writes() != 0 {
		t.Fatalf("writes = %d, want 0", st.writes())
	}
}

// saveUninitialized false, no cookie, not modified: nothing
// stored, no cookie sent (the point of the option: less load on the store).
func TestSaveUninitializedFalseNeitherStoresNorSendsAnUntouchedNewSession(t *testing.T) {
	for _, resave := range []bool{false, true} {
		m, st := newTestManager(t, Options{Resave: resave})
		rec := newBrowser(t, m.Handler(readViews)).get("/")
		if st.writes() != 0 || setCookie(rec) != "" {
			t.Fatalf("resave=%v: writes=%d cookie=%q; want nothing", resave, st.writes(), setCookie(rec))
		}
		if n, _ := st.Count(t.Context()); n != 0 {
			t.Fatalf("store holds %d sessions", n)
		}
	}
}

// saveUninitialized false, resave false, cookie sent: the
// unmodified session is not written, only touched.
func TestResaveFalseDoesNotWriteUnmodifiedSession(t *testing.T) {
	m, st := newTestManager(t, Options{})
	b := stored(t, m)
	b.h = m.Handler(readViews)
	st.reset()
	b.get("/")
	if st.writes() != 0 || st.n("Touch") != 1 {
		t.Fatalf("writes=%d touches=%d; want 0 writes and 1 touch", st.writes(), st.n("Touch"))
	}
}

// saveUninitialized false, resave true, cookie sent: the
// unmodified session is written back on every request.
func TestResaveTrueWritesUnmodifiedSessionBack(t *testing.T) {
	m, st := newTestManager(t, Options{Resave: true})
	b := stored(t, m)
	b.h = m.Handler(readViews)
	st.reset()
	b.get("/")
	b.get("/")
	if st.writes() != 2 || st.n("Touch") != 0 {
		t.Fatalf("writes=%d touches=%d; want 2 writes, no touch", st.writes(), st.n("Touch"))
	}
}

func TestModifiedNewSessionIsStoredAndItsCookieSent(t *testing.T) {
	m, st := newTestManager(t, Options{})
	rec := newBrowser(t, m.Handler(incrViews)).get("/")
	if st.writes() != 1 || setCookie(rec) == "" {
		t.Fatalf("writes=%d cookie=%q", st.writes(), setCookie(rec))
	}
}

func TestSessionPersistsAcrossRequests(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	b := newBrowser(t, m.Handler(incrViews))
	for want := 1; want <= 3; want++ {
		if got := b.get("/").Body.String(); got != fmt.Sprint(want) {
			t.Fatalf("request %d: views = %s", want, got)
		}
	}
}

func TestUnmodifiedSessionSendsNoCookieWithoutRolling(t *testing.T) {
	m, _ := newTestManager(t, Options{Cookie: CookieOptions{MaxAge: time.Hour}})
	b := stored(t, m)
	b.h = m.Handler(readViews)
	if c := setCookie(b.get("/")); c != "" {
		t.Fatalf("unexpected Set-Cookie %q", c)
	}
}

func TestRollingSendsCookieOnEveryRequestAndPushesExpiry(t *testing.T) {
	m, _ := newTestManager(t, Options{Rolling: true, Cookie: CookieOptions{MaxAge: time.Hour}})
	b := stored(t, m)
	b.h = m.Handler(readViews)
	rec := b.get("/")
	c := setCookie(rec)
	if c == "" {
		t.Fatal("rolling: no Set-Cookie on an unmodified request")
	}
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 || time.Until(cookies[0].Expires) < 59*time.Minute {
		t.Fatalf("expiry not pushed forward: %q", c)
	}
}

func TestModifiedSessionWithExpirySendsCookie(t *testing.T) {
	m, _ := newTestManager(t, Options{Cookie: CookieOptions{MaxAge: time.Hour}})
	b := stored(t, m)
	if setCookie(b.get("/")) == "" {
		t.Fatal("a modified session with an expiring cookie must re-send it")
	}
}

func TestBrowserSessionCookieIsNotResentWhenOnlyDataChanges(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	b := stored(t, m)
	if c := setCookie(b.get("/")); c != "" {
		t.Fatalf("express does not re-send a browser-session cookie: got %q", c)
	}
}

// Deliberate difference 8: changing the session's own cookie is a
// modification, even with no data change and no rolling.
func TestChangingOnlyTheCookieMaxAgeSavesAndSendsTheCookie(t *testing.T) {
	m, st := newTestManager(t, Options{})
	b := stored(t, m)
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Cookie().SetMaxAge(30 * 24 * time.Hour) // "remember me"
	}))
	st.reset()
	rec := b.get("/")
	if st.writes() != 1 {
		t.Fatalf("writes = %d, want 1", st.writes())
	}
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 || time.Until(cookies[0].Expires) < 29*24*time.Hour {
		t.Fatalf("want a 30-day cookie, got %q", setCookie(rec))
	}
	data, _, _ := st.Store.Get(t.Context(), mustID(t, m, b.cookie))
	if !strings.Contains(string(data), `"originalMaxAge":2592000000`) {
		t.Fatalf("stored cookie not updated: %s", data)
	}
}

func TestUnsetKeepLeavesTheStoredSession(t *testing.T) {
	m, st := newTestManager(t, Options{Unset: UnsetKeep})
	b := stored(t, m)
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Set("lost", true)
		s.Unset()
		if From(r) != nil {
			t.Error("From must return nil after Unset")
		}
	}))
	st.reset()
	b.get("/")
	if st.total() != 1 || st.n("GetVersion") != 1 {
		t.Fatalf("store calls after the load: %v", st.calls)
	}
	if n, _ := st.Count(t.Context()); n != 1 {
		t.Fatalf("stored sessions = %d, want 1", n)
	}
}

func TestUnsetDestroyDeletesTheStoredSession(t *testing.T) {
	m, st := newTestManager(t, Options{Unset: UnsetDestroy})
	b := stored(t, m)
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) { s.Unset() }))
	b.get("/")
	if n, _ := st.Count(t.Context()); n != 0 || st.n("Destroy") != 1 {
		t.Fatalf("stored=%d destroys=%d; want the session destroyed", n, st.n("Destroy"))
	}
}

// Deliberate difference 4: lazy loading.
func TestHandlerThatNeverUsesTheSessionCostsNoStoreCallAndNoCookie(t *testing.T) {
	m, st := newTestManager(t, Options{SaveUninitialized: true, Rolling: true})
	b := stored(t, m)
	b.h = m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("static")) }))
	st.reset()
	if rec := b.get("/static.css"); setCookie(rec) != "" || st.total() != 0 {
		t.Fatalf("store calls %v, cookie %q", st.calls, setCookie(rec))
	}
}
