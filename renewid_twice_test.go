package session

import (
	"context"
	"net/http"
	"testing"
)

// A second RenewID in the request after a Session.Save stored the first
// one's id (RenewID, Save, RenewID), whose save at the end of the request
// then fails, leaves the client its session: the id the Save stored waits,
// as the client's own id does at a first RenewID, until the newest id is
// stored, and the error answer carries its cookie. The second RenewID
// destroyed it at once, and the Save had ended the client's own id, so the
// client was left with no session at all (the cart and the login gone).
func TestAFailedSaveAfterTwoRenewIDsAroundASaveKeepsTheSavedSession(t *testing.T) {
	cs := newCountingStore(t)
	st := &faultStore{countingStore: cs}
	m, _ := newTestManager(t, Options{Store: st})
	m.now = cs.clock.Now
	var savedID string
	b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		switch r.URL.Path {
		case "/start":
			s.Set("cart", "socks")
		case "/login":
			if err := s.RenewID(r.Context()); err != nil {
				t.Errorf("first RenewID: %v", err)
			}
			s.Set("user", "alice")
			if err := s.Save(r.Context()); err != nil {
				t.Errorf("Save: %v", err)
			}
			savedID = s.ID()
			if err := s.RenewID(r.Context()); err != nil {
				t.Errorf("second RenewID: %v", err)
			}
			st.on(func(_ context.Context, op, _ string) error { // the end of the request's save fails
				if op == "CompareAndSwap" {
					return errDown
				}
				return nil
			})
		case "/read":
			cart, _ := s.Get("cart").(string)
			user, _ := s.Get("user").(string)
			w.Write([]byte(cart + " " + user))
		}
	})))
	b.get("/start")
	if rec := b.get("/login"); rec.Code != http.StatusInternalServerError {
		t.Fatalf("login: status %d; want the ErrorHandler's 500 for the failed save", rec.Code)
	}
	st.on(nil)
	if id := mustID(t, m, b.cookie); id != savedID {
		t.Errorf("after the failed login the client holds id %.6s…; want the id the Save stored the session under, %.6s…", id, savedID)
	}
	if got := b.get("/read").Body.String(); got != "socks alice" {
		t.Errorf("the client's next request finds %q; want the session as the Save stored it, %q", got, "socks alice")
	}
	if n, _ := cs.Store.Count(t.Context()); n != 1 {
		t.Errorf("the store holds %d sessions; want the one the client holds", n)
	}
}

// And when the newest id is stored, the id the Save stored ends with the
// client's own: the store holds the newest id's session alone.
func TestTwoRenewIDsAroundASaveLeaveOnlyTheNewestID(t *testing.T) {
	m, cs, _ := newLostReplyManager(t, Options{})
	b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		switch r.URL.Path {
		case "/start":
			s.Set("cart", "socks")
		case "/login":
			s.RenewID(r.Context())
			s.Set("user", "alice")
			s.Save(r.Context())
			s.RenewID(r.Context())
		case "/read":
			cart, _ := s.Get("cart").(string)
			user, _ := s.Get("user").(string)
			w.Write([]byte(cart + " " + user))
		}
	})))
	b.get("/start")
	if rec := b.get("/login"); rec.Code != http.StatusOK {
		t.Fatalf("login: status %d", rec.Code)
	}
	if got := b.get("/read").Body.String(); got != "socks alice" {
		t.Errorf("the client's next request finds %q; want %q", got, "socks alice")
	}
	if n, _ := cs.Store.Count(t.Context()); n != 1 {
		t.Errorf("the store holds %d sessions; want the newest id's alone", n)
	}
}
