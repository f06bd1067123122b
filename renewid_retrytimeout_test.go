package session

import (
	"context"
	"testing"
	"time"
)

// A login whose destroy of the old id gets no answer within StoreTimeout
// (a DELETE waiting on a lock), and whose second destroy, after the check
// found the old id, gets none either, is undone: the new id's session is
// destroyed, so that no session that no client holds stays stored and in
// its user's index (UserSessions lists it as a device of bob's, and it
// counts against MaxSessionsPerUser). The check, the second destroy and the
// undo share the one StoreTimeout the clean-up has after the save's ran
// out; the second destroy took all of it, and the undo went out on a spent
// context, which a store client refuses unsent. The script refuses only
// calls on a deadline that a held call waited out (storeHang), so that a
// loaded machine makes no other call late.
func TestRenewIDWhoseOldIDDestroysBothTimeOutUndoesTheNewID(t *testing.T) {
	t.Parallel() // it waits out two StoreTimeouts
	// The undo has half a second left.
	m, fs, _, b, oldID := renewSetupWith(t, "ada", time.Second)
	oldCookie := b.cookie
	var store storeHang
	fs.untimed.Store(true)
	fs.on(func(ctx context.Context, op, id string) error {
		if op == "Destroy" && id == oldID {
			return store.hang(ctx) // never answered within the deadline, and not applied
		}
		return store.refused(ctx) // a client refuses a call on a spent context
	})
	rec := b.get("/login?u=bob")
	fs.on(nil)
	checkLoginUndone(t, m, fs, b, rec, oldCookie, oldID)
}
