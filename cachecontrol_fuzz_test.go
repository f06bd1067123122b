package session

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

// cacheView is the list of directives a cache reads from Cache-Control
// lines: RFC 9110 section 5.3 lets it combine the lines into one value,
// joined by commas, before it parses them.
func cacheView(lines []string) []string {
	var view []string
	for d := range cacheDirectives(strings.Join(lines, ", ")) {
		view = append(view, d)
	}
	return view
}

// directiveName is a directive's name, lower case.
func directiveName(d string) string {
	name, _, _ := strings.Cut(d, "=")
	return strings.ToLower(strings.TrimSpace(name))
}

// keepsSharedCachesAway reports whether a cache reading directives stores
// neither the response nor its Set-Cookie in a shared cache.
func keepsSharedCachesAway(directives []string) bool {
	for _, d := range directives {
		switch name, value, hasArg := strings.Cut(d, "="); strings.ToLower(strings.TrimSpace(name)) {
		case "no-store":
			if !hasArg { // an argument makes it malformed: a strict cache ignores it
				return true
			}
		case "private":
			if !hasArg || namesSetCookie(value) {
				return true
			}
		}
	}
	return false
}

// FuzzKeepFromSharedCaches feeds the Cache-Control lines a handler may set
// (any bytes: a handler copies them from a backend's response, a config
// file, a query) to keepFromSharedCaches. Whatever they are, the lines it
// leaves, read as a cache reads them, keep shared caches from storing the
// response that sets the session cookie; a rewritten header has private
// first and no public or s-maxage; and a second pass changes nothing.
func FuzzKeepFromSharedCaches(f *testing.F) {
	for _, seed := range [][]string{
		{"public, max-age=600"},
		{"PUBLIC, s-maxage=3600, max-age=60"},
		{`no-cache="Set-Cookie", max-age=60`},
		{"public", "max-age=60, must-revalidate"},
		{`private="Authorization, X-Token", max-age=60`},
		{`private="set-cookie", max-age=60`},
		{"no-store"},
		{`foo="a\"b, public", max-age=1`},
		{`public, foo="x`, "private"},
		{`foo="x`, `y", public`},
		{"", " , ,"},
		{`private=""`},
		{`private="\`},
	} {
		f.Add(strings.Join(seed, "\n"))
	}
	f.Fuzz(func(t *testing.T, in string) {
		lines := strings.Split(in, "\n")
		if len(lines) > 4 {
			lines = lines[:4]
		}
		h := http.Header{"Cache-Control": slices.Clone(lines)}
		var spare [1]string
		keepFromSharedCaches(h, &spare)
		out := h["Cache-Control"]
		view := cacheView(out)
		if !keepsSharedCachesAway(view) {
			t.Fatalf("Cache-Control %q became %q, which a cache reads as %q: a shared cache may store the Set-Cookie", lines, out, view)
		}
		if !slices.Equal(out, lines) {
			if len(view) == 0 || view[0] != "private" {
				t.Fatalf("Cache-Control %q became %q, read as %q: private is not first", lines, out, view)
			}
			for _, d := range view {
				if n := directiveName(d); n == "public" || n == "s-maxage" {
					t.Fatalf("Cache-Control %q became %q, read as %q: %s is left", lines, out, view, d)
				}
			}
		}
		again := slices.Clone(out)
		h2 := http.Header{"Cache-Control": again}
		keepFromSharedCaches(h2, &spare)
		if !slices.Equal(h2["Cache-Control"], out) {
			t.Fatalf("a second pass changed %q to %q", out, h2["Cache-Control"])
		}
	})
}

// FuzzKeepFromCDNs feeds the lines of a CDN cache field (CDN-Cache-Control,
// Surrogate-Control) to cdnNoStore. Whatever they are, the field it leaves,
// read as a CDN reads it (the lines joined), says no-store (a field that
// already did is left as it was), and has no max-age, s-maxage or public.
func FuzzKeepFromCDNs(f *testing.F) {
	for _, seed := range [][]string{
		{"max-age=600"},
		{"public, max-age=600", "must-revalidate"},
		{`max-age=86400, content="ESI/1.0"`},
		{"no-store;abc, max-age=600"},
		{`max-age=600, ext="x`, "no-store"},
		{`ext="x`, `y", max-age=600`},
		{"no-store"},
	} {
		f.Add(strings.Join(seed, "\n"))
	}
	f.Fuzz(func(t *testing.T, in string) {
		lines := strings.Split(in, "\n")
		if len(lines) > 4 {
			lines = lines[:4]
		}
		out := lines
		if v, rewrite := cdnNoStore(lines, false); rewrite {
			out = []string{v}
		}
		view := cacheView(out)
		// no-store itself: with an argument ("no-store=") it is malformed,
		// and a strict CDN ignores it.
		if !slices.ContainsFunc(view, func(d string) bool { return strings.EqualFold(strings.TrimSpace(d), "no-store") }) {
			t.Fatalf("CDN cache field %q became %q, which a CDN reads as %q: no no-store", lines, out, view)
		}
		if slices.Equal(out, lines) {
			return // already said no-store: the handler's
		}
		for _, d := range view {
			switch directiveName(d) {
			case "max-age", "s-maxage", "public":
				t.Fatalf("CDN cache field %q became %q, which still has %q", lines, out, d)
			}
		}
	})
}
