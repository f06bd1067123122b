package session

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// As TestLoadIndexTimeoutIsAnsweredBeforeTheExpiryIsSetBack, with a user
// index whose client, once the StoreTimeout ran out, answers an error of
// its own that does not wrap context.DeadlineExceeded (a driver's "i/o
// timeout" from the connection's deadline): the load timed out all the
// same, its set back runs after the answer, and the end of the request
// must not spend a second StoreTimeout on the index, the answer waiting,
// as Options.StoreTimeout promises it does not.
func TestLoadIndexTimeoutWithAnErrorOfItsOwnIsAnsweredWithinOneStoreTimeout(t *testing.T) {
	t.Parallel() // it waits out a StoreTimeout of waitedOutTimeout
	const timeout = waitedOutTimeout
	var answers atomic.Int32
	fs := &faultStore{countingStore: newCountingStore(t)}
	m := unavailableManager(t, fs, Options{Store: gtStore{fs}, StoreTimeout: timeout, Cookie: CookieOptions{MaxAge: time.Hour}}, &answers)
	b, _ := adaLoggedIn(t, m)
	fs.clock.Advance(30 * time.Minute)

	var mu sync.Mutex
	var timedOut []string          // the store calls that ran out of StoreTimeout
	release := make(chan struct{}) // the store answers again
	fs.on(func(ctx context.Context, op, _ string) error {
		if op == "GetAndTouch" {
			return nil // the session's node answers; the index's stalls
		}
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			mu.Lock()
			timedOut = append(timedOut, op)
			mu.Unlock()
			return errDown // not ctx.Err()
		}
	})
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	rec := b.get("/")
	if rec.Code != http.StatusServiceUnavailable || answers.Load() != 1 {
		t.Fatalf("status %d, %d answers; want the ErrorHandler's 503, once", rec.Code, answers.Load())
	}
	mu.Lock()
	before := append([]string(nil), timedOut...)
	mu.Unlock()
	if len(before) != 1 || before[0] != "IndexUserSession" {
		t.Fatalf("store calls that timed out before the answer went out: %q; want the load's index write alone", before)
	}
}
