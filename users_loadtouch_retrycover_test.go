package session

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// A session whose own cookie is shorter than the options' (a login without
// "remember me": an hour, the options' a day) is pushed out by the touch
// carried on a read's load to the day. When that load's index write fails,
// the load sets the expiry back to what the entry covers, and the end of
// the request records the entry again and gives the session its own hour;
// when both touches fail (the session's node does not answer them), the
// entry the end records must still cover the day the session kept: it
// recorded the hour, and the session kept the day while its entry ran out
// after the hour, so that a "log out everywhere" missed it for a day.
func TestLoadIndexRetryCoversTheLoadsTouchUntilTheExpiryIsSetBack(t *testing.T) {
	const day = 24 * time.Hour
	fs, m, b, id, start := loginAdaOnGetToucher(t, Options{Cookie: CookieOptions{MaxAge: day}}, func(s *Session) {
		s.Cookie().SetMaxAge(time.Hour) // not "remember me"
	})
	b.h = m.Handler(readViews)
	fs.clock.Set(start.Add(30 * time.Minute))

	var indexWrites, touches atomic.Int32
	fs.on(func(ctx context.Context, op, _ string) error {
		switch {
		case op == "IndexUserSession" && indexWrites.Add(1) == 1:
			return errDown // the load's
		case (op == "GetAndTouch" || op == "Touch") && touches.Add(1) > 1:
			return errDown // the set back's and the end's: the session's node blinks
		}
		return nil
	})
	if rec := b.get("/"); rec.Code != http.StatusServiceUnavailable || indexWrites.Load() != 2 || touches.Load() != 3 {
		t.Fatalf("status %d after %d index writes and %d touches; want the ErrorHandler's 503 after two index writes and three touches (the load's, its set back, the end's)", rec.Code, indexWrites.Load(), touches.Load())
	}
	fs.on(nil)
	for _, d := range []time.Duration{time.Hour + 2*time.Minute, 12 * time.Hour, day + 29*time.Minute} {
		fs.clock.Set(start.Add(d))
		if _, found, _ := fs.countingStore.Store.Get(t.Context(), id); found {
			if live := liveOf(t, m, "ada"); len(live) != 1 {
				t.Fatalf("%v after the login the session is stored and UserSessions(ada) lists %v: a log out everywhere would miss it", d, short(live))
			}
		}
	}
}
