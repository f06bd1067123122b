package session

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// A request whose load's user index write failed sets the stored expiry,
// the index still down at its end, to one the entry the session had at
// the load covers (the login's day). Another request of the same session
// that the index answered meanwhile gave the session a shorter cookie of
// its own (this device is not to be remembered: ten minutes) and recorded
// its entry that long: the failed request's touch must not push the
// session past that entry. It did: the session stayed stored for the
// login's day while its entry ran out after the ten minutes, and a "log
// out everywhere" missed it.
func TestLoadIndexFailureDoesNotPushAConcurrentShorterSavePastItsEntry(t *testing.T) {
	const day = 24 * time.Hour
	fs, m, b, id, start := loginAdaOnGetToucher(t, Options{Cookie: CookieOptions{MaxAge: day}}, nil)
	fs.clock.Set(start.Add(12 * time.Hour))
	var indexDown atomic.Bool
	failIndexWhile(fs, &indexDown)
	other := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Cookie().SetMaxAge(10 * time.Minute)
		s.Set("remember", false)
	})))
	other.cookie = b.cookie
	b.h = m.Handler(failedLoadThen(t, &indexDown, func(w http.ResponseWriter, r *http.Request) {
		// the index answers the other request
		if rec := other.get("/"); rec.Code != http.StatusOK {
			t.Errorf("the other request: status %d", rec.Code)
		}
		indexDown.Store(true) // and is down again at this one's end
	}))
	if rec := b.get("/"); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want the ErrorHandler's 503", rec.Code)
	}
	fs.on(nil)
	// Not cut shorter than the other request's cookie either.
	fs.clock.Set(start.Add(12*time.Hour + 9*time.Minute))
	if _, found, _ := fs.countingStore.Store.Get(t.Context(), id); !found {
		t.Fatal("the session is gone before the expiry the other request gave it")
	}
	for _, d := range []time.Duration{12*time.Hour + 13*time.Minute, 20 * time.Hour} {
		fs.clock.Set(start.Add(d))
		if _, found, _ := fs.countingStore.Store.Get(t.Context(), id); found {
			if live := liveOf(t, m, "ada"); len(live) != 1 {
				t.Fatalf("%v after the login the session is stored and UserSessions(ada) lists %v: a log out everywhere would miss it", d, short(live))
			}
		}
	}
}
