package session

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// A new session of a user whose create finds its id taken by a session of
// the same user (GenerateID repeated the id) records the user's index entry
// for that id before the create, replacing the other session's entry with
// its own expiry. The other session must stay listed for as long as it
// lives: here it is a 30-day "remember me" login, and the new one a
// browser-session login that the store keeps for a day, whose entry was
// pruned after that day while the other session still worked, so that a
// "log out everywhere" (DestroyUserSessions) a day later left it working.
func TestTakenIDOfTheSameUsersSessionKeepsThatSessionIndexed(t *testing.T) {
	gen := &repeatingIDs{}
	m, st := newTestManager(t, Options{GenerateID: gen.generate})
	app := m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		switch r.URL.Path {
		case "/login":
			s.SetUser("alice")
			if r.URL.Query().Has("remember") {
				s.Cookie().SetMaxAge(30 * 24 * time.Hour)
			}
		case "/whoami":
			w.Write([]byte(s.User()))
		}
	}))
	laptop, phone := newBrowser(t, app), newBrowser(t, app)
	laptop.get("/login?remember")
	v, ok := m.verify(laptop.cookie)
	if !ok {
		t.Fatal("the laptop got no cookie")
	}
	gen.repeat(v.id, 1)
	phone.get("/login")
	if phone.cookie == "" || phone.cookie == laptop.cookie {
		t.Fatalf("the phone's cookie %q, the laptop's %q; want one of its own", phone.cookie, laptop.cookie)
	}

	st.clock.Advance(2 * 24 * time.Hour) // past the phone's day, within the laptop's 30 days
	if _, found, _ := st.Store.Get(t.Context(), v.id); !found {
		t.Fatal("the laptop's session is gone after two days")
	}
	if _, err := m.DestroyUserSessions(t.Context(), "alice"); err != nil {
		t.Fatal(err)
	}
	if got := laptop.get("/whoami").Body.String(); got != "" {
		t.Errorf("the laptop's session after alice's sessions were destroyed: user %q; want none", got)
	}
}

// The index entry of a new session's user is recorded right after its
// create, before its cookie goes out. When that fails the login fails (the
// ErrorHandler answers, no cookie) and the created session is destroyed:
// kept, it would be a session of the user that DestroyUserSessions cannot
// find.
func TestIndexFailureAfterANewLoginsCreateLeavesNothingStored(t *testing.T) {
	fs := &faultStore{countingStore: newCountingStore(t)}
	m, _ := newTestManager(t, Options{Store: fs})
	m.now = fs.clock.Now
	fs.on(func(_ context.Context, op, _ string) error {
		if op == "IndexUserSession" {
			return errDown
		}
		return nil
	})
	b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.SetUser("alice")
	})))
	rec := b.get("/login")
	if rec.Code != http.StatusInternalServerError || setCookie(rec) != "" {
		t.Errorf("status %d, Set-Cookie %q; want the ErrorHandler's 500 and no cookie", rec.Code, setCookie(rec))
	}
	if n, _ := fs.countingStore.Store.Count(t.Context()); n != 0 {
		t.Errorf("the store holds %d sessions; want none", n)
	}
}
