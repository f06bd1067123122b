package demo

import (
	"context"
	"log/slog"
	"net/url"
	"testing"
	"time"

	"github.com/sessionkit/session/internal/testserver"
)

// TestTwoDemosShareSessionsThroughRedis is the README's load-balancing
// recipe: two demo processes (here two servers in one process, each with its
// own store client) on different ports, one Redis, one secret. A visitor moves
// between them and keeps the session.
func TestTwoDemosShareSessionsThroughRedis(t *testing.T) {
	redis := testserver.StartRedis(t)
	startOn := func(secret string) *Server {
		s, err := Start(t.Context(), Config{
			Addr:     "127.0.0.1:0",
			StoreURL: "redis://" + redis.Addr + "/0",
			Secrets:  []string{secret},
			MaxAge:   time.Hour,
			Dir:      t.TempDir(),
			Logger:   slog.New(slog.NewTextHandler(t.Output(), nil)),
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Shutdown(context.Background()) })
		return s
	}
	a, b := startOn("shared secret"), startOn("shared secret")

	v := newBrowser(t, a)
	v.post("/set", url.Values{"key": {"cart"}, "value": {"3 apples"}})
	onA := v.post("/login", url.Values{"name": {"Ada"}})

	v.base = b.URL() // the browser sends the cookie to every port of the host
	onB := v.home()
	if onB.id != onA.id || onB.user != "Ada" || onB.rows["cart"] != "3 apples" || onB.visits != "3" {
		t.Errorf("on the second demo: id %s user %q rows %v visits %s; on the first: id %s", onB.id, onB.user, onB.rows, onB.visits, onA.id)
	}

	// Logging out on one logs out on both.
	v.post("/logout", nil)
	v.base = a.URL()
	if p := v.home(); p.user != "" {
		t.Errorf("after logging out on the second demo, the first still shows %q", p.user)
	}

	// Without the same secret, the other demo does not accept the cookie.
	other := startOn("another secret")
	v.post("/login", url.Values{"name": {"Bob"}})
	v.base = other.URL()
	if p := v.home(); p.user != "" {
		t.Errorf("a demo with another secret accepted the session of %q", p.user)
	}
}
