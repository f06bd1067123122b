package session

import (
	"errors"
	"io"
	"net/http"
	"testing"
)

// A RenewID after a login (SetUser on an anonymous stored session) whose
// Session.Save reply was lost, though the store applied it, and after
// which DestroyUserSessions ended the session ("log out everywhere"),
// does not bring the login back under a new id: it re-reads the session,
// as after a Save whose reply came back, finds it ended, and fails with
// ErrNotFound. It skipped the re-read, the session it had loaded having no
// user, and moved the login to a new id after "log out everywhere" had
// returned.
func TestRenewIDAfterALostLoginSaveDoesNotUndoDestroyUserSessions(t *testing.T) {
	m, _, st := newLostReplyManager(t, Options{})
	b := stored(t, m)
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		if r.URL.Path == "/whoami" {
			io.WriteString(w, s.User())
			return
		}
		s.SetUser("ada")
		saveReplyLost(t, r, s, st)
		if n, err := m.DestroyUserSessions(r.Context(), "ada"); err != nil || n != 1 {
			t.Errorf("DestroyUserSessions(ada) = %d, %v; want the login's session", n, err)
		}
		if err := s.RenewID(r.Context()); !errors.Is(err, ErrNotFound) {
			t.Errorf("RenewID: %v; want an error wrapping ErrNotFound", err)
		}
	}))
	b.get("/login")
	if infos, err := m.UserSessions(t.Context(), "ada"); err != nil || len(infos) != 0 {
		t.Errorf("ada's sessions %v, %v; want none after DestroyUserSessions", infos, err)
	}
	if u := b.get("/whoami").Body.String(); u != "" {
		t.Errorf("the browser's session is %q's; want no one's", u)
	}
}
