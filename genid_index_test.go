package session

import (
	"context"
	"net/http"
	"sync/atomic"
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

// indexLostStore is a faultStore whose next IndexUserSession, once armed, is
// recorded but answered with an error, as an index write whose reply a
// timeout lost.
type indexLostStore struct {
	*faultStore
	lose atomic.Bool
}

func (l *indexLostStore) IndexUserSession(ctx context.Context, user, id string, used, exp time.Time) error {
	err := l.faultStore.IndexUserSession(ctx, user, id, used, exp)
	if err == nil && l.lose.CompareAndSwap(true, false) {
		return errDown
	}
	return err
}

// A new login whose index entry, recorded right after its create, fails
// and whose created session then cannot be destroyed either, stays stored
// (and indexed, if the entry's write went out): the next save of the
// request finds that session its own and keeps its id, so that the user's
// index lists only the session a client holds. It took it for another
// session's and moved to a fresh id, leaving the first stored, listed by
// UserSessions and counted by MaxSessionsPerUser with no client to hold it.
func TestAFailedIndexAndDestroyAfterACreateKeepTheSessionsID(t *testing.T) {
	fs := &faultStore{countingStore: newCountingStore(t)}
	st := &indexLostStore{faultStore: fs}
	m, _ := newTestManager(t, Options{Store: st})
	m.now = fs.clock.Now
	var firstID string
	app := m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.SetUser("alice")
		firstID = s.ID()
		st.lose.Store(true)
		fs.on(func(_ context.Context, op, _ string) error {
			if op == "Destroy" {
				return errDown
			}
			return nil
		})
		if err := s.Save(r.Context()); err == nil {
			t.Error("Save succeeded; want the index entry's error")
		}
		fs.on(nil)
		s.Set("theme", "dark") // the end of the request saves again
	}))
	id := loginKeepsItsID(t, m, app, fs.countingStore, &firstID)
	wantOnlySessionOf(t, m, "alice", id)
}
