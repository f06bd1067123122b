package memcachedstore_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/internal/testserver/apptest"
	"github.com/sessionkit/session/memcachedstore"
	"github.com/sessionkit/session/storetest"
)

// newPooledClient returns a client of the server at addr whose pool holds
// n idle connections: n Gets each dial a connection of their own, none
// before all n are dialling, and give them back to the pool.
func newPooledClient(t *testing.T, addr string, n int) *memcache.Client {
	t.Helper()
	var (
		mu      sync.Mutex
		filling = true
		dialing sync.WaitGroup
	)
	dialing.Add(n)
	client := memcache.New(addr)
	client.MaxIdleConns = n
	client.Timeout = 10 * time.Second
	client.DialContext = func(ctx context.Context, network, address string) (net.Conn, error) {
		mu.Lock()
		wait := filling
		mu.Unlock()
		if wait {
			dialing.Done()
			dialing.Wait()
		}
		var d net.Dialer
		return d.DialContext(ctx, network, address)
	}
	t.Cleanup(func() { client.Close() })
	var gets sync.WaitGroup
	for range n {
		gets.Go(func() { client.Get("no-such-key") })
	}
	gets.Wait()
	mu.Lock()
	filling = false
	mu.Unlock()
	return client
}

// TestCallsAfterTheServerClosedIdleConnectionsWork: a server that closes
// the connections the client keeps idle (a memcached restarted, one with
// -o idle_timeout, a proxy or firewall that ends idle connections) left
// every one of them in gomemcache's pool, and the next call on each failed
// with a bare EOF: after a restart, as many requests as the pool held idle
// connections answered 500. Every store operation now tries such a call
// again, on another connection, until one is fresh.
func TestCallsAfterTheServerClosedIdleConnectionsWork(t *testing.T) {
	srv := testserver.StartMemcached(t)
	proxy := testserver.StartProxy(t, srv.Addr)
	ctx := t.Context()
	data := []byte(`{"a":1}`)
	later := func() time.Time { return time.Now().Add(time.Hour) }
	var st *memcachedstore.Store

	for _, c := range []struct {
		op   string
		call func(id string) error
	}{
		{"Get", func(id string) error {
			got, found, err := st.Get(ctx, id)
			if err == nil && (!found || !bytes.Equal(got, data)) {
				t.Errorf("Get: %s, found %v; want the stored session", got, found)
			}
			return err
		}},
		{"GetVersion", func(id string) error { _, _, _, err := st.GetVersion(ctx, id); return err }},
		{"Set", func(id string) error { return st.Set(ctx, id, data, later()) }},
		{"Destroy", func(id string) error { return st.Destroy(ctx, id) }},
		{"Touch", func(id string) error { _, err := st.Touch(ctx, id, later()); return err }},
		{"TouchVersion", func(id string) error {
			_, err := st.TouchVersion(ctx, id, "1.2", data, later())
			return err
		}},
		{"CompareAndSwap", func(id string) error {
			_, _, err := st.CompareAndSwap(ctx, id, "1.2", data, later())
			return err
		}},
		{"CompareAndSwap create", func(id string) error {
			_, _, err := st.CompareAndSwap(ctx, storetest.NewID(), "", data, later())
			return err
		}},
	} {
		st = memcachedstore.New(newPooledClient(t, proxy.Addr, 3))
		id := storetest.NewID()
		if err := st.Set(ctx, id, data, later()); err != nil {
			t.Fatal(err)
		}
		proxy.Drop() // the server closes every connection: the 3 idle ones
		proxy.Heal()
		if err := c.call(id); err != nil {
			t.Errorf("%s after the server closed the idle connections: %v", c.op, err)
		}
	}
}

// TestRequestAfterMemcachedRestartWorks: the request right after a
// memcached restart is answered (as a new session: the restart emptied the
// server), not the ErrorHandler's 500 for an EOF on a connection the dead
// server had closed.
func TestRequestAfterMemcachedRestartWorks(t *testing.T) {
	srv := testserver.StartMemcached(t)
	client := memcache.New(srv.Addr)
	client.Timeout = 10 * time.Second
	t.Cleanup(func() { client.Close() })
	app := apptest.New(t, memcachedstore.New(client), apptest.HourCookie)
	first := app.MustDo(t, "/set?k=a&v=1", nil)
	app.MustDo(t, "/get?k=a", first.Cookies)
	srv.Restart(t)
	r, err := app.Do("/get?k=a", first.Cookies)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != http.StatusOK {
		t.Fatalf("the first request after a memcached restart answered %d %q; want 200", r.Status, r.Body)
	}
}

// TestCallToAStoppedServerFailsWithTheDialError: with the server gone, a
// call on an idle connection of the pool failed with a bare EOF; it now
// says that the server refuses connections.
func TestCallToAStoppedServerFailsWithTheDialError(t *testing.T) {
	srv := testserver.StartMemcached(t)
	st := memcachedstore.New(newPooledClient(t, srv.Addr, 2))
	srv.Kill()
	if _, _, err := st.Get(t.Context(), storetest.NewID()); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("Get with the server stopped: %v; want connection refused", err)
	}
}
