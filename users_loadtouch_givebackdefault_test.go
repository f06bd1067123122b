package session

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// A request whose load's user index write failed gives the session back its
// expiry at its end, the index answering again. In between, another request
// of the same session bound it to another user on a shared device
// (SetUser("bob")) with a browser-session cookie of its own (SetMaxAge(0):
// not remembered), which the store keeps for its default lifetime, a day,
// and bob's entry as long. The give back must not push bob's session to the
// failed load's thirty days: once bob's entry ran out, the session still
// worked and a log out everywhere of bob missed it.
func TestGiveBackAfterAFailedLoadIndexWriteKeepsABrowserSessionRebindingInItsUsersIndex(t *testing.T) {
	const day = 24 * time.Hour
	fs, m, b, id, start := loginAdaOnGetToucher(t, Options{Cookie: CookieOptions{MaxAge: 30 * day}}, nil)
	at := func(d time.Duration) { fs.clock.Set(start.Add(d)) }
	var indexDown atomic.Bool
	failIndexWhile(fs, &indexDown)
	other := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.SetUser("bob")
		s.Cookie().SetMaxAge(0)
	})))
	other.cookie = b.cookie
	b.h = m.Handler(failedLoadThen(t, &indexDown, func(w http.ResponseWriter, r *http.Request) {
		// the index answers the other request, and this one's end
		if rec := other.get("/"); rec.Code != http.StatusOK {
			t.Errorf("the other request: status %d", rec.Code)
		}
	}))
	at(time.Hour)
	if rec := b.get("/"); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want the ErrorHandler's 503", rec.Code)
	}
	fs.on(nil)
	at(time.Hour + 12*time.Hour)
	if _, found, _ := fs.countingStore.Store.Get(t.Context(), id); !found {
		t.Fatal("bob's browser session is gone within the store's default day")
	}
	at(time.Hour + 2*day) // past the store's default day, and bob's entry
	if _, found, _ := fs.countingStore.Store.Get(t.Context(), id); found {
		if live := liveOf(t, m, "bob"); len(live) != 1 || live[0] != id {
			t.Fatalf("bob's browser session is stored two days after its save and UserSessions(bob) lists %v: a log out everywhere of bob would miss it", short(live))
		}
	}
}
