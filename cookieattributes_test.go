package session

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestSetCookieCarriesExpiresMaxAgeAndAttributesInExpressOrder(t *testing.T) {
	m, _ := newTestManager(t, Options{Cookie: CookieOptions{
		MaxAge: time.Hour, Domain: "example.com", Path: "/app", Secure: SecureAlways,
		SameSite: SameSiteStrict, Partitioned: true, Priority: "High",
	}})
	b := newBrowser(t, m.Handler(incrViews))
	b.secure = true
	c := setCookie(b.get("/app"))
	re := regexp.MustCompile(`^sid=s%3A[A-Za-z0-9_-]{32}\.[A-Za-z0-9%]+; Domain=example.com; Path=/app; Expires=[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT; Max-Age=(3599|3600); HttpOnly; Secure; Partitioned; Priority=High; SameSite=Strict$`)
	if !re.MatchString(c) {
		t.Fatalf("Set-Cookie = %q", c)
	}
}

func TestSecureCookieIsNotSentOverPlainHTTPButTheSessionIsSaved(t *testing.T) {
	m, st := newTestManager(t, Options{Cookie: CookieOptions{Secure: SecureAlways}})
	rec := newBrowser(t, m.Handler(incrViews)).get("/")
	if setCookie(rec) != "" || st.writes() != 1 {
		t.Fatalf("cookie=%q writes=%d; want no cookie and one write", setCookie(rec), st.writes())
	}
}

func TestSecureAutoFollowsTLSAndTrustedForwardedProto(t *testing.T) {
	for _, tc := range []struct {
		name       string
		trust      bool
		tls        bool
		xfp        string
		wantSecure bool
		wantSite   string
	}{
		{"plain", false, false, "", false, "SameSite=Lax"},
		{"tls", false, true, "", true, "SameSite=None"},
		{"untrusted proxy header", false, false, "https", false, "SameSite=Lax"},
		{"trusted proxy https", true, false, "https, http", true, "SameSite=None"},
		{"trusted proxy http", true, false, "http", false, "SameSite=Lax"},
	} {
		// Partitioned goes with Secure: browsers drop it without.
		m, _ := newTestManager(t, Options{TrustProxy: tc.trust, Cookie: CookieOptions{Secure: SecureAuto, SameSite: SameSiteAuto, Partitioned: true}})
		b := newBrowser(t, m.Handler(incrViews))
		b.secure = tc.tls
		if tc.xfp != "" {
			b.header = http.Header{"X-Forwarded-Proto": {tc.xfp}}
		}
		c := setCookie(b.get("/"))
		if c == "" {
			t.Errorf("%s: no cookie", tc.name)
			continue
		}
		if strings.Contains(c, "; Secure") != tc.wantSecure || strings.Contains(c, "; Partitioned") != tc.wantSecure || !strings.Contains(c, tc.wantSite) {
			t.Errorf("%s: Set-Cookie %q, want secure and partitioned=%v and %s", tc.name, c, tc.wantSecure, tc.wantSite)
		}
	}
}

// Browsers drop a SameSite=None cookie that is not Secure. With SecureAuto,
// a plain-HTTP response sends the cookie without Secure, so it must not say
// SameSite=None either, or the session never comes back: it leaves SameSite
// out (the browser's default applies), as it leaves Partitioned out. Over
// TLS the cookie is SameSite=None and Secure, as configured.
func TestSameSiteNoneWithSecureAutoIsLeftOutOverPlainHTTP(t *testing.T) {
	m, _ := newTestManager(t, Options{Cookie: CookieOptions{Secure: SecureAuto, SameSite: SameSiteNone}})
	plain := newBrowser(t, m.Handler(incrViews))
	c := setCookie(plain.get("/"))
	if c == "" || strings.Contains(c, "SameSite") || strings.Contains(c, "; Secure") {
		t.Fatalf("plain HTTP: Set-Cookie %q, want a cookie without Secure and without SameSite", c)
	}
	if got := plain.get("/").Body.String(); got != "2" {
		t.Fatalf("second plain request: views %q, want 2 (the session came back)", got)
	}
	tls := newBrowser(t, m.Handler(incrViews))
	tls.secure = true
	if c := setCookie(tls.get("/")); !strings.Contains(c, "; Secure") || !strings.HasSuffix(c, "; SameSite=None") {
		t.Fatalf("TLS: Set-Cookie %q, want Secure and SameSite=None", c)
	}
}
