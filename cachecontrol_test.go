package session

import (
	"net/http"
	"slices"
	"testing"
)

// getCacheControl requests url with client c (a fresh client: no cookie,
// like the visitor a shared cache would hand a stored response to) and
// returns the response's Cache-Control lines and whether it set the session
// cookie.
func getCacheControl(t *testing.T, c *http.Client, url string) (cacheControl []string, setsCookie bool) {
	t.Helper()
	return getHeaderLines(t, c, url, "Cache-Control")
}

// A handler that makes a page cacheable by shared caches (public, s-maxage,
// or only max-age, which a shared cache honours too) must not let them
// store the response that sets a session cookie: a shared cache would hand
// the same session to every visitor who comes without a cookie, since
// Vary: Cookie keys them all alike. The response is made private, the
// handler's other directives kept for the browser's own cache.
func TestResponseThatSetsTheCookieIsPrivateWhateverTheHandlerSaid(t *testing.T) {
	for _, tc := range []struct {
		handler []string // the handler's Cache-Control lines
		want    string
	}{
		{[]string{"public, max-age=600"}, "private, max-age=600"},
		{[]string{"PUBLIC, s-maxage=3600, max-age=60"}, "private, max-age=60"},
		{[]string{"max-age=600"}, "private, max-age=600"},
		{[]string{"no-cache"}, "private, no-cache"},
		{[]string{`no-cache="Set-Cookie", max-age=60`}, `private, no-cache="Set-Cookie", max-age=60`},
		{[]string{"public", "max-age=60, must-revalidate"}, "private, max-age=60, must-revalidate"},
		{[]string{`private="Authorization, X-Token", max-age=60`}, "private, max-age=60"},
		// Malformed: no-store takes no argument, and private's is a quoted
		// list; a strict cache ignores both.
		{[]string{"no-store=, public"}, "private, no-store="},
		{[]string{"private=, public"}, "private"},
	} {
		m, _ := newTestManager(t, Options{})
		srv, c := serve(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
			for _, v := range tc.handler {
				w.Header().Add("Cache-Control", v)
			}
			s.Set("visitor", 1)
			w.Write([]byte("welcome"))
		})))
		cc, setsCookie := getCacheControl(t, c, srv.URL)
		if !setsCookie || !slices.Equal(cc, []string{tc.want}) {
			t.Errorf("handler's Cache-Control %q: Set-Cookie %v, Cache-Control %q; want a cookie and %q", tc.handler, setsCookie, cc, tc.want)
		}
	}
}

// A handler's Cache-Control that already keeps shared caches from storing
// the response, or its Set-Cookie, is its own choice and goes out as it
// was; so does any Cache-Control on a response that sets no cookie.
func TestCacheControlThatKeepsSharedCachesAwayIsTheHandlers(t *testing.T) {
	for _, handler := range []string{
		"no-store",
		"private, max-age=60",
		"Private",
		"public, max-age=60, no-store", // no-store wins over public for every cache
		`private="set-cookie", max-age=60`,
	} {
		m, _ := newTestManager(t, Options{})
		srv, c := serve(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
			w.Header().Set("Cache-Control", handler)
			s.Set("visitor", 1)
		})))
		if cc, setsCookie := getCacheControl(t, c, srv.URL); !setsCookie || !slices.Equal(cc, []string{handler}) {
			t.Errorf("Set-Cookie %v, Cache-Control %q; want a cookie and the handler's %q unchanged", setsCookie, cc, handler)
		}
	}

	m, _ := newTestManager(t, Options{})
	srv, c := serve(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		w.Header().Set("Cache-Control", "public, max-age=600")
		s.Get("visitor") // used, not changed: no cookie
	})))
	if cc, setsCookie := getCacheControl(t, c, srv.URL); setsCookie || !slices.Equal(cc, []string{"public, max-age=600"}) {
		t.Errorf("Set-Cookie %v, Cache-Control %q; want no cookie and the handler's public kept (Vary: Cookie keys it)", setsCookie, cc)
	}
}

// The expired cookie Destroy sends is a Set-Cookie too: stored by a shared
// cache, it would log out every visitor it was handed to.
func TestResponseThatClearsTheCookieIsPrivateToo(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	b := stored(t, m)
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		w.Header().Set("Cache-Control", "public, max-age=600")
		if err := s.Destroy(r.Context()); err != nil {
			t.Error(err)
		}
	}))
	rec := b.get("/logout")
	if c := setCookie(rec); c == "" || rec.Header().Get("Cache-Control") != "private, max-age=600" {
		t.Fatalf("Set-Cookie %q, Cache-Control %q; want the expired cookie and private, max-age=600", c, rec.Header().Values("Cache-Control"))
	}
}

