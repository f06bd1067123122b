package session

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestNewRejectsInvalidOptions(t *testing.T) {
	for name, tc := range map[string]struct {
		opts Options
		want string
	}{
		"no secret":      {Options{}, "no secret"},
		"empty secret":   {Options{Secrets: []string{"a", ""}}, "Secrets[1] is empty"},
		"unknown unset":  {Options{Secrets: []string{"a"}, Unset: UnsetMode(7)}, "unknown Unset mode"},
		"bad name":       {Options{Secrets: []string{"a"}, Name: "my session"}, "not a valid token"},
		"name with semi": {Options{Secrets: []string{"a"}, Name: "a;b"}, "not a valid token"},
		// Browsers keep at most 4096 bytes of a cookie's name and value.
		"name too long":    {Options{Secrets: []string{"a"}, Name: strings.Repeat("n", 4000)}, "cookie name of 4000 bytes is too long"},
		"negative max age": {Options{Secrets: []string{"a"}, Cookie: CookieOptions{MaxAge: -time.Second}}, "negative"},
		"bad path":         {Options{Secrets: []string{"a"}, Cookie: CookieOptions{Path: "app"}}, "must start with /"},
		"bad priority":     {Options{Secrets: []string{"a"}, Cookie: CookieOptions{Priority: "urgent"}}, "priority"},
		"bad secure":       {Options{Secrets: []string{"a"}, Cookie: CookieOptions{Secure: 7}}, "Secure mode"},
		"touch after idle": {Options{Secrets: []string{"a"}, IdleTimeout: time.Minute, TouchAfter: time.Hour}, "TouchAfter"},
		// Browsers drop a SameSite=None cookie that is not Secure.
		"none not secure": {Options{Secrets: []string{"a"}, Cookie: CookieOptions{SameSite: SameSiteNone}}, "SameSiteNone needs Cookie.Secure"},
		"auto not secure": {Options{Secrets: []string{"a"}, Cookie: CookieOptions{SameSite: SameSiteAuto, Secure: SecureNever}}, "SameSiteAuto needs Cookie.Secure"},
		// And a Partitioned cookie that is not Secure.
		"partitioned not secure": {Options{Secrets: []string{"a"}, Cookie: CookieOptions{Partitioned: true}}, "Partitioned needs Cookie.Secure"},
	} {
		_, err := New(tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: New() error = %v, want one containing %q", name, err, tc.want)
		}
		if err != nil && !errors.Is(err, errOptions) {
			t.Errorf("%s: error does not wrap errOptions", name)
		}
	}
}

func TestNewDefaultsAreTheSafeOnes(t *testing.T) {
	m, err := New(Options{Secrets: []string{"a"}})
	if err != nil {
		t.Fatal(err)
	}
	o := m.opts
	if o.Name != "sid" || o.Resave || o.SaveUninitialized || o.Rolling || o.Unset != UnsetKeep ||
		o.Cookie.Path != "/" || o.Cookie.DisableHTTPOnly || m.store == nil || m.versioned == nil {
		t.Fatalf("unexpected defaults: %+v", o)
	}
}

// With several invalid options, New reports the same one every time (the
// first in the order of the Options fields), not one picked by map order.
func TestNewReportsInvalidOptionsInAStableOrder(t *testing.T) {
	opts := Options{Secrets: []string{"a"}, TouchAfter: -1, IdleTimeout: -1, AbsoluteTimeout: -1, Cookie: CookieOptions{MaxAge: -1}}
	_, first := New(opts)
	if first == nil || !strings.Contains(first.Error(), "TouchAfter") {
		t.Fatalf("New() = %v, want the TouchAfter error first", first)
	}
	for range 50 {
		if _, err := New(opts); err == nil || err.Error() != first.Error() {
			t.Fatalf("New() = %v, then %v", first, err)
		}
	}
}

func TestSameSiteNoneIsAcceptedWithASecureCookie(t *testing.T) {
	for _, ss := range []SameSiteMode{SameSiteNone, SameSiteAuto} {
		for _, sec := range []SecureMode{SecureAlways, SecureAuto} {
			if _, err := New(Options{Secrets: []string{"a"}, Cookie: CookieOptions{SameSite: ss, Secure: sec}}); err != nil {
				t.Errorf("SameSite %d with Secure %d: %v", ss, sec, err)
			}
		}
	}
}

