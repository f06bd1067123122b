package session

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The load's user index write is refused at once (the index node reset
// the connection), and the session's node stops answering right after the
// load's read and touch: the set back of the expiry that follows times out.
// The ErrorHandler's answer must still go out within about one
// StoreTimeout, as Options.StoreTimeout promises: the end of the request,
// the index still refusing, tries the set back again after the answer, not
// before it. It was tried before it, and the answer waited out a second
// StoreTimeout on the stalled node.
func TestAStalledSetBackAfterTheLoadIsTriedAgainAfterTheAnswer(t *testing.T) {
	t.Parallel() // it waits out a StoreTimeout of waitedOutTimeout
	const timeout = waitedOutTimeout
	const day = 24 * time.Hour
	fs := &faultStore{countingStore: newCountingStore(t)}
	touched := make(chan error, 4)
	var answers atomic.Int32
	m := unavailableManager(t, fs, Options{Store: touchSignalStore{gtStore{fs}, touched}, StoreTimeout: timeout, Cookie: CookieOptions{MaxAge: day}}, &answers)
	b, id := adaLoggedIn(t, m)
	for len(touched) > 0 {
		<-touched
	}
	fs.clock.Advance(12 * time.Hour)

	var mu sync.Mutex
	var timedOut []string          // the store calls that ran out of StoreTimeout
	release := make(chan struct{}) // the session's node answers again
	var touches atomic.Int32
	fs.on(func(ctx context.Context, op, _ string) error {
		switch {
		case op == "IndexUserSession":
			return errDown // refused at once, every time
		case op == "GetAndTouch" && touches.Add(1) == 1:
			return nil // the load's read and touch; the node stalls after it
		}
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			mu.Lock()
			timedOut = append(timedOut, op)
			mu.Unlock()
			return ctx.Err()
		}
	})
	rec := b.get("/")
	mu.Lock()
	before := append([]string(nil), timedOut...)
	mu.Unlock()
	close(release)
	if rec.Code != http.StatusServiceUnavailable || answers.Load() != 1 {
		t.Fatalf("status %d, %d answers; want the ErrorHandler's 503, once", rec.Code, answers.Load())
	}
	// The calls that waited out a StoreTimeout before the answer went out,
	// not the answer's time, which a loaded machine stretches.
	if len(before) != 1 {
		t.Fatalf("store calls that timed out before the answer went out: %q; want the load's set back alone", before)
	}
	// The load's touch, its set back that timed out, and the set back
	// tried again after the answer.
	loadTouchSignalled(t, touched)
	for _, want := range []string{"the load's set back", "the set back tried again"} {
		select {
		case err := <-touched:
			if (err == nil) != (want == "the set back tried again") {
				t.Fatalf("%s: %v", want, err)
			}
		case <-time.After(5 * timeout):
			t.Fatalf("%s: not made", want)
		}
	}
	fs.on(nil)
	// The load's touch pushed the session to 36 hours; its entry, the
	// login's, runs out at 24.
	fs.clock.Set(fs.clock.Now().Add(12*time.Hour + 2*time.Minute))
	if _, found, _ := fs.countingStore.Store.Get(t.Context(), id); found {
		if live := liveOf(t, m, "ada"); len(live) != 1 {
			t.Fatalf("the session is stored past its login's expiry and UserSessions(ada) lists %v: a log out everywhere would miss it", short(live))
		}
	}
}
