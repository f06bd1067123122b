package session

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// TestAFailedRenewIDKeepsWhatAnotherTabSavedTheOldSessionWith: a session of
// ada's with a 2-hour cookie of its own (under a 1-hour Cookie.MaxAge, so
// that the touch on the load sets the stored expiry from the options) is
// renewed by a login (RenewID) whose save of the new id fails, or whose
// handler panics, and the client keeps the old id. Meanwhile another tab
// saved the old id: with a 30-minute cookie (a sudo window), or bound to
// bob (SetUser on a shared device), 10 minutes before the failed request
// ended. The set back of the old id's expiry at the end of the failed
// request must follow what that save stored, as the end-of-request touch
// of a session that was not renewed does (touched from the end of the
// request with the cookie that save stored): not keep a session whose
// cookie the browser now holds for 30 minutes alive for 2 hours, nor a session now
// bob's past bob's index entry (a "log out everywhere" of bob's would miss
// it).
func TestAFailedRenewIDKeepsWhatAnotherTabSavedTheOldSessionWith(t *testing.T) {
	for _, how := range []string{"failed save", "panic"} {
		for _, other := range []string{"shorter", "rebound"} {
			t.Run(how+"/"+other, func(t *testing.T) {
				fs := &faultStore{countingStore: newCountingStore(t)}
				m, _ := newTestManager(t, Options{Store: gtStore{fs}, Cookie: CookieOptions{MaxAge: time.Hour},
					ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
						http.Error(w, "try again", http.StatusServiceUnavailable)
					}})
				m.now = fs.clock.Now
				b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
					s.SetUser("ada")
					s.Cookie().SetMaxAge(2 * time.Hour)
				})))
				b.get("/")
				oldID := mustID(t, m, b.cookie)
				tab := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
					if other == "shorter" {
						s.Cookie().SetMaxAge(30 * time.Minute)
					} else {
						s.SetUser("bob")
					}
				})))
				tab.cookie = b.cookie
				renew := m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
					if err := s.RenewID(r.Context()); err != nil {
						t.Errorf("RenewID: %v", err)
					}
					fs.clock.Advance(time.Second)
					if setCookie(tab.get("/")) == "" {
						t.Error("the other tab's save sent no cookie")
					}
					fs.clock.Advance(10 * time.Minute)
					if how == "panic" {
						panic("handler bug")
					}
					fs.on(func(_ context.Context, op, id string) error {
						if op == "CompareAndSwap" && id != oldID {
							return errDown // the new id's write
						}
						return nil
					})
				}))
				b.h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					defer func() { recover() }() // as net/http recovers a handler's panic
					renew.ServeHTTP(w, r)
				})
				b.get("/login")
				fs.on(nil)
				if other == "shorter" {
					fs.clock.Advance(31 * time.Minute)
					if _, found, _ := fs.Store.Get(t.Context(), oldID); found {
						t.Fatal("the old id's session is still stored 31 minutes after the failed login, though the other tab saved it with a 30-minute cookie")
					}
					return
				}
				end := fs.clock.Now()
				for range 100 { // 5-minute steps, while the session lives
					if _, found, err := fs.Store.Get(t.Context(), oldID); err != nil {
						t.Fatal(err)
					} else if !found {
						return
					}
					if idx := indexOf(t, m, "bob"); len(idx) != 1 || idx[0] != oldID {
						t.Fatalf("%v after the failed login the session is still stored, as bob's, and bob's index is %v", fs.clock.Now().Sub(end), short(idx))
					}
					fs.clock.Advance(5 * time.Minute)
				}
				t.Fatal("the session never ended")
			})
		}
	}
}
