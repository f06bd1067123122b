package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/session"
)

// testSaveOfSessionEndedMeanwhile pins, through the manager on the store,
// that a Save that finds the session ended by another request since this
// one loaded it (a logout in another tab) fails with ErrNotFound and
// leaves the session as after Destroy: the request reads no user and none
// of the ended session's values after it, and sends no cookie, not even an
// expired one (the client may hold the cookie of the request that ended
// it). The store must report the write as a conflict, and the re-read
// that follows as not found.
func testSaveOfSessionEndedMeanwhile(t *testing.T, newStore func(*testing.T) session.Store, cfg *config) {
	st := newStore(t)
	capability[session.VersionedStore](t, st)
	out := runAgreeScenario(t, st, agreeScenario{
		opts:     session.Options{Cookie: session.CookieOptions{MaxAge: time.Hour}},
		requests: [][]string{{"user ada", "set a"}, {"other destroys", "set b", "save", "user", "get a", "get b"}, {"user", "get a"}},
	})
	if len(out[0].SetCookie) == 0 {
		t.Fatal("the login got no session cookie")
	}
	body := out[1].Body
	if strings.Contains(body, "other destroys:") {
		t.Fatalf("the other request's destroy failed: %s", body)
	}
	if !strings.Contains(body, "save: ") || !strings.Contains(body, session.ErrNotFound.Error()) {
		t.Fatalf("Save of a session destroyed meanwhile did not fail with ErrNotFound: %s", body)
	}
	if !strings.Contains(body, "user=; a=<nil>; b=<nil>; ") {
		t.Fatalf("after the Save that found the session gone, the request still reads it: %s", body)
	}
	if c := out[1].SetCookie; len(c) != 0 {
		t.Fatalf("Set-Cookie %s for a session another request destroyed meanwhile", c[0])
	}
	if len(out[1].Stored) != 0 {
		t.Fatalf("stored after the Save that found the session gone: %v", out[1].Stored)
	}
	if out[2].Body != "user=; a=<nil>; " {
		t.Fatalf("the next request reads %q", out[2].Body)
	}
}
