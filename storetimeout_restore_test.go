package session

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// faultStore is a counting memstore in front of which hook decides, per call,
// whether to fail (or block) it. With untimed set, a call that hook lets
// through reaches the memstore without its context's end: hook alone
// decides which calls a spent context refuses, so that a machine that
// stalls makes no call late that the test means to succeed.
type faultStore struct {
	*countingStore
	hook    atomic.Pointer[func(ctx context.Context, op, id string) error]
	untimed atomic.Bool
}

func (f *faultStore) on(h func(ctx context.Context, op, id string) error) {
	if h == nil {
		f.hook.Store(nil)
		return
	}
	f.hook.Store(&h)
}

// passed returns the context of a call that hook let through (untimed).
func (f *faultStore) passed(ctx context.Context) context.Context {
	if f.untimed.Load() {
		return context.WithoutCancel(ctx)
	}
	return ctx
}
func (f *faultStore) check(ctx context.Context, op, id string) error {
	if h := f.hook.Load(); h != nil {
		return (*h)(ctx, op, id)
	}
	return nil
}
func (f *faultStore) Get(ctx context.Context, id string) ([]byte, bool, error) {
	if err := f.check(ctx, "Get", id); err != nil {
		return nil, false, err
	}
	return f.countingStore.Get(f.passed(ctx), id)
}
func (f *faultStore) GetVersion(ctx context.Context, id string) ([]byte, string, bool, error) {
	if err := f.check(ctx, "GetVersion", id); err != nil {
		return nil, "", false, err
	}
	return f.countingStore.GetVersion(f.passed(ctx), id)
}
func (f *faultStore) CompareAndSwap(ctx context.Context, id, old string, b []byte, exp time.Time) (string, bool, error) {
	if err := f.check(ctx, "CompareAndSwap", id); err != nil {
		return "", false, err
	}
	return f.countingStore.CompareAndSwap(f.passed(ctx), id, old, b, exp)
}
func (f *faultStore) Set(ctx context.Context, id string, b []byte, exp time.Time) error {
	if err := f.check(ctx, "Set", id); err != nil {
		return err
	}
	return f.countingStore.Set(f.passed(ctx), id, b, exp)
}
func (f *faultStore) Destroy(ctx context.Context, id string) error {
	if err := f.check(ctx, "Destroy", id); err != nil {
		return err
	}
	return f.countingStore.Destroy(f.passed(ctx), id)
}
func (f *faultStore) Touch(ctx context.Context, id string, exp time.Time) (bool, error) {
	if err := f.check(ctx, "Touch", id); err != nil {
		return false, err
	}
	return f.countingStore.Touch(f.passed(ctx), id, exp)
}
func (f *faultStore) IndexUserSession(ctx context.Context, user, id string, used, exp time.Time) error {
	if err := f.check(ctx, "IndexUserSession", id); err != nil {
		return err
	}
	return f.countingStore.IndexUserSession(f.passed(ctx), user, id, used, exp)
}
func (f *faultStore) UserSessions(ctx context.Context, user string, yield func(string, time.Time, time.Time, []byte)) error {
	if err := f.check(ctx, "UserSessions", user); err != nil {
		return err
	}
	return f.countingStore.UserSessions(f.passed(ctx), user, yield)
}
func (f *faultStore) UnindexUserSession(ctx context.Context, user, id string) error {
	if err := f.check(ctx, "UnindexUserSession", id); err != nil {
		return err
	}
	return f.countingStore.UnindexUserSession(f.passed(ctx), user, id)
}

// gtStore is a faultStore that also carries the touch on the load
// (GetAndTouch), as memstore and the Redis store do.
type gtStore struct{ *faultStore }

func (g gtStore) GetAndTouch(ctx context.Context, id string, exp time.Time) ([]byte, string, bool, error) {
	if err := g.check(ctx, "GetAndTouch", id); err != nil {
		return nil, "", false, err
	}
	return g.faultStore.countingStore.Store.GetAndTouch(g.passed(ctx), id, exp)
}

