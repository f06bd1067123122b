package session

import (
	"io"
	"log"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A goroutine the handler started may call From after the handler
// returned, or panicked (http.ErrAbortHandler), when the response is
// net/http's to finish or to abort (its buffers handed to other
// connections). A load that fails then is logged and gives nil: the
// ErrorHandler is not called on the dead ResponseWriter, and the response's
// headers are left alone.
func TestFromAfterTheHandlerReturnedNeverAnswersOnTheFinishedResponse(t *testing.T) {
	for _, panics := range []bool{false, true} {
		fs := &flakyStore{countingStore: newCountingStore(t)}
		var logs lockedBuffer
		m, _ := newTestManager(t, Options{Store: fs, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		b := stored(t, m)
		var answered atomic.Bool
		m.opts.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) { answered.Store(true) }
		late := make(chan *http.Request, 1)
		srv, c := serve(t, m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Handled", "yes")
			late <- r // read by a goroutine that outlives the handler; nothing written
			if panics {
				panic(http.ErrAbortHandler)
			}
		})))
		srv.Config.ErrorLog = log.New(io.Discard, "", 0)
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		req.AddCookie(&http.Cookie{Name: "sid", Value: b.cookie})
		resp, err := c.Do(req)
		if panics != (err != nil) {
			t.Fatalf("panics %v: error %v", panics, err)
		}
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Handled") != "yes" {
				t.Fatalf("status %d, header %v", resp.StatusCode, resp.Header)
			}
		}
		fs.down.Store(true)
		done := make(chan *Session)
		go func() { done <- From(<-late) }()
		if s := <-done; s != nil {
			t.Fatalf("panics %v: From = %v with the store down, want nil", panics, s)
		}
		if answered.Load() || !strings.Contains(logs.String(), "error after the response headers were sent") {
			t.Fatalf("panics %v: ErrorHandler called: %v; log %q", panics, answered.Load(), logs.String())
		}
	}
}

// A goroutine's From after the handler returned only reads the session: no
// touch rides on its load, since nothing is left to set back the stored
// expiry that the touch took from the options, so a "remember me" session
// keeps its own thirty days rather than ending a day later.
func TestFromAfterTheHandlerReturnedLeavesTheStoredExpiryAsItWas(t *testing.T) {
	m, st := newGetTouchManager(t, Options{})
	b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Set("user", "ann")
		s.Cookie().SetMaxAge(30 * 24 * time.Hour) // remember me
	})))
	b.get("/")
	id := mustID(t, m, b.cookie)
	late := make(chan *http.Request, 1)
	b.h = m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { late <- r }))
	st.clock.Advance(time.Minute)
	b.get("/")
	done := make(chan *Session)
	go func() { done <- From(<-late) }()
	if s := <-done; s.Get("user") != "ann" {
		t.Fatalf("From after the handler returned: user %v, want ann", s.Get("user"))
	}
	st.clock.Advance(2 * 24 * time.Hour) // past the store's default lifetime
	if _, found, _ := st.Store.Get(t.Context(), id); !found {
		t.Fatal("the remember-me session is gone two days later: the late load's touch cut its expiry")
	}
}