// A Cache-Control line that ends inside a quoted string (a handler that
// copied a truncated header) makes a cache that joins the lines, as RFC 9110
// lets it, read the lines after it as part of that string: a private there
// is no private to it, and a public hidden in the string comes out of it.
// Such a header is not trusted to keep shared caches away: the response is
// made private, and the broken directive is dropped, so that the header
// reads alike line by line and joined.
func TestCacheControlWithAnUnterminatedQuoteIsMadePrivate(t *testing.T) {
	for _, tc := range []struct {
		handler []string
		want    string
	}{
		{[]string{`public, max-age=600, ext="x`, "private"}, "private, max-age=600"},
		{[]string{`ext="x`, `y", public, max-age=60`}, "private"},
		{[]string{`public, private="Set-Cookie`}, "private"},
		{[]string{`public, no-store="x`, "max-age=5"}, "private, max-age=5"},
	} {
		h := http.Header{"Cache-Control": slices.Clone(tc.handler)}
		var spare [1]string
		keepFromSharedCaches(h, &spare)
		if got := h["Cache-Control"]; !slices.Equal(got, []string{tc.want}) {
			t.Errorf("handler's Cache-Control %q became %q, read by a cache as %q; want %q", tc.handler, got, cacheView(got), tc.want)
		}
	}
}

// net/http sends a header key that a handler set without canonicalizing it
// as it is, beside the canonical one, and a cache reads the lines of both
// as one Cache-Control field (in the order net/http writes the keys,
// sorted): a public or s-maxage on such a key, or a quoted string it leaves
// open before our private, would let a shared cache store the Set-Cookie.
// Its lines are read and rewritten with the canonical key's.
func TestCacheControlSetWithoutCanonicalKeyIsMadePrivateToo(t *testing.T) {
	for _, tc := range []struct {
		handler http.Header // the handler's Cache-Control keys and lines
		want    []string
	}{
		{http.Header{"cache-control": {"public, max-age=600"}}, []string{"private, max-age=600"}},
		{http.Header{"Cache-Control": {"max-age=60"}, "cache-control": {"public, s-maxage=600"}}, []string{"private, max-age=60"}},
		// Sent before the canonical key, the open string swallows its private.
		{http.Header{"CACHE-CONTROL": {`max-age=600, ext="x`}, "Cache-Control": {"private"}}, []string{"private, max-age=600"}},
		// Lines that keep shared caches away go out as they were.
		{http.Header{"cache-control": {"no-store"}}, []string{"no-store"}},
		{http.Header{"Cache-Control": {"no-cache"}, "cache-control": {"private"}}, []string{"no-cache", "private"}},
	} {
		m, _ := newTestManager(t, Options{})
		srv, c := serve(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
			for k, v := range tc.handler {
				w.Header()[k] = slices.Clone(v)
			}
			s.Set("visitor", 1)
			w.Write([]byte("welcome"))
		})))
		cc, setsCookie := getCacheControl(t, c, srv.URL)
		if !setsCookie || !slices.Equal(cc, tc.want) {
			t.Errorf("handler's Cache-Control %q: Set-Cookie %v, Cache-Control %q, read by a cache as %q; want a cookie and %q", tc.handler, setsCookie, cc, cacheView(cc), tc.want)
		}
	}
}

// What the commit at a failed Flush did to a Cache-Control key written in
// another case is taken back with its cookie: a handler that then drops the
// session (Unset) sends no cookie, and its Cache-Control goes out as it
// wrote it.
func TestFlushTheWriterCannotDoLeavesTheHandlersOtherCaseCacheControl(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	srv, c := serve(t, behindPlainWriter(m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		w.Header()["cache-control"] = []string{"public, max-age=600"}
		s.Set("draft", 1)
		http.NewResponseController(w).Flush()
		s.Unset()
		w.Write([]byte("page"))
	}))))
	if cc, setsCookie := getCacheControl(t, c, srv.URL); setsCookie || !slices.Equal(cc, []string{"public, max-age=600"}) {
		t.Fatalf("Set-Cookie %v, Cache-Control %q; want no cookie and the handler's public, max-age=600", setsCookie, cc)
	}
}
