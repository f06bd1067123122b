package session

import (
	"context"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
)

// RenewID re-reads a session with a user before it moves it, so that a
// session another request ended meanwhile (DestroyUserSessions, a logout)
// does not come back under the new id. When that re-read fails (the store
// did not answer), RenewID cannot tell, and must not move the values it
// loaded: it fails and leaves the session as it was, as when GenerateID
// fails. It moved them: after "log out everywhere" returned, the request's
// end stored them under the new id, logged in, and sent its cookie.
func TestRenewIDWhoseRereadFailsDoesNotBringBackAnEndedSession(t *testing.T) {
	fs := &faultStore{countingStore: newCountingStore(t)}
	m, _ := newTestManager(t, Options{Store: fs})
	users := usersApp(t)
	var renewErr error
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/rotate" {
			users.ServeHTTP(w, r)
			return
		}
		s := From(r) // loaded: ada's session
		if n, err := m.DestroyUserSessions(r.Context(), "ada"); n != 1 || err != nil {
			t.Errorf("DestroyUserSessions = %d, %v; want 1", n, err)
		}
		var failed atomic.Bool
		fs.on(func(ctx context.Context, op, id string) error {
			if op == "GetVersion" && failed.CompareAndSwap(false, true) {
				return errDown // the re-read; the store answers again after it
			}
			return nil
		})
		renewErr = s.RenewID(r.Context())
		fs.on(nil)
		if renewErr != nil {
			http.Error(w, "try again", http.StatusServiceUnavailable) // as the README's login handler
			return
		}
		io.WriteString(w, s.User())
	})
	b := newBrowser(t, m.Handler(h))
	login(b, "ada")
	b.get("/rotate")
	if renewErr == nil {
		t.Errorf("RenewID whose re-read failed returned nil")
	}
	if live := liveOf(t, m, "ada"); len(live) != 0 {
		t.Errorf("after DestroyUserSessions ended it, the RenewID whose re-read failed brought ada's session back: UserSessions lists %v", short(live))
	}
	if u := b.get("/whoami").Body.String(); u != "" {
		t.Errorf("the browser whose session DestroyUserSessions ended is logged in as %q after a RenewID whose re-read failed", u)
	}
}
