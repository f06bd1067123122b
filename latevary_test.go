package session

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

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
