package session

import (
	"log/slog"
	"net/http"
	"testing"
)

// A goroutine of the handler that first calls From after the headers went
// out, while the handler sets a trailer, does not read the header map the
// handler writes: whether the late load is worth a warning is decided from
// the headers as they went out. The warning read the live map from From's
// goroutine, a data race (-race fails this test).
func TestLateLoadFromAGoroutineDoesNotReadTheHeadersTheHandlerSets(t *testing.T) {
	var logs lockedBuffer
	m, _ := newTestManager(t, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	b := stored(t, m)
	b.h = m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Trailer", "X-Count")
		w.Write([]byte("streaming"))
		done := make(chan struct{})
		go func() {
			defer close(done)
			From(r).Get("views")
		}()
		h.Set("X-Count", "1") // the trailer, while From runs
		<-done
	}))
	b.get("/")
	if n := lateLoadWarnings(&logs); n != 1 {
		t.Fatalf("%d warnings in %q; want one", n, logs.String())
	}
}

// The late-load warning is judged by the headers that went out: a
// Cache-Control: no-store that the handler sets after its first write does
// not reach the client (nor any cache), so it does not keep the warning
// quiet. The warning read the map as it was at the load, and stayed quiet.
func TestLateLoadWarningIsJudgedByTheHeadersSent(t *testing.T) {
	var logs lockedBuffer
	m, _ := newTestManager(t, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	b := stored(t, m)
	b.h = m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("hello, "))
		w.Header().Set("Cache-Control", "no-store") // too late: not sent
		From(r).Get("views")
	}))
	b.get("/")
	if n := lateLoadWarnings(&logs); n != 1 {
		t.Fatalf("%d warnings in %q; want one", n, logs.String())
	}
}
