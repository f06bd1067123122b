package session

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"testing"
	"time"
)

// The middleware with the standard library's own helpers and answers, on
// real servers: what net/http sends that is not the handler's response
// (informational answers, its own error answers, a handshake) must neither
// take the session's commit nor lose its cookie.

// finalSpy sits under the middleware and records, when the final answer's
// headers go out, how many sessions the store holds; informational answers
// pass through uncounted. Unwrap lets http.ResponseController reach the
// server's writer.
type finalSpy struct {
	http.ResponseWriter
	stored  func() int
	atFinal int // the store's count when the final headers went out; -1 before
}

func (w *finalSpy) WriteHeader(code int) {
	if code >= 200 && w.atFinal < 0 {
		w.atFinal = w.stored()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *finalSpy) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// startServer serves h over HTTP/1.1, or over HTTP/2 with TLS.
func startServer(t *testing.T, h http.Handler, h2 bool) *httptest.Server {
	srv := httptest.NewUnstartedServer(h)
	if h2 {
		srv.EnableHTTP2 = true
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv
}

// sessionCookie returns the session's cookie among a response's, or nil.
func sessionCookie(res *http.Response) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == "sid" {
			return c
		}
	}
	return nil
}

// 103 Early Hints go out with the headers set so far, before the handler
// decides its answer: they are not the first byte of the response. They
// carry no session cookie, the session made after them is saved before the
// final answer (a redirect) goes out, and that answer carries its cookie.
func TestEarlyHintsAreNotTheFirstByteOverHTTP1AndHTTP2(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("h2=%v", h2), func(t *testing.T) {
			m, st := newTestManager(t, Options{})
			app := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/whoami" {
					fmt.Fprint(w, From(r).Get("user"))
					return
				}
				w.Header().Set("Link", "</app.css>; rel=preload; as=style")
				w.WriteHeader(http.StatusEarlyHints)
				From(r).Set("user", "ada")
				w.WriteHeader(http.StatusEarlyHints)
				http.Redirect(w, r, "/whoami", http.StatusFound)
			}))
			atFinal := make(chan int, 1)
			srv := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/login" {
					app.ServeHTTP(w, r)
					return
				}
				spy := &finalSpy{ResponseWriter: w, stored: func() int { n, _ := st.Count(context.Background()); return n }, atFinal: -1}
				app.ServeHTTP(spy, r)
				atFinal <- spy.atFinal
			}), h2)
			var hints []textproto.MIMEHeader
			trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
				if code == http.StatusEarlyHints {
					hints = append(hints, h)
				}
				return nil
			}}
			req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), trace), http.MethodPost, srv.URL+"/login", nil)
			c := srv.Client()
			c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			res, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if len(hints) != 2 {
				t.Fatalf("%d Early Hints, want 2", len(hints))
			}
			for _, h := range hints {
				if h.Get("Link") == "" || len(h.Values("Set-Cookie")) != 0 {
					t.Errorf("Early Hints %v: want the Link and no Set-Cookie", h)
				}
			}
			cookie := sessionCookie(res)
			if n := <-atFinal; res.StatusCode != http.StatusFound || cookie == nil || n != 1 {
				t.Fatalf("%s %d, cookie %v, %d sessions stored when the final headers went out; want 302, the session's cookie, 1", res.Proto, res.StatusCode, cookie, n)
			}
			req, _ = http.NewRequest(http.MethodGet, srv.URL+"/whoami", nil)
			req.AddCookie(cookie)
			res, err = c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if string(body) != "ada" {
				t.Fatalf("user %q after the redirect, want ada", body)
			}
		})
	}
}

// net/http sends 100 Continue itself, when the handler first reads the
// body of a request that expects it: a session made after that read (from
// the form it carried) still gets its cookie on the answer.
func TestContinueSentForTheBodyIsNotTheFirstByte(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("h2=%v", h2), func(t *testing.T) {
			m, st := newTestManager(t, Options{})
			srv := startServer(t, m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, err := io.ReadAll(r.Body)
				if err != nil {
					t.Error(err)
				}
				From(r).Set("draft", string(body))
				http.Redirect(w, r, "/draft", http.StatusSeeOther)
			})), h2)
			continued := false
			trace := &httptrace.ClientTrace{Got100Continue: func() { continued = true }}
			req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), trace), http.MethodPost, srv.URL, strings.NewReader("hello"))
			req.Header.Set("Expect", "100-continue")
			c := srv.Client()
			c.Transport.(*http.Transport).ExpectContinueTimeout = time.Minute // wait for the 100, as a client of a slow server does
			c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			res, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			cookie := sessionCookie(res)
			if !continued || res.StatusCode != http.StatusSeeOther || cookie == nil {
				t.Fatalf("100 Continue %v, %s %d, cookie %v; want a 100, then 303 with the session's cookie", continued, res.Proto, res.StatusCode, cookie)
			}
			data, _, _ := st.Get(t.Context(), mustID(t, m, cookie.Value))
			if !bytes.Contains(data, []byte(`"hello"`)) {
				t.Fatalf("stored %s, want the draft", data)
			}
		})
	}
}

