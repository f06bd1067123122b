package session

import (
	"io"
	"net/http"
	"slices"
	"testing"
)

// getHeaderLines requests url with client c (a fresh client: no cookie, like
// the visitor a CDN would hand a stored response to) and returns the lines
// of the response's field name and whether it set the session cookie.
func getHeaderLines(t *testing.T, c *http.Client, url, name string) (lines []string, setsCookie bool) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	for _, ck := range resp.Cookies() {
		setsCookie = setsCookie || ck.Name == "sid"
	}
	return resp.Header.Values(name), setsCookie
}

// A CDN that reads CDN-Cache-Control (RFC 9213), its own targeted field or
// Surrogate-Control ignores Cache-Control, so the private that the response
// setting the session cookie gets there does not keep it from storing the
// response and handing the session to every visitor without a cookie. Each
// such field of that response says no-store, and loses what let the CDN
// store it; its other directives stay (ESI processing among them).
func TestCDNCacheFieldsOfAResponseThatSetsTheCookieSayNoStore(t *testing.T) {
	for _, tc := range []struct {
		cacheControl string   // the handler's Cache-Control, if any
		field        string   // the CDN cache field the handler sets
		handler      []string // its lines
		want         string
	}{
		{"", "CDN-Cache-Control", []string{"max-age=600"}, "no-store"},
		{"no-store", "CDN-Cache-Control", []string{"max-age=600"}, "no-store"}, // RFC 9213's own example: the CDN stores it
		{"private, max-age=60", "CDN-Cache-Control", []string{"max-age=600", "must-revalidate"}, "no-store, must-revalidate"},
		{"", "CDN-Cache-Control", []string{`private="Authorization", max-age=60`}, `no-store, private="Authorization"`},
		{"", "Cloudflare-CDN-Cache-Control", []string{"public, max-age=600, stale-if-error=60"}, "no-store, stale-if-error=60"},
		{"", "Akamai-Cache-Control", []string{"S-MAXAGE=600"}, "no-store"},
		{"", "Vercel-CDN-Cache-Control", []string{"max-age=3600"}, "no-store"},
		{"", "Netlify-CDN-Cache-Control", []string{"public, durable, max-age=60, stale-while-revalidate=120"}, "no-store, durable, stale-while-revalidate=120"},
		{"", "Surrogate-Control", []string{`max-age=86400, content="ESI/1.0"`}, `no-store, content="ESI/1.0"`},
		{"", "Surrogate-Control", []string{"private, max-age=600"}, "no-store, private"},           // private is no Surrogate-Control directive
		{"", "Surrogate-Control", []string{"no-store;abc, max-age=600"}, "no-store, no-store;abc"}, // no-store for surrogate abc alone
		{"", "Surrogate-Control", []string{"max-age=300;abc"}, "no-store"},
		{"", "CDN-Cache-Control", []string{"no-store=, max-age=600"}, "no-store, no-store="}, // malformed: a strict CDN ignores it
		// A line that ends inside a quoted string: a CDN that joins the
		// lines reads the no-store of the next one inside that string.
		{"", "CDN-Cache-Control", []string{`max-age=600, ext="x`, "no-store"}, "no-store"},
		{"", "CDN-Cache-Control", []string{`ext="x`, `y", max-age=600`}, "no-store"},
	} {
		m, _ := newTestManager(t, Options{})
		srv, c := serve(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
			if tc.cacheControl != "" {
				w.Header().Set("Cache-Control", tc.cacheControl)
			}
			for _, v := range tc.handler {
				w.Header().Add(tc.field, v)
			}
			s.Set("visitor", 1)
			w.Write([]byte("welcome"))
		})))
		lines, setsCookie := getHeaderLines(t, c, srv.URL, tc.field)
		if !setsCookie || !slices.Equal(lines, []string{tc.want}) {
			t.Errorf("handler's %s %q (Cache-Control %q): Set-Cookie %v, %s %q; want a cookie and %q", tc.field, tc.handler, tc.cacheControl, setsCookie, tc.field, lines, tc.want)
		}
	}
}

// net/http sends a header key that a handler set without canonicalizing it
// as it is, and a CDN reads field names in any case.
func TestCDNCacheFieldSetWithoutCanonicalKeySaysNoStoreToo(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	srv, c := serve(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		w.Header()["CDN-Cache-Control"] = []string{"max-age=600"} // not Cdn-Cache-Control, as Set would write it
		s.Set("visitor", 1)
	})))
	if lines, setsCookie := getHeaderLines(t, c, srv.URL, "CDN-Cache-Control"); !setsCookie || !slices.Equal(lines, []string{"no-store"}) {
		t.Errorf("Set-Cookie %v, CDN-Cache-Control %q; want a cookie and no-store", setsCookie, lines)
	}
}

