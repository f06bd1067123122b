package session

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// As TestAGiveBackPastItsExpiryKeepsASaveSinceWhenItsIndexWriteFailsOrStalls,
// with the options' Cookie.MaxAge a day: the give back of ada's own expiry,
// past, touches the session to the day the entry it recorded covers, and then
// gives the other tab's save (a cookie of 40 minutes, set 15 minutes after
// the load) its expiry back, first recording ada's entry for it. When the
// touch to that expiry fails, the session must not be left stored for the
// day while ada's entry ends at the save's expiry: a log out everywhere of
// ada's would miss it for the rest of the day.
func TestAGiveBackPastItsExpiryWhoseTouchToASaveSinceFailsKeepsTheSessionIndexed(t *testing.T) {
	testGiveBackPastItsExpiryWhoseTouchFails(t, "")
}

// As TestAGiveBackPastItsExpiryWhoseTouchToASaveSinceFailsKeepsTheSessionIndexed,
// with the other tab's save binding the session to bob (SetUser on a shared
// device) as it sets its cookie of 40 minutes: bob's entry covers that
// save's expiry. The give back of ada's own expiry, past, touches the
// session to the day ada's entry covers, removes ada's entry (the session is
// bob's), and then gives bob's save its expiry back. When that touch fails,
// the session must not be left stored for the day with bob's entry ending at
// his save's expiry: a log out everywhere of bob's would miss it.
func TestAGiveBackPastItsExpiryWhoseTouchToAReboundSaveFailsKeepsTheSessionIndexed(t *testing.T) {
	testGiveBackPastItsExpiryWhoseTouchFails(t, "bob")
}

// testGiveBackPastItsExpiryWhoseTouchFails plays both: the other tab's save
// binds the session to rebindTo, unless it is "", and the session must stay
// within the entry of its user then.
func testGiveBackPastItsExpiryWhoseTouchFails(t *testing.T, rebindTo string) {
	owner := "ada"
	if rebindTo != "" {
		owner = rebindTo
	}
	fs, m, b, id, start := loginAdaOnGetToucher(t, Options{Cookie: CookieOptions{MaxAge: 24 * time.Hour}}, func(s *Session) {
		s.Cookie().SetMaxAge(50 * time.Minute)
	})
	at := func(d time.Duration) { fs.clock.Set(start.Add(d)) }
	var fault indexDownSetBackFails
	var end atomic.Bool
	var endTouches atomic.Int32
	fs.on(func(ctx context.Context, op, _ string) error {
		if err := fault.err(op); err != nil {
			return err
		}
		switch {
		case op == "Touch" && end.Load() && endTouches.Add(1) == 1:
			return errDown // the touch that gives the other tab's save its expiry back
		}
		return nil
	})
	other := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Cookie().SetMaxAge(40 * time.Minute)
		if rebindTo != "" {
			s.SetUser(rebindTo)
		}
	})))
	other.cookie = b.cookie
	readWhileTheOtherTabSaves(t, m, b, other, &fault, at, &end)
	fs.on(nil)
	if n := endTouches.Load(); n < 1 {
		t.Fatalf("%d touches at the end of the read, want the give back of the other tab's save", n)
	}
	at(85*time.Minute + IndexGrace + time.Second) // the entry for the other tab's save's expiry ran out
	if _, found, _ := fs.countingStore.Store.Get(t.Context(), id); found {
		if live := liveOf(t, m, owner); len(live) != 1 || live[0] != id {
			t.Fatalf("the session is stored past the expiry of %s's entry, and UserSessions(%s) lists %v: a log out everywhere would miss it", owner, owner, short(live))
		}
	}
}
