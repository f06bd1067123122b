package session

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// gatedStore is a flakyStore whose loads wait for gate first.
type gatedStore struct {
	*flakyStore
	gate    chan struct{}
	entered chan struct{} // a load reached the gate
}

func (g *gatedStore) wait() {
	select {
	case g.entered <- struct{}{}:
	default:
	}
	<-g.gate
}

func (g *gatedStore) Get(ctx context.Context, id string) ([]byte, bool, error) {
	g.wait()
	return g.flakyStore.Get(ctx, id)
}

func (g *gatedStore) GetVersion(ctx context.Context, id string) ([]byte, string, bool, error) {
	g.wait()
	return g.flakyStore.GetVersion(ctx, id)
}

// A goroutine of the handler whose From began while the handler ran, and
// whose load fails after the handler returned, is answered by the
// ErrorHandler before the middleware returns: the ResponseWriter is still
// the request's, not one net/http has finished. The middleware used to wait
// for the load alone, and returned while the ErrorHandler was writing.
func TestLoadInFlightWhenTheHandlerReturnsIsAnsweredBeforeTheMiddlewareReturns(t *testing.T) {
	fs := &flakyStore{countingStore: newCountingStore(t)}
	gs := &gatedStore{flakyStore: fs, gate: make(chan struct{})}
	close(gs.gate)
	m, _ := newTestManager(t, Options{Store: gs, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	b := stored(t, m)
	gs.gate, gs.entered = make(chan struct{}), make(chan struct{}, 1)
	var returned, answeredAfterReturn atomic.Bool
	handled := make(chan struct{})
	m.opts.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		defer close(handled)
		for deadline := time.Now().Add(200 * time.Millisecond); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			if returned.Load() {
				answeredAfterReturn.Store(true)
				return
			}
		}
		http.Error(w, "session store down", http.StatusServiceUnavailable)
	}
	inner := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fs.down.Store(true)
		go From(r) // the load waits at the gate, holding the request's lock
		<-gs.entered
		close(gs.gate) // the load fails as the handler returns, before or after: the middleware waits for it either way
	}))
	srv, c := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inner.ServeHTTP(w, r)
		returned.Store(true)
	}))
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.AddCookie(&http.Cookie{Name: "sid", Value: b.cookie})
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	<-handled
	if answeredAfterReturn.Load() || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d; the ErrorHandler was still answering after the middleware returned: %v", resp.StatusCode, answeredAfterReturn.Load())
	}
}
