package session

import (
	"hash/maphash"
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
	mu  sync.RWMutex
	ids map[string]string
}

func newVerifiedCache() *verifiedCache { return &verifiedCache{seed: maphash.MakeSeed()} }

func (c *verifiedCache) shard(value string) *verifiedShard {
	return &c.shards[maphash.String(c.seed, value)%verifiedShards]
}

func (c *verifiedCache) get(value string) (string, bool) {
	sh := c.shard(value)
	sh.mu.RLock()
	id, ok := sh.ids[value]
	sh.mu.RUnlock()
	return id, ok
}

func (c *verifiedCache) put(value, id string) {
	sh := c.shard(value)
	sh.mu.Lock()
	if sh.ids == nil || len(sh.ids) >= verifiedPerShard {
		sh.ids = make(map[string]string, verifiedPerShard/4)
	}
	sh.ids[value] = id
	sh.mu.Unlock()
}

// verify returns the id carried by a cookie value, as signer.unsign does,
// through the cache.
func (m *Manager) verify(value string) (string, bool) {
	if id, ok := m.verified.get(value); ok {
		return id, true
	}
	id, ok := m.signer.unsign(value)
	if ok {
		m.verified.put(value, id)
	}
	return id, ok
}
