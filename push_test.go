package session

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

// pushRecorder is a recorder whose connection can push (HTTP/2), as
// net/http's HTTP/2 writer can.
type pushRecorder struct {
	*httptest.ResponseRecorder
	pushed []string
}

func (p *pushRecorder) Push(target string, opts *http.PushOptions) error {
	p.pushed = append(p.pushed, target)
	return nil
}

// A handler's HTTP/2 server push (http.Pusher) reaches the connection
// through the middleware's writer; over a connection that cannot push, it
// says so with http.ErrNotSupported, as net/http's own writers do.
func TestPushWorksThroughTheMiddleware(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	var pushErr error
	h := m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Set("page", "home")
		p, ok := w.(http.Pusher)
		if !ok {
			t.Error("the middleware's writer is no http.Pusher")
			return
		}
		pushErr = p.Push("/app.css", nil)
		w.Write([]byte("<link rel=stylesheet href=/app.css>"))
	}))
	rec := &pushRecorder{ResponseRecorder: httptest.NewRecorder()}
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if pushErr != nil || len(rec.pushed) != 1 || rec.pushed[0] != "/app.css" {
		t.Fatalf("Push: %v, pushed %q; want /app.css pushed", pushErr, rec.pushed)
	}
	if setCookie(rec.ResponseRecorder) == "" {
		t.Fatal("the page after the push has no session cookie")
	}

	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	if !errors.Is(pushErr, http.ErrNotSupported) {
		t.Fatalf("Push over a connection that cannot push: %v, want http.ErrNotSupported", pushErr)
	}
}
