package session

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Handlers shared by the decision tests.
var (
	readViews = handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		n, _ := GetAs[int](s, "views")
		fmt.Fprint(w, n)
	})
	incrViews = handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		n, _ := GetAs[int](s, "views")
		s.Set("views", n+1)
		fmt.Fprint(w, n+1)
	})
)

// stored creates a session in the store through the manager and returns a
// browser that carries its cookie.
func stored(t *testing.T, m *Manager) *browser {
	t.Helper()
	b := newBrowser(t, m.Handler(incrViews))
	b.get("/")
	if b.cookie == "" {
		t.Fatal("setting up: no session cookie")
	}
	return b
}

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

func mustID(t *testing.T, m *Manager, cookie string) string {
	t.Helper()
	id, ok := m.signer.unsign(cookie)
	if !ok {
		t.Fatalf("cookie %q does not verify", cookie)
	}
	return id
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

// Deliberate difference 7: RFC 6265 path-match, not a string prefix.
func TestCookiePathMatchesPathSegmentsNotPrefixes(t *testing.T) {
	m, _ := newTestManager(t, Options{Cookie: CookieOptions{Path: "/foo"}})
	h := m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		fmt.Fprint(w, s != nil)
	}))
	for path, want := range map[string]string{"/foo": "true", "/foo/": "true", "/foo/bar": "true", "/foobar": "false", "/": "false", "/fo": "false"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Body.String() != want {
			t.Errorf("session on %s = %s, want %s", path, rec.Body.String(), want)
		}
	}
}

func TestSetCookieCarriesExpiresMaxAgeAndAttributesInExpressOrder(t *testing.T) {
	m, _ := newTestManager(t, Options{Cookie: CookieOptions{
		MaxAge: time.Hour, Domain: "example.com", Path: "/app", Secure: SecureAlways,
		SameSite: SameSiteStrict, Partitioned: true, Priority: "High",
	}})
	b := newBrowser(t, m.Handler(incrViews))
	b.secure = true
	c := setCookie(b.get("/app"))
	re := regexp.MustCompile(`^sid=s%3A[A-Za-z0-9_-]{32}\.[A-Za-z0-9%]+; Domain=example.com; Path=/app; Expires=[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT; Max-Age=(3599|3600); HttpOnly; Secure; Partitioned; Priority=High; SameSite=Strict$`)
	if !re.MatchString(c) {
		t.Fatalf("Set-Cookie = %q", c)
	}
}

func TestNewSessionIDsAre32CharacterBase64URL(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	seen := map[string]bool{}
	for range 100 {
		id, _ := m.newID(nil)
		if !regexp.MustCompile(`^[A-Za-z0-9_-]{32}$`).MatchString(id) || seen[id] {
			t.Fatalf("bad or repeated id %q", id)
		}
		seen[id] = true
	}
}

func TestGenerateIDIsUsedForNewSessions(t *testing.T) {
	m, st := newTestManager(t, Options{GenerateID: func(r *http.Request) string { return "custom-" + r.URL.Query().Get("u") }})
	newBrowser(t, m.Handler(incrViews)).get("/?u=42")
	if _, found, err := st.Store.Get(t.Context(), "custom-42"); err != nil || !found {
		t.Fatalf("session not stored under the generated id: %v", err)
	}
}

func TestSecureCookieIsNotSentOverPlainHTTPButTheSessionIsSaved(t *testing.T) {
	m, st := newTestManager(t, Options{Cookie: CookieOptions{Secure: SecureAlways}})
	rec := newBrowser(t, m.Handler(incrViews)).get("/")
	if setCookie(rec) != "" || st.writes() != 1 {
		t.Fatalf("cookie=%q writes=%d; want no cookie and one write", setCookie(rec), st.writes())
	}
}

func TestSecureAutoFollowsTLSAndTrustedForwardedProto(t *testing.T) {
	for _, tc := range []struct {
		name       string
		trust      bool
		tls        bool
		xfp        string
		wantSecure bool
		wantSite   string
	}{
		{"plain", false, false, "", false, "SameSite=Lax"},
		{"tls", false, true, "", true, "SameSite=None"},
		{"untrusted proxy header", false, false, "https", false, "SameSite=Lax"},
		{"trusted proxy https", true, false, "https, http", true, "SameSite=None"},
		{"trusted proxy http", true, false, "http", false, "SameSite=Lax"},
	} {
		// Partitioned goes with Secure: browsers drop it without.
		m, _ := newTestManager(t, Options{TrustProxy: tc.trust, Cookie: CookieOptions{Secure: SecureAuto, SameSite: SameSiteAuto, Partitioned: true}})
		b := newBrowser(t, m.Handler(incrViews))
		b.secure = tc.tls
		if tc.xfp != "" {
			b.header = http.Header{"X-Forwarded-Proto": {tc.xfp}}
		}
		c := setCookie(b.get("/"))
		if c == "" {
			t.Errorf("%s: no cookie", tc.name)
			continue
		}
		if strings.Contains(c, "; Secure") != tc.wantSecure || strings.Contains(c, "; Partitioned") != tc.wantSecure || !strings.Contains(c, tc.wantSite) {
			t.Errorf("%s: Set-Cookie %q, want secure and partitioned=%v and %s", tc.name, c, tc.wantSecure, tc.wantSite)
		}
	}
}
