package session

import (
	"net/http"
	"testing"
	"time"
)

// With an IdleTimeout, the set back at the end of a request that unset
// the session (UnsetKeep) gives the session its own expiry counted from the
// end of the request, as every request's end touch does: counted from its
// load, it would cut back the idle deadline that a read of another tab,
// while this request's handler ran, moved on, and log the user out early.
func TestUnsetKeepSetBackDoesNotCutBackAnIdleDeadlineAnotherTabMoved(t *testing.T) {
	fs, m, b, id, start := loginAdaOnGetToucher(t, Options{IdleTimeout: 30 * time.Minute, Cookie: CookieOptions{MaxAge: 10 * time.Minute}}, func(s *Session) {
		s.Cookie().SetMaxAge(30 * 24 * time.Hour) // "remember me": the load's touch, from the options' ten minutes, does not fit it
	})
	at := func(d time.Duration) { fs.clock.Set(start.Add(d)) }
	other := newBrowser(t, m.Handler(readViews))
	other.cookie = b.cookie
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		if s.User() != "ada" {
			t.Errorf("the request got user %q", s.User())
		}
		s.Unset()
		at(10 * time.Minute)
		if rec := other.get("/"); rec.Code != http.StatusOK {
			t.Errorf("the other tab's read: status %d", rec.Code)
		}
		at(15 * time.Minute)
	}))
	at(5 * time.Minute)
	b.get("/")
	at(38 * time.Minute) // 28 minutes after the other tab's read; 33 after this request's load
	if _, found, _ := fs.countingStore.Store.Get(t.Context(), id); !found {
		t.Fatal("the session ended less than IdleTimeout after the other tab's read and this request")
	}
	at(45*time.Minute + time.Second)
	if _, found, _ := fs.countingStore.Store.Get(t.Context(), id); found {
		t.Fatal("the session is stored past IdleTimeout after the end of the last request")
	}
}
