package session

import (
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
func lostReviewApp(t *testing.T) http.Handler {
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
	h := m.Handler(lostReviewApp(t))
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
	h := m.Handler(lostReviewApp(t))
	older, _ := lostLoginRace(t, m, fs, h, "/login-then?u=ada&d=a&then=destroy-only", true)
	if older.code != http.StatusOK || older.setCookie != "" {
		t.Errorf("the lost login that destroyed: status %d, Set-Cookie %q; want 200 and no Set-Cookie", older.code, older.setCookie)
	}
}
