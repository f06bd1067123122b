package session

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

// Save of a session that the end of the request would neither store nor
// send a cookie for (new to the client, unchanged: after Destroy, after a
// Save that found the session ended elsewhere, or a new visitor's without
// SaveUninitialized) writes nothing: a stored copy would be reachable by no
// one, and lasted the session lifetime in the store. It used to store the
// empty session all the same.
func TestSaveOfASessionNoCookieGoesOutForStoresNothing(t *testing.T) {
	for _, tc := range []struct {
		name    string
		loginAs string // "" for a new visitor
		before  func(t *testing.T, r *http.Request, s *Session, other *browser)
	}{
		{"new visitor", "", func(*testing.T, *http.Request, *Session, *browser) {}},
		{"after Destroy", "ada", func(t *testing.T, r *http.Request, s *Session, _ *browser) {
			if err := s.Destroy(r.Context()); err != nil {
				t.Fatal(err)
			}
		}},
		{"after a Save that found the session ended", "ada", func(t *testing.T, r *http.Request, s *Session, other *browser) {
			other.get("/destroy") // the same session's logout, in another tab
			s.Set("step", 1)
			if err := s.Save(r.Context()); !errors.Is(err, ErrNotFound) {
				t.Fatalf("first Save = %v, want ErrNotFound", err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, st := newTestManager(t, Options{})
			users := usersApp(t)
			var (
				id      string
				saveErr error
				other   *browser
			)
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/save" {
					users.ServeHTTP(w, r)
					return
				}
				s := From(r)
				tc.before(t, r, s, other)
				saveErr = s.Save(r.Context())
				id = s.ID()
				io.WriteString(w, "ok")
			})
			b := newBrowser(t, m.Handler(h))
			if tc.loginAs != "" {
				login(b, tc.loginAs)
			}
			other = &browser{t: t, h: b.h, cookie: b.cookie}
			rec := b.get("/save")
			if saveErr != nil {
				t.Fatalf("Save = %v, want nil", saveErr)
			}
			if sc := setCookie(rec); sc != "" && !strings.Contains(sc, "Max-Age=0") {
				t.Fatalf("Set-Cookie %q: a cookie went out for the session", sc)
			}
			if _, found, _ := st.Store.Get(t.Context(), id); found {
				t.Fatal("the session was stored, and no cookie names it")
			}
			if n, err := st.Count(t.Context()); err != nil || n != 0 {
				t.Fatalf("%d sessions stored after the request (%v), want none", n, err)
			}
		})
	}
}

// With SaveUninitialized a new visitor's session is kept unchanged, so its
// Save stores it and its cookie goes out, as at the end of the request.
func TestSaveOfANewSessionWithSaveUninitializedStoresItAndSendsItsCookie(t *testing.T) {
	m, st := newTestManager(t, Options{SaveUninitialized: true})
	var id string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := From(r)
		if err := s.Save(r.Context()); err != nil {
			t.Error(err)
		}
		id = s.ID()
	})
	b := newBrowser(t, m.Handler(h))
	b.get("/")
	if _, found, _ := st.Store.Get(t.Context(), id); !found {
		t.Fatal("the saved session is not stored")
	}
	if got := mustID(t, m, b.cookie); got != id {
		t.Fatalf("the browser holds a cookie for %q, want the saved session's", got)
	}
}
