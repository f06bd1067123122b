package session

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// A login (RenewID) whose save fails (the new id's write, the old id's
// destroy, the trimming to MaxSessionsPerUser) or whose handler panics
// leaves the client a session that works, and its cookie: as a rule the one
// it had, with its own expiry.

// A login (RenewID, then SetUser) whose save of the session under its new
// id fails keeps the session the client had: the failed request sends no
// cookie, and the client's cookie still reads its cart (and, for a session
// renewed while logged in, its user, still listed by UserSessions). RenewID
// destroyed the old id's stored session at once, before the new id was
// written: when that write failed (the store down, a value the codec
// refuses), the client was left with a cookie for a session that no
// longer existed, and a logged-in user was logged out by a failed request.
func TestRenewIDWhoseSaveFailsKeepsTheOldSession(t *testing.T) {
	for _, user := range []string{"", "ada"} {
		for _, how := range []string{"store down", "value the codec refuses", "Session.Save"} {
			t.Run(cmpOr(user, "anonymous")+"/"+how, func(t *testing.T) {
				m, fs, app, b, oldID := renewSetup(t, user)
				oldCookie := b.cookie
				app.save = how == "Session.Save"
				app.fail = func(s *Session) {
					if how == "value the codec refuses" {
						s.Set("callback", func() {})
						return
					}
					fs.on(func(_ context.Context, op, id string) error {
						if op == "CompareAndSwap" && id != oldID {
							return errDown // the new id's write
						}
						return nil
					})
				}
				rec := b.get("/login?u=bob")
				fs.on(nil)
				if app.renewErr != nil {
					t.Fatalf("RenewID: %v", app.renewErr)
				}
				if rec.Code != http.StatusServiceUnavailable || b.cookie != oldCookie {
					t.Fatalf("the failed login answered %d and set the cookie to %q; want 503 and the old cookie kept", rec.Code, b.cookie)
				}
				if app.save && app.saveErr == nil {
					t.Fatal("Session.Save of the renewed session returned no error")
				}
				if got, want := b.get("/show").Body.String(), cmpOr(user, "-")+" socks"; got != want {
					t.Fatalf("after the failed login the client's session reads %q, want %q (as before it)", got, want)
				}
				if ids := storedIDs(t, fs); !slices.Equal(ids, []string{oldID}) {
					t.Fatalf("stored sessions %v, want the old one alone, %v", short(ids), short([]string{oldID}))
				}
				if user != "" {
					if live := liveOf(t, m, user); !slices.Equal(live, []string{oldID}) {
						t.Fatalf("UserSessions(%s) = %v, want the kept session", user, short(live))
					}
				}
			})
		}
	}
}

// When the store writes the login's session under its new id but then
// fails to destroy the old id's, the login fails: its save reports the
// error, no cookie goes out, the new id's session is removed again (no
// client holds it), and the client's session still works. Before, RenewID
// reported the failed destroy, but the new session stood and its cookie
// went out, while the old id went on working beside it.
func TestRenewIDWhoseOldIDCannotBeDestroyedFailsTheLogin(t *testing.T) {
	for _, save := range []bool{false, true} {
		t.Run(map[bool]string{false: "end of request", true: "Session.Save"}[save], func(t *testing.T) {
			m, fs, app, b, oldID := renewSetup(t, "ada")
			oldCookie := b.cookie
			app.save = save
			fs.on(func(_ context.Context, op, id string) error {
				if op == "Destroy" && id == oldID {
					return errDown
				}
				return nil
			})
			rec := b.get("/login?u=ada")
			fs.on(nil)
			if rec.Code != http.StatusServiceUnavailable || b.cookie != oldCookie {
				t.Fatalf("login answered %d and set the cookie to %q, RenewID %v; want 503 and the old cookie kept", rec.Code, b.cookie, app.renewErr)
			}
			if save && !errors.Is(app.saveErr, errDown) {
				t.Fatalf("Session.Save = %v, want the failed destroy's error", app.saveErr)
			}
			if ids := storedIDs(t, fs); !slices.Equal(ids, []string{oldID}) {
				t.Fatalf("stored sessions %v, want the old one alone, %v", short(ids), short([]string{oldID}))
			}
			if live := liveOf(t, m, "ada"); !slices.Equal(live, []string{oldID}) {
				t.Fatalf("UserSessions(ada) = %v, want the old session alone", short(live))
			}
			if got := b.get("/show").Body.String(); got != "ada socks" {
				t.Fatalf("the client's session reads %q, want %q", got, "ada socks")
			}
		})
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
