package session

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// As TestTouchOfASessionReboundMeanwhileThatCannotIndexSetsItBack, under an
// IdleTimeout with browser-session cookies and Rolling (every request
// touches at its end): bob's save, ten minutes before the end of ada's
// read, gave the session the idle half hour from then and recorded bob's
// entry for it. When bob's entry cannot be recorded for the read's touch
// (half an hour from the end of the read), the session must go back to an
// expiry bob's entry covers, not to the idle half hour counted from the
// end of the read: else it outlives bob's entry by the ten minutes, and a
// "log out everywhere" of bob's misses it meanwhile.
func TestTouchOfASessionReboundMeanwhileThatCannotIndexSetsItBackWithinAnIdleEntry(t *testing.T) {
	fs, m, b, id, start := loginAdaOnGetToucher(t, Options{Rolling: true, IdleTimeout: 30 * time.Minute}, nil)
	at := func(d time.Duration) { fs.clock.Set(start.Add(d)) }
	var armed atomic.Bool
	var indexWrites atomic.Int32
	fs.on(func(ctx context.Context, op, _ string) error {
		if op == "IndexUserSession" && armed.Load() && indexWrites.Add(1) > 1 {
			return errDown // ada's entry, before the touch, is recorded; bob's, after it, is not
		}
		return nil
	})
	readWhileBobRebinds(t, m, b, at, &armed)
	if n := indexWrites.Load(); n != 2 {
		t.Fatalf("%d index writes at the end of the read, want 2 (ada's before the touch, bob's after it)", n)
	}
	at(36*time.Minute + IndexGrace + time.Second) // bob's entry, for 36 minutes, ran out
	if _, found, _ := fs.countingStore.Store.Get(t.Context(), id); found {
		if idx := indexOf(t, m, "bob"); len(idx) != 1 || idx[0] != id {
			t.Fatalf("the session is stored, as bob's, past the expiry bob's save gave it, and bob's index is %v", short(idx))
		}
	}
}
