package session

import (
	"net/http"
	"testing"
	"time"
)

// RenewID counts as a creation for AbsoluteTimeout (Options.AbsoluteTimeout
// says so, and scs's RenewToken resets its Lifetime alike): a session
// renewed at login lives AbsoluteTimeout from the login, not from the visit
// that created it, and no longer.
func TestRenewIDRestartsTheAbsoluteTimeout(t *testing.T) {
	m, st := newTestManager(t, Options{AbsoluteTimeout: time.Hour})
	b := stored(t, m) // views = 1
	st.clock.Advance(50 * time.Minute)
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		if err := s.RenewID(r.Context()); err != nil {
			t.Error(err)
		}
	}))
	b.get("/login")
	b.h = m.Handler(readViews)
	st.clock.Advance(50 * time.Minute)
	if got := b.get("/").Body.String(); got != "1" {
		t.Fatalf("100m after the creation, 50m after the login: views = %s, want the session", got)
	}
	st.clock.Advance(11 * time.Minute)
	if got := b.get("/").Body.String(); got != "0" {
		t.Fatalf("61m after the login: views = %s, want a new session", got)
	}
}
