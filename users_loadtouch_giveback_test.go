package session

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// A request whose load's user index write failed has the session's expiry
// set back, and, the index answering again at its end, gives it back. In
// between, another request of the same session bound it to another user
// (SetUser("bob") on a shared device, without a new id) with a cookie of
// its own for ten minutes, and recorded bob's entry that long. The give
// back must not push bob's session past bob's entry to the failed load's
// day: a "log out everywhere" of bob would miss it. It did: the end of the
// request touched the session to the load's day whatever was written
// since.
func TestGiveBackAfterAFailedLoadIndexWriteDoesNotPushAReboundSessionPastItsEntry(t *testing.T) {
	const day = 24 * time.Hour
	fs, m, b, id, start := loginAdaOnGetToucher(t, Options{Cookie: CookieOptions{MaxAge: day}}, nil)
	at := func(d time.Duration) { fs.clock.Set(start.Add(d)) }
	var indexDown atomic.Bool
	failIndexWhile(fs, &indexDown)
	other := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.SetUser("bob")
		s.Cookie().SetMaxAge(10 * time.Minute)
	})))
	other.cookie = b.cookie
	b.h = m.Handler(failedLoadThen(t, &indexDown, func(w http.ResponseWriter, r *http.Request) {
		// the index answers the other request, and this one's end
		if rec := other.get("/"); rec.Code != http.StatusOK {
			t.Errorf("the other request: status %d", rec.Code)
		}
	}))
	at(12 * time.Hour)
	if rec := b.get("/"); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want the ErrorHandler's 503", rec.Code)
	}
	fs.on(nil)
	at(12*time.Hour + 9*time.Minute)
	if _, found, _ := fs.countingStore.Store.Get(t.Context(), id); !found {
		t.Fatal("the session is gone before the expiry bob's save gave it")
	}
	at(12*time.Hour + 13*time.Minute)
	if _, found, _ := fs.countingStore.Store.Get(t.Context(), id); found {
		if live := liveOf(t, m, "bob"); len(live) != 1 {
			t.Fatalf("bob's session is stored past the ten minutes of its save and UserSessions(bob) lists %v: a log out everywhere of bob would miss it", short(live))
		}
	}
}
