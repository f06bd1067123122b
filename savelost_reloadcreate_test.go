package session

import (
	"io"
	"net/http"
	"testing"
)

// A Reload after a new visitor's login (SetUser) whose Session.Save reply
// was lost, though the store applied it (a create), finds that Save's
// write, its own, stored: a change saved earlier in the request, as after
// a Save whose reply came back. So the session's cookie goes out, the next
// request has the cart, and the user's index lists the session (the
// create's entry, which comes after its write, was never recorded: the
// end of the request records it with a save). The Reload took the session
// for one the request never changed: no cookie went out, and the login was
// left stored, reachable by no one.
func TestReloadAfterALostCreateReplySendsTheSessionsCookie(t *testing.T) {
	m, _, st := newLostReplyManager(t, Options{})
	b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		if r.URL.Path == "/cart" {
			v, _ := s.Get("cart").(string)
			io.WriteString(w, v)
			return
		}
		s.SetUser("ada")
		s.Set("cart", "socks")
		saveReplyLost(t, r, s, st)
		if err := s.Reload(r.Context()); err != nil {
			t.Errorf("Reload: %v", err)
		}
	})))
	if rec := b.get("/login"); rec.Code != http.StatusOK || setCookie(rec) == "" {
		t.Fatalf("login: status %d, Set-Cookie %q; want the stored session's cookie", rec.Code, setCookie(rec))
	}
	if got := b.get("/cart").Body.String(); got != "socks" {
		t.Errorf("the next request's cart %q; want socks", got)
	}
	wantOnlySessionOf(t, m, "ada", mustID(t, m, b.cookie))
}
