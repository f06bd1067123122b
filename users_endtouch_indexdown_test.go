package session

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// TestAReadOfAShortSessionNeedsNoIndexWriteAtItsEnd: ada's session has a
// 10-minute cookie of its own (a sudo window) under a Cookie.MaxAge of an
// hour, on a store that touches on the load: the load sets the stored
// expiry to the hour and records ada's index entry for it, and the end of
// the request touches the session back to its own 10 minutes, which that
// entry covers. A user index that stops answering after the load must not
// fail the request (the ErrorHandler's answer to a read that needed no
// index write) nor leave the session the load's hour, past its own cookie.
func TestAReadOfAShortSessionNeedsNoIndexWriteAtItsEnd(t *testing.T) {
	fs, m, b, id, _ := loginAdaOnGetToucher(t, Options{Cookie: CookieOptions{MaxAge: time.Hour}}, func(s *Session) {
		s.Cookie().SetMaxAge(10 * time.Minute)
	})
	var indexDown atomic.Bool
	failIndexWhile(fs, &indexDown)
	b.h = m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s := From(r); s == nil || s.User() != "ada" {
			t.Fatal("the load failed")
		}
		indexDown.Store(true) // after the load's index write
	}))
	fs.clock.Advance(time.Minute)
	if rec := b.get("/"); rec.Code != http.StatusOK {
		t.Errorf("status %d, want 200: the read needed no index write at its end", rec.Code)
	}
	fs.on(nil)
	fs.clock.Advance(11 * time.Minute)
	if _, found, _ := fs.countingStore.Store.Get(t.Context(), id); found {
		t.Fatal("the session is still stored 11 minutes after a read, though its own cookie lasts 10")
	}
}

// TestAReadOfAShortSessionListsItsOwnExpiry: as above, with the index up:
// UserSessions must say that ada's session expires 10 minutes after the
// read, when the store forgets it (SessionInfo.Expires), not at the hour
// the load's touch recorded her entry for, as on a store that touches only
// at the end of the request.
func TestAReadOfAShortSessionListsItsOwnExpiry(t *testing.T) {
	fs, m, b, id, _ := loginAdaOnGetToucher(t, Options{Cookie: CookieOptions{MaxAge: time.Hour}}, func(s *Session) {
		s.Cookie().SetMaxAge(10 * time.Minute)
	})
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {}))
	fs.clock.Advance(time.Minute)
	if rec := b.get("/"); rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	infos, err := m.UserSessions(t.Context(), "ada")
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 1 || infos[0].ID != id {
		t.Fatalf("ada's sessions %+v, want her one session", infos)
	}
	if got, want := infos[0].Expires, fs.clock.Now().Add(10*time.Minute); !got.Equal(want) {
		t.Errorf("UserSessions says the session expires in %v, want %v: its own cookie's 10 minutes", got.Sub(fs.clock.Now()), want.Sub(fs.clock.Now()))
	}
}
