package session

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// The end touch of a read follows the cookie another request saved the
// session with meanwhile, touching it again, up to touchTries times while
// other requests keep changing it. The copy the last of those touches
// answers must still be checked: here other tabs of the client give the
// session a cookie of its own three times over while the read's end
// touches it, and then one binds it to bob with a shorter cookie (SetUser
// on a shared device), recording bob's entry for it; the read's last touch
// gave the session the previous cookie's longer expiry, which bob's entry
// must cover, or a "log out everywhere" of bob's misses the session once
// bob's cookie ran out.
func TestTouchThatRunsOutOfTriesKeepsTheLastCopyInItsUsersIndex(t *testing.T) {
	testTouchThatRunsOutOfTries(t, "bob")
}

// As TestTouchThatRunsOutOfTriesKeepsTheLastCopyInItsUsersIndex, but the
// last of the other tabs' saves keeps the session ada's and gives it a
// shorter cookie of its own (a device no longer remembered), recording
// ada's entry for that shorter expiry once it succeeded. The read's last
// touch, out of tries, gave the session the previous cookie's longer
// expiry: ada's entry must cover it, or the session must go back to the
// expiry that save gave it; else a "log out everywhere" of ada's misses the
// session once that save's entry ran out.
func TestTouchThatRunsOutOfTriesKeepsTheSessionWithinAShortenedEntry(t *testing.T) {
	testTouchThatRunsOutOfTries(t, "")
}

// testTouchThatRunsOutOfTries plays both: the last of the other tabs' saves
// binds the session to rebindTo, unless it is "", with a shorter cookie, and
// the session must stay within the entry of its user then.
func testTouchThatRunsOutOfTries(t *testing.T, rebindTo string) {
	owner := "ada"
	if rebindTo != "" {
		owner = rebindTo
	}
	fs, m, b, id, start := loginAdaOnGetToucher(t, Options{Cookie: CookieOptions{MaxAge: time.Hour}}, func(s *Session) {
		s.Cookie().SetMaxAge(30 * time.Minute) // its own: the end of a read touches it again
	})
	var writes atomic.Int32
	other := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		switch n := writes.Load(); {
		case n <= 3:
			s.Cookie().SetMaxAge(time.Duration(30+10*n) * time.Minute) // 40, 50, 60 minutes
		default: // shorter, and rebound unless rebindTo is ""
			if rebindTo != "" {
				s.SetUser(rebindTo)
			}
			s.Cookie().SetMaxAge(20 * time.Minute)
		}
	})))
	other.cookie = b.cookie
	var armed, busy atomic.Bool
	fs.on(func(ctx context.Context, op, _ string) error {
		if op != "GetAndTouch" || !armed.Load() || writes.Load() >= 4 || !busy.CompareAndSwap(false, true) {
			return nil
		}
		defer busy.Store(false)
		writes.Add(1) // another tab's save just before this touch
		if rec := other.get("/"); rec.Code != http.StatusOK {
			t.Errorf("another tab's save: status %d", rec.Code)
		}
		return nil
	})
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		if s.User() != "ada" {
			t.Errorf("the read got user %q", s.User())
		}
		armed.Store(true) // for the end touch
	}))
	fs.clock.Set(start.Add(5 * time.Minute))
	b.get("/")
	armed.Store(false)
	if writes.Load() != 4 {
		t.Fatalf("%d writes of other tabs during the end touch, want 4", writes.Load())
	}
	fs.clock.Set(start.Add(5*time.Minute + 20*time.Minute + IndexGrace + time.Second)) // the last save's cookie, and entry, ran out
	if _, found, _ := fs.countingStore.Store.Get(t.Context(), id); found {
		if idx := indexOf(t, m, owner); len(idx) != 1 || idx[0] != id {
			t.Fatalf("the session is stored, as %s's, past the expiry the last save gave it, and %s's index is %v", owner, owner, short(idx))
		}
	}
}
