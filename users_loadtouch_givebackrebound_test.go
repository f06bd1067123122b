package session

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// A request whose load's user index write failed gives the session back, at
// its end, the load's idle expiry as made then. With browser-session cookies
// a write of another request since leaves the session's cookie as it was,
// so the give back cannot tell from it when that write was. Here one bound
// the session to another user (SetUser("bob") on a shared device), and bob's
// entry lasts the IdleTimeout from that write; the failed request's handler
// ran on for ten minutes after it. The give back must not push bob's
// session past bob's entry: a log out everywhere of bob would miss it. The
// same without an IdleTimeout, where the session and bob's entry last the
// store's default day: the give back's day counted from the end of the
// request outlived the entry's, counted from bob's save.
func TestGiveBackAfterAFailedLoadIndexWriteKeepsABrowserSessionReboundSinceInItsUsersIndex(t *testing.T) {
	for _, tc := range []struct {
		name     string
		idle     time.Duration // Options.IdleTimeout
		lifetime time.Duration // how long bob's save keeps the session
	}{
		{"IdleTimeout", 30 * time.Minute, 30 * time.Minute},
		{"StoreDefaultLifetime", 0, 24 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) { testGiveBackKeepsReboundBrowserSession(t, tc.idle, tc.lifetime) })
	}
}

func testGiveBackKeepsReboundBrowserSession(t *testing.T, idle, lifetime time.Duration) {
	fs, m, b, id, start := loginAdaOnGetToucher(t, Options{IdleTimeout: idle}, nil)
	at := func(d time.Duration) { fs.clock.Set(start.Add(d)) }
	var indexDown atomic.Bool
	failIndexWhile(fs, &indexDown)
	other := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) { s.SetUser("bob") })))
	other.cookie = b.cookie
	b.h = m.Handler(failedLoadThen(t, &indexDown, func(w http.ResponseWriter, r *http.Request) {
		// the index answers the other request, and this one's end
		at(time.Minute + 30*time.Second) // within the minute the load set the session back to
		if rec := other.get("/"); rec.Code != http.StatusOK {
			t.Errorf("the other request: status %d", rec.Code)
		}
		at(12 * time.Minute)
	}))
	at(time.Minute)
	if rec := b.get("/"); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want the ErrorHandler's 503", rec.Code)
	}
	fs.on(nil)
	at(time.Minute + 30*time.Second + lifetime + 3*time.Minute) // past bob's entry, the session's lifetime and IndexGrace after his save
	if _, found, _ := fs.countingStore.Store.Get(t.Context(), id); found {
		if live := liveOf(t, m, "bob"); len(live) != 1 || live[0] != id {
			t.Fatalf("bob's session is stored past his entry and UserSessions(bob) lists %v: a log out everywhere of bob would miss it", short(live))
		}
	}
}
