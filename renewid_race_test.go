package session

import (
	"errors"
	"net/http"
	"testing"
	"time"
)

// A RenewID that a write of another goroutine of the request (a response
// streamed while a login runs) overtakes, committing the response headers
// before RenewID locks the session, must leave the client a session that
// works: either the renew waits for nothing and goes out with the headers,
// or it fails as any RenewID after the headers does, and the client keeps
// its id. It must not renew after the headers went out, when no cookie can
// carry the new id, and then destroy the id the client still holds (at the
// end of the request, as a renew whose new id is never written): the user
// would be logged out, the session's data out of reach.
func TestRenewIDOvertakenByAWriteKeepsTheClientsSession(t *testing.T) {
	m, st := newTestManager(t, Options{Cookie: CookieOptions{MaxAge: time.Hour}})
	b := stored(t, m) // views 1
	old := mustID(t, m, b.cookie)
	var renewErr error
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		m.beforeRenewLock = func() {
			m.beforeRenewLock = nil
			written := make(chan struct{})
			go func() { // another goroutine of the request starts the response
				w.Write([]byte("streaming"))
				close(written)
			}()
			<-written
		}
		renewErr = s.RenewID(r.Context())
		s.Set("user", "ann")
	}))
	b.get("/login")
	if _, found, _ := st.Get(t.Context(), mustID(t, m, b.cookie)); !found {
		t.Fatalf("after a RenewID that a write overtook (RenewID: %v), the client's id %s is gone from the store: the user is logged out", renewErr, mustID(t, m, b.cookie))
	}
	if mustID(t, m, b.cookie) == old && !errors.Is(renewErr, errRenewAfterHeaders) {
		t.Fatalf("RenewID returned %v, though the client kept its id: it must say that the headers went out", renewErr)
	}
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		if n, _ := GetAs[int](s, "views"); n != 1 {
			t.Errorf("views %d after the login, want the session's 1", n)
		}
	}))
	b.get("/")
}
