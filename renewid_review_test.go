package session

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"
)

// A Regenerate (a logout) after a RenewID in the same request (a
// middleware that rotates the id of a logged-in session, then the logout
// handler) ends the logged-in session at once, as Regenerate promises:
// when the save of the empty session then fails, the user is logged out
// all the same. The RenewID's old id waited for the new id's write, which
// never came, and the logged-in session went on working.
func TestRegenerateAfterRenewIDEndsTheOldIDAtOnce(t *testing.T) {
	m, fs, _, b, oldID := renewSetup(t, "ada")
	oldCookie := b.cookie
	var regenErr error
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		if err := s.RenewID(r.Context()); err != nil { // the rotation
			t.Errorf("RenewID: %v", err)
		}
		regenErr = s.Regenerate(r.Context()) // the logout
		fs.on(func(_ context.Context, op, id string) error {
			if op == "CompareAndSwap" && id != oldID {
				return errDown // the empty session's write
			}
			return nil
		})
	}))
	rec := b.get("/logout")
	fs.on(nil)
	if regenErr != nil {
		t.Fatalf("Regenerate: %v", regenErr)
	}
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("the logout whose save failed answered %d, want the ErrorHandler's 503", rec.Code)
	}
	if ids := storedIDs(t, fs); slices.Contains(ids, oldID) {
		t.Fatalf("stored sessions %v: the logged-in session %v is still stored after the logout", short(ids), short([]string{oldID}))
	}
	if live := liveOf(t, m, "ada"); len(live) != 0 {
		t.Fatalf("UserSessions(ada) = %v after the logout, want none", short(live))
	}
	b.h = m.Handler(&renewApp{t: t})
	b.cookie = oldCookie
	if got := b.get("/show").Body.String(); got != "- -" {
		t.Fatalf("the logged-out cookie reads %q, want an empty session", got)
	}
}

// A login whose destroy of the old id was applied by the store but
// answered with an error (a timeout after the delete went out) keeps the
// session it wrote under the new id, and sends its cookie: the old id no
// longer works, so that nothing is gained by removing the new one, and
// the client would be left with a cookie for a session that no longer
// exists, its cart or its login lost. The save re-reads the old id to
// tell: still stored, the new id's write is undone as before.
func TestRenewIDWhoseOldIDDestroyReplyWasLostKeepsTheNewSession(t *testing.T) {
	for _, user := range []string{"", "ada"} {
		for _, save := range []bool{false, true} {
			name := cmpOr(user, "anonymous") + "/" + map[bool]string{false: "end of request", true: "Session.Save"}[save]
			t.Run(name, func(t *testing.T) {
				m, fs, app, b, oldID := renewSetup(t, user)
				oldCookie := b.cookie
				app.save = save
				fs.on(func(ctx context.Context, op, id string) error {
					if op == "Destroy" && id == oldID {
						fs.countingStore.Destroy(ctx, id) // applied,
						return context.DeadlineExceeded   // but its reply lost
					}
					return nil
				})
				rec := b.get("/login?u=bob")
				fs.on(nil)
				if rec.Code != http.StatusOK || app.saveErr != nil || b.cookie == oldCookie {
					t.Fatalf("login answered %d (Save: %v), cookie changed %v; want 200 and the new id's cookie", rec.Code, app.saveErr, b.cookie != oldCookie)
				}
				newID := rec.Body.String()
				if ids := storedIDs(t, fs); !slices.Equal(ids, []string{newID}) {
					t.Fatalf("stored sessions %v, want the new one alone, %v", short(ids), short([]string{newID}))
				}
				if got := b.get("/show").Body.String(); got != "bob socks" {
					t.Fatalf("the client's session reads %q, want %q", got, "bob socks")
				}
				if live := liveOf(t, m, "bob"); !slices.Equal(live, []string{newID}) {
					t.Fatalf("UserSessions(bob) = %v, want the new id", short(live))
				}
				if user != "" {
					if idx := indexOf(t, m, user); len(idx) != 0 {
						t.Fatalf("%s's index %v, want the old id's entry removed", user, short(idx))
					}
				}
			})
		}
	}
}

// A login (RenewID) whose save fails leaves the client's session its own
// expiry, as any other failed request does (restoreExpiry): the touch
// carried on the load set the stored expiry from Cookie.MaxAge, and with
// the session moved to the new id nothing set the old id's back, so that
// a "remember me" session ended with Cookie.MaxAge (the user logged out a
// day later rather than in a month) and one whose own cookie is shorter
// (a sudo window) outlived it.
func TestFailedRenewIDLeavesTheOldSessionItsOwnExpiry(t *testing.T) {
	for _, c := range []struct {
		how string
		own time.Duration
	}{{"failed save", 30 * 24 * time.Hour}, {"failed save", time.Minute}, {"panic", 30 * 24 * time.Hour}, {"panic", time.Minute}} {
		how, own := c.how, c.own
		t.Run(how+"/"+own.String(), func(t *testing.T) {
			fs := &faultStore{countingStore: newCountingStore(t)}
			m, _ := newTestManager(t, Options{Store: gtStore{fs}, Cookie: CookieOptions{MaxAge: time.Hour},
				ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
					http.Error(w, "try again", http.StatusServiceUnavailable)
				}})
			m.now = fs.clock.Now
			b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
				s.SetUser("ada")
				s.Cookie().SetMaxAge(own)
			})))
			b.get("/")
			oldID := mustID(t, m, b.cookie)
			oldCookie := b.cookie
			renew := m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
				if err := s.RenewID(r.Context()); err != nil {
					t.Errorf("RenewID: %v", err)
				}
				if how == "panic" {
					panic("handler bug")
				}
				fs.on(func(_ context.Context, op, id string) error {
					if op == "CompareAndSwap" && id != oldID {
						return errDown // the new id's write
					}
					return nil
				})
			}))
			b.h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				defer func() { recover() }() // as net/http recovers a handler's panic
				renew.ServeHTTP(w, r)
			})
			fs.clock.Advance(time.Second)
			if rec := b.get("/sudo"); (how == "failed save" && rec.Code != http.StatusServiceUnavailable) || b.cookie != oldCookie {
				t.Fatalf("the failed RenewID answered %d, cookie kept %v; want the old cookie (and a 503 for a failed save)", rec.Code, b.cookie == oldCookie)
			}
			fs.on(nil)
			if own > time.Hour {
				fs.clock.Advance(2 * time.Hour) // past Cookie.MaxAge, well within its own
				if _, found, _ := fs.Store.Get(t.Context(), oldID); !found {
					t.Fatal("after a failed RenewID, a session whose own cookie lasts 30 days ended with Cookie.MaxAge")
				}
				if live := liveOf(t, m, "ada"); !slices.Equal(live, []string{oldID}) {
					t.Fatalf("UserSessions(ada) = %v, want the kept session", short(live))
				}
				return
			}
			fs.clock.Advance(2 * time.Minute) // past its own, within Cookie.MaxAge
			if _, found, _ := fs.Store.Get(t.Context(), oldID); found {
				t.Fatal("after a failed RenewID, a session whose own cookie lasted a minute is still stored two minutes later")
			}
		})
	}
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
	ids := 0
	m, _ := newTestManager(t, Options{GenerateID: func(*http.Request) string {
		ids++
		if ids == 2 { // the login's RenewID
			return ""
		}
		return fmt.Sprintf("id-%d", ids)
	}})
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
