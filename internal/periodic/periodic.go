// Package periodic runs a store's background task (an interval cleanup) in a
// goroutine that holds the store only while the task runs, so that a store
// dropped without Close is collected and its goroutine ended.
package periodic

import (
	"runtime"
	"sync"
	"time"
	"weak"
)

// Stopper ends the goroutine of Start. It does not refer to the owner.
type Stopper struct {
	once sync.Once
	stop chan struct{} // closed by signal
	done chan struct{} // closed when the goroutine ends
}

// Start calls run with owner every interval, in a goroutine of its own,
// until Stop is called or owner is collected. The goroutine holds owner
// through a weak pointer, strongly only during a run; stop, given to run,
// is closed when Stop is called (or owner collected), so that a run in
// progress can end early. With an interval <= 0 nothing runs.
func Start[T any](owner *T, interval time.Duration, run func(owner *T, stop <-chan struct{})) *Stopper {
	sp := &Stopper{stop: make(chan struct{}), done: make(chan struct{})}
	if interval <= 0 {
		close(sp.done)
		return sp
	}
	go loop(weak.Make(owner), sp, interval, run)
	runtime.AddCleanup(owner, (*Stopper).signal, sp)
	return sp
}

// loop is Start's goroutine.
func loop[T any](wo weak.Pointer[T], sp *Stopper, interval time.Duration, run func(owner *T, stop <-chan struct{})) {
	defer close(sp.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-sp.stop:
			return
		case <-t.C:
		}
		o := wo.Value()
		if o == nil { // collected
			return
		}
		run(o, sp.stop)
	}
}

// signal tells the goroutine to end, and a run in progress to stop,
// without waiting for it.
func (sp *Stopper) signal() { sp.once.Do(func() { close(sp.stop) }) }

// Stop ends the goroutine and waits for a run in progress to return.
// Calling it again does nothing.
func (sp *Stopper) Stop() {
	sp.signal()
	<-sp.done
}

// Done is closed when the goroutine has ended (at once with no interval).
func (sp *Stopper) Done() <-chan struct{} { return sp.done }
