package session

import (
	"net/http"
	"testing"
)

// A Reload after a new session's Session.Save whose reply was lost, though
// the store applied the create, finds that Save's write stored: the
// session is what the store holds, its cookie goes out, and, without a
// user whose index entry the create's reply held back, the end of the
// request writes nothing more (as after a Save whose reply came back).
func TestReloadAfterALostCreateReplyWithoutAUserWritesNothingMore(t *testing.T) {
	m, cs, st := newLostReplyManager(t, Options{})
	b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Set("cart", "socks")
		saveReplyLost(t, r, s, st)
		if err := s.Reload(r.Context()); err != nil {
			t.Errorf("Reload: %v", err)
		}
		cs.reset()
	})))
	if rec := b.get("/add"); setCookie(rec) == "" {
		t.Fatalf("no Set-Cookie for the stored session")
	}
	if n := cs.total(); n != 0 {
		t.Errorf("store calls after the Reload: %d (%d writes); want none", n, cs.writes())
	}
}
