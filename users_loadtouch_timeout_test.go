package session

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// touchSignalStore is a gtStore that tells when a Touch or a GetAndTouch
// has returned.
type touchSignalStore struct {
	gtStore
	touched chan error
}

func (s touchSignalStore) Touch(ctx context.Context, id string, exp time.Time) (bool, error) {
	found, err := s.gtStore.Touch(ctx, id, exp)
	s.touched <- err
	return found, err
}

func (s touchSignalStore) GetAndTouch(ctx context.Context, id string, exp time.Time) ([]byte, string, bool, error) {
	data, ver, found, err := s.gtStore.GetAndTouch(ctx, id, exp)
	s.touched <- err
	return data, ver, found, err
}

// loadTouchSignalled takes the signal of the touch carried on a request's
// load, which came before its answer.
func loadTouchSignalled(t *testing.T, touched chan error) {
	t.Helper()
	select {
	case err := <-touched:
		if err != nil {
			t.Fatalf("the load's touch: %v", err)
		}
	default:
		t.Fatal("the load carried no touch")
	}
}

// A store that stops answering right after the load's read and touch (one
// Redis server that stalls; a network that does) times out the user index
// write that follows them: the ErrorHandler's answer must go out within
// about StoreTimeout, as Options.StoreTimeout promises, not a second
// StoreTimeout later, spent before the answer could go out (it goes out
// when the handler returns) on the touch that sets the session's expiry
// back to what its index entry covers. That touch is still made, after
// the answer: the session must not outlive its entry.
func TestLoadIndexTimeoutIsAnsweredBeforeTheExpiryIsSetBack(t *testing.T) {
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
	release := make(chan struct{}) // the store answers again
	var touches atomic.Int32
	fs.on(func(ctx context.Context, op, _ string) error {
		if op == "GetAndTouch" && touches.Add(1) == 1 {
			return nil // the load's read and touch; the store stalls after it
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
	if rec.Code != http.StatusServiceUnavailable || answers.Load() != 1 {
		close(release)
		t.Fatalf("status %d, %d answers; want the ErrorHandler's 503, once", rec.Code, answers.Load())
	}
	mu.Lock()
	before := append([]string(nil), timedOut...)
	mu.Unlock()
	// The calls that waited out a StoreTimeout before the answer went out,
	// not the answer's time, which a loaded machine stretches.
	if len(before) != 1 || before[0] != "IndexUserSession" {
		close(release)
		t.Fatalf("store calls that timed out before the answer went out: %q; want the load's index write alone", before)
	}
	close(release)
	loadTouchSignalled(t, touched)
	select {
	case err := <-touched:
		if err != nil {
			t.Fatalf("the touch that sets the expiry back: %v", err)
		}
	case <-time.After(5 * timeout):
		t.Fatal("the session's expiry was not set back after the answer")
	}
	fs.on(nil)
	// The touch of the load pushed the session to 36 hours; its entry, the
	// login's, runs out at 24.
	fs.clock.Set(fs.clock.Now().Add(12*time.Hour + 2*time.Minute))
	if _, found, _ := fs.countingStore.Store.Get(t.Context(), id); found {
		if live := liveOf(t, m, "ada"); len(live) != 1 {
			t.Fatalf("the session is stored past its login's expiry and UserSessions(ada) lists %v: a log out everywhere would miss it", short(live))
		}
	}
}
