package session

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// A session whose own cookie and Cookie.MaxAge are one a browser-session
// cookie (the store's default lifetime, a day) and the other not: a login
// that is not to be remembered (SetMaxAge(0)) under a MaxAge of an hour,
// or one that is (thirty days) under the browser-session default. A read
// whose load's user index write fails, the index answering again at its
// end, records the entry again and gives the session back its own expiry:
// the entry must last as long. It lasted the other one (the load's hour,
// the store's default day), and once it ran out the session still worked
// and a log out everywhere missed it.
func TestGiveBackAfterAFailedLoadIndexWriteKeepsABrowserSessionMixInItsUsersIndex(t *testing.T) {
	for _, tc := range []struct {
		name        string
		maxAge, own time.Duration
		after       time.Duration // when the entry recorded with the other expiry has run out
	}{
		{"not remembered under an hour", time.Hour, 0, 2 * time.Hour},
		{"remembered under browser sessions", 0, 30 * 24 * time.Hour, 2 * 24 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs, m, b, id, start := loginAdaOnGetToucher(t, Options{Cookie: CookieOptions{MaxAge: tc.maxAge}}, func(s *Session) {
				s.Cookie().SetMaxAge(tc.own)
			})
			var indexDown atomic.Bool
			failIndexWhile(fs, &indexDown)
			b.h = m.Handler(failedLoadThen(t, &indexDown, func(w http.ResponseWriter, r *http.Request) {
				// the index answers this request's end
			}))
			fs.clock.Set(start.Add(30 * time.Minute))
			if rec := b.get("/"); rec.Code != http.StatusServiceUnavailable {
				t.Fatalf("status %d, want the ErrorHandler's 503", rec.Code)
			}
			fs.on(nil)
			fs.clock.Set(start.Add(tc.after))
			if _, found, _ := fs.countingStore.Store.Get(t.Context(), id); found {
				if live := liveOf(t, m, "ada"); len(live) != 1 || live[0] != id {
					t.Fatalf("the session is stored and UserSessions(ada) lists %v: a log out everywhere would miss it", short(live))
				}
			}
		})
	}
}
