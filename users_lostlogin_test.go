package session

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// lostReplyFaultStore is a faultStore whose next CompareAndSwap, once
// armed, is applied but answered with an error (a timeout after the write
// went out).
type lostReplyFaultStore struct {
	*faultStore
	lose atomic.Bool
}

func (l *lostReplyFaultStore) CompareAndSwap(ctx context.Context, id, old string, b []byte, exp time.Time) (string, bool, error) {
	ver, swapped, err := l.faultStore.CompareAndSwap(ctx, id, old, b, exp)
	if err == nil && l.lose.CompareAndSwap(true, false) {
		return "", false, errReplyLost
	}
	return ver, swapped, err
}

// A login without a new id (SetUser on a stored session) saved by a
// Session.Save whose reply was lost, though the store applied it, and
// whose MaxSessionsPerUser trimming then fails at the end of the request,
// ends the session it was made in, as when that Save's reply comes back:
// the client's cookie names it, and kept, the client would stay logged in
// beyond the cap despite the error. The end of the request, finding the
// Save's write its own, took the session for one that was the user's
// before its write, no new login, and left it logged in.
func TestALoginWhoseSaveReplyWasLostAndWhoseTrimFailsEndsTheSession(t *testing.T) {
	fs := &faultStore{countingStore: newCountingStore(t)}
	st := &lostReplyFaultStore{faultStore: fs}
	m, _ := newTestManager(t, Options{Store: st, MaxSessionsPerUser: 1,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			http.Error(w, "try again", http.StatusServiceUnavailable)
		}})
	m.now = fs.clock.Now
	b := stored(t, m)
	id := mustID(t, m, b.cookie)
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.SetUser("ada")
		st.lose.Store(true)
		if err := s.Save(r.Context()); !errors.Is(err, errReplyLost) {
			t.Errorf("Save: %v; want the lost reply's error", err)
		}
		failTrim(fs, "UserSessions", "")
	}))
	rec := b.get("/login")
	fs.on(nil)
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d; want the ErrorHandler's 503", rec.Code)
	}
	if data, found, _ := fs.Store.Get(t.Context(), id); found {
		t.Fatalf("the session the failed login bound to ada is still stored: %s", data)
	}
}
