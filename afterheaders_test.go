package session

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A session used after the response headers went out: changed or saved
// when no cookie can carry a new session any more, first loaded when a
// failed load has no one to answer it and a shared cache may reuse the
// response (the Vary warning), or from a goroutine after the handler
// returned.

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

// A RenewID once the headers went out cannot give the client a new id: it
// fails and leaves the session the client holds as it was, still working.
// It used to return nil and destroy the old id at the end of the request,
// logging the client out with its data gone while the handler believed the
// login went through. As after a RenewID whose GenerateID fails, what the
// request changes after it (a login's SetUser) is not written under the
// old id, which may be planted.
func TestRenewIDAfterTheHeadersDoesNotDestroyTheOnlyCopyTheClientCanReach(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	b := stored(t, m) // views: 1
	var renewErr error
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		w.Write([]byte("headers are out"))
		renewErr = s.RenewID(r.Context())
		s.SetUser("alice")
		s.Set("late", true)
	}))
	if rec := b.get("/login"); setCookie(rec) != "" {
		t.Errorf("Set-Cookie %q after the headers went out", setCookie(rec))
	}
	if renewErr == nil {
		t.Error("RenewID after the headers went out returned nil: the handler cannot tell the login failed")
	}
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		fmt.Fprint(w, s.Get("views"), " ", s.User(), " ", s.Get("late"))
	}))
	if got, want := b.get("/").Body.String(), "1  <nil>"; got != want {
		t.Fatalf("next request with the old cookie: %q, want %q (the session as it was, without the login)", got, want)
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

// A session first loaded after the headers went out, whose load fails, has
// no one to answer for it: the ErrorHandler cannot, the status is gone.
// From returns nil and the failure is logged, and the rest of what the
// handler writes (a stream's next events) still goes out, rather than
// being dropped from a response that then ends as if complete; so do the
// trailers it sets.
func TestStreamWhoseLateLoadFailsStillSendsWhatTheHandlerWritesNext(t *testing.T) {
	fs := &flakyStore{countingStore: newCountingStore(t)}
	var logs lockedBuffer
	m, _ := newTestManager(t, Options{Store: fs, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	b := stored(t, m)
	var answered bool
	m.opts.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) { answered = true }
	srv, c := serve(t, m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Events")
		io.WriteString(w, "data: 1\n\n")
		http.NewResponseController(w).Flush()
		fs.down.Store(true)
		if s := From(r); s != nil {
			t.Errorf("From = %v with the store down, want nil", s)
		}
		io.WriteString(w, "data: 2\n\n")
		w.Header().Set("X-Events", "2")
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("Flush after the failed load: %v", err)
		}
	})))
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.AddCookie(&http.Cookie{Name: "sid", Value: b.cookie})
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || string(body) != "data: 1\n\ndata: 2\n\n" {
		t.Fatalf("status %d, body %q (%v); want 200 and both events", resp.StatusCode, body, err)
	}
	if got := resp.Trailer.Get("X-Events"); got != "2" {
		t.Fatalf("trailer X-Events %q, want 2", got)
	}
	if answered || !strings.Contains(logs.String(), "error after the response headers were sent") {
		t.Fatalf("ErrorHandler called: %v; log %q", answered, logs.String())
	}
}

// lateLoadWarnings counts the warnings about a session loaded after the
// headers went out without Vary: Cookie.
func lateLoadWarnings(logs *lockedBuffer) int {
	return strings.Count(logs.String(), "loaded after the response headers were sent")
}

// A handler that writes before it first calls From sends a response that
// depends on the session without Vary: Cookie (the headers were gone when
// the session was loaded), so a shared cache may give one user's page to
// another. That cannot be mended then; the manager logs it, once, with the
// path, so that the developer calls From earlier.
func TestSessionLoadedAfterTheHeadersWithoutVaryIsLoggedOnce(t *testing.T) {
	var logs lockedBuffer
	m, _ := newTestManager(t, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	b := stored(t, m)
	b.h = m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Write([]byte("hello, "))
		io.WriteString(w, From(r).ID()) // stands for the user's name
	}))
	for range 3 {
		if v := b.get("/greeting").Header().Values("Vary"); len(v) != 0 {
			t.Fatalf("Vary %q: the headers went out before the load, none could be added", v)
		}
	}
	if n := lateLoadWarnings(&logs); n != 1 || !strings.Contains(logs.String(), "path=/greeting") {
		t.Fatalf("%d warnings in %q; want one, with the path", n, logs.String())
	}
}

