package storeurl_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/memcachedstore"
	"github.com/sessionkit/session/storeurl"
)

func TestMemcachedURLOpensStoreOnEveryServer(t *testing.T) {
	servers := testserver.StartMemcacheds(t, 2)
	st := openNetStore(t, "memcached://"+strings.Join(testserver.Addrs(servers), ",")+"?prefix=app:&default_ttl=1h&timeout=1s&dial_timeout=500ms&pool_size=8")
	if _, ok := st.(*memcachedstore.Store); !ok {
		t.Fatalf("Open gave a %T, want a *memcachedstore.Store", st)
	}
	ids := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	for _, id := range ids {
		netRoundTrip(t, st, id)
	}
	// The prefix came from the URL, and both servers got some sessions.
	for _, srv := range servers {
		raw := memcache.New(srv.Addr)
		n := 0
		for _, id := range ids {
			if _, err := raw.Get("app:" + id); err == nil {
				n++
			}
		}
		raw.Close()
		if n == 0 {
			t.Errorf("server %s holds none of the sessions under app:", srv.Addr)
		}
	}
}

func TestMemcachedURLOfServerThatIsDownFailsAtOpen(t *testing.T) {
	up := testserver.StartMemcached(t)
	down := testserver.RefusingAddr(t) // a server that is down: refused, whoever else starts meanwhile
	start := time.Now()
	_, _, err := storeurl.Open(t.Context(), "memcached://"+up.Addr+","+down+"?timeout=200ms")
	if err == nil || !strings.Contains(err.Error(), "ping") {
		t.Fatalf("Open with one server down: %v, want a ping error", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("Open took %v with timeout=200ms", took)
	}
}

func TestMemcachedURLErrorsSayWhatIsWrong(t *testing.T) {
	for _, c := range []struct{ url, want string }{
		{"memcached://", "no servers"},
		{"memcached://h1/x", "unexpected path"},
		{"memcached://u:p@h1", "servers and query parameters only"},
		{"memcached://h1?read_timeout=1s", `unknown parameter "read_timeout"`},
		{"memcached://h1?timeout=soon", "parameter timeout"},
		{"memcached://h1?pool_size=-2", "parameter pool_size"},
		{"memcached://h1?prefix=" + strings.Repeat("p", 230), "parameter prefix: memcachedstore: a prefix of 230 bytes"},
	} {
		t.Run(c.url, func(t *testing.T) {
			_, _, err := storeurl.Open(t.Context(), c.url)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Open(%q) = %v, want an error containing %q", c.url, err, c.want)
			}
		})
	}
}

// Open pings memcached within its context, as it does every network
// store: a server that accepts connections but does not answer (a stalled
// network) fails Open at the context's deadline, with a deadline error,
// however long the URL's timeout; it failed only when the timeout of each
// server's ping ran out, so that sessionctl -timeout 1s waited the 10s of
// ?timeout=10s and then did not say that the store was too slow.
func TestMemcachedURLPingEndsAtTheDeadlineOfOpensContext(t *testing.T) {
	srv := testserver.StartMemcached(t)
	proxy := testserver.StartProxy(t, srv.Addr)
	proxy.Stall()
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, closer, err := storeurl.Open(ctx, "memcached://"+proxy.Addr+"?timeout=10s")
	took := time.Since(start)
	if err == nil {
		closer.Close()
		t.Fatal("Open through a stalled network succeeded")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Open through a stalled network: %v, want context.DeadlineExceeded", err)
	}
	if took > 3*time.Second {
		t.Errorf("Open took %v with a context of 300ms", took)
	}
	// The connections Open made are closed: nothing is left to the stalled
	// server.
	deadline := time.Now().Add(2 * time.Second)
	for proxy.Conns() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := proxy.Conns(); n > 0 {
		t.Errorf("%d connection(s) still open after Open failed", n)
	}

	// Healed, the same URL opens, and the store's connections outlive
	// Open's context.
	proxy.Heal()
	ctx, cancel = context.WithTimeout(t.Context(), 5*time.Second)
	st, closer, err := storeurl.Open(ctx, "memcached://"+proxy.Addr+"?timeout=10s")
	cancel()
	if err != nil {
		t.Fatalf("Open after Heal: %v", err)
	}
	defer closer.Close()
	netRoundTrip(t, st, "after-open")
}
