package session

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// A read of ada's session (a cookie of an hour, the options') fails its
// load's user index write, and the set back that follows fails too (the
// session's node blinks), so the end of the request tries it again. The
// read's handler runs on past the expiry that set back is to (the hour of
// the login, which the entry covers), while another tab saves the session,
// its entry recorded for the hour from then. Tried again with the index
// still down, or given back with an expiry of the session's own that has
// passed, the set back to an expiry in the past deleted what was stored,
// that save with it, and the user was logged out.
func TestARetriedSetBackPastItsExpiryKeepsASaveSince(t *testing.T) {
	for _, c := range []struct {
		name      string
		own       time.Duration // the session's own max age, 0: the options'
		indexDown bool          // at the end of the request
		alone     bool          // no other tab saves meanwhile: the session must not outlive its entry
	}{
		{name: "IndexDown", indexDown: true},
		{name: "OwnExpiryPassed", own: 50 * time.Minute},
		{name: "OwnExpiryPassedIndexDown", own: 50 * time.Minute, indexDown: true},
		{name: "IndexDownAlone", indexDown: true, alone: true},
		{name: "OwnExpiryPassedAlone", own: 50 * time.Minute, alone: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			fs, m, b, id, start := loginAdaOnGetToucher(t, Options{Cookie: CookieOptions{MaxAge: time.Hour}}, func(s *Session) {
				if c.own > 0 {
					s.Cookie().SetMaxAge(c.own)
				}
			})
			at := func(d time.Duration) { fs.clock.Set(start.Add(d)) }
			var fault indexDownSetBackFails
			fs.on(func(ctx context.Context, op, _ string) error { return fault.err(op) })
			other := newBrowser(t, m.Handler(incrViews))
			other.cookie = b.cookie
			b.h = m.Handler(failedLoadThen(t, &fault.down, func(w http.ResponseWriter, r *http.Request) {
				at(45 * time.Minute)
				if !c.alone {
					if rec := other.get("/"); rec.Code != http.StatusOK {
						t.Errorf("the other tab's save: status %d", rec.Code)
					}
				}
				at(70 * time.Minute) // past the login's hour, and the session's own expiry as loaded
				fault.down.Store(c.indexDown)
			}))
			at(30 * time.Minute)
			if rec := b.get("/"); rec.Code != http.StatusServiceUnavailable {
				t.Fatalf("status %d, want the ErrorHandler's 503", rec.Code)
			}
			fs.on(nil)
			at(75 * time.Minute)
			if c.alone {
				if _, found, _ := fs.countingStore.Store.Get(t.Context(), id); found {
					if live := liveOf(t, m, "ada"); len(live) != 1 {
						t.Fatalf("the session is stored and UserSessions(ada) lists %v: a log out everywhere would miss it", short(live))
					}
				}
				return
			}
			if _, found, _ := fs.countingStore.Store.Get(t.Context(), id); !found {
				t.Fatal("the session is gone half an hour after the other tab's save")
			}
			if live := liveOf(t, m, "ada"); len(live) != 1 || live[0] != id {
				t.Fatalf("the session is stored and UserSessions(ada) lists %v: a log out everywhere would miss it", short(live))
			}
		})
	}
}
