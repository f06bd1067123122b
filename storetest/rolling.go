package storetest

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sessionkit/session"
)

// testRollingCookieOfDestroyedSession pins, through the manager on the
// store, that a request whose session another request destroyed while it
// ran (a logout in another tab) sends no session cookie with Rolling: that
// cookie would replace the one the logout sent. The end of the request's
// touch (or save) must find the session gone, so no touch may ride on the
// load, which happened before the destroy.
func testRollingCookieOfDestroyedSession(t *testing.T, newStore func(*testing.T) session.Store, cfg *config) {
	st := newStore(t)
	capability[session.Toucher](t, st)
	m, err := session.New(session.Options{
		Secrets: []string{"storetest secret"},
		Store:   st,
		Rolling: true,
		Cookie:  session.CookieOptions{MaxAge: time.Hour},
		Logger:  slog.New(slog.NewTextHandler(logWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		t.Fatalf("session.New: %v", err)
	}
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.From(r)
		if s == nil {
			http.Error(w, "no session", http.StatusInternalServerError)
			return
		}
		switch r.URL.Path {
		case "/login":
			s.Set("user", "ada")
		case "/read", "/write":
			s.Get("user")
			// Another request logs the user out while this one runs.
			if err := st.Destroy(r.Context(), s.ID()); err != nil {
				t.Errorf("Destroy: %v", err)
			}
			if r.URL.Path == "/write" {
				s.Set("late", 1)
			}
		}
		io.WriteString(w, "ok")
	}))
	serve := func(t *testing.T, path string, cookies []*http.Cookie) *http.Response {
		req := httptest.NewRequestWithContext(t.Context(), "GET", path, nil)
		for _, c := range cookies {
			req.AddCookie(c)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: status %d: %s", path, rec.Code, rec.Body)
		}
		return rec.Result()
	}
	for _, path := range []string{"/read", "/write"} {
		t.Run(path[1:], func(t *testing.T) {
			login := serve(t, "/login", nil).Cookies()
			if len(login) == 0 {
				t.Fatal("the login got no session cookie")
			}
			if c := serve(t, path, login).Cookies(); len(c) != 0 {
				t.Fatalf("Set-Cookie %s for a session another request destroyed meanwhile: it would undo that logout", c[0])
			}
		})
	}
}
