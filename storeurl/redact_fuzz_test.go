package storeurl_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/sessionkit/session/storeurl"
)

// The markers stand for the secrets: the fuzzer writes the rest of the URL.
const (
	passwordMarker = "QZJX7"
	paramMarker    = "VWKQ3"
)

// FuzzRedactNeverShowsASecret builds a store URL from fuzzed pieces around
// a password holding passwordMarker (scheme://user:password@rest) and, when
// the URL has no fragment, a query parameter named like a password holding
// paramMarker, and checks that Redact shows neither, in whatever form the
// URL ends up parsed: a password with a "/", "?", "#" or "@" of its own
// cuts the user info short, which Redact must notice.
func FuzzRedactNeverShowsASecret(f *testing.F) {
	f.Add("redis", "u", "", "", "127.0.0.1:6379/0", "sentinel_")
	f.Add("mongodb", "", "a/b", "?c", "h1,h2/app?replicaSet=rs", "tlsCertificateKeyFile")
	f.Add("postgres", "app", "x#", "", "db:5432/app?sslmode=disable", "")
	f.Add("redis+sentinel", "u", "@", "/", "h/m;db=0", "api")
	f.Add("bolt", "", "", "?", "/tmp/x.db", "Client")
	f.Add("memcached", "u%40", "%zz", "", "h1:11211,h2", "auth_")
	f.Fuzz(func(t *testing.T, scheme, user, before, after, rest, paramPrefix string) {
		for _, s := range []string{scheme, user, rest, paramPrefix} {
			if mentions(s, passwordMarker) || mentions(s, paramMarker) {
				t.Skip("the marker is outside the secret")
			}
		}
		password := before + passwordMarker + after
		raw := scheme + "://" + user + ":" + password + "@" + rest
		withParam := !strings.ContainsAny(raw, "#") && !strings.ContainsAny(paramPrefix, "&;=#?")
		if withParam {
			sep := "?"
			if strings.Contains(raw, "?") {
				sep = "&"
			}
			raw += sep + paramPrefix + "password=" + paramMarker
		}
		shown := storeurl.Redact(raw)
		if mentions(shown, passwordMarker) {
			t.Fatalf("Redact(%q) = %q shows the password", raw, shown)
		}
		if withParam && mentions(shown, paramMarker) {
			t.Fatalf("Redact(%q) = %q shows the password parameter's value", raw, shown)
		}
	})
}

// mentions reports whether s holds marker, in any case, as it is or
// unescaped.
func mentions(s, marker string) bool {
	forms := []string{s}
	if u, err := url.PathUnescape(s); err == nil {
		forms = append(forms, u)
	}
	if u, err := url.QueryUnescape(s); err == nil {
		forms = append(forms, u)
	}
	for _, f := range forms {
		if strings.Contains(strings.ToUpper(f), marker) {
			return true
		}
	}
	return false
}
