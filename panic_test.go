package session

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// recoverOutside is a recovering middleware mounted outside the session
// middleware, as chi's Recoverer or gin's Recovery usually are: it answers
// a handler's panic with a 500 on the writer it was given.
func recoverOutside(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				w.WriteHeader(http.StatusInternalServerError)
			}
		}()
		h.ServeHTTP(w, r)
	})
}

// A handler that stored its session under a new id with Session.Save (a
// login's RenewID, which the Save ends the old id for, or a new visitor's
// session) and then panics, answered by a recovering middleware outside the
// session middleware, must still give the client the cookie of what the
// Save stored, as a store error's answer does: otherwise the client is left
// with an id that no longer works (logged out, its data gone) or none.
func TestPanicAfterASaveUnderANewIDStillSendsItsCookie(t *testing.T) {
	t.Run("login", func(t *testing.T) {
		m, st := newTestManager(t, Options{Cookie: CookieOptions{MaxAge: time.Hour}})
		b := stored(t, m) // views 1
		old := mustID(t, m, b.cookie)
		b.h = recoverOutside(m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
			if err := s.RenewID(r.Context()); err != nil {
				t.Error(err)
			}
			s.SetUser("alice")
			if err := s.Save(r.Context()); err != nil {
				t.Error(err)
			}
			panic("template bug")
		})))
		rec := b.get("/")
		if rec.Code != http.StatusInternalServerError {
			t.Fatalf("status %d, want the recoverer's 500", rec.Code)
		}
		if _, found, _ := st.Get(t.Context(), old); found {
			t.Fatal("setting up: the Save did not end the old id")
		}
		c := setCookie(rec)
		if c == "" {
			t.Fatal("no Set-Cookie for the session the Save stored: the client is left with an id that no longer works")
		}
		if got := mustID(t, m, b.cookie); got == old {
			t.Fatalf("the cookie names the old id %q", got)
		}
		if !strings.Contains(rec.Header().Get("Cache-Control"), "private") || rec.Header().Get("Vary") != "Cookie" {
			t.Fatalf("the 500 that carries the cookie is not kept from shared caches: Cache-Control %q, Vary %q", rec.Header().Get("Cache-Control"), rec.Header().Get("Vary"))
		}
		b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
			n, _ := GetAs[int](s, "views")
			if n != 1 || s.User() != "alice" {
				t.Errorf("after the panic the client's session has views %d, user %q; want 1, alice", n, s.User())
			}
		}))
		b.get("/")
	})
	t.Run("new visitor", func(t *testing.T) {
		m, _ := newTestManager(t, Options{Cookie: CookieOptions{MaxAge: time.Hour}})
		b := newBrowser(t, recoverOutside(m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
			s.Set("cart", "book")
			if err := s.Save(r.Context()); err != nil {
				t.Error(err)
			}
			panic(http.ErrAbortHandler)
		}))))
		b.get("/")
		if b.cookie == "" {
			t.Fatal("no Set-Cookie for the session the Save stored")
		}
		b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
			if v, _ := GetAs[string](s, "cart"); v != "book" {
				t.Errorf("cart %q after the panic, want the saved book", v)
			}
		}))
		b.get("/")
	})
	t.Run("nothing saved", func(t *testing.T) {
		// A panic before any Save stores nothing and sends no cookie, as before.
		m, st := newTestManager(t, Options{Cookie: CookieOptions{MaxAge: time.Hour}})
		b := newBrowser(t, recoverOutside(m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
			s.Set("cart", "book")
			panic("handler bug")
		}))))
		rec := b.get("/")
		if c := setCookie(rec); c != "" || st.writes() != 0 {
			t.Fatalf("a panic before any save sent %q and wrote %d times", c, st.writes())
		}
	})
}
