package session

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// errWatchdog is what a hung store call returns when the test gives up
// waiting for StoreTimeout to end it.
var errWatchdog = errors.New("the store call was released by the test's watchdog, not by StoreTimeout")

// hangOn makes fs's op calls hang until their context ends, as a store
// that stops answering does; a watchdog releases them after a while, so
// that a call without a deadline fails the test rather than hang it. It
// returns the number of op calls made so far.
func hangOn(t *testing.T, fs *faultStore, op string) *atomic.Int32 {
	release := make(chan struct{})
	watchdog := time.AfterFunc(5*time.Second, func() { close(release) })
	t.Cleanup(func() { watchdog.Stop() })
	var calls atomic.Int32
	fs.on(func(ctx context.Context, called, _ string) error {
		if called != op {
			return nil
		}
		calls.Add(1)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-release:
			return errWatchdog
		}
	})
	return &calls
}

// usersOnAFaultStore returns a manager with the given StoreTimeout on a
// faultStore where n browsers logged in as ann. They log in through a
// manager with the default StoreTimeout: under one of 50 ms, a login
// descheduled that long on a loaded machine was not stored.
func usersOnAFaultStore(t *testing.T, timeout time.Duration, n int) (*Manager, *faultStore) {
	fs := &faultStore{countingStore: newCountingStore(t)}
	m, _ := newTestManager(t, Options{Store: fs, StoreTimeout: timeout})
	m.now = fs.clock.Now
	setup, _ := newTestManager(t, Options{Store: fs})
	setup.now = fs.clock.Now
	login := setup.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) { s.SetUser("ann") }))
	for range n {
		if rec := newBrowser(t, login).get("/"); rec.Code != http.StatusOK {
			t.Fatalf("setting up: a login of ann answered %d", rec.Code)
		}
	}
	return m, fs
}

// callerContexts are the contexts a caller passes: a handler's
// r.Context() (cancellable, no deadline) and an operator's
// context.Background() (neither).
func callerContexts(t *testing.T) map[string]context.Context {
	return map[string]context.Context{"cancellable": t.Context(), "background": context.Background()}
}

// A devices page calls UserSessions from a handler: on a store that stops
// answering, the call ends within about StoreTimeout with the deadline's
// error, as the middleware's and the Session methods' store calls do, and
// the page can answer; it used to wait as long as the store did (a hung
// request, until the client gave up).
func TestUserSessionsOnAStoreThatStopsAnsweringEndsWithinStoreTimeout(t *testing.T) {
	for name, ctx := range callerContexts(t) {
		t.Run(name, func(t *testing.T) {
			m, fs := usersOnAFaultStore(t, 50*time.Millisecond, 2)
			hangOn(t, fs, "UserSessions")
			infos, err := m.UserSessions(ctx, "ann")
			if len(infos) != 0 || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("UserSessions on a hung store = %d sessions, %v; want the StoreTimeout's deadline", len(infos), err)
			}
		})
	}
}

// DestroyUserSessions ("log out everywhere", after a password change) on
// a store that stops answering ends within about StoreTimeout, whether the
// store stops at the listing or at the destroys; once a destroy got no
// answer within StoreTimeout, no more are started (the store is down: each
// wave of destroyParallel would wait one StoreTimeout more), and the error
// says how many were left. Before, it waited as long as the store did.
func TestDestroyUserSessionsOnAStoreThatStopsAnsweringEndsWithinStoreTimeout(t *testing.T) {
	const sessions = 3 * destroyParallel
	for name, ctx := range callerContexts(t) {
		t.Run(name+"/listing", func(t *testing.T) {
			m, fs := usersOnAFaultStore(t, 50*time.Millisecond, 2)
			hangOn(t, fs, "UserSessions")
			n, err := m.DestroyUserSessions(ctx, "ann")
			if n != 0 || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("DestroyUserSessions, the listing hung = %d, %v; want 0 and the StoreTimeout's deadline", n, err)
			}
		})
		t.Run(name+"/destroys", func(t *testing.T) {
			m, fs := usersOnAFaultStore(t, 50*time.Millisecond, sessions)
			destroys := hangOn(t, fs, "Destroy")
			n, err := m.DestroyUserSessions(ctx, "ann")
			if n != 0 || !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, errWatchdog) {
				t.Fatalf("DestroyUserSessions, the destroys hung = %d, %v; want 0 and the StoreTimeout's deadline", n, err)
			}
			if calls := destroys.Load(); calls > destroyParallel {
				t.Errorf("%d destroys started for %d sessions; want at most the %d started before the first ran out of StoreTimeout", calls, sessions, destroyParallel)
			}
		})
	}
}
