package session

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// A read of ada's session (a cookie of her own, 50 minutes, shorter than
// the options' hour) fails its load's user index write, and the set back
// that follows fails too, so the end of the request gives the session its
// own expiry back once the index answers. Meanwhile another tab saved the
// session (its cookie, and entry, 50 minutes from then), and the read's
// handler ran on past the expiry the read loaded. The give back, its own
// expiry past, touches the session to a second from now and then gives
// that save its expiry back, after recording ada's entry for it: when that
// index write fails (the index blinks) or takes over a second (its node is
// slow), the save is left to expire a second after the touch, and ada is
// logged out.
func TestAGiveBackPastItsExpiryKeepsASaveSinceWhenItsIndexWriteFailsOrStalls(t *testing.T) {
	for _, stall := range []bool{false, true} {
		name := "IndexFails"
		if stall {
			name = "IndexStalls"
		}
		t.Run(name, func(t *testing.T) {
			fs, m, b, id, start := loginAdaOnGetToucher(t, Options{Cookie: CookieOptions{MaxAge: time.Hour}}, func(s *Session) {
				s.Cookie().SetMaxAge(50 * time.Minute)
			})
			at := func(d time.Duration) { fs.clock.Set(start.Add(d)) }
			var fault indexDownSetBackFails
			var end atomic.Bool
			var endIndexWrites atomic.Int32
			fs.on(func(ctx context.Context, op, _ string) error {
				if err := fault.err(op); err != nil {
					return err
				}
				switch {
				case op == "IndexUserSession" && end.Load() && endIndexWrites.Add(1) == 2:
					// The second index write of the end of the read:
					// the one for the other tab's expiry, given back.
					if !stall {
						return errDown
					}
					fs.clock.Advance(2 * time.Second)
				}
				return nil
			})
			other := newBrowser(t, m.Handler(incrViews))
			other.cookie = b.cookie
			readWhileTheOtherTabSaves(t, m, b, other, &fault, at, &end)
			fs.on(nil)
			if n := endIndexWrites.Load(); n < 2 {
				t.Fatalf("%d index writes at the end of the read, want 2", n)
			}
			at(75 * time.Minute)
			if _, found, _ := fs.countingStore.Store.Get(t.Context(), id); !found {
				t.Fatal("the session is gone half an hour after the other tab's save")
			}
			if live := liveOf(t, m, "ada"); len(live) != 1 || live[0] != id {
				t.Fatalf("the session is stored and UserSessions(ada) lists %v: a log out everywhere would miss it", short(live))
			}
		})
	}
}
