package session

import (
	"io"
	"net/http"
	"testing"
)

// A new session that a Session.Save stored, and that the handler changed
// again before a Reload, is still a change saved in this request: the
// Reload takes back only what came after the Save, and the session's
// cookie goes out, as express's reload (whose isModified compares what the
// reload read with the request's start) sends it.
func TestReloadAfterASaveAndAnotherChangeSendsTheNewSessionsCookie(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		if r.URL.Path == "/cart" {
			v, _ := s.Get("cart").(string)
			io.WriteString(w, v)
			return
		}
		s.Set("cart", "socks")
		if err := s.Save(r.Context()); err != nil {
			t.Errorf("Save: %v", err)
		}
		s.Set("draft", "unsaved")
		if err := s.Reload(r.Context()); err != nil {
			t.Errorf("Reload: %v", err)
		}
	})))
	if rec := b.get("/add"); setCookie(rec) == "" {
		t.Fatalf("the request that stored a new session sent no Set-Cookie")
	}
	if got := b.get("/cart").Body.String(); got != "socks" {
		t.Errorf("the next request's cart %q; want socks", got)
	}
}
