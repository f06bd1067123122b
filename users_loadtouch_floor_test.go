package session

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/session/memstore"
)

// A "remember me" session (its own cookie lasts thirty days, the options'
// a day, or the browser session's, the store's default day) is saved at
// login with an index entry as long. A read-only request's load touches it
// to the options' expiry and records the entry that long; when the index
// then goes down before that request's end, the end-of-request touch that
// sets the session's own thirty days back fails with it, and both session
// and entry stay at the day. A later read while the index is still down
// failed its own index write after its load's touch; the expiry the end
// of that request set back must be one the entry covers, but it was the
// one the login's save gave the session, thirty days, while the entry (the
// earlier read's) ran out after a day: for four weeks the session's cookie
// worked and DestroyUserSessions missed it.
func TestALoadWhoseIndexWriteFailsDoesNotOutliveAnEntryAReadShortened(t *testing.T) {
	const day = 24 * time.Hour
	if memstore.DefaultTTL != day {
		t.Fatalf("memstore.DefaultTTL is %v; the test counts on a day", memstore.DefaultTTL)
	}
	for _, tc := range []struct {
		name   string
		maxAge time.Duration // Cookie.MaxAge
	}{
		{"CookieMaxAge", day},
		{"BrowserSessionStoreDefault", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs, m, b, id, start := loginAdaOnGetToucher(t, Options{Cookie: CookieOptions{MaxAge: tc.maxAge}}, func(s *Session) {
				s.Cookie().SetMaxAge(30 * day) // remember me
			})
			at := func(d time.Duration) { fs.clock.Set(start.Add(d)) }
			b.h = m.Handler(readViews)

			// A read whose load records the entry, after which the index goes down.
			at(time.Hour)
			var indexWrites atomic.Int32
			fs.on(func(ctx context.Context, op, _ string) error {
				if op == "IndexUserSession" && indexWrites.Add(1) > 1 {
					return errDown
				}
				return nil
			})
			b.get("/")
			if indexWrites.Load() < 2 {
				t.Fatalf("%d index writes in the first read, want the load's and the end's", indexWrites.Load())
			}
			// A read an hour later, the index still down.
			at(2 * time.Hour)
			if rec := b.get("/"); rec.Code != http.StatusServiceUnavailable {
				t.Fatalf("status %d, want the ErrorHandler's 503 after a failed index write", rec.Code)
			}
			fs.on(nil)
			for _, d := range []time.Duration{day + 2*time.Hour + 2*time.Minute, 3 * day, 29 * day} {
				at(d)
				_, found, _ := fs.countingStore.Store.Get(t.Context(), id)
				if live := liveOf(t, m, "ada"); found && (len(live) != 1 || live[0] != id) {
					t.Fatalf("%v after the login: the session is stored, and UserSessions(ada) lists %v: a log out everywhere would miss it", d, short(live))
				}
			}
		})
	}
}
