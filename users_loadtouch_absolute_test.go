package session

import (
	"net/http"
	"testing"
	"time"
)

// An app that adds (or shortens) an AbsoluteTimeout refuses the sessions
// older than it, which reads had kept alive until then. The touch carried
// on such a session's load must not keep it stored: the manager refuses it,
// but each read of the browser that still sends its cookie pushed its
// stored expiry a Cookie.MaxAge on, while its user's index entry, no
// longer recorded, ran out. The session then lived on in the store (Count,
// sessionctl, another instance or an Express app sharing the store still
// serving it) where "log out everywhere" could not find it.
func TestALoadPastTheAbsoluteTimeoutDoesNotKeepTheSessionStored(t *testing.T) {
	fs, m, b, id, start := loginAdaOnGetToucher(t, Options{Cookie: CookieOptions{MaxAge: time.Hour}}, nil)
	at := func(d time.Duration) { fs.clock.Set(start.Add(d)) }
	b.h = m.Handler(readViews)
	for _, d := range []time.Duration{50 * time.Minute, 100 * time.Minute, 150 * time.Minute} {
		at(d) // reads keep the session alive, and its entry, until 210 minutes
		if rec := b.get("/"); rec.Code != http.StatusOK {
			t.Fatalf("a read at %v: status %d", d, rec.Code)
		}
	}
	// The app is deployed with an AbsoluteTimeout of two hours.
	m2 := unavailableManager(t, fs, Options{Store: gtStore{fs}, AbsoluteTimeout: 2 * time.Hour, Cookie: CookieOptions{MaxAge: time.Hour}}, nil)
	b.h = m2.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		if s.User() != "" {
			t.Errorf("a session past its AbsoluteTimeout was loaded as %q's", s.User())
		}
	}))
	at(200 * time.Minute)
	b.get("/")
	at(212 * time.Minute) // ada's entry ran out at 210, plus IndexGrace
	if n, err := m2.DestroyUserSessions(t.Context(), "ada"); err != nil {
		t.Fatal(err)
	} else if _, found, _ := fs.countingStore.Store.Get(t.Context(), id); found {
		t.Fatalf("ada's session, past its AbsoluteTimeout, is still stored after a log out everywhere that ended %d", n)
	}
}
