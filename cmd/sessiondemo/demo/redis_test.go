package demo

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

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

// The sentinel password in the store URL reaches neither the public page
// nor the log, and neither does it in the error of a URL that fails (#10.11).
func TestStorePasswordsNeverShow(t *testing.T) {
	s := testserver.StartRedisSentinel(t)
	// Give the sentinel a password, so that the demo must send the one in
	// its URL.
	sentinel := redis.NewClient(&redis.Options{Addr: s.Sentinel.Addr})
	if err := sentinel.Do(t.Context(), "ACL", "SETUSER", "default", "resetpass", ">hunter2").Err(); err != nil {
		t.Fatalf("set the sentinel's password: %v", err)
	}
	sentinel.Close()

	var logs testserver.Output
	storeURL := "redis+sentinel://" + s.Sentinel.Addr + "/" + s.MasterName + "?sentinel_password=hunter2&prefix=demo:"
	srv, err := Start(t.Context(), Config{
		Addr: "127.0.0.1:0", StoreURL: storeURL, Secrets: []string{"s"}, Dir: t.TempDir(),
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	b := newBrowser(t, srv)
	p := b.post("/set", url.Values{"key": {"k"}, "value": {"v"}}) // a round trip through the sentinel's master
	if p.rows["k"] != "v" {
		t.Fatalf("the store does not work: rows %v", p.rows)
	}
	if err := srv.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(p.body, "hunter2") || strings.Contains(p.body, "sentinel_password") || strings.Contains(p.body, "prefix") {
		t.Errorf("the page shows more of the store URL than its scheme and hosts:\n%s", p.body)
	}
	if want := "redis+sentinel://" + s.Sentinel.Addr; p.store != want {
		t.Errorf("the page shows the store as %q, want %q", p.store, want)
	}
	if strings.Contains(logs.String(), "hunter2") {
		t.Errorf("the log shows the password:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "sentinel_password=xxxxx") {
		t.Errorf("the log does not show the redacted store URL:\n%s", logs.String())
	}

	// A URL that fails: the error names the problem, not the password.
	_, err = Start(t.Context(), Config{
		Addr: "127.0.0.1:0", StoreURL: storeURL + "&pool_size=0", Secrets: []string{"s"}, Dir: t.TempDir(),
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err == nil || !strings.Contains(err.Error(), "pool_size") || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("Start with a bad URL: %v, want an error about pool_size without the password", err)
	}
	if strings.Contains(logs.String(), "hunter2") {
		t.Errorf("the log shows the password:\n%s", logs.String())
	}
}

// /healthz says the process is alive and never touches the store: a
// liveness probe that failed with the store would have every instance
// restarted at once, which mends nothing. /readyz is the check for a load
// balancer: it makes one store round trip and answers 503 while the store
// is down, so that traffic goes to instances that can serve it; it said
// nothing before, and /healthz kept answering ok with the store gone.
func TestReadyzFollowsTheStoreAndHealthzDoesNot(t *testing.T) {
	redis := testserver.StartRedis(t)
	s, err := Start(t.Context(), Config{
		Addr:     "127.0.0.1:0",
		StoreURL: "redis://" + redis.Addr + "/0",
		Secrets:  []string{"secret"},
		Dir:      t.TempDir(),
		Logger:   slog.New(slog.NewTextHandler(t.Output(), nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(context.Background()) })

	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(s.URL() + path)
		if err != nil {
			t.Fatal(err)
		}
		body := readBody(t, resp)
		if c := resp.Header.Values("Set-Cookie"); len(c) != 0 {
			t.Errorf("GET %s set cookies %q", path, c)
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("GET %s: Cache-Control %q, want no-store", path, cc)
		}
		return resp.StatusCode, body
	}
	check := func(when string, wantReady int) {
		t.Helper()
		if code, body := get("/readyz"); code != wantReady {
			t.Errorf("%s: GET /readyz = %d %q, want %d", when, code, body, wantReady)
		}
		if code, body := get("/healthz"); code != http.StatusOK || body != "ok\n" {
			t.Errorf("%s: GET /healthz = %d %q, want 200 ok", when, code, body)
		}
	}
	check("store up", http.StatusOK)
	redis.Kill()
	check("store down", http.StatusServiceUnavailable)
	redis.Restart(t)
	check("store back", http.StatusOK)
}