// A short secret that does not look generated is accepted with a warning
// (express's own examples use "keyboard cat"); the secret is never logged.
func TestShortHumanSecretIsAcceptedWithAWarning(t *testing.T) {
	for secret, warn := range map[string]bool{
		"keyboard cat":                        true,
		"s3cret":                              true,
		"password1234567890":                  true,
		"aaaaaaaaaaaaaaaaaaaaaaaaAAAAAA11":    false, // 32 bytes: long enough, whatever it is
		"correct horse battery staple, twice": false,
		"q3Zt-9Kx_V2mLpR8wYb0Nc":              false, // 16 random bytes, base64url
		"f3a91c07be5d24e8a6b0c1d2e3f40516":    false, // 16 random bytes, hex
		"Zm9vYmFyYmF6cXV4cXV1eHF1dXg":         false, // 20 bytes of base64
	} {
		var logs bytes.Buffer
		_, err := New(Options{Secrets: []string{"a long enough secret, not reported!", secret}, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		if err != nil {
			t.Fatalf("%q: %v", secret, err)
		}
		if got := strings.Contains(logs.String(), "Secrets[1]"); got != warn {
			t.Errorf("%q: warned = %v, want %v (log: %s)", secret, got, warn, logs.String())
		}
		if strings.Contains(logs.String(), secret) || strings.Contains(logs.String(), "Secrets[0]") {
			t.Errorf("%q: the log shows the secret or warns about the long one: %s", secret, logs.String())
		}
	}
}

// Cookie.MaxAge is a time.Duration: MaxAge: 86400 (http.Cookie's seconds)
// or 86400000 (express's milliseconds) compiles and ends every session
// within a tenth of a second, which users meet as logins that do not
// stick. New warns of a MaxAge under a second (tests of expiry may want
// one, so it is not an error) and of none other.
func TestNewWarnsOfACookieMaxAgeUnderASecond(t *testing.T) {
	for maxAge, warn := range map[time.Duration]bool{
		86400:                  true,
		86400000:               true,
		999 * time.Millisecond: true,
		0:                      false, // a browser-session cookie
		time.Second:            false,
		24 * time.Hour:         false,
	} {
		var logs bytes.Buffer
		_, err := New(Options{Secrets: []string{"a long enough secret, not reported!"}, Cookie: CookieOptions{MaxAge: maxAge},
			Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		if err != nil {
			t.Fatalf("MaxAge %v: %v", maxAge, err)
		}
		if got := strings.Contains(logs.String(), "Cookie.MaxAge"); got != warn {
			t.Errorf("MaxAge %v (%d): warned = %v, want %v (log: %s)", maxAge, int64(maxAge), got, warn, logs.String())
		}
	}
}

// A cookie domain that a browser ignores (a port, a trailing dot, an empty
// label, a character no host name has, over 1024 bytes) would make the
// cookie host-only or drop it, and one with a control character breaks the
// Set-Cookie header (net/http's HTTP/2 server leaves such a header out): New
// refuses it, where the session would silently not be shared or not stick.
func TestNewRefusesACookieDomainBrowsersIgnore(t *testing.T) {
	for _, domain := range []string{
		"example.com:8080", "example.com.", "a..example.com", ".", "..example.com",
		"exämple.com", "example.com,other.com", "example.com\t", "ex\x00ample.com",
		"example.com/app", strings.Repeat("a", 1021) + ".com",
	} {
		_, err := New(Options{Secrets: []string{"a"}, Logger: slog.New(slog.DiscardHandler), Cookie: CookieOptions{Domain: domain}})
		if err == nil || !errors.Is(err, errOptions) || !strings.Contains(err.Error(), "cookie domain") {
			t.Errorf("Domain %q: New() error = %v, want an invalid-options error about the cookie domain", domain, err)
		}
	}
}

// A cookie path with a control character or a byte over 0x7f breaks the
// Set-Cookie header; one with a space, '?' or '#' can never path-match a
// request's path, which arrives percent-encoded and without query or
// fragment, so the middleware would never act; browsers ignore one over
// 1024 bytes. New refuses each, where every request went without a session.
func TestNewRefusesACookiePathThatBreaksTheHeaderOrNeverMatches(t *testing.T) {
	for _, path := range []string{
		"/app\x00", "/app\t", "/app\x7f", "/café", "/my app", "/app?x=1", "/app#top",
		"/" + strings.Repeat("a", 1024),
	} {
		_, err := New(Options{Secrets: []string{"a"}, Logger: slog.New(slog.DiscardHandler), Cookie: CookieOptions{Path: path}})
		if err == nil || !errors.Is(err, errOptions) || !strings.Contains(err.Error(), "cookie path") {
			t.Errorf("Path %q: New() error = %v, want an invalid-options error about the cookie path", path, err)
		}
	}
}

// The checks of the cookie domain and path let the usual ones through.
func TestNewAcceptsUsualCookieDomainsAndPaths(t *testing.T) {
	for _, c := range []CookieOptions{
		{Domain: "example.com"}, {Domain: ".example.com"}, {Domain: "Sub.Example.COM"},
		{Domain: "localhost"}, {Domain: "127.0.0.1"}, {Domain: "xn--exmple-cua.com"},
		{Domain: "my-app_1.example.com"},
		{Path: "/"}, {Path: "/app/"}, {Path: "/caf%C3%A9"}, {Path: "/a-b_c.d~!$&'()*+,=:@"},
		{Path: "/" + strings.Repeat("a", 1023)}, {Domain: strings.Repeat("a", 1020) + ".com"},
	} {
		if _, err := New(Options{Secrets: []string{"a"}, Logger: slog.New(slog.DiscardHandler), Cookie: c}); err != nil {
			t.Errorf("Domain %q, Path %q: %v", c.Domain, c.Path, err)
		}
	}
}

// Browsers drop a cookie whose name starts with __Secure- without Secure,
// and one whose name starts with __Host- without Secure, with a Domain or
// with a Path other than "/" (RFC 6265bis section 4.1.3; the prefixes are
// matched in any letter case). New refuses such options, where every
// response's cookie was dropped and no session ever stuck; the prefixes
// with a cookie that can be Secure are accepted.
func TestNewRefusesACookieNamePrefixTheCookieBreaks(t *testing.T) {
	quiet := slog.New(slog.DiscardHandler)
	for _, tc := range []struct {
		name   string
		cookie CookieOptions
		want   string
	}{
		{"__Secure-sid", CookieOptions{}, "Secure"},
		{"__secure-sid", CookieOptions{}, "Secure"},
		{"__Host-sid", CookieOptions{}, "Secure"},
		{"__Host-sid", CookieOptions{Secure: SecureAlways, Domain: "example.com"}, "Domain"},
		{"__HOST-sid", CookieOptions{Secure: SecureAuto, Path: "/app"}, "Path"},
	} {
		_, err := New(Options{Secrets: []string{"a"}, Logger: quiet, Name: tc.name, Cookie: tc.cookie})
		if err == nil || !errors.Is(err, errOptions) || !strings.Contains(err.Error(), tc.name) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s with %+v: New() error = %v, want an invalid-options error naming the cookie and %s", tc.name, tc.cookie, err, tc.want)
		}
	}
	for _, tc := range []struct {
		name   string
		cookie CookieOptions
	}{
		{"__Secure-sid", CookieOptions{Secure: SecureAuto, Domain: "example.com", Path: "/app"}},
		{"__Host-sid", CookieOptions{Secure: SecureAlways}},
		{"__Host-sid", CookieOptions{Secure: SecureAuto, Path: "/"}},
		{"__Hostile", CookieOptions{Domain: "example.com"}},
	} {
		if _, err := New(Options{Secrets: []string{"a"}, Logger: quiet, Name: tc.name, Cookie: tc.cookie}); err != nil {
			t.Errorf("%s with %+v: %v", tc.name, tc.cookie, err)
		}
	}
}
