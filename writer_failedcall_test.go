package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// plainWriter is an outer middleware's writer that can neither flush nor
// hijack, and does not unwrap: http.ResponseController finds no Flush or
// Hijack behind the session's writer.
type plainWriter struct{ w http.ResponseWriter }

func (p plainWriter) Header() http.Header         { return p.w.Header() }
func (p plainWriter) Write(b []byte) (int, error) { return p.w.Write(b) }
func (p plainWriter) WriteHeader(code int)        { p.w.WriteHeader(code) }

// behindPlainWriter puts h behind a plainWriter.
func behindPlainWriter(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(plainWriter{w}, r) })
}

// getBody requests url with c and returns the body and the response's
// session Set-Cookie lines.
func getBody(t *testing.T, c *http.Client, url string) (body string, sessionCookies []string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, v := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(v, "sid=") {
			sessionCookies = append(sessionCookies, v)
		}
	}
	return string(b), sessionCookies
}

// A Flush the writer underneath cannot do sends nothing: the headers are
// still the handler's to change, and the session's to commit at the first
// real write. A login after it is saved and its cookie sent.
func TestFlushTheWriterCannotDoLeavesTheCommitToTheFirstWrite(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	srv, c := serve(t, behindPlainWriter(m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		if r.URL.Path == "/whoami" {
			fmt.Fprint(w, s.Get("user"))
			return
		}
		w.(http.Flusher).Flush() // a no-op here
		if err := http.NewResponseController(w).Flush(); !errors.Is(err, http.ErrNotSupported) {
			t.Errorf("ResponseController.Flush: %v, want ErrNotSupported", err)
		}
		s.Set("user", "ada")
		w.Write([]byte("logged in"))
	}))))
	if _, cookies := getBody(t, c, srv.URL+"/login"); len(cookies) != 1 {
		t.Fatalf("Set-Cookie %q after a failed Flush; want the session's one", cookies)
	}
	if got, _ := getBody(t, c, srv.URL+"/whoami"); got != "ada" {
		t.Fatalf("user %q after the login; want ada", got)
	}
}

// The same with a change before the failed Flush and a RenewID after it:
// the response carries one cookie, the renewed id's, not the first
// commit's as well.
func TestFlushTheWriterCannotDoSendsOneCookieForTheLastID(t *testing.T) {
	m, st := newTestManager(t, Options{})
	srv, c := serve(t, behindPlainWriter(m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		if r.URL.Path == "/whoami" {
			fmt.Fprint(w, s.Get("user"))
			return
		}
		s.Set("cart", 1)
		http.NewResponseController(w).Flush()
		s.Set("user", "ada")
		if err := s.RenewID(r.Context()); err != nil {
			t.Error(err)
		}
		w.Write([]byte("logged in"))
	}))))
	if _, cookies := getBody(t, c, srv.URL+"/login"); len(cookies) != 1 {
		t.Fatalf("Set-Cookie %q; want one", cookies)
	}
	if got, _ := getBody(t, c, srv.URL+"/whoami"); got != "ada" {
		t.Fatalf("user %q after the login; want ada (the cookie of the renewed id)", got)
	}
	if n, _ := st.Count(context.Background()); n != 1 {
		t.Fatalf("%d sessions stored; want the renewed one only", n)
	}
}

// With Rolling, a session that a parallel request destroyed is found gone
// by the commit at the failed Flush; the commit at the first real write
// sends no cookie for it either (deliberate difference 12).
func TestFlushTheWriterCannotDoSendsNoCookieForASessionFoundGone(t *testing.T) {
	m, st := newTestManager(t, Options{Rolling: true})
	b := stored(t, m)
	b.h = behindPlainWriter(m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		st.Store.Destroy(r.Context(), s.ID()) // a logout in another tab
		http.NewResponseController(w).Flush()
		w.Write([]byte("page"))
	})))
	if rec := b.get("/"); setCookie(rec) != "" {
		t.Fatalf("Set-Cookie %q for a session the store said was gone", setCookie(rec))
	}
}

// Over HTTP/2 a Hijack fails (ErrNotSupported), and a websocket handler
// answers with a plain response instead. That response still commits the
// session: a change made after the failed Hijack is saved and its cookie
// sent.
func TestFailedHijackOverHTTP2LeavesTheCommitToTheResponse(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	srv := httptest.NewUnstartedServer(m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		if r.URL.Path == "/whoami" {
			fmt.Fprint(w, s.Get("user"))
			return
		}
		if _, _, err := http.NewResponseController(w).Hijack(); !errors.Is(err, http.ErrNotSupported) {
			t.Errorf("Hijack over HTTP/2: %v, want ErrNotSupported", err)
			return
		}
		s.Set("user", "ada")
		http.Error(w, "websocket needs HTTP/1.1", http.StatusUpgradeRequired)
	})))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	c := srv.Client()
	resp, err := c.Get(srv.URL + "/ws")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != http.StatusUpgradeRequired {
		t.Fatalf("%s %d; want HTTP/2 and 426", resp.Proto, resp.StatusCode)
	}
	cookies := resp.Cookies()
	if len(cookies) != 1 || cookies[0].Name != "sid" {
		t.Fatalf("cookies %v after a failed Hijack; want the session's", cookies)
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/whoami", nil)
	req.AddCookie(cookies[0])
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "ada" {
		t.Fatalf("user %q; want ada", body)
	}
}

// What the commit at a failed Flush did to the headers is taken back whole:
// a handler that then drops the session (Unset) sends no cookie, and its
// own Cache-Control goes out as it wrote it, not made private for a cookie
// that is not there.
func TestFlushTheWriterCannotDoLeavesTheHandlersCacheControl(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	srv, c := serve(t, behindPlainWriter(m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		w.Header().Set("Cache-Control", "public, max-age=60")
		s.Set("draft", 1)
		http.NewResponseController(w).Flush()
		s.Unset()
		w.Write([]byte("page"))
	}))))
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if len(resp.Cookies()) != 0 || resp.Header.Get("Cache-Control") != "public, max-age=60" {
		t.Fatalf("cookies %v, Cache-Control %q; want none and the handler's public, max-age=60", resp.Cookies(), resp.Header.Values("Cache-Control"))
	}
}
