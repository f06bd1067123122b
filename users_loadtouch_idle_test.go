package session

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// With an IdleTimeout shorter than IndexGrace (thirty seconds: a kiosk, a
// bank), a read whose user index write fails sets the stored expiry
// "back" to what the session's entry covers, a minute past the load: that
// is later than the idle expiry the load's touch gave it. The session must
// still end thirty seconds after its last use; it lived a minute.
func TestLoadIndexFailureDoesNotPushTheSessionPastItsIdleTimeout(t *testing.T) {
	const idle = 30 * time.Second
	fs, m, b, id, start := loginAdaOnGetToucher(t, Options{IdleTimeout: idle, Cookie: CookieOptions{MaxAge: 24 * time.Hour}}, nil)
	b.h = m.Handler(readViews)
	fs.clock.Set(start.Add(20 * time.Second))
	fs.on(func(ctx context.Context, op, _ string) error {
		if op == "IndexUserSession" {
			return errDown
		}
		return nil
	})
	if rec := b.get("/"); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want the ErrorHandler's 503", rec.Code)
	}
	fs.on(nil)
	fs.clock.Set(start.Add(20*time.Second + idle + time.Second))
	if _, found, _ := fs.countingStore.Store.Get(t.Context(), id); found {
		t.Fatalf("the session is stored %v after its last use, past its IdleTimeout of %v", idle+time.Second, idle)
	}
}
