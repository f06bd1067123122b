package session

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestStoreCallsOfOneWindowShareADeadlineOfAtLeastStoreTimeout(t *testing.T) {
	d := newStoreDeadlines(5 * time.Second)
	if d.window != 50*time.Millisecond {
		t.Fatalf("window %v, want 50ms for a 5s timeout", d.window)
	}
	now := time.Now()
	g := d.group(now)
	if left := g.deadline.Sub(now); left < 5*time.Second || left > 5*time.Second+d.window {
		t.Fatalf("deadline %v after the call's start, want 5s to 5s+%v", left, d.window)
	}
	if again := d.group(now); again != g {
		t.Fatal("a second call in the same window got a group of its own")
	}
	if later := d.group(now.Add(d.window)); later == g || !later.deadline.After(g.deadline) {
		t.Fatal("a call one window later shares the earlier deadline")
	}
}

// The steps before the deadline must all end before it. A try whose steps
// outlasted it (the test's goroutine descheduled for the 20 ms of the first
// try, on a loaded machine) proves nothing either way, and is made again
// with a timeout ten times as long; one whose steps ended in time is
// conclusive.
func TestStoreCallContextEndsAtItsDeadline(t *testing.T) {
	for timeout := 20 * time.Millisecond; ; timeout *= 10 {
		if storeCallContextEndsAtItsDeadline(t, timeout) {
			return
		}
		if timeout >= 2*time.Second {
			t.Fatalf("the steps before a store call's deadline %v away took longer than it, in every try", timeout)
		}
		t.Logf("the steps before a store call's deadline %v away took longer than it: again with %v", timeout, 10*timeout)
	}
}

// storeCallContextEndsAtItsDeadline is one try of
// TestStoreCallContextEndsAtItsDeadline with a StoreTimeout of timeout. It
// reports false, having checked nothing after the step, when a step meant
// to happen before the deadline ended after it: the context has then ended
// rightly.
func storeCallContextEndsAtItsDeadline(t *testing.T, timeout time.Duration) bool {
	d := newStoreDeadlines(timeout)
	ctx := storeCallContext{Context: context.WithValue(context.Background(), stateKey{}, "v"), g: d.group(time.Now())}
	// late reports that the step just ended was not wholly before the deadline.
	late := func() bool { return !time.Now().Before(ctx.g.deadline) }
	if ctx.Value(stateKey{}) != "v" {
		t.Fatal("the parent's values are lost")
	}
	if dl, ok := ctx.Deadline(); !ok || dl != ctx.g.deadline {
		t.Fatalf("Deadline() = %v, %v", dl, ok)
	}
	if err := ctx.Err(); err != nil {
		if late() {
			return false
		}
		t.Fatalf("Err() = %v before the deadline", err)
	}
	// A context a driver derives is cancelled through AfterFunc, with no
	// goroutine of its own waiting.
	child, cancel := context.WithCancel(ctx)
	defer cancel()
	stopped := make(chan struct{})
	stop := ctx.AfterFunc(func() { close(stopped) })
	if !stop() {
		if late() {
			return false
		}
		t.Fatal("stop() before the deadline reports false")
	}
	select {
	case <-child.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the derived context was not cancelled at the deadline")
	}
	<-ctx.Done()
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) || !errors.Is(child.Err(), context.DeadlineExceeded) {
		t.Fatalf("Err() = %v, child %v; want DeadlineExceeded", ctx.Err(), child.Err())
	}
	select {
	case <-stopped:
		t.Fatal("a function stopped before the deadline ran")
	case <-time.After(20 * time.Millisecond):
	}
	ran := make(chan struct{})
	if ctx.AfterFunc(func() { close(ran) })() {
		t.Fatal("stop() after the deadline reports true")
	}
	<-ran // registered after the deadline: runs at once
	return true
}

func TestMiddlewareStoreCallsNeedNoTimerOfTheirOwn(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	m.inMemory = false // as for a store that waits
	ctx, cancel := m.withStoreTimeout(context.WithoutCancel(t.Context()))
	defer cancel()
	if _, ok := ctx.(storeCallContext); !ok {
		t.Fatalf("a store call on a context without cancellation got %T", ctx)
	}
	// A caller's own cancellable context keeps its cancellation.
	own, stop := context.WithCancel(t.Context())
	ctx2, cancel2 := m.withStoreTimeout(own)
	defer cancel2()
	stop()
	if ctx2.Err() == nil {
		t.Fatal("cancelling the caller's context did not end the store call's")
	}
}

// BenchmarkStoreCallContext compares the deadline of a store call made with
// a timer per call against the shared deadline groups.
func BenchmarkStoreCallContext(b *testing.B) {
	parent := context.WithoutCancel(context.Background())
	b.Run("WithTimeout", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				ctx, cancel := context.WithTimeout(parent, 5*time.Second)
				_ = ctx.Done()
				cancel()
			}
		})
	})
	b.Run("shared", func(b *testing.B) {
		d := newStoreDeadlines(5 * time.Second)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				ctx := storeCallContext{Context: parent, g: d.group(time.Now())}
				_ = ctx.Done()
			}
		})
	})
}
