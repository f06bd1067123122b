package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/session"
)

// testRollingCookieOfDestroyedSession pins, through the manager on the
// store, that a request whose session another request destroyed while it
// ran (a logout in another tab) sends no session cookie with Rolling: that
// cookie would replace the one the logout sent. The end of the request's
// touch (or save) must find the session gone, so no touch may ride on the
// load, which happened before the destroy.
func testRollingCookieOfDestroyedSession(t *testing.T, newStore func(*testing.T) session.Store, cfg *config) {
	for name, call := range map[string]string{"read": "get user", "write": "set late"} {
		t.Run(name, func(t *testing.T) {
			st := newStore(t)
			capability[session.Toucher](t, st)
			out := runAgreeScenario(t, st, agreeScenario{
				opts: session.Options{Rolling: true, Cookie: session.CookieOptions{MaxAge: time.Hour}},
				// The destroy lands before the handler writes: once the
				// headers are out, the cookie is too.
				requests: [][]string{{"set user"}, {"other destroys", call}},
			})
			if len(out[0].SetCookie) == 0 {
				t.Fatal("the login got no session cookie")
			}
			if strings.Contains(out[1].Body, "other destroys:") {
				t.Fatalf("the other request's destroy failed: %s", out[1].Body)
			}
			if c := out[1].SetCookie; len(c) != 0 {
				t.Fatalf("Set-Cookie %s for a session another request destroyed meanwhile: it would undo that logout", c[0])
			}
		})
	}
}
