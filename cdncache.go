package session

import (
	"net/http"
	"strings"
)

// cdnCacheFields are the response fields with which a handler tells CDNs
// how to cache a response in place of its Cache-Control: RFC 9213's
// CDN-Cache-Control and the targeted fields of Cloudflare, Akamai, Vercel
// and Netlify, which a CDN that reads them prefers to it (RFC 9213 section
// 2.2: the CDN then ignores Cache-Control), and Surrogate-Control (W3C Edge
// Architecture), which Fastly and Cloudflare likewise read instead of
// Cache-Control. private says whether a private directive keeps the CDN
// from storing the response: RFC 9213 requires targeted fields to honour it,
// but it is no Surrogate-Control directive.
var cdnCacheFields = [...]struct {
	name    string
	private bool
}{
	{"CDN-Cache-Control", true},
	{"Cloudflare-CDN-Cache-Control", true},
	{"Akamai-Cache-Control", true},
	{"Vercel-CDN-Cache-Control", true},
	{"Netlify-CDN-Cache-Control", true},
	{"Surrogate-Control", false},
}

// keepFromCDN does for a CDN cache field (cdnCacheFields), the key name of
// h whose lines are lines, what keepFromSharedCaches does for
// Cache-Control, on a response that sets the session cookie: a field that
// lets the CDN store the response gets no-store first (the one directive
// every such field has, and the CDNs honour; the browser, which reads none
// of them, keeps its max-age in Cache-Control), and loses its max-age,
// s-maxage and public directives; the rest is kept (Surrogate-Control's
// content="ESI/1.0" still asks for ESI). A field that already says
// no-store, or private (unqualified or naming Set-Cookie) in a targeted
// field (private, from cdnCacheField), stays as it is. keepFromCaches calls
// it for every key that names such a field in any letter case, as net/http
// sends a key that a handler set without canonicalizing it. Only the values
// of fields already there change, so that setting back the lines
// savedCacheFields returned undoes it.
func keepFromCDN(h http.Header, name string, lines []string, private bool) {
	if v, rewrite := cdnNoStore(lines, private); rewrite {
		h[name] = []string{v}
	}
}

// cdnCacheField reports whether a header key names a CDN cache field, and
// whether private keeps that field's CDN away.
func cdnCacheField(name string) (private, ok bool) {
	if len(name) < len("Surrogate-Control") {
		return false, false // Cache-Control, Set-Cookie, Vary, Content-Type: the usual ones
	}
	for _, f := range cdnCacheFields {
		if strings.EqualFold(name, f.name) {
			return f.private, true
		}
	}
	return false, false
}

// savedField is a header key and its lines as they were.
type savedField struct {
	name  string
	lines []string
}

// savedCacheFields returns the CDN cache fields of h as they are, and its
// Cache-Control keys not written canonically (which foldCacheControl
// deletes), nil (no allocation) when there are none: a commit that is taken
// back (headersNotSent) sets them back.
func savedCacheFields(h http.Header) []savedField {
	var saved []savedField
	for name, lines := range h {
		if _, ok := cdnCacheField(name); ok || otherCaseCacheControl(name) {
			saved = append(saved, savedField{name, lines})
		}
	}
	return saved
}

// otherCaseCacheControl reports whether a header key is Cache-Control
// written in another letter case.
func otherCaseCacheControl(name string) bool {
	return name != "Cache-Control" && namesField(name, "Cache-Control")
}

// cdnNoStore returns the value that keeps a CDN from storing a response
// whose CDN cache field has lines, and false when the lines already do.
// A directive with parameters (no-store;abc, in Surrogate-Control for one
// surrogate alone) does not count as keeping the CDN away. As in
// keepFromSharedCaches, a directive whose quoted string the end of its line
// leaves open is dropped, and no directive after it counts as keeping the
// CDN away: a CDN that joins the lines reads them inside that string.
func cdnNoStore(lines []string, private bool) (string, bool) {
	kept := []string{"no-store"}
	for d, trusted := range fieldDirectives(lines) {
		name, value, hasArg := strings.Cut(d, "=")
		name = strings.TrimSpace(name)
		switch {
		case strings.EqualFold(name, "no-store") && !hasArg: // "no-store=" is malformed: not trusted
			if trusted {
				return "", false
			}
			continue // the one put first
		case private && trusted && strings.EqualFold(name, "private") && (!hasArg || namesSetCookie(value)):
			return "", false
		}
		base, _, _ := strings.Cut(name, ";")
		switch strings.ToLower(strings.TrimSpace(base)) {
		case "max-age", "s-maxage", "public":
			continue
		}
		kept = append(kept, d)
	}
	return strings.Join(kept, ", "), true
}
