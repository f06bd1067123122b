package session

import (
	"net/http"
	"testing"
	"time"
)

// TestAnUnsetOrPanicKeepsTheExpiryASaveMeanwhileGave: a "remember me"
// session (7 days of its own, under a 1-hour Cookie.MaxAge) last saved 3
// days ago is loaded by a request that then drops it with UnsetKeep, or
// panics, while another tab saves it, which gives it 7 days from now and
// sends the browser a cookie that says so. The end of the dropping request
// must not set the stored expiry back to the 4 days the cookie it loaded had
// left: the session would end 3 days before the browser's cookie. On every
// kind of store: one that touches on the load (and so sets back at the end)
// must leave what one that touches only at the end leaves.
func TestAnUnsetOrPanicKeepsTheExpiryASaveMeanwhileGave(t *testing.T) {
	const day = 24 * time.Hour
	for _, how := range []string{"unset", "panic"} {
		for _, k := range storeKinds {
			t.Run(how+"/"+k.name, func(t *testing.T) {
				m, cs := newKindManager(t, k.make, Options{Unset: UnsetKeep, Cookie: CookieOptions{MaxAge: time.Hour}})
				b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
					s.Set("user", "ann")
					s.Cookie().SetMaxAge(7 * day) // remember me
				})))
				b.get("/")
				id := mustID(t, m, b.cookie)
				cs.clock.Advance(3 * day)
				other := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
					s.Set("tab", "other")
				})))
				other.cookie = b.cookie
				dropping := m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
					if s.Get("user") != "ann" {
						t.Errorf("the request got user %v", s.Get("user"))
					}
					cs.clock.Advance(time.Second)
					if setCookie(other.get("/")) == "" {
						t.Error("the other tab's save sent no cookie")
					}
					if how == "panic" {
						panic("handler bug")
					}
					s.Unset()
				}))
				b.h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					defer func() { recover() }() // as net/http recovers a handler's panic
					dropping.ServeHTTP(w, r)
				})
				b.get("/")
				if !aliveAfter(t, cs, id, 5*day) {
					t.Fatal("the session ended 4 days after the other tab's save, whose cookie gave it 7")
				}
				if aliveAfter(t, cs, id, 2*day+time.Minute) {
					t.Fatal("the session is still stored past the 7 days the other tab's save gave it")
				}
			})
		}
	}
}
