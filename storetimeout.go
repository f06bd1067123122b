package session

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// storeDeadlines bounds store calls by Options.StoreTimeout without a timer
// per call. A context.WithTimeout per call costs a runtime timer that is
// added and removed on every request, which under load showed as about 3 µs
// of a Redis call's 17 µs, and as 0.81 against 0.88 of the raw-GET server in
// make bench-http. Instead, the calls that start
// within one window share a deadline, rounded up to the window, and one
// timer that closes their Done channel: a call gets StoreTimeout plus at
// most one window.
type storeDeadlines struct {
	timeout, window time.Duration
	mu              sync.Mutex
	cur             atomic.Pointer[deadlineGroup]
}

// deadlineGroup is the deadline, and its Done channel, shared by the store
// calls that started within one window.
type deadlineGroup struct {
	deadline time.Time
	done     chan struct{}

	mu    sync.Mutex           // done is closed, and after taken, under mu
	after map[*func()]struct{} // AfterFunc's functions, until the deadline
}

// expire closes done and starts the functions registered with AfterFunc.
func (g *deadlineGroup) expire() {
	g.mu.Lock()
	after := g.after
	g.after = nil
	close(g.done)
	g.mu.Unlock()
	for f := range after {
		go (*f)()
	}
}

func newStoreDeadlines(timeout time.Duration) *storeDeadlines {
	return &storeDeadlines{timeout: timeout, window: min(max(timeout/100, time.Millisecond), 50*time.Millisecond)}
}

// group returns the deadline group of a store call starting at now.
func (d *storeDeadlines) group(now time.Time) *deadlineGroup {
	deadline := now.Add(d.timeout).Truncate(d.window).Add(d.window)
	if g := d.cur.Load(); g != nil && g.deadline.Equal(deadline) {
		return g
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if g := d.cur.Load(); g != nil && g.deadline.Equal(deadline) {
		return g
	}
	g := &deadlineGroup{deadline: deadline, done: make(chan struct{})}
	time.AfterFunc(time.Until(deadline), g.expire)
	d.cur.Store(g)
	return g
}

// storeCallContext is a store call's context: the values of its parent, a
// parent that cannot be cancelled, and its group's deadline.
type storeCallContext struct {
	context.Context
	g *deadlineGroup
}

func (c storeCallContext) Deadline() (time.Time, bool) { return c.g.deadline, true }
func (c storeCallContext) Done() <-chan struct{}       { return c.g.done }

func (c storeCallContext) Err() error {
	select {
	case <-c.g.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

// AfterFunc runs f in its own goroutine once the deadline has passed,
// unless stop is called first (stop reports whether it stopped f). The
// context package uses it for the contexts a driver derives from a store
// call's: without it, each of them would cost a goroutine that waits for
// Done.
func (c storeCallContext) AfterFunc(f func()) (stop func() bool) {
	g := c.g
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.done: // expired: run it now
		go f()
		return func() bool { return false }
	default:
	}
	if g.after == nil {
		g.after = make(map[*func()]struct{})
	}
	key := &f
	g.after[key] = struct{}{}
	return func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		_, waiting := g.after[key]
		delete(g.after, key)
		return waiting
	}
}

// cleanupContext returns ctx for a clean-up after a failed write, or, when
// ctx has ended (StoreTimeout ran out, or the client hung up, which is
// often why the write failed; a deadline that has passed counts, though
// the timer that closes Done has yet to fire), ctx without its
// cancellation and with a StoreTimeout of its own: with the spent context
// the clean-up would fail unsent. A ctx that its caller can still cancel
// (Session.Save's, the request's) keeps its deadline but not its
// cancellation: a client that hangs up in the middle of a clean-up of
// several calls (a login's undo, finishRenew) would leave it half done.
// With StoreTimeout off, a ctx without a deadline keeps its cancellation,
// the one bound it has.
func (m *Manager) cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	deadline, hasDeadline := ctx.Deadline()
	if ctx.Err() != nil || hasDeadline && !time.Now().Before(deadline) { // a driver gives up at the deadline, maybe before Done closes
		return m.withStoreTimeout(context.WithoutCancel(ctx))
	}
	if _, ok := ctx.(storeCallContext); ok || ctx.Done() == nil {
		return ctx, noCancel // nothing but its deadline ends it
	}
	if hasDeadline {
		return context.WithDeadline(context.WithoutCancel(ctx), deadline)
	}
	if m.opts.StoreTimeout < 0 {
		return ctx, noCancel // no limit: its cancellation alone ends a call the store never answers
	}
	return m.withStoreTimeout(context.WithoutCancel(ctx)) // what the hang-up no longer ends, StoreTimeout does
}

// withStoreTimeout bounds ctx by Options.StoreTimeout. A memstore answers
// from memory and never waits, so it gets no deadline. A ctx that cannot be
// cancelled (the middleware's store calls run on the request's context
// without its cancellation) gets a shared deadline group; any other gets a
// timer of its own, so that its own cancellation still counts.
func (m *Manager) withStoreTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if m.opts.StoreTimeout <= 0 || m.inMemory {
		return ctx, noCancel
	}
	if ctx.Done() == nil {
		return storeCallContext{Context: ctx, g: m.deadlines.group(time.Now())}, noCancel
	}
	return context.WithTimeout(ctx, m.opts.StoreTimeout)
}

func noCancel() {}
