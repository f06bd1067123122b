package session

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
)

// A login whose destroy of the old id is answered with an error that the
// store had not yet applied (a timeout: PostgreSQL still runs a DELETE
// whose client gave up), and finds the old id still stored when it checks,
// destroys the old id again before it gives the login up: the store
// answers that destroy, the old id is gone for certain, and the new id's
// session and its cookie stand. Before, the save undid the new id's write
// at once, and the first delete, landing after the check, then took the
// old id too: the client was left with a cookie for a session that no
// longer existed (a run of fault 8c under load reset sessions so).
func TestRenewIDWhoseOldIDDestroyLandsAfterTheCheckKeepsTheNewSession(t *testing.T) {
	for _, user := range []string{"", "ada"} {
		for _, save := range []bool{false, true} {
			name := cmpOr(user, "anonymous") + "/" + map[bool]string{false: "end of request", true: "Session.Save"}[save]
			t.Run(name, func(t *testing.T) {
				m, fs, app, b, oldID := renewSetup(t, user)
				oldCookie := b.cookie
				app.save = save
				var timedOut, landed atomic.Bool
				fs.on(func(ctx context.Context, op, id string) error {
					switch {
					case op == "Destroy" && id == oldID && !timedOut.Load():
						timedOut.Store(true)
						return context.DeadlineExceeded // not applied yet
					case op == "Destroy" && timedOut.Load() && !landed.Load():
						// The timed-out delete lands now, after the
						// check found the old id, beside this destroy.
						landed.Store(true)
						fs.countingStore.Destroy(ctx, oldID)
					}
					return nil
				})
				rec := b.get("/login?u=bob")
				fs.on(nil)
				if !timedOut.Load() {
					t.Fatal("the login destroyed no old id")
				}
				if app.saveErr != nil {
					t.Logf("Session.Save: %v", app.saveErr)
				}
				checkLoginKept(t, m, fs, b, rec, oldCookie, user)
			})
		}
	}
}

// checkLoginUndone checks what a login that could not finish cleaning up
// after its new id's write must leave: the ErrorHandler's 503 and the old
// cookie, the new id's write undone (the store holds the old id alone),
// no session of bob's, and the client's session still ada's.
func checkLoginUndone(t *testing.T, m *Manager, fs *faultStore, b *browser, rec *httptest.ResponseRecorder, oldCookie, oldID string) {
	t.Helper()
	if rec.Code != http.StatusServiceUnavailable || b.cookie != oldCookie {
		t.Fatalf("login answered %d, cookie changed %v; want the ErrorHandler's 503 and the old cookie", rec.Code, b.cookie != oldCookie)
	}
	if ids := storedIDs(t, fs); !slices.Equal(ids, []string{oldID}) {
		t.Fatalf("stored sessions %v, want the old id alone, %v: the new id's write was not undone", short(ids), short([]string{oldID}))
	}
	if live := liveOf(t, m, "bob"); len(live) != 0 {
		t.Fatalf("UserSessions(bob) = %v, a session no client holds", short(live))
	}
	if got := b.get("/show").Body.String(); got != "ada socks" {
		t.Fatalf("after the failed login the session reads %q, want %q", got, "ada socks")
	}
}

// checkLoginKept fails t unless bob's login, answered rec, stands although
// a destroy of the old id failed: the client's session (its cookie changed
// from oldCookie) reads bob's, the store holds the new id alone, bob's
// index lists it, and user's (if any) no longer lists the old id.
func checkLoginKept(t *testing.T, m *Manager, fs *faultStore, b *browser, rec *httptest.ResponseRecorder, oldCookie, user string) {
	t.Helper()
	if got := b.get("/show").Body.String(); got != "bob socks" {
		t.Fatalf("after the login (answered %d, cookie changed: %t) the client's session reads %q, want %q",
			rec.Code, b.cookie != oldCookie, got, "bob socks")
	}
	if rec.Code != http.StatusOK || b.cookie == oldCookie {
		t.Fatalf("login answered %d, cookie changed %v; want 200 and the new id's cookie", rec.Code, b.cookie != oldCookie)
	}
	newID := rec.Body.String()
	if ids := storedIDs(t, fs); !slices.Equal(ids, []string{newID}) {
		t.Fatalf("stored sessions %v, want the new one alone, %v", short(ids), short([]string{newID}))
	}
	if live := liveOf(t, m, "bob"); !slices.Equal(live, []string{newID}) {
		t.Fatalf("UserSessions(bob) = %v, want the new id", short(live))
	}
	if user != "" {
		if idx := indexOf(t, m, user); len(idx) != 0 {
			t.Fatalf("%s's index %v, want the old id's entry removed", user, short(idx))
		}
	}
}
