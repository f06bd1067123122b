package session

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// A session about to expire (its login's day nearly over) is read by a
// request whose load pushes it out by another day and whose user index
// write then fails. Its entry, the login's, runs out with the day (plus
// IndexGrace). The handler goes on for minutes (a report, a stream), and
// meanwhile the user logs out everywhere: DestroyUserSessions no longer
// finds the entry, so the session must be gone by then. It was not: the
// expiry was set back only at the end of the request, and the index,
// answering again by then, recorded the entry anew, so the session that
// missed the log out went on working for a day.
func TestALongRequestAfterAFailedIndexWriteDoesNotOutliveALogOutEverywhere(t *testing.T) {
	const day = 24 * time.Hour
	fs, m, b, id, start := loginAdaOnGetToucher(t, Options{Cookie: CookieOptions{MaxAge: day}}, nil)
	var indexDown atomic.Bool
	failIndexWhile(fs, &indexDown)
	b.h = m.Handler(failedLoadThen(t, &indexDown, func(w http.ResponseWriter, r *http.Request) {
		fs.clock.Set(start.Add(day + 2*time.Minute)) // the handler's work
		if n, err := m.DestroyUserSessions(r.Context(), "ada"); err != nil {
			t.Errorf("DestroyUserSessions: %d, %v", n, err)
		}
	}))
	fs.clock.Set(start.Add(day - 30*time.Second))
	if rec := b.get("/"); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want the ErrorHandler's 503", rec.Code)
	}
	fs.clock.Set(start.Add(day + 3*time.Minute))
	if _, found, _ := fs.countingStore.Store.Get(t.Context(), id); found {
		t.Fatalf("the session is stored after DestroyUserSessions(ada), listed as %v: it escaped the log out", short(liveOf(t, m, "ada")))
	}
}

// A request whose load's user index write failed leaves the session an
// expiry its existing entry covers. Another request of the same session
// that succeeded meanwhile (another tab, the index answering it) touched
// the session and recorded its entry that long: the failed request must
// not cut it back. It did, at its end, with the index down again: the
// session lasted a minute past the failed load while the other request's
// entry said a day, and the user was logged out.
func TestAFailedLoadDoesNotCutBackARequestThatSucceededMeanwhile(t *testing.T) {
	const day = 24 * time.Hour
	fs, m, b, id, start := loginAdaOnGetToucher(t, Options{Cookie: CookieOptions{MaxAge: day}}, nil)
	at := func(d time.Duration) { fs.clock.Set(start.Add(d)) }
	b.h = m.Handler(readViews)
	at(20 * time.Hour) // a read keeps it alive past the login's day
	if rec := b.get("/"); rec.Code != http.StatusOK {
		t.Fatalf("read: status %d", rec.Code)
	}
	var indexDown atomic.Bool
	failIndexWhile(fs, &indexDown)
	other := newBrowser(t, m.Handler(readViews))
	other.cookie = b.cookie
	b.h = m.Handler(failedLoadThen(t, &indexDown, func(w http.ResponseWriter, r *http.Request) {
		// the index answers the other request
		if rec := other.get("/"); rec.Code != http.StatusOK {
			t.Errorf("the other request: status %d", rec.Code)
		}
		indexDown.Store(true) // and is down again at this one's end
	}))
	at(30 * time.Hour)
	if rec := b.get("/"); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want the ErrorHandler's 503", rec.Code)
	}
	fs.on(nil)
	at(31 * time.Hour)
	if _, found, _ := fs.countingStore.Store.Get(t.Context(), id); !found {
		t.Fatal("the session is gone an hour after a request that touched it for a day and recorded its entry")
	}
	if live := liveOf(t, m, "ada"); len(live) != 1 || live[0] != id {
		t.Fatalf("UserSessions(ada) lists %v, want the session", short(live))
	}
}

// The load's set back of the expiry, after its user index write failed,
// can fail too (the session's node blinks), while the index stays down to
// the end of the request: the end tries the set back again, or the session
// keeps the day the load's touch gave it while its entry, the login's,
// runs out twelve hours earlier.
func TestAFailedSetBackAfterTheLoadIsTriedAgainAtTheEnd(t *testing.T) {
	const day = 24 * time.Hour
	fs, m, b, id, start := loginAdaOnGetToucher(t, Options{Cookie: CookieOptions{MaxAge: day}}, nil)
	b.h = m.Handler(readViews)
	fs.clock.Set(start.Add(12 * time.Hour))
	var touches atomic.Int32
	fs.on(func(ctx context.Context, op, _ string) error {
		switch {
		case op == "IndexUserSession":
			return errDown
		case (op == "GetAndTouch" || op == "Touch") && touches.Add(1) == 2:
			return errDown // the load's set back
		}
		return nil
	})
	if rec := b.get("/"); rec.Code != http.StatusServiceUnavailable || touches.Load() != 3 {
		t.Fatalf("status %d after %d touches; want the ErrorHandler's 503 after three (the load's, its set back, the end's)", rec.Code, touches.Load())
	}
	fs.on(nil)
	fs.clock.Set(start.Add(day + 2*time.Minute))
	if _, found, _ := fs.countingStore.Store.Get(t.Context(), id); found {
		t.Fatalf("the session is stored past its login's expiry and UserSessions(ada) lists %v: a log out everywhere would miss it", short(liveOf(t, m, "ada")))
	}
}

// Another request of the same session can save it while the failing user
// index write of this one's load is under way (the index answered that
// request), giving it a shorter cookie of its own (ten minutes: this
// device is no longer remembered) and an entry as long. The set back that
// follows the failed index write must not push the session past that
// entry, to the login's day.
func TestLoadIndexFailureDoesNotPushASaveDuringItsIndexWritePastItsEntry(t *testing.T) {
	const day = 24 * time.Hour
	fs, m, b, id, start := loginAdaOnGetToucher(t, Options{Cookie: CookieOptions{MaxAge: day}}, nil)
	other := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Cookie().SetMaxAge(10 * time.Minute)
		s.Set("remember", false)
	})))
	other.cookie = b.cookie
	b.h = m.Handler(readViews)
	fs.clock.Set(start.Add(12 * time.Hour))
	var first, inOther atomic.Bool
	fs.on(func(ctx context.Context, op, _ string) error {
		if op != "IndexUserSession" || inOther.Load() {
			return nil
		}
		if !first.Swap(true) {
			inOther.Store(true)
			if rec := other.get("/"); rec.Code != http.StatusOK {
				t.Errorf("the other request: status %d", rec.Code)
			}
			inOther.Store(false)
		}
		return errDown
	})
	if rec := b.get("/"); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want the ErrorHandler's 503", rec.Code)
	}
	fs.on(nil)
	fs.clock.Set(start.Add(12*time.Hour + 9*time.Minute))
	if _, found, _ := fs.countingStore.Store.Get(t.Context(), id); !found {
		t.Fatal("the session is gone before the expiry the other request gave it")
	}
	fs.clock.Set(start.Add(12*time.Hour + 13*time.Minute))
	if _, found, _ := fs.countingStore.Store.Get(t.Context(), id); found {
		if live := liveOf(t, m, "ada"); len(live) != 1 {
			t.Fatalf("the session is stored past the other request's ten minutes and UserSessions(ada) lists %v: a log out everywhere would miss it", short(live))
		}
	}
}
