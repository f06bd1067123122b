package storeurl_test

import (
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
	up, down := testserver.StartMemcached(t), testserver.StartMemcached(t)
	down.Kill()
	start := time.Now()
	_, _, err := storeurl.Open(t.Context(), "memcached://"+up.Addr+","+down.Addr+"?timeout=200ms")
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
