package session

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// TestAFailedRenewIDsSetBackStaysWithinTheEntryAnotherTabsSaveRecorded: a
// session of ada's with a 10-minute cookie of its own (under a 1-hour
// Cookie.MaxAge, so that the touch on the load sets the stored expiry from
// the options and records ada's index entry for the hour) is renewed by a
// login (RenewID) whose save of the new id fails, or whose handler
// panics, 5 minutes after another tab saved a change to the old id: that
// save recorded ada's entry for its own 10 minutes. The set back of the
// old id gives it 10 minutes from the end of the failed request, past that
// entry, so it must record the entry for it: a log out everywhere of ada
// 12 minutes after the other tab's save must still end the session.
func TestAFailedRenewIDsSetBackStaysWithinTheEntryAnotherTabsSaveRecorded(t *testing.T) {
	for _, how := range []string{"failed save", "panic"} {
		t.Run(how, func(t *testing.T) {
			fs := &faultStore{countingStore: newCountingStore(t)}
			m := unavailableManager(t, fs, Options{Store: gtStore{fs}, Cookie: CookieOptions{MaxAge: time.Hour}}, nil)
			b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
				s.SetUser("ada")
				s.Cookie().SetMaxAge(10 * time.Minute)
			})))
			b.get("/")
			oldID := mustID(t, m, b.cookie)
			tab := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
				s.Set("theme", "dark")
			})))
			tab.cookie = b.cookie
			renew := m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
				if err := s.RenewID(r.Context()); err != nil {
					t.Errorf("RenewID: %v", err)
				}
				if rec := tab.get("/theme"); rec.Code != http.StatusOK {
					t.Errorf("the other tab's save: status %d", rec.Code)
				}
				fs.clock.Advance(5 * time.Minute)
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
			fs.clock.Advance(7 * time.Minute) // 12 minutes after the other tab's save
			if _, found, _ := fs.Store.Get(t.Context(), oldID); !found {
				t.Fatal("the old id's session is gone 7 minutes after the failed login, though its cookie lasts 10")
			}
			if _, err := m.DestroyUserSessions(t.Context(), "ada"); err != nil {
				t.Fatal(err)
			}
			if _, found, _ := fs.Store.Get(t.Context(), oldID); found {
				t.Fatal("a log out everywhere of ada left the old id's session stored: it outlived her index entry")
			}
		})
	}
}
