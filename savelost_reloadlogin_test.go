package session

import (
	"net/http"
	"testing"
)

// A Reload after a login (SetUser on a stored session) whose Session.Save
// reply was lost, though the store applied it, finds that Save's write
// stored, a login: the end of the request writes the session again and
// trims the user's sessions to Options.MaxSessionsPerUser, as the Save
// would have, had its reply come back. The Reload forgot the login, the
// session was left clean, and the user kept one session beyond the cap.
func TestReloadAfterALostLoginSaveStillTrimsToMaxSessionsPerUser(t *testing.T) {
	reloadAfterLostLoginSavesTrims(t, false)
}

// A Reload after two Session.Saves of a login whose replies were both lost,
// though the store applied both, still trims the user's sessions to
// Options.MaxSessionsPerUser at the end of the request: the first Save's
// write bound the session to the user, the second's, settled by the Reload,
// only carried a later change, and the login is still the first's.
func TestReloadAfterTwoLostSavesOfALoginStillTrimsToMaxSessionsPerUser(t *testing.T) {
	reloadAfterLostLoginSavesTrims(t, true)
}

// reloadAfterLostLoginSavesTrims logs ada in on a second session under a
// cap of one, with a Save whose reply is lost (and, with again, a change
// and a second such Save), then a Reload, and checks that only the second
// session is left.
func reloadAfterLostLoginSavesTrims(t *testing.T, again bool) {
	t.Helper()
	m, _, st := newLostReplyManager(t, Options{MaxSessionsPerUser: 1})
	login := m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.SetUser("ada")
	}))
	first := newBrowser(t, login)
	first.get("/login")
	firstID := mustID(t, m, first.cookie)
	b := stored(t, m)
	id := mustID(t, m, b.cookie)
	st.clock.Advance(1) // the second login is the most recently used
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.SetUser("ada")
		saveReplyLost(t, r, s, st)
		if again {
			s.Set("theme", "dark")
			saveReplyLost(t, r, s, st)
		}
		if err := s.Reload(r.Context()); err != nil {
			t.Errorf("Reload: %v", err)
		}
		if !again {
			if u := s.User(); u != "ada" {
				t.Errorf("after Reload the session is %q's; want ada's, as the Save stored it", u)
			}
		}
	}))
	if rec := b.get("/login"); rec.Code != http.StatusOK {
		t.Fatalf("login: status %d", rec.Code)
	}
	wantOnlySessionOf(t, m, "ada", id)
	if _, found, _ := st.Store.Get(t.Context(), firstID); found {
		t.Errorf("ada's first session is still stored; want it trimmed by the second login")
	}
}
