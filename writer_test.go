package session

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
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

func TestNewSessionFirstModifiedAfterTheHeadersIsNotStoredWithoutACookie(t *testing.T) {
	m, st := newTestManager(t, Options{})
	b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		w.Write([]byte("headers are out"))
		s.Set("late", true) // no cookie can carry this new session any more
	})))
	if rec := b.get("/"); setCookie(rec) != "" || st.writes() != 0 {
		t.Fatalf("cookie %q writes %d: an unreachable session was stored", setCookie(rec), st.writes())
	}
}

func TestRenewIDAfterTheHeadersDoesNotDestroyTheOnlyCopyTheClientCanReach(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	b := stored(t, m)
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		w.Write([]byte("headers are out"))
		s.Set("late", true)
	}))
	b.get("/")
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) { fmt.Fprint(w, s.Get("late")) }))
	if got := b.get("/").Body.String(); got != "true" {
		t.Fatalf("a change after the headers to a session the client holds must be saved: %s", got)
	}
}

// Session.Save of a session the client holds no cookie for, once the
// headers went out (a stream that starts before its first From, a Destroy
// in the middle of one), stores nothing and says why, as the end of the
// request stores nothing: no cookie can carry it. Save used to store it
// and return nil, so that the handler believed it saved what the next
// request never found, and the store kept a session no client could reach.
func TestSaveOfASessionNoCookieCanCarryAfterTheHeadersFailsAndStoresNothing(t *testing.T) {
	for _, tc := range []struct {
		name   string
		stored bool // the request comes with a stored session
		do     func(ctx context.Context, s *Session) error
	}{
		{"new session", false, func(ctx context.Context, s *Session) error { return nil }},
		{"after Destroy", true, func(ctx context.Context, s *Session) error { return s.Destroy(ctx) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, st := newTestManager(t, Options{})
			b := newBrowser(t, nil)
			if tc.stored {
				b = stored(t, m)
			}
			var saveErr error
			var id string
			b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, _ *Session) {
				w.Write([]byte("data: started\n\n")) // the headers go out
				s := From(r)
				if err := tc.do(r.Context(), s); err != nil {
					t.Fatal(err)
				}
				s.Set("late", true)
				saveErr = s.Save(r.Context())
				id = s.ID()
			}))
			st.reset()
			rec := b.get("/")
			if saveErr == nil || !strings.Contains(saveErr.Error(), "before the first write") {
				t.Errorf("Save = %v, want an error saying to call From before the first write", saveErr)
			}
			if _, found, _ := st.Store.Get(t.Context(), id); found || st.writes() != 0 {
				t.Errorf("found %v, %d writes: a session no client can reach was stored", found, st.writes())
			}
			if c := setCookie(rec); c != "" {
				t.Errorf("Set-Cookie %q after the headers went out", c)
			}
		})
	}
}
