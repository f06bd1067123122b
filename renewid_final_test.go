package session

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
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

// A login (RenewID, SetUser) under MaxSessionsPerUser whose trimming fails
// (the listing of the user's sessions times out) keeps the session the
// client had, whether it saved by Session.Save or at the end of the
// request, as a login whose write fails does: the failed request sends no
// cookie, and the client's cookie still reads its cart. With
// Session.Save, the session the failed login left (as after Destroy)
// ended the old id at the end of the request and cleared the cookie, so
// that the visitor lost its cart, where the same failure at the end of
// the request kept both.
func TestRenewIDWhoseTrimFailsKeepsTheOldSession(t *testing.T) {
	for _, save := range []bool{false, true} {
		t.Run(map[bool]string{false: "end of request", true: "Session.Save"}[save], func(t *testing.T) {
			fs := &faultStore{countingStore: newCountingStore(t)}
			m, _ := newTestManager(t, Options{Store: fs, Cookie: CookieOptions{MaxAge: 24 * time.Hour}, MaxSessionsPerUser: 2,
				ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
					http.Error(w, "try again", http.StatusServiceUnavailable)
				}})
			m.now = fs.clock.Now
			app := &renewApp{t: t, save: save}
			b := newBrowser(t, m.Handler(app))
			b.get("/cart")
			oldCookie := b.cookie
			oldID := mustID(t, m, oldCookie)
			fs.on(func(_ context.Context, op, _ string) error {
				if op == "UserSessions" {
					return errDown // the login's trimming
				}
				return nil
			})
			rec := b.get("/login?u=bob")
			fs.on(nil)
			if rec.Code != http.StatusServiceUnavailable || b.cookie != oldCookie {
				t.Fatalf("the login whose trimming failed answered %d, cookie kept %v; want 503 and the old cookie kept", rec.Code, b.cookie == oldCookie)
			}
			if got := b.get("/show").Body.String(); got != "- socks" {
				t.Fatalf("after the failed login the client's session reads %q, want %q (as before it)", got, "- socks")
			}
			if ids := storedIDs(t, fs); !slices.Equal(ids, []string{oldID}) {
				t.Fatalf("stored sessions %v, want the old one alone, %v", short(ids), short([]string{oldID}))
			}
		})
	}
}

// After a login that failed at its trimming by Session.Save, a handler that
// puts a message in the empty session the failure left ("try again")
// stores that session in place of the client's, as after Destroy: the
// client gets its cookie and the message, and the old id is destroyed
// (it would be a session that no client holds).
func TestRenewIDWhoseTrimFailsThenAFlashReplacesTheOldSession(t *testing.T) {
	fs := &faultStore{countingStore: newCountingStore(t)}
	m, _ := newTestManager(t, Options{Store: fs, Cookie: CookieOptions{MaxAge: 24 * time.Hour}, MaxSessionsPerUser: 2})
	m.now = fs.clock.Now
	b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		switch r.URL.Path {
		case "/cart":
			s.Set("cart", "socks")
		case "/login":
			s.RenewID(r.Context())
			s.SetUser("bob")
			if err := s.Save(r.Context()); err != nil {
				s.Flash("error", "try again")
			}
		case "/show":
			cart, _ := GetAs[string](s, "cart")
			fmt.Fprintf(w, "%s|%s|%s", s.User(), cart, strings.Join(s.Flashes("error"), ","))
		}
	})))
	b.get("/cart")
	oldCookie := b.cookie
	fs.on(func(_ context.Context, op, _ string) error {
		if op == "UserSessions" {
			return errDown // the login's trimming
		}
		return nil
	})
	b.get("/login")
	fs.on(nil)
	if b.cookie == oldCookie || b.cookie == "" {
		t.Fatalf("the failed login whose handler set a message sent no cookie for it (cleared: %v)", b.cookie == "")
	}
	newID := mustID(t, m, b.cookie)
	if ids := storedIDs(t, fs); !slices.Equal(ids, []string{newID}) {
		t.Fatalf("stored sessions %v, want the message's session alone, %v", short(ids), short([]string{newID}))
	}
	if got, want := b.get("/show").Body.String(), "||try again"; got != want {
		t.Fatalf("the client's session reads %q, want %q", got, want)
	}
}
