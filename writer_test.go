package session

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// headerSpy checks, when the headers go out, that the session is in the store.
type headerSpy struct {
	http.ResponseWriter
	check func()
}

func (h *headerSpy) WriteHeader(code int) { h.check(); h.ResponseWriter.WriteHeader(code) }

// Deliberate difference 3: no redirect race.
func TestSessionIsSavedBeforeTheRedirectGoesOut(t *testing.T) {
	m, st := newTestManager(t, Options{})
	h := m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Set("user", "ada")
		http.Redirect(w, r, "/home", http.StatusFound)
	}))
	rec := httptest.NewRecorder()
	checked := false
	spy := &headerSpy{ResponseWriter: rec, check: func() {
		checked = true
		if n, _ := st.Count(t.Context()); n != 1 {
			t.Error("headers went out before the session was saved")
		}
		if rec.Header().Get("Set-Cookie") == "" {
			t.Error("headers went out without the session cookie")
		}
	}}
	h.ServeHTTP(spy, httptest.NewRequest("POST", "/login", nil))
	if !checked || rec.Code != http.StatusFound {
		t.Fatalf("code %d checked %v", rec.Code, checked)
	}
}

func TestChangeAfterTheFirstWriteIsSavedWhenTheHandlerReturns(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	b := stored(t, m)
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		w.Write([]byte("first"))
		s.Set("after", "yes")
	}))
	b.get("/")
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) { fmt.Fprint(w, s.Get("after")) }))
	if got := b.get("/").Body.String(); got != "yes" {
		t.Fatalf("after = %s", got)
	}
}

// serve runs h behind a real HTTP server with a cookie jar.
func serve(t *testing.T, h http.Handler) (*httptest.Server, *http.Client) {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	return srv, &http.Client{Jar: jar, Timeout: 10 * time.Second}
}

func TestFlusherWorksThroughTheMiddleware(t *testing.T) {
	m, st := newTestManager(t, Options{})
	srv, c := serve(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Set("streaming", true)
		w.Write([]byte("data: 1\n\n"))
		w.(http.Flusher).Flush()
		if n, err := st.Count(context.Background()); n != 1 {
			t.Errorf("flush did not save first: %d sessions stored (%v)", n, err)
		}
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("ResponseController.Flush: %v", err)
		}
		if err := http.NewResponseController(w).SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
			t.Errorf("ResponseController.SetWriteDeadline: %v", err)
		}
	})))
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body) // to the end: closing early would cancel the handler's request
	resp.Body.Close()
	if len(resp.Cookies()) != 1 {
		t.Fatal("no session cookie on a flushed response")
	}
}

func TestHijackerWorksThroughTheMiddlewareAndSavesFirst(t *testing.T) {
	m, st := newTestManager(t, Options{SaveUninitialized: true})
	srv, _ := serve(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Set("ws", true)
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		if n, err := st.Count(context.Background()); n != 1 {
			t.Errorf("hijack did not save first: %d sessions stored (%v)", n, err)
		}
		buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
		buf.Flush()
	})))
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "ok" {
		t.Fatalf("body %q", body)
	}
}

func TestReaderFromWorksThroughTheMiddleware(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	srv, c := serve(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Set("download", true)
		if _, ok := w.(io.ReaderFrom); !ok {
			t.Error("the wrapper hides io.ReaderFrom")
		}
		io.Copy(w, strings.NewReader(strings.Repeat("x", 1<<16)))
	})))
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if n != 1<<16 || len(resp.Cookies()) != 1 {
		t.Fatalf("read %d bytes, cookies %v", n, resp.Cookies())
	}
}

func TestEndToEndWithARealServerAndACookieJar(t *testing.T) {
	m, _ := newTestManager(t, Options{Cookie: CookieOptions{MaxAge: time.Hour}})
	srv, c := serve(t, m.Handler(incrViews))
	for want := 1; want <= 3; want++ {
		resp, err := c.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(bufio.NewReader(resp.Body))
		resp.Body.Close()
		if string(body) != fmt.Sprint(want) {
			t.Fatalf("views = %s, want %d", body, want)
		}
	}
	_ = errors.New
}

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

