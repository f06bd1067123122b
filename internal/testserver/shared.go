package testserver

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
)

// shared holds the servers that live for the whole test binary.
var shared struct {
	mu    sync.Mutex
	base  string   // their common temporary directory
	lock  *os.File // base's owner.lock, locked while this process uses base
	stops []func() // in start order
}

// baseDirPrefix names the directory, under the system's temporary
// directory, where a test binary keeps its servers' files: the shared
// servers' and every PostgreSQL server's.
const baseDirPrefix = "sessionkit-testserver-"

// ownerLock is the file in a base directory that its test binary holds an
// exclusive flock on for as long as it runs. The kernel drops the lock when
// the process ends, however it ends, so a base directory whose lock is free
// was left by a test binary that never reached [StopShared]: one that
// panicked, timed out, was killed, or has no TestMain calling [Main].
const ownerLock = "owner.lock"

// sharedBase returns the directory for shared servers, creating it once,
// and then removes the base directories that dead test binaries left.
func sharedBase() (string, error) {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.base == "" {
		dir, lock, err := newBaseDir(os.TempDir())
		if err != nil {
			return "", err
		}
		shared.base, shared.lock = dir, lock
		removeStaleBaseDirs(os.TempDir())
	}
	return shared.base, nil
}

// newBaseDir makes a base directory under tmp with its owner lock held. It
// is made under a hidden name and renamed into place once locked, so that
// removeStaleBaseDirs never sees one without its lock.
func newBaseDir(tmp string) (dir string, lock *os.File, err error) {
	hidden, err := os.MkdirTemp(tmp, "."+baseDirPrefix)
	if err != nil {
		return "", nil, fmt.Errorf("testserver: %w", err)
	}
	defer func() {
		if err != nil {
			if lock != nil {
				lock.Close()
			}
			os.RemoveAll(hidden)
			err = fmt.Errorf("testserver: %w", err)
		}
	}()
	// Others may pass through, not list: PostgreSQL, run as its own user
	// when this process is root, needs to reach its directory inside.
	if err = os.Chmod(hidden, 0o711); err != nil {
		return "", nil, err
	}
	// Opened close-on-exec, as os.OpenFile does: the servers started from
	// here must not hold the lock after this process is gone.
	if lock, err = os.OpenFile(filepath.Join(hidden, ownerLock), os.O_CREATE|os.O_RDWR, 0o600); err != nil {
		return "", nil, err
	}
	if err = syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return "", nil, fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	dir = filepath.Join(tmp, strings.TrimPrefix(filepath.Base(hidden), "."))
	if err = os.Rename(hidden, dir); err != nil {
		return "", nil, err
	}
	return dir, lock, nil
}

// removeStaleBaseDirs removes the base directories under tmp whose owner
// lock nobody holds. A directory without an owner.lock (from an older
// version of this package, perhaps still running) is left alone.
func removeStaleBaseDirs(tmp string) {
	dirs, _ := filepath.Glob(filepath.Join(tmp, baseDirPrefix+"*"))
	for _, dir := range dirs {
		f, err := os.Open(filepath.Join(dir, ownerLock))
		if err != nil {
			continue
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
			_ = os.RemoveAll(dir)
		}
		f.Close()
	}
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
	stops, base, lock := shared.stops, shared.base, shared.lock
	shared.stops, shared.base, shared.lock = nil, "", nil
	shared.mu.Unlock()
	for i := len(stops) - 1; i >= 0; i-- {
		stops[i]()
	}
	if base != "" {
		_ = os.RemoveAll(base)
		lock.Close()
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