// http.ServeContent answers ranges, conditional requests and HEAD itself,
// deleting and rewriting headers on its way (a 304 loses Content-Type, an
// error answer Cache-Control and ETag): each answer still carries the
// session's cookie, kept from shared caches.
func TestServeContentAnswersCarryTheSessionCookie(t *testing.T) {
	m, st := newTestManager(t, Options{})
	mod := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	srv := startServer(t, m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		From(r).Set("seen", r.Header.Get("X-Case"))
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Cache-Control", "public, max-age=60")
		http.ServeContent(w, r, "a.txt", mod, strings.NewReader("0123456789"))
	})), false)
	for _, tc := range []struct {
		name, method, header, value string
		code                        int
		body                        string
	}{
		{"range", http.MethodGet, "Range", "bytes=2-4", http.StatusPartialContent, "234"},
		{"not modified", http.MethodGet, "If-None-Match", `"v1"`, http.StatusNotModified, ""},
		{"head", http.MethodHead, "", "", http.StatusOK, ""},
		{"range not satisfiable", http.MethodGet, "Range", "bytes=50-60", http.StatusRequestedRangeNotSatisfiable, "invalid range: failed to overlap\n"},
		{"precondition failed", http.MethodGet, "If-Match", `"v0"`, http.StatusPreconditionFailed, ""},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL, nil)
		if tc.header != "" {
			req.Header.Set(tc.header, tc.value)
		}
		req.Header.Set("X-Case", tc.name)
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		cookie := sessionCookie(res)
		if res.StatusCode != tc.code || string(body) != tc.body || cookie == nil {
			t.Errorf("%s: %d %q, cookie %v; want %d %q and the session's cookie", tc.name, res.StatusCode, body, cookie, tc.code, tc.body)
			continue
		}
		if cc := res.Header.Get("Cache-Control"); !strings.HasPrefix(cc, "private") || strings.Contains(cc, "public") {
			t.Errorf("%s: Cache-Control %q with the session's cookie, want private", tc.name, cc)
		}
		data, _, _ := st.Get(t.Context(), mustID(t, m, cookie.Value))
		if !bytes.Contains(data, []byte(`"`+tc.name+`"`)) {
			t.Errorf("%s: stored %s", tc.name, data)
		}
	}
}

// A websocket library that writes 101 Switching Protocols through the
// ResponseWriter and then hijacks the connection (coder/websocket does)
// sends the session's cookie in that handshake, the session saved before
// it; what the handler changes on the connection afterwards is saved when
// it returns.
func TestSwitchingProtocolsCarriesTheCookieAndTheConnectionsChangesAreSaved(t *testing.T) {
	m, st := newTestManager(t, Options{})
	storedAt101 := -1
	done := make(chan struct{})
	app := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/whoami" {
			fmt.Fprint(w, From(r).Get("user"), " ", From(r).Get("messages"))
			return
		}
		s := From(r)
		s.Set("user", "ada")
		w.Header().Set("Upgrade", "websocket")
		w.Header().Set("Connection", "Upgrade")
		w.WriteHeader(http.StatusSwitchingProtocols)
		storedAt101, _ = st.Count(context.Background())
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		line, _ := brw.ReadString('\n')
		s.Set("messages", strings.TrimSpace(line))
	}))
	srv := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		app.ServeHTTP(w, r)
		if r.URL.Path == "/ws" {
			close(done) // the middleware returned: the end of the request's save is made
		}
	}), false)
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET /ws HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	cookie := sessionCookie(res)
	io.WriteString(conn, "hello\n")
	<-done
	if res.StatusCode != http.StatusSwitchingProtocols || cookie == nil || storedAt101 != 1 {
		t.Fatalf("%d, cookie %v, %d sessions stored at the 101; want 101, the session's cookie, 1", res.StatusCode, cookie, storedAt101)
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/whoami", nil)
	req.AddCookie(cookie)
	res, err = srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if string(body) != "ada hello" {
		t.Fatalf("session %q, want the user and the message read on the connection (ada hello)", body)
	}
}

// With http.TimeoutHandler inside the middleware, its 503 goes out through
// the session's writer: the session as the handler left it at the timeout
// is saved first, and the 503 carries its cookie, so that the client holds
// the id the store has (a login's RenewID ended the old one).
func TestTimeoutHandlerInsideTheMiddlewareSendsTheCookieWithIts503(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	b := stored(t, m)
	renewed := make(chan struct{})
	release := make(chan struct{})
	done := make(chan struct{})
	app := http.TimeoutHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/login" {
			readViews.ServeHTTP(w, r)
			return
		}
		defer close(done)
		s := From(r)
		if err := s.RenewID(r.Context()); err != nil {
			t.Error(err)
		}
		s.Set("user", "ada")
		close(renewed)
		<-release // a slow call after the login, past the timeout
	}), time.Hour, "timed out")
	b.h = m.Handler(app)
	// The TimeoutHandler's timer cannot be driven by the test clock: the
	// request's context, cancelled once the login renewed the session,
	// ends its wait as its timer would.
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() {
		<-renewed
		cancel()
	}()
	old := b.cookie
	rec := b.do(httptest.NewRequestWithContext(ctx, http.MethodPost, "/login", nil))
	close(release)
	<-done
	if rec.Code != http.StatusServiceUnavailable || b.cookie == old || b.cookie == "" {
		t.Fatalf("%d, cookie changed %v; want 503 with the renewed session's cookie", rec.Code, b.cookie != old)
	}
	if got := b.get("/").Body.String(); got != "1" {
		t.Fatalf("views %q after the timed-out login, want the session's 1", got)
	}
}
