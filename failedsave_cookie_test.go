package session

import (
	"net/http"
	"testing"
)

// A login that renews the id and saves by hand (RenewID, then Session.Save:
// the session is stored under the new id, and the old id ends), and whose
// save at the end of the request then fails (here a write whose reply was
// lost after it went out), leaves the client its session: the error answer
// carries the new id's cookie. It carried none, so the client kept the old
// id, which the Save had ended: its next request found no session (the
// cart and the login gone), and the session under the new id stayed
// stored, out of everyone's reach, until it expired.
func TestAFailedSaveAfterALoginSavedByHandSendsTheNewIDsCookie(t *testing.T) {
	m, cs, st := newLostReplyManager(t, Options{})
	var newID string
	b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		switch r.URL.Path {
		case "/start":
			s.Set("cart", "socks")
		case "/login":
			if err := s.RenewID(r.Context()); err != nil {
				t.Errorf("RenewID: %v", err)
			}
			s.Set("user", "alice")
			if err := s.Save(r.Context()); err != nil {
				t.Errorf("Save: %v", err)
			}
			newID = s.ID()
			s.Set("theme", "dark")
			st.lose.Store(true) // the end of the request's save fails
		case "/read":
			cart, _ := s.Get("cart").(string)
			user, _ := s.Get("user").(string)
			w.Write([]byte(cart + " " + user))
		}
	})))
	b.get("/start")
	oldID := mustID(t, m, b.cookie)
	if rec := b.get("/login"); rec.Code != http.StatusInternalServerError {
		t.Fatalf("login: status %d; want the ErrorHandler's 500 for the failed save", rec.Code)
	}
	if _, found, _ := cs.Store.Get(t.Context(), oldID); found {
		t.Fatal("the old id is still stored: the Save did not end it, nothing to test")
	}
	if id := mustID(t, m, b.cookie); id != newID {
		t.Errorf("after the failed login the client holds id %.6s…; want the id the Save stored the session under, %.6s…", id, newID)
	}
	if got := b.get("/read").Body.String(); got != "socks alice" {
		t.Errorf("the client's next request finds %q; want the session as the login's Save stored it, %q", got, "socks alice")
	}
}

// The same for a new visitor's session that a Session.Save stored before
// the save at the end of the request failed: the error answer carries its
// cookie, so that the next request finds what the Save stored. It carried
// none, and that session stayed stored, out of everyone's reach.
func TestAFailedSaveAfterANewSessionSavedByHandSendsItsCookie(t *testing.T) {
	m, _, st := newLostReplyManager(t, Options{})
	var savedID string
	b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		switch r.URL.Path {
		case "/add":
			s.Set("cart", "socks")
			if err := s.Save(r.Context()); err != nil {
				t.Errorf("Save: %v", err)
			}
			savedID = s.ID()
			s.Set("theme", "dark")
			st.lose.Store(true) // the end of the request's save fails
		case "/read":
			cart, _ := s.Get("cart").(string)
			w.Write([]byte(cart))
		}
	})))
	if rec := b.get("/add"); rec.Code != http.StatusInternalServerError {
		t.Fatalf("add: status %d; want the ErrorHandler's 500 for the failed save", rec.Code)
	}
	if b.cookie == "" {
		t.Fatal("the error answer carried no cookie for the session the Save stored")
	}
	if id := mustID(t, m, b.cookie); id != savedID {
		t.Errorf("the client holds id %.6s…; want the one the Save stored, %.6s…", id, savedID)
	}
	if got := b.get("/read").Body.String(); got != "socks" {
		t.Errorf("the next request finds the cart %q; want what the Save stored, %q", got, "socks")
	}
}
