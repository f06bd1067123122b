package session

import (
	"context"
	"sync/atomic"
	"testing"
)

// A login whose first destroy of the old id fails unapplied (a write lost
// on its way), and whose second destroy, after the check found the old id,
// is carried out but its answer lost (Redis: the reply never came), keeps
// the login: a read after the second destroy finds the old id gone, so the
// new id's session and its cookie stand. Before, the save undid the new
// id's write after the second error, and the client was left with a cookie
// for a session that no longer existed (fault 8a under load reset two
// sessions so).
func TestRenewIDWhoseSecondOldIDDestroyLosesItsAnswerKeepsTheNewSession(t *testing.T) {
	for _, user := range []string{"", "ada"} {
		t.Run(cmpOr(user, "anonymous"), func(t *testing.T) {
			m, fs, _, b, oldID := renewSetup(t, user)
			oldCookie := b.cookie
			var destroys atomic.Int32
			fs.on(func(ctx context.Context, op, id string) error {
				if op != "Destroy" || id != oldID {
					return nil
				}
				switch destroys.Add(1) {
				case 1:
					return context.DeadlineExceeded // lost before the store
				case 2:
					fs.countingStore.Destroy(ctx, oldID) // carried out, its answer lost
					return context.DeadlineExceeded
				}
				return nil
			})
			rec := b.get("/login?u=bob")
			fs.on(nil)
			if n := destroys.Load(); n != 2 {
				t.Fatalf("the login destroyed the old id %d times, want 2 (the test's premise)", n)
			}
			checkLoginKept(t, m, fs, b, rec, oldCookie, user)
		})
	}
}
