package memcachedstore_test

import (
	"bufio"
	"context"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/memcachedstore"
	"github.com/sessionkit/session/storetest"
)

// remaining asks the memcached at addr, with the meta command mg, how many
// whole seconds key has left: Memcached drops it within that many seconds
// from now (its clock, moved once a second, lags the real one by less than
// a second). gone is true if there is no such item.
func remaining(t *testing.T, addr, key string) (secs int, gone bool) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("mg " + key + " t\r\n")); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(line)
	switch {
	case len(f) == 1 && f[0] == "EN":
		return 0, true
	case len(f) == 2 && f[0] == "HD" && strings.HasPrefix(f[1], "t"):
		n, err := strconv.Atoi(f[1][1:])
		if err == nil && n >= 0 {
			return n, false
		}
	}
	t.Fatalf("mg %s t: %q", key, line)
	return 0, false
}

// TestAWriteSentAgainCarriesTheTimeLeftThen: a command that the network
// held for a while and then lost with its connection, before the server
// ran it, is sent again on another connection with the whole seconds left
// at that moment. It was sent again with the first try's, counted from
// when that went out, so that the session outlived its expiry by up to
// the time the first try was held, and was served after it: here held 2.3 s,
// on a session of 6 s, sent again with 5 s where 3 s were left.
func TestAWriteSentAgainCarriesTheTimeLeftThen(t *testing.T) {
	t.Parallel()
	var running sync.WaitGroup
	data := []byte(`{"n":"b"}`)
	for _, c := range writeCases(data) {
		// The subtests run at once, each on a memcached of its own, from
		// goroutines rather than as parallel tests: they wait 2.3 s each on
		// the network, and as parallel tests they held go test's -parallel
		// slots (GOMAXPROCS, 2 on a small machine) for 6 × 2.4 s, 5 s
		// of the package's time.
		running.Go(func() {
			t.Run(c.name, func(t *testing.T) {
				srv := testserver.StartMemcached(t)
				proxy := testserver.StartProxy(t, srv.Addr)
				// Dials wait while the proxy drops connections, so that the
				// try again goes out once it has healed.
				var gate atomic.Pointer[chan struct{}]
				client := memcache.New(proxy.Addr)
				client.Timeout = 10 * time.Second
				client.DialContext = func(ctx context.Context, network, address string) (net.Conn, error) {
					if g := gate.Load(); g != nil {
						<-*g
					}
					var d net.Dialer
					return d.DialContext(ctx, network, address)
				}
				t.Cleanup(func() { client.Close() })
				st := memcachedstore.New(client)
				ctx := t.Context()
				id := storetest.NewID()
				version := storeFirst(t, st, id, time.Now().Add(time.Hour), c.stored)

				const held = 2300 * time.Millisecond
				arrived := proxy.StallConnAt(c.command)
				go func() {
					<-arrived
					time.Sleep(held) // the network holds the command; Memcached's clock is the real one
					ch := make(chan struct{})
					gate.Store(&ch)
					proxy.Drop() // the command is lost with its connection
					proxy.Heal()
					close(ch)
				}()
				exp := time.Now().Add(6*time.Second + 50*time.Millisecond)
				if err := c.call(ctx, st, id, version, exp); err != nil {
					t.Fatal(err)
				}
				secs, gone := remaining(t, srv.Addr, id)
				if gone {
					t.Fatalf("no session stored")
				}
				if end := time.Now().Add(time.Duration(secs) * time.Second); end.After(exp) {
					t.Errorf("the session can live until %v, %v past its expiry (%d s left in Memcached)",
						end.Format(time.StampMilli), end.Sub(exp).Round(time.Millisecond), secs)
				}
			})
		})
	}
	running.Wait()
}

// commandCase is a store call and the memcached command it sends first.
type commandCase struct {
	name, command string
	stored        bool // the session is stored before the call
	call          func(ctx context.Context, st *memcachedstore.Store, id, version string, exp time.Time) error
}

// writeCases are the store's writes, each with the command it sends: a
// replace or a set for Set, gat and touch for the touches, cas and add for
// CompareAndSwap, writing data.
func writeCases(data []byte) []commandCase {
	return []commandCase{
		{"Set", "replace ", true, func(ctx context.Context, st *memcachedstore.Store, id, _ string, exp time.Time) error {
			return st.Set(ctx, id, data, exp)
		}},
		{"Set create", "set ", false, func(ctx context.Context, st *memcachedstore.Store, id, _ string, exp time.Time) error {
			return st.Set(ctx, id, data, exp)
		}},
		{"Touch", "gat ", true, func(ctx context.Context, st *memcachedstore.Store, id, _ string, exp time.Time) error {
			_, err := st.Touch(ctx, id, exp)
			return err
		}},
		{"TouchVersion", "touch ", true, func(ctx context.Context, st *memcachedstore.Store, id, version string, exp time.Time) error {
			_, err := st.TouchVersion(ctx, id, version, []byte(`{"n":"a"}`), exp)
			return err
		}},
		{"CompareAndSwap", "cas ", true, func(ctx context.Context, st *memcachedstore.Store, id, version string, exp time.Time) error {
			_, _, err := st.CompareAndSwap(ctx, id, version, data, exp)
			return err
		}},
		{"CompareAndSwap create", "add ", false, func(ctx context.Context, st *memcachedstore.Store, id, _ string, exp time.Time) error {
			_, _, err := st.CompareAndSwap(ctx, id, "", data, exp)
			return err
		}},
	}
}
