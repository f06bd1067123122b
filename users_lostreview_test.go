package session

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// lostReviewApp is lostChangeApp with /login-flush, a login whose save is
// the commit of the response headers (WriteHeader), after which the
// handler sets a flash message and saves by hand, answering "err user id"
// as /login-then does; and with then=destroy-only on /login-then, a
// Destroy that nothing changes after.
//
// With then=relogin-fails, the handler logs the user in again after the
// lost login, calling beforeRelogin first, and saves by hand.
func lostReviewApp(t *testing.T, beforeRelogin func()) http.Handler {
	lost := lostChangeApp(t)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := From(r)
		switch {
		case r.URL.Path == "/login-flush":
			if err := s.RenewID(r.Context()); err != nil {
				t.Errorf("RenewID: %v", err)
			}
			s.SetUser(r.FormValue("u"))
			w.WriteHeader(http.StatusOK) // the login's save
			s.Flash("info", "welcome")
			err := s.Save(r.Context())
			result := "ok"
			if errors.Is(err, ErrNotFound) {
				result = "notfound"
			} else if err != nil {
				result = "failed"
			}
			io.WriteString(w, strings.Join([]string{result, cmpOr(s.User(), "-"), s.ID()}, " "))
		case r.URL.Path == "/login-then" && r.FormValue("then") == "destroy-only":
			if err := s.RenewID(r.Context()); err != nil {
				t.Errorf("RenewID: %v", err)
			}
			s.SetUser(r.FormValue("u"))
			if err := s.Save(r.Context()); err != nil {
				t.Errorf("the login's Save: %v", err)
			}
			if err := s.Destroy(r.Context()); err != nil {
				t.Errorf("Destroy: %v", err)
			}
			io.WriteString(w, strings.Join([]string{"ok", cmpOr(s.User(), "-"), s.ID()}, " "))
		case r.URL.Path == "/login-then" && r.FormValue("then") == "relogin-fails":
			if err := s.RenewID(r.Context()); err != nil {
				t.Errorf("RenewID: %v", err)
			}
			s.SetUser(r.FormValue("u"))
			if err := s.Save(r.Context()); err != nil {
				t.Errorf("the login's Save: %v", err)
			}
			beforeRelogin()
			s.SetUser(r.FormValue("u"))
			result := "ok"
			if err := s.Save(r.Context()); err != nil {
				result = "failed"
			}
			io.WriteString(w, strings.Join([]string{result, cmpOr(s.User(), "-"), s.ID()}, " "))
		default:
			lost.ServeHTTP(w, r)
		}
	})
}

// A change after a login that a newer login ended, when that login was
// saved as the response headers went out, is refused by a Save by hand
// as before the headers: the error wraps ErrNotFound (the session is
// gone), as Session.Save says.
func TestSaveOfAChangeAfterALostLoginSavedWithTheHeadersIsNotFound(t *testing.T) {
	m, fs, _ := newestLoginSetup(t, 1)
	h := m.Handler(lostReviewApp(t, nil))
	older, newer := lostLoginRace(t, m, fs, h, "/login-flush?u=ada&d=a", false)
	if f := strings.Fields(older.body); len(f) != 3 || f[0] != "notfound" || f[1] != "-" {
		t.Errorf("the lost login's answer %q; want notfound, no user", older.body)
	}
	if older.setCookie != "" {
		t.Errorf("the lost login's Set-Cookie %q; want none", older.setCookie)
	}
	if got := storedIDs(t, fs); !slices.Equal(got, []string{newer.body}) {
		t.Errorf("the store holds %v; want the newer login's %v alone", short(got), short([]string{newer.body}))
	}
}

// A Destroy after a login that a newer login ended, in a double-clicked
// login form, with nothing changed after it: the client's session was
// ended already (the login's RenewID), and the one cookie the browser
// holds is the newer login's, which an expired cookie would clear.
func TestDestroyAfterALostLoginDoesNotClearTheNewerLoginsCookie(t *testing.T) {
	m, fs, _ := newestLoginSetup(t, 1)
	h := m.Handler(lostReviewApp(t, nil))
	older, _ := lostLoginRace(t, m, fs, h, "/login-then?u=ada&d=a&then=destroy-only", true)
	if older.code != http.StatusOK || older.setCookie != "" {
		t.Errorf("the lost login that destroyed: status %d, Set-Cookie %q; want 200 and no Set-Cookie", older.code, older.setCookie)
	}
}

// A login again after a login that a newer login ended, in a
// double-clicked login form, whose trim fails (the listing of the user's
// sessions): that login did not happen, and the newer login stays, whose
// cookie the browser holds; the request clears no cookie, as the Destroy
// that follows a failed trim otherwise does.
func TestAFailedLoginAfterALostLoginDoesNotClearTheNewerLoginsCookie(t *testing.T) {
	m, fs, _ := newestLoginSetup(t, 1)
	h := m.Handler(lostReviewApp(t, func() {
		fs.on(func(_ context.Context, op, _ string) error {
			if op == "UserSessions" {
				return errDown
			}
			return nil
		})
	}))
	older, newer := lostLoginRace(t, m, fs, h, "/login-then?u=ada&d=a&then=relogin-fails", true)
	if f := strings.Fields(older.body); len(f) != 3 || f[0] != "failed" || f[1] != "-" {
		t.Fatalf("setting up: the login again's answer %q; want failed, no user", older.body)
	}
	if older.setCookie != "" {
		t.Errorf("the failed login again: Set-Cookie %q; want none", older.setCookie)
	}
	if got := liveOf(t, m, "ada"); !slices.Equal(got, []string{newer.body}) {
		t.Errorf("ada's sessions %v; want the newer login's %v alone", short(got), short([]string{newer.body}))
	}
}
