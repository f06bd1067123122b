package faults_test

import (
	"fmt"
	"hash/fnv"
	"net"
	"sync"
	"testing"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/faults"
	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/memcachedstore"
)

// rendezvous picks a key's server by rendezvous hashing (the server with the
// highest hash of server and key), skipping servers marked down. Unlike
// gomemcache's ServerList (crc32 modulo the number of servers), taking a
// server out moves only the keys that were on it: what a deployment of
// several memcached servers uses (ketama, mcrouter) so that losing one
// loses only its share of the sessions.
type rendezvous struct {
	mu    sync.Mutex
	addrs []*net.TCPAddr
	down  map[string]bool
}

func newRendezvous(t *testing.T, servers []*testserver.Server) *rendezvous {
	r := &rendezvous{down: map[string]bool{}}
	for _, s := range servers {
		a, err := net.ResolveTCPAddr("tcp", s.Addr)
		if err != nil {
			t.Fatal(err)
		}
		r.addrs = append(r.addrs, a)
	}
	return r
}

// MarkDown takes addr out, as a health check would once it stops answering.
func (r *rendezvous) MarkDown(addr string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.down[addr] = true
}

// pick returns the server of key among all servers, or among those up.
func (r *rendezvous) pick(key string, all bool) (net.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var best *net.TCPAddr
	var bestHash uint64
	for _, a := range r.addrs {
		if !all && r.down[a.String()] {
			continue
		}
		h := fnv.New64a()
		fmt.Fprintf(h, "%s\x00%s", a, key)
		if v := h.Sum64(); best == nil || v > bestHash {
			best, bestHash = a, v
		}
	}
	if best == nil {
		return nil, memcache.ErrNoServers
	}
	return best, nil
}

func (r *rendezvous) PickServer(key string) (net.Addr, error) { return r.pick(key, false) }

func (r *rendezvous) Each(f func(net.Addr) error) error {
	r.mu.Lock()
	addrs := append([]*net.TCPAddr(nil), r.addrs...)
	r.mu.Unlock()
	for _, a := range addrs {
		if err := f(a); err != nil {
			return err
		}
	}
	return nil
}

func TestMemcachedServerKilledResetsOnlyItsSessions(t *testing.T) {
	servers := testserver.StartMemcacheds(t, 3)
	sel := newRendezvous(t, servers)
	var stores []session.Store
	for range 2 {
		c := memcache.NewFromSelector(sel)
		// gomemcache takes no context: its own timeout stands for the
		// store timeout.
		c.Timeout = storeTimeout
		t.Cleanup(func() { c.Close() })
		stores = append(stores, memcachedstore.New(c))
	}
	killed := servers[2]
	rep := run(t, "4. Memcached, 3 servers: one killed, taken out of the ring", "Memcached", config(twoApps(t, stores...)), func(*faults.Live) error {
		killed.Kill()
		sel.MarkDown(killed.Addr)
		return nil
	})
	// Sessions on the killed server are gone (their users get a new one);
	// every other session keeps every acknowledged write.
	for id, n := range rep.LostBySession {
		if a, _ := sel.pick(memcachedstore.DefaultPrefix+id, true); a.String() != killed.Addr {
			t.Errorf("session %.6s… on %s, not on the killed server, lost %d acknowledged writes", id, a, n)
		}
	}
	if rep.Resets == 0 {
		t.Error("no session was lost with the server that held a third of them")
	}
	// Once the server is out of the ring nobody gets an error page.
	if rep.ErrorsAfterHeal > 0 {
		t.Errorf("%d requests failed after the killed server was taken out", rep.ErrorsAfterHeal)
	}
	t.Logf("sessions affected: %d of %d users (%.0f%%)", rep.Resets, rep.Users, 100*float64(rep.Resets)/float64(rep.Users))
	checkBounded(t, rep, storeBound)
}
