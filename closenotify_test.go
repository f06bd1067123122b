package session

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// closeNotifier is http.CloseNotifier, which gin's Context.Stream (its
// server-sent events) asserts on the writer it is given without checking:
// behind a writer that lacks it, the assertion panics.
type closeNotifier interface{ CloseNotify() <-chan bool }

// A handler that streams and waits for the client to go away through
// CloseNotify, as gin's Context.Stream does, works behind the middleware:
// the writer has CloseNotify, and its channel fires when the client hangs
// up.
func TestCloseNotifyWorksThroughTheMiddleware(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	notified := make(chan bool, 1)
	streaming := make(chan struct{})
	srv := httptest.NewServer(m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Set("streaming", true)
		cn, ok := w.(closeNotifier)
		if !ok {
			t.Error("the middleware's writer has no CloseNotify: gin's Context.Stream panics on it")
			notified <- true // reported
			close(streaming)
			return
		}
		gone := cn.CloseNotify()
		w.Write([]byte("data: 1\n\n"))
		w.(http.Flusher).Flush()
		close(streaming)
		select {
		case v := <-gone:
			notified <- v
		case <-time.After(10 * time.Second):
			notified <- false
		}
	})))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(t.Context())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	<-streaming
	cancel() // the client hangs up
	res.Body.Close()
	if !<-notified {
		t.Fatal("CloseNotify's channel did not fire when the client hung up")
	}
}
