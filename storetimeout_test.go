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

func TestStoreCallContextEndsAtItsDeadline(t *testing.T) {
	d := newStoreDeadlines(20 * time.Millisecond)
	ctx := storeCallContext{Context: context.WithValue(context.Background(), stateKey{}, "v"), g: d.group(time.Now())}
	if ctx.Value(stateKey{}) != "v" {
		t.Fatal("the parent's values are lost")
	}
	if dl, ok := ctx.Deadline(); !ok || dl != ctx.g.deadline {
		t.Fatalf("Deadline() = %v, %v", dl, ok)
	}
	if ctx.Err() != nil {
		t.Fatalf("Err() = %v before the deadline", ctx.Err())
	}
	// A context a driver derives is cancelled through AfterFunc, with no
	// goroutine of its own waiting.
	child, cancel := context.WithCancel(ctx)
	defer cancel()
	stopped := make(chan struct{})
	stop := ctx.AfterFunc(func() { close(stopped) })
	if !stop() {
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