// No warning where the missing Vary does no harm: the handler's headers
// already keep caches from reusing the response (Vary: Cookie or *,
// no-store, no-cache, private), or the connection was hijacked (a
// websocket that reads the session after its handshake).
func TestSessionLoadedAfterTheHeadersIsQuietWhenNoCacheCanReuseTheResponse(t *testing.T) {
	for _, header := range []struct{ name, value string }{
		{"Vary", "Accept-Encoding, Cookie"},
		{"Vary", "*"},
		{"Cache-Control", "no-store"},
		{"Cache-Control", "no-cache"},
		{"Cache-Control", "private, max-age=60"},
	} {
		var logs lockedBuffer
		m, _ := newTestManager(t, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		b := newBrowser(t, m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set(header.name, header.value)
			w.WriteHeader(http.StatusOK)
			From(r).Get("user")
		})))
		b.get("/")
		if n := lateLoadWarnings(&logs); n != 0 {
			t.Errorf("%s: %s: %d warnings in %q; want none", header.name, header.value, n, logs.String())
		}
	}

	var logs lockedBuffer
	m, _ := newTestManager(t, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	done := make(chan struct{})
	srv, _ := serve(t, m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(done)
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
		buf.Flush()
		From(r).Get("user")
	})))
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	<-done
	if n := lateLoadWarnings(&logs); n != 0 {
		t.Errorf("after a Hijack: %d warnings in %q; want none", n, logs.String())
	}
}

// lateLoadWarningsFor counts the late-load warnings of one request whose
// handler sets the header keys as they are written in fields, without
// canonicalizing them (net/http sends such a key as it is), writes the
// headers and then loads the session.
func lateLoadWarningsFor(t *testing.T, fields map[string]string) (int, string) {
	t.Helper()
	var logs lockedBuffer
	m, _ := newTestManager(t, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	b := newBrowser(t, m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for key, value := range fields {
			w.Header()[key] = []string{value}
		}
		w.WriteHeader(http.StatusOK)
		From(r).Get("user")
	})))
	b.get("/")
	return lateLoadWarnings(&logs), logs.String()
}

// A handler that keeps caches away under a header key it did not
// canonicalize (h["cache-control"] = []string{"no-store"}, h["vary"]),
// which net/http sends as it is and caches read as the field in any case,
// is not warned about a late load: the response cannot be given to other
// users.
func TestLateLoadWarningReadsLowerCaseCacheControlAndVary(t *testing.T) {
	for _, fields := range []map[string]string{
		{"cache-control": "no-store"},
		{"cache-control": "no-cache"},
		{"CACHE-CONTROL": "private, max-age=60"},
		{"Cache-Control": "max-age=60", "cache-control": "private"},
		{"vary": "Cookie"},
		{"VARY": "Accept-Encoding, *"},
		{"Vary": "Accept-Encoding", "vary": "cookie"},
		{"Cache-Control": "public, max-age=60", "vary": "Accept-Encoding, Cookie"},
	} {
		if n, logs := lateLoadWarningsFor(t, fields); n != 0 {
			t.Errorf("%q: %d warnings in %q; want none", fields, n, logs)
		}
	}
}

// The converse: a Vary in any case that names no Cookie, and a
// Cache-Control in any case that lets shared caches reuse the response,
// still get the warning.
func TestLateLoadWarningStillWarnsWhenNoKeyInAnyCaseKeepsCachesAway(t *testing.T) {
	for _, fields := range []map[string]string{
		{"Vary": "Accept"},
		{"vary": "Accept"},
		{"VARY": "Accept-Encoding, Cookies"},
		{"cache-control": "max-age=60"},
		{"cache-control": "public, s-maxage=60", "vary": "Accept"},
		{"cache-control": `private="Authorization"`},
		{"Cache-Controls": "no-store", "Varies": "Cookie"}, // other fields
	} {
		if n, logs := lateLoadWarningsFor(t, fields); n != 1 {
			t.Errorf("%q: %d warnings in %q; want one", fields, n, logs)
		}
	}
}

