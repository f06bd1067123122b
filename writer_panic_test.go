package session

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"
)

// panickyStore panics on a write, like a store driver with a bug.
type panickyStore struct{ *countingStore }

func (p *panickyStore) Set(ctx context.Context, id string, b []byte, exp time.Time) error {
	panic("store bug")
}

func (p *panickyStore) CompareAndSwap(ctx context.Context, id, old string, b []byte, exp time.Time) (string, bool, error) {
	panic("store bug")
}

// A panic in the commit at the first write must not leave the request's
// state locked: a recovering middleware inside the session middleware then
// answers through the wrapper, and must not hang.
func TestPanicInTheCommitDoesNotDeadlockARecoveringMiddleware(t *testing.T) {
	m, _ := newTestManager(t, Options{Store: &panickyStore{newCountingStore(t)}})
	recoverer := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if v := recover(); v != nil {
					http.Error(w, "recovered", http.StatusInternalServerError)
				}
			}()
			next.ServeHTTP(w, r)
		})
	}
	srv, c := serve(t, m.Handler(recoverer(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Set("user", "ada")
		http.Redirect(w, r, "/home", http.StatusFound)
	}))))
	c.Timeout = 3 * time.Second
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatalf("the request hung after a panic in the commit: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError || resp.Header.Get("Location") != "" || len(resp.Cookies()) != 0 {
		t.Fatalf("got %d %v %q", resp.StatusCode, resp.Header, body)
	}
}