// panickyStore panics on a write, like a store driver with a bug.
type panickyStore struct{ *countingStore }

func (p *panickyStore) Set(ctx context.Context, id string, b []byte, exp time.Time) error {
	panic("store bug")
}

func (p *panickyStore) CompareAndSwap(ctx context.Context, id, old string, b []byte, exp time.Time) (string, bool, error) {
	panic("store bug")
}

// A panic in the commit at the first write must not leave the request's
// state locked: a recovering middleware inside the session middleware then
// answers through the wrapper, and must not hang.
func TestPanicInTheCommitDoesNotDeadlockARecoveringMiddleware(t *testing.T) {
	m, _ := newTestManager(t, Options{Store: &panickyStore{newCountingStore(t)}})
	recoverer := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if v := recover(); v != nil {
					http.Error(w, "recovered", http.StatusInternalServerError)
				}
			}()
			next.ServeHTTP(w, r)
		})
	}
	srv, c := serve(t, m.Handler(recoverer(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Set("user", "ada")
		http.Redirect(w, r, "/home", http.StatusFound)
	}))))
	c.Timeout = 3 * time.Second
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatalf("the request hung after a panic in the commit: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError || resp.Header.Get("Location") != "" || len(resp.Cookies()) != 0 {
		t.Fatalf("got %d %v %q", resp.StatusCode, resp.Header, body)
	}
}

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

// stringWriterSpy is a ResponseWriter with WriteString, as net/http's is,
// that records the strings it was handed as strings, and checks, at the
// first, that the session cookie is among the headers.
type stringWriterSpy struct {
	*httptest.ResponseRecorder
	strings []string
	check   func()
}

func (w *stringWriterSpy) WriteString(s string) (int, error) {
	if len(w.strings) == 0 {
		w.check()
	}
	w.strings = append(w.strings, s)
	return w.ResponseRecorder.WriteString(s)
}

// io.WriteString through the middleware reaches the writer underneath as a
// string, after the commit, without copying it into a []byte.
func TestWriteStringReachesTheWriterUnderneathAfterTheCommit(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	allocs := -1.0
	h := m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Set("user", "ada")
		io.WriteString(w, "hello, ")
		allocs = testing.AllocsPerRun(10, func() { io.WriteString(w, "ada") })
	}))
	spy := &stringWriterSpy{ResponseRecorder: httptest.NewRecorder()}
	spy.check = func() {
		if spy.Header().Get("Set-Cookie") == "" {
			t.Error("the string went out before the session's cookie was set")
		}
	}
	h.ServeHTTP(spy, httptest.NewRequest("GET", "/", nil))
	if len(spy.strings) == 0 || spy.strings[0] != "hello, " || spy.Body.String() != "hello, "+strings.Repeat("ada", 11) {
		t.Fatalf("strings %q, body %q", spy.strings, spy.Body.String())
	}
	if allocs != 0 {
		t.Fatalf("io.WriteString allocated %v times, want 0", allocs)
	}
}

// After a session error that the error handler answered, a string the
// handler writes is discarded, as a Write's bytes are.
func TestWriteStringAfterASessionErrorIsDiscarded(t *testing.T) {
	fs := &flakyStore{countingStore: newCountingStore(t)}
	m, _ := newTestManager(t, Options{Store: fs})
	h := m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		fs.down.Store(true)
		s.Set("user", "ada")
		if n, err := io.WriteString(w, "welcome"); n != len("welcome") || err != nil { // the save fails: the error handler answers
			t.Errorf("WriteString = %d, %v", n, err)
		}
	}))
	spy := &stringWriterSpy{ResponseRecorder: httptest.NewRecorder(), check: func() {}}
	h.ServeHTTP(spy, httptest.NewRequest("GET", "/", nil))
	if spy.Code != http.StatusInternalServerError || strings.Contains(spy.Body.String(), "welcome") {
		t.Fatalf("status %d, body %q", spy.Code, spy.Body.String())
	}
}