// A store that stops answering at the save of a session whose own cookie
// differs from the options' (so that the touch on the load set the wrong
// expiry, markStoreExpiryOff) gets the ErrorHandler's answer within about
// StoreTimeout, as Options.StoreTimeout promises: not a second StoreTimeout
// later, spent on restoreExpiry's touch after the answer was written but
// before it could go out (it goes out when the handler returns).
func TestStoreTimeoutAtSaveIsNotFollowedByASecondWaitToRestoreTheExpiry(t *testing.T) {
	t.Parallel() // it waits out a StoreTimeout of waitedOutTimeout
	const timeout = waitedOutTimeout
	fs := &faultStore{countingStore: newCountingStore(t)}
	var answers atomic.Int32
	m, _ := newTestManager(t, Options{Store: gtStore{fs}, StoreTimeout: timeout, Cookie: CookieOptions{MaxAge: time.Hour},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			answers.Add(1)
			http.Error(w, "try again", http.StatusServiceUnavailable)
		}})
	m.now = fs.clock.Now
	b := newBrowser(t, setupTwin(t, m).Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Set("remember", true)
		s.Cookie().SetMaxAge(2 * time.Hour) // its own max age: the load's touch does not fit it
	})))
	b.get("/")
	if b.cookie == "" {
		t.Fatal("setting up: no session cookie")
	}
	var mu sync.Mutex
	var calls []string // the store calls made once it stopped answering
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Set("x", 1)
		fs.on(func(ctx context.Context, op, _ string) error { // the store stops answering
			mu.Lock()
			calls = append(calls, op)
			mu.Unlock()
			<-ctx.Done()
			return ctx.Err()
		})
	}))
	rec := b.get("/")
	if rec.Code != http.StatusServiceUnavailable || answers.Load() != 1 {
		t.Fatalf("status %d, %d answers; want the ErrorHandler's 503, once", rec.Code, answers.Load())
	}
	// The save's call alone: the restoring touch after it waited out a
	// StoreTimeout of its own before the answer could go out (the call
	// list, not the answer's time, which a loaded machine stretches).
	mu.Lock()
	defer mu.Unlock()
	if len(calls) != 1 {
		t.Fatalf("store calls once the store stopped answering: %q; want the save's alone", calls)
	}
}

// DestroyUserSessions whose context ends midway stops starting destroys: the
// rest would fail at once. It reports how many were not destroyed, once,
// rather than one error per session.
func TestDestroyUserSessionsStopsWhenItsContextEnds(t *testing.T) {
	fs := &faultStore{countingStore: newCountingStore(t)}
	m, _ := newTestManager(t, Options{Store: fs})
	m.now = fs.clock.Now
	login := m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) { s.SetUser("ann") }))
	const sessions = 3 * destroyParallel
	for range sessions {
		newBrowser(t, login).get("/")
	}
	// The context's deadline passes once the first destroys run, not at a
	// time (500 ms was to be long enough to list, and a loaded machine
	// stalled longer).
	ctx := deadlineOnCue{t.Context(), make(chan struct{})}
	var passed sync.Once
	pass := func() { passed.Do(func() { close(ctx.cue) }) }
	watchdog := time.AfterFunc(10*time.Second, pass) // a wave of fewer destroys fails, not hangs
	defer watchdog.Stop()
	var destroys atomic.Int32
	fs.on(func(call context.Context, op, _ string) error {
		if op != "Destroy" {
			return nil
		}
		if destroys.Add(1) == destroyParallel {
			pass()
		}
		<-call.Done() // the store stops answering
		return call.Err()
	})
	n, err := m.DestroyUserSessions(ctx, "ann")
	if n != 0 || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("DestroyUserSessions = %d, %v; want 0 and the deadline", n, err)
	}
	if calls := destroys.Load(); calls > destroyParallel {
		t.Fatalf("%d destroys started for %d sessions after the context ended; want at most the %d already running", calls, sessions, destroyParallel)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("%d sessions not destroyed", sessions-destroyParallel)) {
		t.Fatalf("error %q does not say how many were left", err)
	}
}

// deadlineOnCue is a context whose deadline passes when its test closes
// cue, at a point of the test rather than at a time.
type deadlineOnCue struct {
	context.Context
	cue chan struct{}
}

func (c deadlineOnCue) Done() <-chan struct{} { return c.cue }

func (c deadlineOnCue) Err() error {
	select {
	case <-c.cue:
		return context.DeadlineExceeded
	default:
		return nil
	}
}
