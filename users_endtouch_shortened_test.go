package session

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// TestAReadsEndTouchKeepsTheSessionWithinAnEntryAnotherTabShortened: ada's
// session has a 10-minute cookie of its own under a Cookie.MaxAge of an
// hour, on a store that touches on the load. A long read (a stream) loads
// it, and so records ada's index entry for the hour; meanwhile another
// tab saves a change, whose write records the entry again for the
// session's own 10 minutes from then. When the read ends 5 minutes later,
// its touch gives the session 10 minutes from then: the entry the load
// recorded no longer covers that, and a log out everywhere 12 minutes
// after the save must still find and end the session.
func TestAReadsEndTouchKeepsTheSessionWithinAnEntryAnotherTabShortened(t *testing.T) {
	fs, m, b, id, _ := loginAdaOnGetToucher(t, Options{Cookie: CookieOptions{MaxAge: time.Hour}}, func(s *Session) {
		s.Cookie().SetMaxAge(10 * time.Minute)
	})
	other := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Set("theme", "dark")
	})))
	other.cookie = b.cookie
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		if s.User() != "ada" {
			t.Fatal("the load failed")
		}
		if rec := other.get("/theme"); rec.Code != http.StatusOK {
			t.Fatalf("the other tab's save: status %d", rec.Code)
		}
		fs.clock.Advance(5 * time.Minute) // the stream runs on
	}))
	if rec := b.get("/stream"); rec.Code != http.StatusOK {
		t.Fatalf("the read: status %d", rec.Code)
	}
	fs.clock.Advance(7 * time.Minute) // 12 minutes after the save, 7 after the read
	if _, found, _ := fs.countingStore.Store.Get(t.Context(), id); !found {
		t.Fatal("the session is gone 7 minutes after a read, though its own cookie lasts 10")
	}
	if _, err := m.DestroyUserSessions(t.Context(), "ada"); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := fs.countingStore.Store.Get(t.Context(), id); found {
		t.Fatal("a log out everywhere of ada left her session stored: it outlived her index entry")
	}
}

// TestAReadsEndTouchThatCannotIndexSetsBackAnotherTabsSave: as above, but
// the user index stops answering after the other tab's save, so the read's
// end cannot record ada's entry for the expiry its touch gave: the session
// goes back to the expiry the other tab's save gave it, which the entry
// that save recorded covers, rather than outlive that entry.
func TestAReadsEndTouchThatCannotIndexSetsBackAnotherTabsSave(t *testing.T) {
	fs, m, b, id, _ := loginAdaOnGetToucher(t, Options{Cookie: CookieOptions{MaxAge: time.Hour}}, func(s *Session) {
		s.Cookie().SetMaxAge(10 * time.Minute)
	})
	other := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Set("theme", "dark")
	})))
	other.cookie = b.cookie
	var indexDown atomic.Bool
	failIndexWhile(fs, &indexDown)
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		if s.User() != "ada" {
			t.Fatal("the load failed")
		}
		if rec := other.get("/theme"); rec.Code != http.StatusOK {
			t.Fatalf("the other tab's save: status %d", rec.Code)
		}
		indexDown.Store(true)
		fs.clock.Advance(5 * time.Minute) // the stream runs on
	}))
	b.get("/stream")
	fs.on(nil)
	fs.clock.Advance(7 * time.Minute) // 12 minutes after the save, past its entry
	if _, found, _ := fs.countingStore.Store.Get(t.Context(), id); found {
		t.Fatal("the session is still stored 12 minutes after a save that gave it 10, past the index entry that save recorded")
	}
}
