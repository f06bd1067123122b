package session

import (
	"context"
	"net/http"
	"slices"
	"testing"
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
