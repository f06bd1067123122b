package session

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// A session kept alive by reads past its login's day is read again, and
// the load's user index write fails; while it is under way, another
// request of the session (another tab, the index answering it) saves a
// change, which gives the session another day and records its entry that
// long. The set back that follows the failed index write must not cut
// that save back to the floor of the failed load (a minute past it): the
// user, whose last request succeeded, was logged out a minute later.
func TestLoadIndexFailureDoesNotCutBackASaveDuringItsIndexWrite(t *testing.T) {
	const day = 24 * time.Hour
	fs, m, b, id, start := loginAdaOnGetToucher(t, Options{Cookie: CookieOptions{MaxAge: day}}, nil)
	at := func(d time.Duration) { fs.clock.Set(start.Add(d)) }
	b.h = m.Handler(readViews)
	at(20 * time.Hour) // a read keeps it alive past the login's day
	if rec := b.get("/"); rec.Code != http.StatusOK {
		t.Fatalf("read: status %d", rec.Code)
	}
	other := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) { s.Set("cart", 1) })))
	other.cookie = b.cookie
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
	at(30 * time.Hour)
	if rec := b.get("/"); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want the ErrorHandler's 503", rec.Code)
	}
	fs.on(nil)
	at(31 * time.Hour)
	if _, found, _ := fs.countingStore.Store.Get(t.Context(), id); !found {
		t.Fatal("the session is gone an hour after another request saved it for a day and recorded its entry")
	}
	if live := liveOf(t, m, "ada"); len(live) != 1 || live[0] != id {
		t.Fatalf("UserSessions(ada) lists %v, want the session", short(live))
	}
}

// As above, with the load's own set back failing (the session's node
// blinked) and the other request's save made while the handler runs on:
// the end of the request, the index down again, tries the set back again,
// and must not cut the save back either.
func TestAFailedSetBackTriedAgainAtTheEndDoesNotCutBackASaveMeanwhile(t *testing.T) {
	const day = 24 * time.Hour
	fs, m, b, id, start := loginAdaOnGetToucher(t, Options{Cookie: CookieOptions{MaxAge: day}}, nil)
	at := func(d time.Duration) { fs.clock.Set(start.Add(d)) }
	b.h = m.Handler(readViews)
	at(20 * time.Hour)
	if rec := b.get("/"); rec.Code != http.StatusOK {
		t.Fatalf("read: status %d", rec.Code)
	}
	var failing atomic.Bool
	var touches atomic.Int32
	fs.on(func(ctx context.Context, op, _ string) error {
		if !failing.Load() {
			return nil
		}
		switch {
		case op == "IndexUserSession":
			return errDown
		case op == "GetAndTouch" && touches.Add(1) == 2:
			return errDown // the load's set back
		}
		return nil
	})
	other := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) { s.Set("cart", 1) })))
	other.cookie = b.cookie
	b.h = m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		failing.Store(true)
		if From(r) != nil {
			t.Error("the load succeeded with the index down")
		}
		failing.Store(false) // the store and the index answer the other request
		if rec := other.get("/"); rec.Code != http.StatusOK {
			t.Errorf("the other request: status %d", rec.Code)
		}
		failing.Store(true) // the index is down again at this one's end
	}))
	at(30 * time.Hour)
	if rec := b.get("/"); rec.Code != http.StatusServiceUnavailable || touches.Load() != 3 {
		t.Fatalf("status %d after %d touches; want the ErrorHandler's 503 after three (the load's, its set back, the end's)", rec.Code, touches.Load())
	}
	fs.on(nil)
	at(31 * time.Hour)
	if _, found, _ := fs.countingStore.Store.Get(t.Context(), id); !found {
		t.Fatal("the session is gone an hour after another request saved it for a day and recorded its entry")
	}
	if live := liveOf(t, m, "ada"); len(live) != 1 || live[0] != id {
		t.Fatalf("UserSessions(ada) lists %v, want the session", short(live))
	}
}
