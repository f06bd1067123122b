package session

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// A login whose destroy of the old id gets no answer within StoreTimeout,
// and whose check of the old id (a read) gets none either (the store went
// away), is undone: the new id's session is destroyed, so that no session
// that no client holds stays stored and in bob's index. The check gets
// part of the clean-up's StoreTimeout, not all of it: before, a read that
// hung took it all, and the second destroy, the second read and the undo
// went out on a spent context, which a store client refuses unsent. The
// script refuses only calls on a deadline that a held call waited out
// (storeHang), so that a loaded machine makes no other call late.
func TestRenewIDWhoseOldIDCheckTimesOutUndoesTheNewID(t *testing.T) {
	t.Parallel() // it waits out two StoreTimeouts
	m, fs, _, b, oldID := renewSetupWith(t, "ada", time.Second)
	oldCookie := b.cookie
	var destroyed atomic.Bool
	var store storeHang
	fs.untimed.Store(true)
	fs.on(func(ctx context.Context, op, id string) error {
		switch {
		case op == "Destroy" && id == oldID:
			destroyed.Store(true)
			return store.hang(ctx) // never answered within the deadline, and not applied
		case op == "Get" && id == oldID && destroyed.Load():
			return store.hang(ctx) // the check: no answer either
		}
		return store.refused(ctx) // a client refuses a call on a spent context
	})
	rec := b.get("/login?u=bob")
	fs.on(nil)
	if !destroyed.Load() {
		t.Fatal("the login destroyed no old id (the test's premise)")
	}
	checkLoginUndone(t, m, fs, b, rec, oldCookie, oldID)
}
