package interop

import (
	"encoding/json"
	"errors"
	"sync"
	"testing"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/memcachedstore"
)

// The same migration as the Redis tests, on Memcached: the Express app on
// connect-memcached 3 (SESSION_STORE=memcached) and the Go app on
// memcachedstore share one memcached server, both with their default key
// prefix (none, on both sides).

// memcachedShared is the Express app on connect-memcached, one per test
// binary like the Redis one, on the first of the shared memcached servers.
// (One server: gomemcache and the Node client spread keys over several
// servers by different hashes.)
var memcachedShared struct {
	once sync.Once
	p    *peer
	err  error
}

func stopMemcachedPeer() {
	if memcachedShared.p != nil {
		memcachedShared.p.stop()
	}
}

// memcachedWorld is a world whose Go and Express apps share a memcached.
type memcachedWorld struct {
	*world
	mc *memcache.Client
}

// newMemcachedWorld starts (or reuses) memcached and the Express app on
// connect-memcached, and starts a Go app on memcachedstore on the same
// server, both with their defaults.
func newMemcachedWorld(t *testing.T) *memcachedWorld {
	t.Helper()
	addr := testserver.SharedMemcacheds(t)[0].Addr
	memcachedShared.once.Do(func() {
		memcachedShared.p, memcachedShared.err = startPeerEnv("SESSION_STORE=memcached", "MEMCACHED_HOSTS="+addr)
	})
	checkStarted(t, memcachedShared.err)
	mc := memcache.New(addr)
	t.Cleanup(func() { mc.Close() })
	goApp := newGoAppOn(t, memcachedstore.New(mc), nil)
	return &memcachedWorld{world: &world{t: t, node: memcachedShared.p, goApp: goApp}, mc: mc}
}

// item returns the item of session id, under connect-memcached's default
// key (the id itself), or nil if there is none.
func (w *memcachedWorld) item(id string) *memcache.Item {
	w.t.Helper()
	it, err := w.mc.Get(id)
	if errors.Is(err, memcache.ErrCacheMiss) {
		return nil
	}
	if err != nil {
		w.t.Fatalf("get %s: %v", id, err)
	}
	return it
}

// connectMemcachedItem checks that session id is stored as connect-memcached
// stores it: under the id, the JSON document with flags 2 (the Node
// memcached client's JSON, which it parses back into the object that
// express-session needs), with views as given.
func (w *memcachedWorld) connectMemcachedItem(id string, views float64) {
	w.t.Helper()
	it := w.item(id)
	if it == nil {
		w.t.Fatalf("no item under the key %s", id)
	}
	var doc struct {
		Cookie map[string]any `json:"cookie"`
		Views  float64        `json:"views"`
	}
	if err := json.Unmarshal(it.Value, &doc); err != nil || it.Flags != 2 || doc.Cookie == nil || doc.Views != views {
		w.t.Fatalf("item %s: flags %d, value %s (%v); want flags 2 and a session document with views %v", id, it.Flags, it.Value, err, views)
	}
}

func TestMemcachedExpressSessionContinuesInGoAndBack(t *testing.T) {
	w := newMemcachedWorld(t)
	expressSessionContinuesInGo(t, w.browser(), func(id string) { w.connectMemcachedItem(id, 1) })
}

func TestMemcachedGoSessionContinuesInExpress(t *testing.T) {
	w := newMemcachedWorld(t)
	b := w.browser()
	goSessionContinuesInExpress(t, b)
	// After Go's last write (views 3) and a read-only request on each side
	// (Express's touch is connect-memcached's full set; Go's memcached's
	// touch), the item is as connect-memcached writes it.
	w.connectMemcachedItem(b.goSession().ID, 3)
}

func TestMemcachedLogoutOnOneIsLogoutOnTheOther(t *testing.T) {
	w := newMemcachedWorld(t)
	logoutOnEitherSideEndsTheSession(t, w.browser, w.goApp.URL, w.node.URL, func(id string) bool { return w.item(id) != nil })
}

// TestMemcachedExpressWriteDuringGoRequestIsNotLost: connect-memcached's
// set changes the item's CAS id, so the Go app's cas notices the write
// Express made while a Go request was running, and keeps both changes.
func TestMemcachedExpressWriteDuringGoRequestIsNotLost(t *testing.T) {
	w := newMemcachedWorld(t)
	b := w.browser()
	b.goViews()
	id := b.goSession().ID

	expressWritesDuringSlowGoRequest(t, b, w.goApp, w.node)
	bothWritesKept(t, b, string(w.item(id).Value))
}
