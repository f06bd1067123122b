package session

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// The load's user index write can fail at once (the index node reset the
// connection) and the end of the request's second try of it then time out
// (the node stalled since), while the session's own node still answers (a
// Redis Cluster puts the two on different nodes). The touch that sets the
// stored expiry back to what the entry covers must still be made: with the
// StoreTimeout that the second try used up, it failed unsent, and the
// session kept the expiry the load's touch gave it, twelve hours past its
// entry, which a "log out everywhere" then missed.
func TestLoadIndexRetryTimeoutStillSetsTheExpiryBack(t *testing.T) {
	t.Parallel() // it waits out a StoreTimeout of waitedOutTimeout
	const timeout = waitedOutTimeout
	const day = 24 * time.Hour
	fs := &faultStore{countingStore: newCountingStore(t)}
	touched := make(chan error, 4)
	m := unavailableManager(t, fs, Options{Store: touchSignalStore{gtStore{fs}, touched}, StoreTimeout: timeout, Cookie: CookieOptions{MaxAge: day}}, nil)
	b, id := adaLoggedIn(t, m)
	for len(touched) > 0 {
		<-touched
	}
	fs.clock.Advance(12 * time.Hour)

	var indexWrites atomic.Int32
	fs.on(func(ctx context.Context, op, _ string) error {
		if op != "IndexUserSession" {
			return nil
		}
		if indexWrites.Add(1) == 1 {
			return errDown // the load's: refused at once
		}
		<-ctx.Done() // the end's: the index node stalled
		return ctx.Err()
	})
	if rec := b.get("/"); rec.Code != http.StatusServiceUnavailable || indexWrites.Load() != 2 {
		t.Fatalf("status %d after %d index writes; want the ErrorHandler's 503 after the load's and the end's", rec.Code, indexWrites.Load())
	}
	loadTouchSignalled(t, touched)
	select {
	case err := <-touched:
		if err != nil {
			t.Fatalf("the touch that sets the expiry back: %v", err)
		}
	case <-time.After(5 * timeout):
		t.Fatal("the session's expiry was not set back")
	}
	fs.on(nil)
	// The load's touch pushed the session to 36 hours; its entry, the
	// login's, runs out at 24.
	fs.clock.Advance(12*time.Hour + 2*time.Minute)
	if _, found, _ := fs.countingStore.Store.Get(t.Context(), id); found {
		if live := liveOf(t, m, "ada"); len(live) != 1 {
			t.Fatalf("the session is stored past its login's expiry and UserSessions(ada) lists %v: a log out everywhere would miss it", short(live))
		}
	}
}

// As above, and the load's own set back of the expiry failed too (the
// session's node blinked right after the load): the end of the request,
// whose second try of the index timed out, tries the set back again, with
// a StoreTimeout of its own, after the answer.
func TestLoadIndexRetryTimeoutStillTriesAFailedSetBackAgain(t *testing.T) {
	t.Parallel() // it waits out a StoreTimeout of waitedOutTimeout
	const timeout = waitedOutTimeout
	const day = 24 * time.Hour
	fs := &faultStore{countingStore: newCountingStore(t)}
	touched := make(chan error, 4)
	m := unavailableManager(t, fs, Options{Store: touchSignalStore{gtStore{fs}, touched}, StoreTimeout: timeout, Cookie: CookieOptions{MaxAge: day}}, nil)
	b, id := adaLoggedIn(t, m)
	for len(touched) > 0 {
		<-touched
	}
	fs.clock.Advance(12 * time.Hour)

	var indexWrites, touches atomic.Int32
	fs.on(func(ctx context.Context, op, _ string) error {
		switch {
		case op == "GetAndTouch" && touches.Add(1) == 2:
			return errDown // the load's set back
		case op != "IndexUserSession":
			return nil
		case indexWrites.Add(1) == 1:
			return errDown // the load's: refused at once
		}
		<-ctx.Done() // the end's: the index node stalled
		return ctx.Err()
	})
	if rec := b.get("/"); rec.Code != http.StatusServiceUnavailable || indexWrites.Load() != 2 {
		t.Fatalf("status %d after %d index writes; want the ErrorHandler's 503 after the load's and the end's", rec.Code, indexWrites.Load())
	}
	loadTouchSignalled(t, touched)
	if err := <-touched; err == nil {
		t.Fatal("the load's set back succeeded; the test wants it to fail")
	}
	select {
	case err := <-touched:
		if err != nil {
			t.Fatalf("the second set back: %v", err)
		}
	case <-time.After(5 * timeout):
		t.Fatal("the session's expiry was not set back")
	}
	fs.on(nil)
	fs.clock.Advance(12*time.Hour + 2*time.Minute)
	if _, found, _ := fs.countingStore.Store.Get(t.Context(), id); found {
		t.Fatalf("the session is stored past its login's expiry and UserSessions(ada) lists %v: a log out everywhere would miss it", short(liveOf(t, m, "ada")))
	}
}
