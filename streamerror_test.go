package session

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

// A streaming handler (server-sent events) whose From failed (the store is
// down), and that streams on without looking, flushes what it writes: its
// output is discarded, but the ErrorHandler's answer, which replaced it,
// goes out at that Flush, so that the client learns of the error (an
// EventSource gives up or retries) instead of waiting for the headers for
// as long as the handler streams. The handler's stream ends when the client,
// which has its answer, goes away.
func TestFlushAfterAFailedLoadSendsTheErrorHandlersAnswer(t *testing.T) {
	fs := &flakyStore{countingStore: newCountingStore(t)}
	m, _ := newTestManager(t, Options{Store: fs})
	b := stored(t, m)
	fs.down.Store(true)
	answered := make(chan struct{}) // the client has the response's status
	ended := make(chan struct{})
	srv, c := serve(t, m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(ended)
		From(r) // nil, not looked at
		w.Header().Set("Content-Type", "text/event-stream")
		for i := 0; ; i++ {
			fmt.Fprintf(w, "data: %d\n\n", i)
			w.(http.Flusher).Flush()
			select {
			case <-answered:
				<-r.Context().Done() // the client goes away: the stream ends
				return
			case <-r.Context().Done():
				return
			case <-time.After(10 * time.Second):
				t.Error("the client has no answer 10s into the stream")
				return
			}
		}
	})))
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.AddCookie(&http.Cookie{Name: "sid", Value: b.cookie})
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	close(answered)
	res.Body.Close()
	<-ended
	if res.StatusCode != http.StatusInternalServerError || res.Header.Get("Content-Type") == "text/event-stream" {
		t.Fatalf("status %d, Content-Type %q: want the ErrorHandler's 500", res.StatusCode, res.Header.Get("Content-Type"))
	}
}
