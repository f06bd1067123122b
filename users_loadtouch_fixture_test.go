package session

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// loginAdaOnGetToucher logs ada in on a manager with opts over a store that
// carries the touch on the load (gtStore over a faultStore, on its clock,
// its ErrorHandler a 503: unavailableManager), for the tests of a user's
// session whose index write fails or whose expiry another tab changes.
// login, if not nil, runs in her login's handler
// after SetUser (a cookie of the session's own, say). It returns the store,
// the manager, her browser, her session's id and the time of the login.
func loginAdaOnGetToucher(t *testing.T, opts Options, login func(s *Session)) (*faultStore, *Manager, *browser, string, time.Time) {
	t.Helper()
	fs := &faultStore{countingStore: newCountingStore(t)}
	opts.Store = gtStore{fs}
	m := unavailableManager(t, fs, opts, nil)
	start := fs.clock.Now()
	b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.SetUser("ada")
		if login != nil {
			login(s)
		}
	})))
	b.get("/login")
	return fs, m, b, mustID(t, m, b.cookie), start
}

// failIndexWhile makes fs fail every IndexUserSession while down is set.
func failIndexWhile(fs *faultStore, down *atomic.Bool) {
	fs.on(func(ctx context.Context, op, _ string) error {
		if op == "IndexUserSession" && down.Load() {
			return errDown
		}
		return nil
	})
}

// failedLoadThen is a handler whose load fails its user index write (down
// set while it loads: From returns nil), after which the index answers
// again and then runs, in the handler, what the test does meanwhile
// (another tab's request, time passing).
func failedLoadThen(t *testing.T, down *atomic.Bool, then func(w http.ResponseWriter, r *http.Request)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		down.Store(true)
		if From(r) != nil {
			t.Error("the load succeeded with the index down")
		}
		down.Store(false)
		then(w, r)
	})
}

// indexDownSetBackFails is a fault script: while down is set, every user
// index write fails, and the set back after the first of them (the
// GetAndTouch that gives the load's touch back) fails too.
type indexDownSetBackFails struct {
	down, touchDown atomic.Bool
	failures        atomic.Int32
}

// err is the script's error for a store call op, nil if it fails none.
func (f *indexDownSetBackFails) err(op string) error {
	switch {
	case op == "IndexUserSession" && f.down.Load():
		if f.failures.Add(1) == 1 {
			f.touchDown.Store(true) // the set back after the load's failed index write
		}
		return errDown
	case op == "GetAndTouch" && f.touchDown.Load():
		f.touchDown.Store(false)
		return errDown
	}
	return nil
}

// readWhileTheOtherTabSaves has b read at 30 minutes, its load failing its
// index write (fault.down), while the other tab, on the same session,
// saves at 45; the read ends at 70, past the session's own expiry as
// loaded, with end set for the end of the read's store calls. The read
// gets the ErrorHandler's 503.
func readWhileTheOtherTabSaves(t *testing.T, m *Manager, b, other *browser, fault *indexDownSetBackFails, at func(time.Duration), end *atomic.Bool) {
	t.Helper()
	b.h = m.Handler(failedLoadThen(t, &fault.down, func(w http.ResponseWriter, r *http.Request) {
		at(45 * time.Minute)
		if rec := other.get("/"); rec.Code != http.StatusOK {
			t.Errorf("the other tab's save: status %d", rec.Code)
		}
		at(70 * time.Minute) // past the session's own expiry as loaded
		end.Store(true)
	}))
	at(30 * time.Minute)
	if rec := b.get("/"); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want the ErrorHandler's 503", rec.Code)
	}
}
