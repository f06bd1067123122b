package session

import (
	"bytes"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// After a session error the handler's output is discarded: an informational
// response (103 Early Hints) it sends afterwards too, instead of reaching
// the server after the error handler's answer.
func TestInformationalResponseAfterASessionErrorIsDiscarded(t *testing.T) {
	fs := &flakyStore{countingStore: newCountingStore(t)}
	m, _ := newTestManager(t, Options{Store: fs})
	srv := httptest.NewUnstartedServer(m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		fs.down.Store(true)
		s.Set("user", "ada")
		http.Redirect(w, r, "/home", http.StatusFound) // the save fails: the error handler answers
		w.Header().Set("Link", "</a.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
	})))
	var logs lockedBuffer
	srv.Config.ErrorLog = log.New(&logs, "", 0)
	srv.Start()
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	srv.Close()
	if resp.StatusCode != http.StatusInternalServerError || logs.String() != "" {
		t.Fatalf("status %d, server log %q", resp.StatusCode, logs.String())
	}
}
