package boltstore

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// recovered runs call and returns what it panicked with, nil if it did not.
func recovered(call func()) (p any) {
	defer func() { p = recover() }()
	call()
	return nil
}

// TestAPanicInATransactionReachesTheCallersGoroutine: a transaction that
// panics (bbolt panics on some corrupt pages; a bug of the store would too)
// panics in the goroutine of the call that ran it, where net/http recovers
// a handler's panic, as it did when every call ran its transaction itself:
// a read given a deadline, Clear's and the sweep's own write transactions
// given one, and a write in the commit queue, whose committer goes on to
// commit the writes queued with it. Run in the goroutine of the store that
// started it, the panic ended the process.
func TestAPanicInATransactionReachesTheCallersGoroutine(t *testing.T) {
	var logs bytes.Buffer
	s, c := openTest(t, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	boom := func(*bbolt.Tx) error { panic("boom") }
	if p := recovered(func() { s.view(ctx, boom) }); p != "boom" {
		t.Errorf("a read transaction that panicked: the caller got %v, want the panic", p)
	}
	if p := recovered(func() { s.update(ctx, boom) }); p != "boom" {
		t.Errorf("an update that panicked: the caller got %v, want the panic", p)
	}

	release := holdWriteLock(t, s)
	results := queueWrites(t, s,
		func() error { return s.Set(ctx, "first", []byte(`{}`), c.Now().Add(time.Hour)) },
		func() error {
			var err error
			if p := recovered(func() { err = s.write(ctx, func(*bbolt.Bucket) error { panic("boom") }) }); p != "boom" {
				t.Errorf("a queued write that panicked: the caller got %v, want the panic", p)
			}
			return err
		},
		func() error { return s.Set(ctx, "after", []byte(`{}`), c.Now().Add(time.Hour)) },
	)
	release()
	for i, r := range results {
		if err := <-r; err != nil {
			t.Errorf("write %d: %v", i, err)
		}
	}
	wantData(t, s, "first", `{}`)
	wantData(t, s, "after", `{}`)
	if err := s.Set(ctx, "later", []byte(`{}`), c.Now().Add(time.Hour)); err != nil {
		t.Errorf("a write after the panic: %v", err)
	}
	if !bytes.Contains(logs.Bytes(), []byte("panicked")) {
		t.Errorf("the panics were not logged: %s", logs.Bytes())
	}
}
