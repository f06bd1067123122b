package session

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestAFailedSaveOfACookieChangeLeavesTheStoredCookiesExpiry: a session
// with a cookie of its own (a one-minute sudo window, or a 2-hour one,
// under a Cookie.MaxAge of a day) gets a request that changes its cookie
// (to 2 hours, or to a minute) and whose save then fails. The error
// response sends no cookie: the browser keeps the stored one, and so must
// the store, whose expiry is the stored cookie's, not the unsaved one's.
// On every kind of store, with a user or without: a store that touches on
// the load sets the expiry back at the end, and must set back the one
// that a store touching only at the end leaves.
func TestAFailedSaveOfACookieChangeLeavesTheStoredCookiesExpiry(t *testing.T) {
	for _, c := range []struct {
		name            string
		stored, unsaved time.Duration
	}{
		{"Lengthened", time.Minute, 2 * time.Hour},
		{"Shortened", 2 * time.Hour, time.Minute},
	} {
		for _, user := range []string{"", "ada"} {
			for _, k := range storeKinds {
				t.Run(c.name+"/user="+user+"/"+k.name, func(t *testing.T) {
					m, cs := newKindManager(t, k.make, Options{Cookie: CookieOptions{MaxAge: 24 * time.Hour}, MaxDocumentBytes: 4096})
					b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
						if user != "" {
							s.SetUser(user)
						}
						s.Set("x", 1)
						s.Cookie().SetMaxAge(c.stored)
					})))
					b.get("/")
					id := mustID(t, m, b.cookie)
					b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
						s.Cookie().SetMaxAge(c.unsaved)
						s.Set("big", strings.Repeat("x", 8000)) // over MaxDocumentBytes: the save fails
					}))
					cs.clock.Advance(time.Second)
					rec := b.get("/")
					if rec.Code != http.StatusInternalServerError || rec.Header().Get("Set-Cookie") != "" {
						t.Fatalf("setting up: the failed save answered %d with Set-Cookie %q, want 500 and none", rec.Code, rec.Header().Get("Set-Cookie"))
					}
					short, long := min(c.stored, c.unsaved), max(c.stored, c.unsaved)
					alive := aliveAfter(t, cs, id, short+time.Minute)
					if want := c.stored == long; alive != want {
						t.Fatalf("%v after the failed save, the session is stored: %v, want %v: the browser holds its stored %v cookie, not the unsaved %v one", short+time.Minute, alive, want, c.stored, c.unsaved)
					}
					if alive && aliveAfter(t, cs, id, long) {
						t.Fatalf("the session is still stored past its %v cookie", c.stored)
					}
				})
			}
		}
	}
}
