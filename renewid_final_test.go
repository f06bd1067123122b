package session

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// A login handler that checks RenewID's error and, when GenerateID failed,
// shows a flash message on the page it redirects to ("could not log you
// in, try again") gets its redirect and its message, and the client's
// session is not logged in: flash messages are no login, and the refusal
// to write under an id that RenewID could not replace (it may be planted)
// is for what a login changes. The save of the flash message failed, so
// the ErrorHandler's 500 replaced the redirect of a handler that did
// everything right, and the message was lost.
func TestLoginWhoseRenewIDFailsCanStillFlashAMessage(t *testing.T) {
	ids := 0
	m, _ := newTestManager(t, Options{GenerateID: func(*http.Request) string {
		ids++
		if ids == 2 { // the login's RenewID
			return ""
		}
		return fmt.Sprintf("id-%d", ids)
	}})
	h := m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		switch r.URL.Path {
		case "/login":
			if err := s.RenewID(r.Context()); err != nil {
				s.Flash("error", "could not log you in, try again")
				http.Redirect(w, r, "/form", http.StatusSeeOther)
				return
			}
			s.SetUser("ada")
		case "/form":
			fmt.Fprintf(w, "%s|%s", s.User(), strings.Join(s.Flashes("error"), ","))
		default:
			s.Set("cart", "socks")
		}
	}))
	b := newBrowser(t, h)
	b.get("/cart")
	if rec := b.get("/login"); rec.Code != http.StatusSeeOther {
		t.Fatalf("the login whose RenewID failed answered %d, want the handler's redirect (303)", rec.Code)
	}
	if got, want := b.get("/form").Body.String(), "|could not log you in, try again"; got != want {
		t.Fatalf("the page after the failed login reads %q, want %q", got, want)
	}
	if got, want := b.get("/form").Body.String(), "|"; got != want {
		t.Fatalf("the next page reads %q, want %q (the message shown once)", got, want)
	}
}

// A flash message beside a login's SetUser after a RenewID whose GenerateID
// failed does not get the login written under the old id, which may be
// planted: only a save of flash messages alone is let through.
func TestFlashBesideALoginAfterAFailedRenewIDDoesNotLogInThePlantedID(t *testing.T) {
	ids := 0
	m, _ := newTestManager(t, Options{GenerateID: func(*http.Request) string {
		ids++
		if ids == 2 { // the login's RenewID
			return ""
		}
		return fmt.Sprintf("id-%d", ids)
	}})
	h := m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		switch r.URL.Path {
		case "/login":
			s.RenewID(r.Context()) // unchecked
			s.Flash("info", "welcome")
			s.SetUser("ada")
		case "/whoami":
			fmt.Fprint(w, s.User())
		default:
			s.Set("cart", "socks")
		}
	}))
	attacker := newBrowser(t, h)
	attacker.get("/cart")
	victim := &browser{t: t, h: h, cookie: attacker.cookie} // the planted cookie
	victim.get("/login")
	if u := attacker.get("/whoami").Body.String(); u != "" {
		t.Fatalf("the planted id is logged in as %q after a login whose RenewID failed", u)
	}
}
