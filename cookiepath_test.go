package session

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

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

// An app mounted under a prefix (http.StripPrefix outside the middleware)
// with its cookie scoped to that prefix gets sessions: the cookie path is
// matched against the path the browser asked for and matches the cookie
// against, as express-session reads req.originalUrl, not against what is
// left of r.URL.Path. A path outside the prefix still gets none.
func TestCookiePathIsMatchedAgainstThePathTheBrowserAskedForBehindStripPrefix(t *testing.T) {
	m, _ := newTestManager(t, Options{Cookie: CookieOptions{Path: "/app"}})
	app := m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		if s == nil {
			fmt.Fprint(w, "no session")
			return
		}
		if r.URL.Path == "/login" {
			s.Set("user", "ada")
		}
		fmt.Fprint(w, s.Get("user"))
	}))
	mux := http.NewServeMux()
	mux.Handle("/app/", http.StripPrefix("/app", app))
	mux.Handle("/other/", http.StripPrefix("/other", app))
	srv, c := serve(t, mux)
	if got, cookies := getBody(t, c, srv.URL+"/app/login"); got != "ada" || len(cookies) != 1 {
		t.Fatalf("login: body %q, Set-Cookie %q; want ada and the session's cookie", got, cookies)
	}
	if got, _ := getBody(t, c, srv.URL+"/app/whoami"); got != "ada" {
		t.Fatalf("whoami: %q, want ada", got)
	}
	if got, _ := getBody(t, c, srv.URL+"/other/login"); got != "no session" {
		t.Fatalf("outside the cookie path: %q, want no session", got)
	}
}