// A goroutine the handler started may call From after the handler
// returned, or panicked (http.ErrAbortHandler), when the response is
// net/http's to finish or to abort (its buffers handed to other
// connections). A load that fails then is logged and gives nil: the
// ErrorHandler is not called on the dead ResponseWriter, and the response's
// headers are left alone.
func TestFromAfterTheHandlerReturnedNeverAnswersOnTheFinishedResponse(t *testing.T) {
	for _, panics := range []bool{false, true} {
		fs := &flakyStore{countingStore: newCountingStore(t)}
		var logs lockedBuffer
		m, _ := newTestManager(t, Options{Store: fs, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		b := stored(t, m)
		var answered atomic.Bool
		m.opts.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) { answered.Store(true) }
		late := make(chan *http.Request, 1)
		srv, c := serve(t, m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Handled", "yes")
			late <- r // read by a goroutine that outlives the handler; nothing written
			if panics {
				panic(http.ErrAbortHandler)
			}
		})))
		srv.Config.ErrorLog = log.New(io.Discard, "", 0)
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		req.AddCookie(&http.Cookie{Name: "sid", Value: b.cookie})
		resp, err := c.Do(req)
		if panics != (err != nil) {
			t.Fatalf("panics %v: error %v", panics, err)
		}
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Handled") != "yes" {
				t.Fatalf("status %d, header %v", resp.StatusCode, resp.Header)
			}
		}
		fs.down.Store(true)
		done := make(chan *Session)
		go func() { done <- From(<-late) }()
		if s := <-done; s != nil {
			t.Fatalf("panics %v: From = %v with the store down, want nil", panics, s)
		}
		if answered.Load() || !strings.Contains(logs.String(), "error after the response headers were sent") {
			t.Fatalf("panics %v: ErrorHandler called: %v; log %q", panics, answered.Load(), logs.String())
		}
	}
}

// A goroutine's From after the handler returned only reads the session: no
// touch rides on its load, since nothing is left to set back the stored
// expiry that the touch took from the options, so a "remember me" session
// keeps its own thirty days rather than ending a day later.
func TestFromAfterTheHandlerReturnedLeavesTheStoredExpiryAsItWas(t *testing.T) {
	m, st := newGetTouchManager(t, Options{})
	b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Set("user", "ann")
		s.Cookie().SetMaxAge(30 * 24 * time.Hour) // remember me
	})))
	b.get("/")
	id := mustID(t, m, b.cookie)
	late := make(chan *http.Request, 1)
	b.h = m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { late <- r }))
	st.clock.Advance(time.Minute)
	b.get("/")
	done := make(chan *Session)
	go func() { done <- From(<-late) }()
	if s := <-done; s.Get("user") != "ann" {
		t.Fatalf("From after the handler returned: user %v, want ann", s.Get("user"))
	}
	st.clock.Advance(2 * 24 * time.Hour) // past the store's default lifetime
	if _, found, _ := st.Store.Get(t.Context(), id); !found {
		t.Fatal("the remember-me session is gone two days later: the late load's touch cut its expiry")
	}
}

// gatedStore is a flakyStore whose loads wait for gate first.
type gatedStore struct {
	*flakyStore
	gate    chan struct{}
	entered chan struct{} // a load reached the gate
}

func (g *gatedStore) wait() {
	select {
	case g.entered <- struct{}{}:
	default:
	}
	<-g.gate
}

func (g *gatedStore) Get(ctx context.Context, id string) ([]byte, bool, error) {
	g.wait()
	return g.flakyStore.Get(ctx, id)
}

func (g *gatedStore) GetVersion(ctx context.Context, id string) ([]byte, string, bool, error) {
	g.wait()
	return g.flakyStore.GetVersion(ctx, id)
}

// A goroutine of the handler whose From began while the handler ran, and
// whose load fails after the handler returned, is answered by the
// ErrorHandler before the middleware returns: the ResponseWriter is still
// the request's, not one net/http has finished. The middleware used to wait
// for the load alone, and returned while the ErrorHandler was writing.
func TestLoadInFlightWhenTheHandlerReturnsIsAnsweredBeforeTheMiddlewareReturns(t *testing.T) {
	fs := &flakyStore{countingStore: newCountingStore(t)}
	gs := &gatedStore{flakyStore: fs, gate: make(chan struct{})}
	close(gs.gate)
	m, _ := newTestManager(t, Options{Store: gs, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	b := stored(t, m)
	gs.gate, gs.entered = make(chan struct{}), make(chan struct{}, 1)
	var returned, answeredAfterReturn atomic.Bool
	handled := make(chan struct{})
	m.opts.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		defer close(handled)
		for deadline := time.Now().Add(200 * time.Millisecond); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			if returned.Load() {
				answeredAfterReturn.Store(true)
				return
			}
		}
		http.Error(w, "session store down", http.StatusServiceUnavailable)
	}
	inner := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fs.down.Store(true)
		go From(r) // the load waits at the gate, holding the request's lock
		<-gs.entered
		close(gs.gate) // the load fails as the handler returns, before or after: the middleware waits for it either way
	}))
	srv, c := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inner.ServeHTTP(w, r)
		returned.Store(true)
	}))
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.AddCookie(&http.Cookie{Name: "sid", Value: b.cookie})
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	<-handled
	if answeredAfterReturn.Load() || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d; the ErrorHandler was still answering after the middleware returned: %v", resp.StatusCode, answeredAfterReturn.Load())
	}
}
