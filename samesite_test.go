package session

import (
	"strings"
	"testing"
)

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
