package session

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// A RenewID whose GenerateID fails leaves the session under the id the
// client came with, which still works; what a login changes after it is
// not written there (that id may be planted: session fixation), flash
// messages alone are.

// A RenewID that fails because GenerateID does leaves the session under
// its id, as it was, and it still works: the end of the request must not
// take the id it kept for one that RenewID moved the session from. What
// the request changed after it is not saved there (the request fails):
// that id may be a planted one (TestLoginAfterRenewIDWhoseGenerateIDFails-
// IsNotWrittenUnderTheOldID).
func TestRenewIDWhoseGenerateIDFailsKeepsTheSessionWorking(t *testing.T) {
	ids := 0
	m, _ := newTestManager(t, Options{GenerateID: func(*http.Request) string {
		ids++
		if ids > 1 {
			return ""
		}
		return "first-id"
	}})
	var renewErr error
	b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		switch r.URL.Path {
		case "/login":
			renewErr = s.RenewID(r.Context())
			s.Set("theme", "dark")
		default:
			s.Set("cart", "socks")
		}
		cart, _ := GetAs[string](s, "cart")
		theme, _ := GetAs[string](s, "theme")
		fmt.Fprintf(w, "%s %s %s", s.ID(), cmpOr(cart, "-"), cmpOr(theme, "-"))
	})))
	b.get("/cart")
	if rec := b.get("/login"); rec.Code != http.StatusInternalServerError {
		t.Fatalf("the request whose RenewID failed answered %d, want the ErrorHandler's 500 for its change", rec.Code)
	}
	if renewErr == nil {
		t.Fatal("RenewID returned no error with a GenerateID that fails")
	}
	if got := b.get("/show").Body.String(); got != "first-id socks -" {
		t.Fatalf("after the failed RenewID the session reads %q, want %q", got, "first-id socks -")
	}
}

// loginIDFailsManager is a test manager whose GenerateID gives id-1, id-3,
// id-4 and so on, and fails the second time, the login's RenewID after a
// first request's new session.
func loginIDFailsManager(t *testing.T) *Manager {
	ids := 0
	m, _ := newTestManager(t, Options{GenerateID: func(*http.Request) string {
		ids++
		if ids == 2 { // the login's RenewID
			return ""
		}
		return fmt.Sprintf("id-%d", ids)
	}})
	return m
}

// A login whose RenewID fails because GenerateID does (a custom one that
// returns "" or an id too long for a cookie) is not written under the old
// id, the one the client came with: that id may be an attacker's, planted
// before the login (session fixation), and the login's SetUser saved
// there logged the attacker in as the user. RenewID used to destroy the
// old id first, so that the save found it gone and wrote nothing; now
// that it keeps the client's session, the save of what the request
// changed after it fails, as a login's failed save does: the client's
// session stays as it was.
func TestLoginAfterRenewIDWhoseGenerateIDFailsIsNotWrittenUnderTheOldID(t *testing.T) {
	m := loginIDFailsManager(t)
	var renewErr error
	h := m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		switch r.URL.Path {
		case "/login":
			renewErr = s.RenewID(r.Context()) // unchecked, as in the README's login snippet
			s.SetUser("ada")
		case "/whoami":
			io.WriteString(w, s.User())
		default:
			s.Set("cart", "socks")
		}
	}))
	attacker := newBrowser(t, h)
	attacker.get("/cart")
	victim := &browser{t: t, h: h, cookie: attacker.cookie} // the planted cookie
	victim.get("/login")
	if renewErr == nil {
		t.Fatal("RenewID returned no error with a GenerateID that fails")
	}
	if u := attacker.get("/whoami").Body.String(); u != "" {
		t.Fatalf("the planted id is logged in as %q after a login whose RenewID failed", u)
	}
}

// A login handler that checks RenewID's error and, when GenerateID failed,
// shows a flash message on the page it redirects to ("could not log you
// in, try again") gets its redirect and its message, and the client's
// session is not logged in: flash messages are no login, and the refusal
// to write under an id that RenewID could not replace (it may be planted)
// is for what a login changes. The save of the flash message failed, so
// the ErrorHandler's 500 replaced the redirect of a handler that did
// everything right, and the message was lost.
func TestLoginWhoseRenewIDFailsCanStillFlashAMessage(t *testing.T) {
	m := loginIDFailsManager(t)
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
	m := loginIDFailsManager(t)
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
