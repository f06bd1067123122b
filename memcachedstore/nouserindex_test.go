package memcachedstore_test

import (
	"errors"
	"testing"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/testserver/apptest"
)

// Memcached cannot enumerate, so memcachedstore keeps no user index: the
// manager's calls on a user's sessions fail with session.ErrNotSupported,
// the "log out" of one device (DestroyUserSession) among them, and end
// nothing, even given the id of a session of that user.
func TestUserSessionCallsAreNotSupported(t *testing.T) {
	a := apptest.New(t, newStore(shared(t)), nil)
	r := a.MustDo(t, "/login?u=ada", nil)
	id := r.Body
	if _, err := a.Manager.UserSessions(t.Context(), "ada"); !errors.Is(err, session.ErrNotSupported) {
		t.Errorf("UserSessions: %v, want ErrNotSupported", err)
	}
	if _, err := a.Manager.DestroyUserSessions(t.Context(), "ada"); !errors.Is(err, session.ErrNotSupported) {
		t.Errorf("DestroyUserSessions: %v, want ErrNotSupported", err)
	}
	if ok, err := a.Manager.DestroyUserSession(t.Context(), "ada", id); ok || !errors.Is(err, session.ErrNotSupported) {
		t.Errorf("DestroyUserSession = %v, %v; want false, ErrNotSupported", ok, err)
	}
	if u := a.MustDo(t, "/whoami", r.Cookies).Body; u != "ada" {
		t.Errorf("the session's user after the refused calls: %q, want ada", u)
	}
}
