package session

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

// A session first loaded after the headers went out, whose load fails, has
// no one to answer for it: the ErrorHandler cannot, the status is gone.
// From returns nil and the failure is logged, and the rest of what the
// handler writes (a stream's next events) still goes out, rather than
// being dropped from a response that then ends as if complete; so do the
// trailers it sets.
func TestStreamWhoseLateLoadFailsStillSendsWhatTheHandlerWritesNext(t *testing.T) {
	fs := &flakyStore{countingStore: newCountingStore(t)}
	var logs lockedBuffer
	m, _ := newTestManager(t, Options{Store: fs, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	b := stored(t, m)
	var answered bool
	m.opts.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) { answered = true }
	srv, c := serve(t, m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Events")
		io.WriteString(w, "data: 1\n\n")
		http.NewResponseController(w).Flush()
		fs.down.Store(true)
		if s := From(r); s != nil {
			t.Errorf("From = %v with the store down, want nil", s)
		}
		io.WriteString(w, "data: 2\n\n")
		w.Header().Set("X-Events", "2")
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("Flush after the failed load: %v", err)
		}
	})))
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.AddCookie(&http.Cookie{Name: "sid", Value: b.cookie})
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || string(body) != "data: 1\n\ndata: 2\n\n" {
		t.Fatalf("status %d, body %q (%v); want 200 and both events", resp.StatusCode, body, err)
	}
	if got := resp.Trailer.Get("X-Events"); got != "2" {
		t.Fatalf("trailer X-Events %q, want 2", got)
	}
	if answered || !strings.Contains(logs.String(), "error after the response headers were sent") {
		t.Fatalf("ErrorHandler called: %v; log %q", answered, logs.String())
	}
}
