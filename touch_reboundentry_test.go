package session

import (
	"net/http"
	"testing"
	"time"
)

// TestTouchOfASessionReboundMeanwhileKeepsItInTheNewUsersIndex: a read of
// ada's session runs on for 10 minutes after another request of the same
// client bound the session to bob (SetUser on a shared device), whose save
// recorded bob's entry to that save's expiry, an hour. The read's touch at
// the end (Rolling, or a session whose own cookie differs from the
// options') gives the session an hour from then, or the other request's
// cookie, touched then: bob's entry must cover that, or once it expired a
// "log out everywhere" of bob's misses the session, which the browser
// still presents as bob's.
func TestTouchOfASessionReboundMeanwhileKeepsItInTheNewUsersIndex(t *testing.T) {
	for _, kind := range staleTouchKinds {
		for _, c := range []struct {
			name    string
			rolling bool
			own     time.Duration // ada's own max age; the options' is an hour
			bobs    time.Duration // the max age bob's save sets; 0: unchanged
		}{
			{name: "Rolling", rolling: true},
			{name: "RollingShorter", rolling: true, bobs: 30 * time.Minute},
			{name: "OwnMaxAge", own: 2 * time.Hour},
			{name: "OwnMaxAgeShorter", own: 2 * time.Hour, bobs: time.Hour},
		} {
			t.Run(kind+"/"+c.name, func(t *testing.T) {
				var m *Manager
				var cs *countingStore
				for _, k := range storeKinds {
					if k.name == kind {
						m, cs = newKindManager(t, k.make, Options{Rolling: c.rolling, Cookie: CookieOptions{MaxAge: time.Hour}})
					}
				}
				h := func(f func(s *Session)) http.Handler {
					return m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) { f(s) }))
				}
				b := newBrowser(t, h(func(s *Session) {
					s.SetUser("ada")
					if c.own > 0 {
						s.Cookie().SetMaxAge(c.own)
					}
				}))
				b.get("/")
				id := mustID(t, m, b.cookie)
				other := newBrowser(t, h(func(s *Session) {
					s.SetUser("bob")
					if c.bobs > 0 {
						s.Cookie().SetMaxAge(c.bobs)
					}
				}))
				other.cookie = b.cookie
				b.h = h(func(s *Session) {
					if s.User() != "ada" {
						t.Errorf("the read got user %q", s.User())
					}
					cs.clock.Advance(time.Second)
					other.get("/")
					cs.clock.Advance(10 * time.Minute)
				})
				b.get("/")
				read := cs.clock.Now()
				for range 200 { // 5-minute steps, while the session lives
					if _, found, err := cs.Store.Get(t.Context(), id); err != nil {
						t.Fatal(err)
					} else if !found {
						return
					}
					if idx := indexOf(t, m, "bob"); len(idx) != 1 || idx[0] != id {
						t.Fatalf("%v after the read the session is still stored, as bob's, and bob's index is %v", cs.clock.Now().Sub(read), short(idx))
					}
					cs.clock.Advance(5 * time.Minute)
				}
				t.Fatal("the session never ended")
			})
		}
	}
}