// A CDN cache field that already keeps the CDN from storing the response,
// or its Set-Cookie, is the handler's choice and goes out as it was; so
// does every CDN cache field of a response that sets no cookie.
func TestCDNCacheFieldsThatKeepTheCDNAwayAreTheHandlers(t *testing.T) {
	for _, tc := range []struct{ field, value string }{
		{"CDN-Cache-Control", "no-store"},
		{"CDN-Cache-Control", "private"},
		{"Cloudflare-CDN-Cache-Control", "max-age=600, NO-STORE"},
		{"Akamai-Cache-Control", `private="Set-Cookie", max-age=600`},
		{"Surrogate-Control", `no-store, content="ESI/1.0"`},
	} {
		m, _ := newTestManager(t, Options{})
		srv, c := serve(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
			w.Header().Set(tc.field, tc.value)
			s.Set("visitor", 1)
		})))
		if lines, setsCookie := getHeaderLines(t, c, srv.URL, tc.field); !setsCookie || !slices.Equal(lines, []string{tc.value}) {
			t.Errorf("Set-Cookie %v, %s %q; want a cookie and the handler's %q unchanged", setsCookie, tc.field, lines, tc.value)
		}
	}

	m, _ := newTestManager(t, Options{})
	srv, c := serve(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		w.Header().Set("CDN-Cache-Control", "max-age=600")
		w.Header().Set("Surrogate-Control", "max-age=600")
		s.Get("visitor") // used, not changed: no cookie
	})))
	for _, field := range []string{"CDN-Cache-Control", "Surrogate-Control"} {
		if lines, setsCookie := getHeaderLines(t, c, srv.URL, field); setsCookie || !slices.Equal(lines, []string{"max-age=600"}) {
			t.Errorf("Set-Cookie %v, %s %q; want no cookie and the handler's max-age=600", setsCookie, field, lines)
		}
	}
}

// What the commit at a failed Flush did to the CDN cache fields is taken
// back with its cookie: a handler that then drops the session (Unset) sends
// no cookie, and its CDN-Cache-Control goes out as it wrote it.
func TestFlushTheWriterCannotDoLeavesTheHandlersCDNCacheControl(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	srv, c := serve(t, behindPlainWriter(m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		w.Header().Set("CDN-Cache-Control", "max-age=600")
		s.Set("draft", 1)
		http.NewResponseController(w).Flush()
		s.Unset()
		w.Write([]byte("page"))
	}))))
	if lines, setsCookie := getHeaderLines(t, c, srv.URL, "CDN-Cache-Control"); setsCookie || !slices.Equal(lines, []string{"max-age=600"}) {
		t.Fatalf("Set-Cookie %v, CDN-Cache-Control %q; want no cookie and the handler's max-age=600", setsCookie, lines)
	}
}

// A response whose handler set Cache-Control and CDN cache fields under
// keys of any case has each of them kept from caches at once: the
// Cache-Control keys folded into one private line, and every CDN cache
// field, canonical or not, made no-store.
func TestOtherCaseCacheControlAndCDNCacheFieldsAreAllKeptFromCaches(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	srv, c := serve(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		h := w.Header()
		h["cache-control"] = []string{"public, max-age=600"}
		h["CDN-Cache-Control"] = []string{"max-age=600"}
		h["surrogate-control"] = []string{"max-age=60"}
		h.Set("Akamai-Cache-Control", "public, max-age=60")
		s.Set("visitor", 1)
		w.Write([]byte("welcome"))
	})))
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if len(resp.Cookies()) != 1 {
		t.Fatalf("Set-Cookie %q; want the session cookie", resp.Header.Values("Set-Cookie"))
	}
	for field, want := range map[string][]string{
		"Cache-Control":        {"private, max-age=600"},
		"CDN-Cache-Control":    {"no-store"},
		"Surrogate-Control":    {"no-store"},
		"Akamai-Cache-Control": {"no-store"},
	} {
		if got := resp.Header.Values(field); !slices.Equal(got, want) {
			t.Errorf("%s %q; want %q", field, got, want)
		}
	}
}
