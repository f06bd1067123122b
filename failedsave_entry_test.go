package session

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// TestAFailedSavesSetBackStaysWithinTheEntryAnotherTabsSaveRecorded: ada's
// session has a 10-minute cookie of its own under a Cookie.MaxAge of an
// hour, on a store that touches on the load (which records ada's index
// entry for the hour). Another tab saves a change, and its write records
// the entry for its own 10 minutes; 5 minutes later the request's own save
// fails, and the end of the request sets the session back to 10 minutes
// from then, past that entry: it must record the entry for it, so that a
// log out everywhere 12 minutes after the other tab's save still ends the
// session.
func TestAFailedSavesSetBackStaysWithinTheEntryAnotherTabsSaveRecorded(t *testing.T) {
	fs, m, b, id, _ := loginAdaOnGetToucher(t, Options{Cookie: CookieOptions{MaxAge: time.Hour}}, func(s *Session) {
		s.Cookie().SetMaxAge(10 * time.Minute)
	})
	tab := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Set("theme", "dark")
	})))
	tab.cookie = b.cookie
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		if rec := tab.get("/theme"); rec.Code != http.StatusOK {
			t.Fatalf("the other tab's save: status %d", rec.Code)
		}
		fs.clock.Advance(5 * time.Minute)
		s.Set("views", 1)
		fs.on(func(_ context.Context, op, _ string) error {
			if op == "CompareAndSwap" {
				return errDown
			}
			return nil
		})
	}))
	if rec := b.get("/"); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want the ErrorHandler's 503 for the failed save", rec.Code)
	}
	fs.on(nil)
	fs.clock.Advance(7 * time.Minute)
	if _, found, _ := fs.Store.Get(t.Context(), id); !found {
		t.Fatal("the session is gone 7 minutes after the failed save, though its cookie lasts 10")
	}
	if _, err := m.DestroyUserSessions(t.Context(), "ada"); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := fs.Store.Get(t.Context(), id); found {
		t.Fatal("a log out everywhere of ada left her session stored: it outlived her index entry")
	}
}
