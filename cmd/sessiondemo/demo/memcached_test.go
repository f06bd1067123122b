package demo

import (
	"context"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/session/internal/testserver"
)

// On a store without a user index (Memcached) the page hides "Your
// sessions" and its buttons; a POST /logout-others or /logout-session all
// the same (a page from before the demo moved to Memcached, curl) is told
// so on the page, where it was a 500 "Something went wrong with the
// session store".
func TestLogoutOthersOnAStoreWithoutAUserIndexSaysSo(t *testing.T) {
	mc := testserver.StartMemcached(t)
	s, err := Start(t.Context(), Config{
		Addr:     "127.0.0.1:0",
		StoreURL: "memcached://" + mc.Addr + "?timeout=10s", // gomemcache's 500 ms, a loaded machine misses
		Secrets:  []string{"a secret of the memcached test"},
		MaxAge:   time.Hour,
		Dir:      t.TempDir(),
		Logger:   slog.New(slog.NewTextHandler(t.Output(), nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(context.Background()) })

	b := newBrowser(t, s)
	p := b.post("/login", url.Values{"name": {"Ada"}})
	if p.user != "Ada" || strings.Contains(p.body, `id="logout-others"`) {
		t.Fatalf("after login on memcached: user %q, button shown %v; want Ada and no button", p.user, strings.Contains(p.body, `id="logout-others"`))
	}
	p = b.post("/logout-others", nil) // fails the test unless it ends on the page with 200
	if len(p.errors) != 1 || !strings.Contains(p.errors[0], "keeps no index") || p.user != "Ada" {
		t.Errorf("Log out other sessions on memcached: errors %q, user %q; want one saying the store keeps no index, still Ada", p.errors, p.user)
	}
	p = b.post("/logout-session", url.Values{"session": {"AAAAAAAAAAAAAAAAAAAAAA"}})
	if len(p.errors) != 1 || !strings.Contains(p.errors[0], "keeps no index") || p.user != "Ada" {
		t.Errorf("Log out of one session on memcached: errors %q, user %q; want one saying the store keeps no index, still Ada", p.errors, p.user)
	}
}
