package testserver

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
)

// shared holds the servers that live for the whole test binary.
var shared struct {
	mu    sync.Mutex
	base  string   // their common temporary directory
	stops []func() // in start order
}

// sharedBase returns the directory for shared servers, creating it once.
func sharedBase() (string, error) {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.base == "" {
		dir, err := os.MkdirTemp("", "sessionkit-testserver-")
		if err != nil {
			return "", fmt.Errorf("testserver: %w", err)
		}
		shared.base = dir
	}
	return shared.base, nil
}

func onStop(f func()) {
	shared.mu.Lock()
	shared.stops = append(shared.stops, f)
	shared.mu.Unlock()
}

// Main runs the tests of m and then stops the shared servers. A package whose
// tests use the Shared functions calls it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(testserver.Main(m)) }
func Main(m *testing.M) int {
	code := m.Run()
	StopShared()
	return code
}

// StopShared stops every shared server and removes their directory. [Main]
// calls it; the shared servers cannot be used afterwards.
func StopShared() {
	shared.mu.Lock()
	stops, base := shared.stops, shared.base
	shared.stops, shared.base = nil, ""
	shared.mu.Unlock()
	for i := len(stops) - 1; i >= 0; i-- {
		stops[i]()
	}
	if base != "" {
		_ = os.RemoveAll(base)
	}
}

// once starts a shared value the first time and remembers the outcome.
type once[T any] struct {
	once sync.Once
	val  T
	err  error
}

func (o *once[T]) get(t testing.TB, start func(base string) (T, error)) T {
	t.Helper()
	o.once.Do(func() {
		base, err := sharedBase()
		if err != nil {
			o.err = err
			return
		}
		o.val, o.err = start(base)
	})
	check(t, o.err)
	return o.val
}

var (
	sharedRedis      once[*Server]
	sharedCluster    once[*RedisCluster]
	sharedMemcacheds once[[]*Server]
	sharedSeq        atomic.Int64
)

// SharedRedis returns a standalone redis-server shared by every test of this
// test binary. Tests must not flush it and should use [UniquePrefix] for their keys.
func SharedRedis(t testing.TB) *Server {
	t.Helper()
	return sharedStandalone(t, &sharedRedis, newRedis, "redis-shared")
}

// sharedStandalone starts a server of start's kind the first time it is
// called with o, to be stopped by [StopShared], and returns it (or ends t
// as the first start did).
func sharedStandalone(t testing.TB, o *once[*Server], start redisStarter, name string) *Server {
	t.Helper()
	return o.get(t, func(base string) (*Server, error) {
		s, err := start(base, name, nil)
		if s != nil {
			onStop(s.Kill)
		}
		return s, err
	})
}

// SharedRedisCluster returns a three-master Redis Cluster shared by every
// test of this test binary. Tests should use [UniquePrefix] for their keys.
func SharedRedisCluster(t testing.TB) *RedisCluster {
	t.Helper()
	return sharedCluster.get(t, func(base string) (*RedisCluster, error) {
		c, err := newRedisCluster(base, "redis", newRedis)
		if c != nil {
			onStop(c.Kill)
		}
		return c, err
	})
}

// SharedMemcacheds returns two memcached servers shared by every test of this
// test binary. Tests must not flush them and should use [UniquePrefix] for their keys.
func SharedMemcacheds(t testing.TB) []*Server {
	t.Helper()
	return sharedMemcacheds.get(t, func(base string) ([]*Server, error) {
		var out []*Server
		for range 2 {
			s, err := newMemcached(base)
			if s != nil {
				onStop(s.Kill)
				out = append(out, s)
			}
			if err != nil {
				return out, err
			}
		}
		return out, nil
	})
}

// UniquePrefix returns a key prefix no other test of this binary gets,
// such as "t17:", so that tests sharing a server do not see each other's keys.
func UniquePrefix() string {
	return fmt.Sprintf("t%d:", sharedSeq.Add(1))
}
