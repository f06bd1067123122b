package session

import (
	"hash/maphash"
	"strings"
	"sync"
)

// verifiedCache remembers cookie values that verified, and their ids, so
// that a client's next requests skip the HMAC. A manager's secrets never
// change, so a value that verified once verifies again. It holds at most
// verifiedShards*verifiedPerShard entries; a full shard is emptied.
type verifiedCache struct {
	seed   maphash.Seed
	shards [verifiedShards]verifiedShard
}

const (
	verifiedShards   = 32
	verifiedPerShard = 256
)

type verifiedShard struct {
	mu     sync.RWMutex
	values map[string]verifiedValue
}

// verifiedValue is what a cookie value that verified carries: its id, and
// whether it is current (what the manager would send for that id now).
type verifiedValue struct {
	id      string
	current bool
}

func newVerifiedCache() *verifiedCache { return &verifiedCache{seed: maphash.MakeSeed()} }

func (c *verifiedCache) shard(value string) *verifiedShard {
	return &c.shards[maphash.String(c.seed, value)%verifiedShards]
}

func (c *verifiedCache) get(value string) (verifiedValue, bool) {
	sh := c.shard(value)
	sh.mu.RLock()
	v, ok := sh.values[value]
	sh.mu.RUnlock()
	return v, ok
}

func (c *verifiedCache) put(value string, v verifiedValue) {
	sh := c.shard(value)
	sh.mu.Lock()
	if sh.values == nil || len(sh.values) >= verifiedPerShard {
		sh.values = make(map[string]verifiedValue, verifiedPerShard/4)
	}
	sh.values[value] = v
	sh.mu.Unlock()
}

// verify returns what a cookie value carries, as signer.verifyValue does,
// through the cache.
func (m *Manager) verify(value string) (verifiedValue, bool) {
	if v, ok := m.verified.get(value); ok {
		return v, true
	}
	id, current, ok := m.signer.verifyValue(value)
	if !ok {
		return verifiedValue{}, false
	}
	// value, and id when it needed no decoding, are slices of the request's
	// Cookie header: copies, so that neither the cache nor a store that keys
	// by the id keeps the whole header (up to a megabyte) alive.
	v := verifiedValue{id: strings.Clone(id), current: current}
	m.verified.put(strings.Clone(value), v)
	return v, true
}
