package session

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// A request whose load's user index write failed records the entry again at
// its end, the index answering, with the expiry it gives the session back:
// the load's day. In between, another tab of the same session ticked
// "remember me" (SetMaxAge of thirty days) and recorded the entry for its
// thirty days, which the end's write replaced. The give back then keeps
// that save's thirty days, as it should, but the entry must last as long:
// it lasted the day, and after it a log out everywhere missed the session.
func TestGiveBackAfterAFailedLoadIndexWriteKeepsTheEntryOfALongerSaveSince(t *testing.T) {
	const day = 24 * time.Hour
	fs, m, b, id, start := loginAdaOnGetToucher(t, Options{Cookie: CookieOptions{MaxAge: day}}, nil)
	at := func(d time.Duration) { fs.clock.Set(start.Add(d)) }
	var indexDown atomic.Bool
	failIndexWhile(fs, &indexDown)
	other := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Cookie().SetMaxAge(30 * day)
	})))
	other.cookie = b.cookie
	b.h = m.Handler(failedLoadThen(t, &indexDown, func(w http.ResponseWriter, r *http.Request) {
		// the index answers the other tab, and this request's end
		if rec := other.get("/"); rec.Code != http.StatusOK {
			t.Errorf("the other tab's save: status %d", rec.Code)
		}
	}))
	at(time.Hour)
	if rec := b.get("/"); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want the ErrorHandler's 503", rec.Code)
	}
	fs.on(nil)
	at(3 * day) // past the load's day
	if _, found, _ := fs.countingStore.Store.Get(t.Context(), id); !found {
		t.Fatal("the remembered session ended with the failed load's day")
	}
	if live := liveOf(t, m, "ada"); len(live) != 1 || live[0] != id {
		t.Fatalf("the remembered session is stored and UserSessions(ada) lists %v: a log out everywhere would miss it", short(live))
	}
}
