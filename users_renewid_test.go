package session

import (
	"errors"
	"io"
	"net/http"
	"testing"
)

// A request that loaded a user's session before another ended it, and then
// renews its id (RenewID, as an app does when it rotates ids or raises a
// session's privileges), does not carry the ended session over to the new
// id: "log out everywhere" (DestroyUserSessions) and a logout on another
// tab (Destroy) leave no session of the user working (a MaxSessionsPerUser
// trim destroys as they do). RenewID moved the values the request had loaded to a fresh id,
// with the user, and the cookie of that logged-in session went out.
func TestRenewIDOfASessionEndedMeanwhileDoesNotBringItBack(t *testing.T) {
	for _, how := range []string{"DestroyUserSessions", "Destroy"} {
		t.Run(how, func(t *testing.T) {
			m, _ := newTestManager(t, Options{})
			users := usersApp(t)
			var renewErr error
			var other *browser
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/rotate" {
					users.ServeHTTP(w, r)
					return
				}
				s := From(r) // loaded: ada's session
				switch how {
				case "DestroyUserSessions":
					if n, err := m.DestroyUserSessions(r.Context(), "ada"); n != 1 || err != nil {
						t.Errorf("DestroyUserSessions = %d, %v; want 1", n, err)
					}
				case "Destroy":
					other.get("/destroy") // the same session's logout, in another tab
				}
				renewErr = s.RenewID(r.Context())
				io.WriteString(w, s.User())
			})
			b := newBrowser(t, m.Handler(h))
			login(b, "ada")
			other = &browser{t: t, h: b.h, cookie: b.cookie}
			rec := b.get("/rotate")
			if live := liveOf(t, m, "ada"); len(live) != 0 {
				t.Fatalf("after the %s that ended it, RenewID brought ada's session back: UserSessions lists %v", how, short(live))
			}
			if u := b.get("/whoami").Body.String(); u != "" {
				t.Fatalf("the browser whose session was ended is logged in as %q after its RenewID", u)
			}
			if renewErr == nil || rec.Body.String() != "" {
				t.Fatalf("RenewID = %v, user after it %q; want an error and no user", renewErr, rec.Body.String())
			}
		})
	}
}

// A request that loaded a user's session before another request unbound
// the user (SetUser("")), and then renews its id, keeps the unbinding: the
// new id's session belongs to no one, as the stored one does, and the
// other request's values are kept as a save would keep them. RenewID wrote
// the values the request had loaded, the user with them.
func TestRenewIDAfterAnUnbindingElsewhereKeepsTheSessionUnbound(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	users := usersApp(t)
	var other *browser
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/rotate" {
			users.ServeHTTP(w, r)
			return
		}
		s := From(r)
		other.get("/logout-unbind") // SetUser("") and a flash, in another tab
		if err := s.RenewID(r.Context()); err != nil {
			t.Errorf("RenewID: %v", err)
		}
		s.Set("theme", "dark")
		flash, _ := GetAs[string](s, "flash")
		io.WriteString(w, s.User()+" "+flash)
	})
	b := newBrowser(t, m.Handler(h))
	login(b, "ada")
	other = &browser{t: t, h: b.h, cookie: b.cookie}
	if got := b.get("/rotate").Body.String(); got != " bye" {
		t.Fatalf("after RenewID the session has user and flash %q, want no user and the other tab's flash", got)
	}
	if live := liveOf(t, m, "ada"); len(live) != 0 {
		t.Fatalf("RenewID bound ada again: UserSessions lists %v", short(live))
	}
	if u := b.get("/whoami").Body.String(); u != "" {
		t.Fatalf("the renewed session belongs to %q, want no one", u)
	}
}

// A login that another tab of the same browser made while this request had
// the session loaded (a double-submitted login form, two tabs) ends the old
// id; this request's RenewID then finds it gone and fails with ErrNotFound.
// Its answer sends no cookie, not even an expired one: the browser keeps
// the other tab's new cookie and stays logged in. An expired cookie here
// replaced it and logged the browser out.
func TestRenewIDOfASessionAnotherTabLoggedInAgainSendsNoCookie(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	users := usersApp(t)
	var other *browser
	var renewErr error
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/login-twice" {
			users.ServeHTTP(w, r)
			return
		}
		s := From(r)        // loaded: ada's session
		login(other, "ada") // the other tab's login: a new id, the old one ended
		renewErr = s.RenewID(r.Context())
	})
	b := newBrowser(t, m.Handler(h))
	login(b, "ada")
	other = &browser{t: t, h: b.h, cookie: b.cookie}
	rec := b.get("/login-twice")
	if !errors.Is(renewErr, ErrNotFound) {
		t.Fatalf("RenewID after the other tab's login: %v, want ErrNotFound", renewErr)
	}
	if c := rec.Header().Values("Set-Cookie"); len(c) != 0 {
		t.Fatalf("the request whose RenewID found the session ended sent %q; want no cookie, so that the other tab's stays", c)
	}
	b.cookie = other.cookie // what the browser holds: the other tab's cookie, as nothing replaced it
	if u := b.get("/whoami").Body.String(); u != "ada" {
		t.Fatalf("the browser is logged in as %q, want ada (the other tab's login)", u)
	}
}
