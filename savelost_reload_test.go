package session

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A Reload after a Session.Save whose reply was lost, though the store
// applied it, finds that Save's write, its own, stored: a change saved
// earlier in the request, which still counts, as after a Save whose reply
// came back. So the cookie that Save stored ("remember me" for 30 days)
// goes out. The Reload took the session for one the request never
// changed, and the browser kept its browser-session cookie, while the
// store held the session for 30 days.
func TestReloadAfterALostSaveReplySendsTheCookieThatSaveStored(t *testing.T) {
	m, _, st := newLostReplyManager(t, Options{})
	b := stored(t, m)
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Cookie().SetMaxAge(30 * 24 * time.Hour)
		saveReplyLost(t, r, s, st)
		if err := s.Reload(r.Context()); err != nil {
			t.Errorf("Reload: %v", err)
		}
	}))
	rec := b.get("/remember")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	c := setCookie(rec)
	_, age, _ := strings.Cut(c, "Max-Age=")
	age, _, _ = strings.Cut(age, ";")
	if n, err := strconv.Atoi(age); err != nil || time.Duration(n)*time.Second < 29*24*time.Hour {
		t.Errorf("Set-Cookie %q; want the 30-day cookie the Save stored", c)
	}
}
