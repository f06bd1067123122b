package session

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// wrapperWithoutCloseNotify is another middleware's wrapper: it has neither CloseNotify
// nor Unwrap.
type wrapperWithoutCloseNotify struct{ http.ResponseWriter }

// Behind a writer without CloseNotify, CloseNotify returns the same channel
// on every call of a request, as net/http's does, instead of a new channel
// and a new context.AfterFunc on each, which a handler that calls it in its
// select loop (server-sent events) piles up for as long as it streams; and
// the channel still fires once the request's context ends.
func TestCloseNotifyWithoutOneUnderneathReturnsOneChannelPerRequest(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan bool, 1)
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cn, ok := w.(closeNotifier)
		if !ok {
			t.Error("the middleware's writer has no CloseNotify")
			done <- false
			return
		}
		first := cn.CloseNotify()
		select {
		case <-first:
			t.Error("CloseNotify fired before the client went away")
		default:
		}
		for i := range 1000 {
			if got := cn.CloseNotify(); got != first {
				t.Errorf("call %d of CloseNotify returned another channel than the first", i+2)
				done <- false
				return
			}
		}
		cancel() // the client goes away
		select {
		case v := <-first:
			done <- v
		case <-time.After(10 * time.Second):
			done <- false
		}
	}))
	h.ServeHTTP(wrapperWithoutCloseNotify{httptest.NewRecorder()}, httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx))
	if !<-done {
		t.Fatal("CloseNotify's channel did not fire once when the request's context ended")
	}
}

// Over a real server, behind another middleware's wrapper: a handler that
// streams and calls CloseNotify in its select loop, as old server-sent
// events examples do, gets one channel, and it fires when the client hangs
// up.
func TestCloseNotifyInAStreamingLoopBehindAWrapperFiresOnHangUp(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	result := make(chan string, 1)
	streaming := make(chan struct{})
	inner := m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Set("streaming", true)
		cn := w.(closeNotifier)
		first := cn.CloseNotify()
		tick := make(chan struct{}, 1)
		for i := 0; ; i++ {
			gone := cn.CloseNotify()
			if gone != first {
				result <- "CloseNotify returned a new channel in the loop"
				return
			}
			if i == 100 {
				w.Write([]byte("data: 1\n\n"))
				w.(http.Flusher).Flush()
				close(streaming)
			} else if i < 100 {
				tick <- struct{}{}
			}
			select {
			case <-gone:
				result <- ""
				return
			case <-tick:
			case <-time.After(10 * time.Second):
				result <- "CloseNotify's channel did not fire when the client hung up"
				return
			}
		}
	}))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inner.ServeHTTP(flushingWriter{w}, r)
	}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(t.Context())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	select {
	case <-streaming:
	case msg := <-result:
		t.Fatal(msg)
	}
	cancel() // the client hangs up
	if msg := <-result; msg != "" {
		t.Fatal(msg)
	}
}

// flushingWriter is another middleware's wrapper that can flush but has no
// CloseNotify.
type flushingWriter struct{ http.ResponseWriter }

func (w flushingWriter) Flush() { w.ResponseWriter.(http.Flusher).Flush() }

// CloseNotify called at once from several goroutines of the handler, behind
// a writer without one, hands them all the one channel of the request.
func TestCloseNotifyFromSeveralGoroutinesReturnsOneChannel(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cn := w.(closeNotifier)
		const n = 8
		got := make(chan (<-chan bool), n)
		start := make(chan struct{})
		for range n {
			go func() {
				<-start
				got <- cn.CloseNotify()
			}()
		}
		close(start)
		first := <-got
		for range n - 1 {
			if c := <-got; c != first {
				t.Error("two goroutines of one request got different CloseNotify channels")
			}
		}
	}))
	h.ServeHTTP(wrapperWithoutCloseNotify{httptest.NewRecorder()}, httptest.NewRequest(http.MethodGet, "/", nil))
}
