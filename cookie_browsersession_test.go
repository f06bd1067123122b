package session_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sessionkit/session"
)

// A change to the session's own cookie is sent (README #8), also when it
// makes a persistent cookie a browser-session one ("remember me" switched
// off), and when the handler then saves the session by hand: without a
// Set-Cookie the browser keeps the persistent cookie until its old Expires
// (express sends none there).
func TestCookieMadeBrowserSessionIsSentToTheBrowser(t *testing.T) {
	for name, change := range map[string]func(*http.Request, *session.Session) error{
		"SetMaxAge(0)":     func(_ *http.Request, s *session.Session) error { s.Cookie().SetMaxAge(0); return nil },
		"SetExpires(zero)": func(_ *http.Request, s *session.Session) error { s.Cookie().SetExpires(time.Time{}); return nil },
		"SetMaxAge(0), then Save": func(r *http.Request, s *session.Session) error {
			s.Cookie().SetMaxAge(0)
			return s.Save(r.Context())
		},
	} {
		t.Run(name, func(t *testing.T) {
			m, err := session.New(session.Options{Secrets: []string{"0123456789abcdef0123456789abcdef"}, Cookie: session.CookieOptions{MaxAge: time.Hour}})
			if err != nil {
				t.Fatal(err)
			}
			h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				s := session.From(r)
				if r.URL.Path == "/login" {
					s.Set("user", "ada")
					return
				}
				if err := change(r, s); err != nil {
					t.Error(err)
				}
			}))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("GET", "/login", nil))
			c := w.Result().Cookies()[0]
			r := httptest.NewRequest("GET", "/forget-me", nil)
			r.AddCookie(c)
			w = httptest.NewRecorder()
			h.ServeHTTP(w, r)
			got := w.Result().Cookies()
			if len(got) != 1 || got[0].MaxAge != 0 || !got[0].Expires.IsZero() {
				t.Fatalf("Set-Cookie after making the cookie browser-session = %q, want the cookie without Expires/Max-Age", w.Header().Values("Set-Cookie"))
			}
		})
	}
}
