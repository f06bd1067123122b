package session

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// A read of ada's session (a half-hour cookie of its own, shorter than the
// options' hour) runs on for ten minutes after another request of the same
// client bound the session to bob (SetUser on a shared device), whose save
// recorded bob's entry for the half hour it gave the session. The read's
// touch at the end gives the session half an hour from then, and bob's
// entry must be recorded for it; when the index fails just then, the touch
// has already moved the session, which must go back to the expiry bob's
// save gave it: else it outlives bob's entry by the ten minutes, and a
// "log out everywhere" of bob's misses it meanwhile.
func TestTouchOfASessionReboundMeanwhileThatCannotIndexSetsItBack(t *testing.T) {
	fs, m, b, id, start := loginAdaOnGetToucher(t, Options{Cookie: CookieOptions{MaxAge: time.Hour}}, func(s *Session) {
		s.Cookie().SetMaxAge(30 * time.Minute)
	})
	at := func(d time.Duration) { fs.clock.Set(start.Add(d)) }
	var indexDown atomic.Bool
	failIndexWhile(fs, &indexDown)
	readWhileBobRebinds(t, m, b, at, &indexDown)
	at(36*time.Minute + IndexGrace + time.Second) // bob's entry, for 36 minutes, ran out
	if _, found, _ := fs.countingStore.Store.Get(t.Context(), id); found {
		if idx := indexOf(t, m, "bob"); len(idx) != 1 || idx[0] != id {
			t.Fatalf("the session is stored, as bob's, past the expiry bob's save gave it, and bob's index is %v", short(idx))
		}
	}
}

// readWhileBobRebinds has b, ada's, read at 5 minutes while another tab
// rebinds the session to bob at 6; the read ends at 16 with arm set for
// the end of the read's store calls, cleared after it.
func readWhileBobRebinds(t *testing.T, m *Manager, b *browser, at func(time.Duration), arm *atomic.Bool) {
	t.Helper()
	other := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) { s.SetUser("bob") })))
	other.cookie = b.cookie
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		if s.User() != "ada" {
			t.Errorf("the read got user %q", s.User())
		}
		at(6 * time.Minute)
		if rec := other.get("/"); rec.Code != http.StatusOK {
			t.Errorf("bob's save: status %d", rec.Code)
		}
		at(16 * time.Minute)
		arm.Store(true) // for the end of the read
	}))
	at(5 * time.Minute)
	b.get("/")
	arm.Store(false)
}
