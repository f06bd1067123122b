package session

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// A goroutine of the handler whose From fails (the store is down) must not
// touch the response while the handler's own goroutine builds it: the
// ErrorHandler's answer, and the reset of the handler's headers before it,
// are made by the goroutine that writes the response (at its next write,
// or when the handler returns), so that a handler that sets headers while
// such a goroutine loads races on nothing (net/http's header map is no
// more safe for concurrent use than the ResponseWriter; the race detector
// fails this test, and without it a concurrent map write ends the
// process). The answer is still the ErrorHandler's, and what the handler
// writes is discarded.
func TestGoroutineWhoseLoadFailsLeavesTheResponseToTheHandlersGoroutine(t *testing.T) {
	fs := &flakyStore{countingStore: newCountingStore(t)}
	m, _ := newTestManager(t, Options{Store: fs})
	b := stored(t, m)
	fs.down.Store(true)
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr := w.Header()
		done := make(chan *Session)
		go func() { done <- From(r) }() // say, a parallel fetch of the user's data
		for range 100 {
			hdr.Set("Content-Type", "application/json")
			hdr.Set("X-Page", "orders")
		}
		if s := <-done; s != nil {
			t.Error("From returned a session with the store down")
		}
		w.Write([]byte(`{"orders":[]}`))
	}))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.AddCookie(&http.Cookie{Name: "sid", Value: b.cookie})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusInternalServerError || rec.Body.String() == `{"orders":[]}` || rec.Header().Get("X-Page") != "" {
		t.Fatalf("status %d, body %q, X-Page %q: want the ErrorHandler's answer alone", rec.Code, rec.Body.String(), rec.Header().Get("X-Page"))
	}
}
