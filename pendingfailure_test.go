package session

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// writeHeaderCounter records the status codes written on the writer
// underneath the middleware, informational ones included.
type writeHeaderCounter struct {
	*httptest.ResponseRecorder
	codes []int
}

func (c *writeHeaderCounter) WriteHeader(code int) {
	c.codes = append(c.codes, code)
	c.ResponseRecorder.WriteHeader(code)
}

// A load that failed in a goroutine of the handler is answered once, by the
// ErrorHandler, whichever way the handler's goroutine goes on: a write of
// any kind (Write, WriteString, io.Copy through ReadFrom), a WriteHeader
// (an informational 103 first, which must not go out ahead of the
// answer), a Flush, a Hijack (which hands nothing over), or returning. The
// headers the handler set after the failure go nowhere, and nothing of its
// output goes out.
func TestALoadFailureInAGoroutineIsAnsweredOnceWhateverTheHandlerDoesNext(t *testing.T) {
	for name, next := range map[string]func(w http.ResponseWriter){
		"Write":       func(w http.ResponseWriter) { w.Write([]byte("page")) },
		"WriteString": func(w http.ResponseWriter) { io.WriteString(w, "page") },
		"ReadFrom":    func(w http.ResponseWriter) { io.Copy(w, strings.NewReader("page")) },
		"WriteHeader": func(w http.ResponseWriter) { w.WriteHeader(http.StatusEarlyHints); w.WriteHeader(http.StatusOK) },
		"Flush":       func(w http.ResponseWriter) { http.NewResponseController(w).Flush(); w.Write([]byte("page")) },
		"Hijack": func(w http.ResponseWriter) {
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				conn.Close()
				t.Error("Hijack handed over the connection while the ErrorHandler's answer was due")
			}
		},
		"return": func(w http.ResponseWriter) {},
	} {
		t.Run(name, func(t *testing.T) {
			fs := &flakyStore{countingStore: newCountingStore(t)}
			m, _ := newTestManager(t, Options{Store: fs})
			b := stored(t, m)
			fs.down.Store(true)
			answers := 0
			m.opts.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
				answers++
				http.Error(w, "sessions are down", http.StatusServiceUnavailable)
			}
			h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				done := make(chan *Session)
				go func() { done <- From(r) }()
				if s := <-done; s != nil {
					t.Error("From returned a session with the store down")
				}
				w.Header().Set("X-Page", "orders")
				next(w)
			}))
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.AddCookie(&http.Cookie{Name: "sid", Value: b.cookie})
			rec := &writeHeaderCounter{ResponseRecorder: httptest.NewRecorder()}
			h.ServeHTTP(rec, req)
			if answers != 1 || len(rec.codes) != 1 || rec.codes[0] != http.StatusServiceUnavailable {
				t.Fatalf("%d answers, status codes written %v: want the ErrorHandler's 503 alone, once", answers, rec.codes)
			}
			if body := rec.Body.String(); body != "sessions are down\n" || rec.Header().Get("X-Page") != "" {
				t.Fatalf("body %q, X-Page %q: want the ErrorHandler's answer alone", body, rec.Header().Get("X-Page"))
			}
		})
	}
}
