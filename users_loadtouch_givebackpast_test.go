package session

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// A session with a short cookie of its own (ten minutes, renewed by each
// save: a bank's) whose load's user index write failed is given back its
// own expiry at the end of the request, the index answering again. The
// failed request's handler ran on past that expiry (a slow report), while
// another tab of the session saved it, renewing its cookie for ten more
// minutes. The give back, an expiry in the past, must not end the session
// that save kept alive: the store deleted it, and the user, active a
// minute ago in the other tab, was logged out.
func TestGiveBackAfterAFailedLoadIndexWriteKeepsASaveSincePastTheLoadsExpiry(t *testing.T) {
	fs, m, b, id, start := loginAdaOnGetToucher(t, Options{Cookie: CookieOptions{MaxAge: 24 * time.Hour}}, func(s *Session) {
		s.Cookie().SetMaxAge(10 * time.Minute)
	})
	at := func(d time.Duration) { fs.clock.Set(start.Add(d)) }
	var indexDown atomic.Bool
	failIndexWhile(fs, &indexDown)
	other := newBrowser(t, m.Handler(incrViews))
	other.cookie = b.cookie
	b.h = m.Handler(failedLoadThen(t, &indexDown, func(w http.ResponseWriter, r *http.Request) {
		// the index answers the other tab, and this request's end
		at(8 * time.Minute)
		if rec := other.get("/"); rec.Code != http.StatusOK {
			t.Errorf("the other tab's save: status %d", rec.Code)
		}
		at(11 * time.Minute) // past the session's own expiry as the failed load read it
	}))
	at(5 * time.Minute)
	if rec := b.get("/"); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want the ErrorHandler's 503", rec.Code)
	}
	fs.on(nil)
	at(15 * time.Minute)
	if _, found, _ := fs.countingStore.Store.Get(t.Context(), id); !found {
		t.Fatal("the session is gone seven minutes after the other tab's save renewed it for ten")
	}
	if live := liveOf(t, m, "ada"); len(live) != 1 || live[0] != id {
		t.Fatalf("the session is stored and UserSessions(ada) lists %v: a log out everywhere would miss it", short(live))
	}
	at(18*time.Minute + time.Second)
	if _, found, _ := fs.countingStore.Store.Get(t.Context(), id); found {
		t.Fatal("the session is stored past the ten minutes of its last save")
	}
}
