package session

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
)

// A login saved by hand (Session.Save with the request's context) whose
// destroy of the old id fails, and whose client hangs up while the login
// checks the old id, leaves no session that no client holds: the clean-up
// (the second destroy, the second read, the undo of the new id's write)
// does not run on the caller's cancellation, which would refuse it unsent
// and leave the new id's session stored, and in bob's index, beside the
// one the end of the request then stores for the login.
func TestRenewIDSavedByHandWhoseClientHangsUpInTheCleanUpLeavesNoOrphan(t *testing.T) {
	m, fs, app, b, oldID := renewSetup(t, "ada")
	app.save = true
	ctx, hangUp := context.WithCancel(t.Context())
	defer hangUp()
	var failed atomic.Bool
	fs.on(func(c context.Context, op, id string) error {
		switch {
		case op == "Destroy" && id == oldID && !failed.Load():
			failed.Store(true)
			return errors.New("connection reset") // not applied
		case op == "Get" && id == oldID && failed.Load() && ctx.Err() == nil:
			hangUp() // the client leaves while the login checks the old id
		}
		return c.Err() // a client refuses a call on a spent context
	})
	b.do(httptest.NewRequest(http.MethodGet, "/login?u=bob", nil).WithContext(ctx))
	fs.on(nil)
	if !failed.Load() {
		t.Fatal("the login destroyed no old id (the test's premise)")
	}
	t.Logf("Session.Save: %v", app.saveErr)
	held := b.get("/cart").Body.String() // the id the client's cookie names
	if ids := storedIDs(t, fs); !slices.Equal(ids, []string{held}) {
		t.Fatalf("stored sessions %v, want the client's alone, %v", short(ids), short([]string{held}))
	}
	for _, user := range []string{"ada", "bob"} {
		for _, id := range liveOf(t, m, user) {
			if id != held {
				t.Fatalf("UserSessions(%s) lists %s, a session no client holds (the client holds %s)", user, short([]string{id}), short([]string{held}))
			}
		}
	}
}
