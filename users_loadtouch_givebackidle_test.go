package session

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// A request whose load's user index write failed gives the session back,
// the index answering again at its end, the idle expiry its load's touch
// set. Another tab of the same session read it while the failed request's
// handler ran on (eight minutes: a slow export, say), and that read's touch
// moved the idle expiry to fifteen minutes past it. The give back must not
// cut the session back to fifteen minutes past the failed load: the user,
// last active eight minutes in, was logged out seven minutes early. The
// same with browser-session cookies after a save of the other tab, whose
// cookie tells no write since.
func TestGiveBackAfterAFailedLoadIndexWriteKeepsTheIdleExpiryOfARequestSince(t *testing.T) {
	for _, tc := range []struct {
		name   string
		maxAge time.Duration // Cookie.MaxAge
		since  http.Handler  // the other tab's request
	}{
		{"read", 24 * time.Hour, readViews},
		{"browser session saved", 0, incrViews},
	} {
		t.Run(tc.name, func(t *testing.T) { testGiveBackKeepsIdleExpiry(t, tc.maxAge, tc.since) })
	}
}

func testGiveBackKeepsIdleExpiry(t *testing.T, maxAge time.Duration, since http.Handler) {
	const idle = 15 * time.Minute
	fs, m, b, id, start := loginAdaOnGetToucher(t, Options{IdleTimeout: idle, Cookie: CookieOptions{MaxAge: maxAge}}, nil)
	at := func(d time.Duration) { fs.clock.Set(start.Add(d)) }
	var indexDown atomic.Bool
	failIndexWhile(fs, &indexDown)
	other := newBrowser(t, m.Handler(since))
	other.cookie = b.cookie
	b.h = m.Handler(failedLoadThen(t, &indexDown, func(w http.ResponseWriter, r *http.Request) {
		// the index answers the other tab, and this request's end
		at(5*time.Minute + 8*time.Minute)
		if rec := other.get("/"); rec.Code != http.StatusOK {
			t.Errorf("the other tab's request: status %d", rec.Code)
		}
	}))
	at(5 * time.Minute)
	if rec := b.get("/"); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want the ErrorHandler's 503", rec.Code)
	}
	fs.on(nil)
	at(5*time.Minute + 8*time.Minute + idle - time.Minute) // fourteen minutes after the read
	if _, found, _ := fs.countingStore.Store.Get(t.Context(), id); !found {
		t.Fatalf("the session is gone %v after its last use, within its IdleTimeout of %v", idle-time.Minute, idle)
	}
	if live := liveOf(t, m, "ada"); len(live) != 1 || live[0] != id {
		t.Fatalf("the session is stored and UserSessions(ada) lists %v: a log out everywhere would miss it", short(live))
	}
	at(5*time.Minute + 8*time.Minute + idle + time.Second)
	if _, found, _ := fs.countingStore.Store.Get(t.Context(), id); found {
		t.Fatalf("the session is stored past its IdleTimeout of %v after its last use", idle)
	}
}
