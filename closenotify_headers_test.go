package session

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"testing"
)

// CloseNotify behind a writer without one allocates the request's
// rareState, which also holds a failure's throwaway header map: a handler
// that calls CloseNotify first and then sets headers and sends 103 Early
// Hints still has them all reach the client, the session cookie with them.
func TestCloseNotifyFirstKeepsHeadersEarlyHintsAndTheSessionCookie(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	inner := m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		_ = w.(closeNotifier).CloseNotify()
		w.Header().Set("Link", "</a.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		s.Set("views", 1)
		w.Header().Set("X-After-CloseNotify", "kept")
		io.WriteString(w, "ok")
	}))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inner.ServeHTTP(flushingWriter{w}, r)
	}))
	t.Cleanup(srv.Close)
	var early []string
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		if code == http.StatusEarlyHints {
			early = append(early, h.Get("Link"))
		}
		return nil
	}}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), trace), http.MethodGet, srv.URL, nil)
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if len(early) != 1 || early[0] != "</a.css>; rel=preload" {
		t.Errorf("103 Early Hints with Link: got %q, want one with the handler's Link", early)
	}
	if got := res.Header.Get("X-After-CloseNotify"); got != "kept" {
		t.Errorf("X-After-CloseNotify %q, want kept", got)
	}
	sid := false
	for _, v := range res.Header.Values("Set-Cookie") {
		sid = sid || strings.HasPrefix(v, "sid=")
	}
	if res.StatusCode != http.StatusOK || string(body) != "ok" || !sid {
		t.Errorf("status %d, body %q, Set-Cookie %q; want 200, ok and the session cookie", res.StatusCode, body, res.Header.Values("Set-Cookie"))
	}
}
