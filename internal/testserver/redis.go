package testserver

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// redisReady reports whether the Redis server (or sentinel) at addr answers PING.
func redisReady(addr string) error {
	line, err := roundTrip(addr, "PING\r\n")
	if err != nil {
		return err
	}
	if line != "+PONG" {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

// redisBaseArgs keeps a redis-server in its own directory, without
// persistence, on loopback only.
func redisBaseArgs(port int, dir string) []string {
	return []string{
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--dir", dir,
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--logfile", "",
		"--repl-diskless-sync-delay", "0",
	}
}

// redisBinary returns the redis-server in PATH (Debian's redis-server
// package), as valkeyBinary does for Valkey.
func redisBinary() (string, error) { return lookBinary("redis-server", "redis-server") }

// RedisAvailable returns nil when [StartRedis] has a redis-server to start,
// and otherwise the reason it would skip (or fail) the test: for a
// benchmark that runs its Redis parts only where Redis is installed.
func RedisAvailable() error {
	_, err := redisBinary()
	return err
}

// newRedis starts a redis-server in a new directory under base.
func newRedis(base, name string, extra func(port int) ([]string, error)) (*Server, error) {
	bin, err := redisBinary()
	if err != nil {
		return nil, err
	}
	return newRedisWith(bin, base, name, extra)
}

// newRedisWith starts bin, a redis-server or a valkey-server (which takes
// the same arguments), in a new directory under base.
func newRedisWith(bin, base, name string, extra func(port int) ([]string, error)) (*Server, error) {
	dir, err := os.MkdirTemp(base, name+"-")
	if err != nil {
		return nil, fmt.Errorf("testserver: %w", err)
	}
	return launch(name, bin, dir, func(port int) ([]string, error) {
		args := redisBaseArgs(port, dir)
		if extra != nil {
			more, err := extra(port)
			if err != nil {
				return nil, err
			}
			args = append(args, more...)
		}
		return args, nil
	}, redisReady)
}

// StartRedis starts a standalone redis-server for this test and stops it in
// t.Cleanup. extra are more redis-server arguments ("--maxmemory", "1mb").
func StartRedis(t testing.TB, extra ...string) *Server {
	t.Helper()
	return startStandalone(t, newRedis, "redis", extra)
}

// startStandalone starts a server of start's kind, named name, with the
// extra arguments, for this test, and stops it in t.Cleanup.
func startStandalone(t testing.TB, start redisStarter, name string, extra []string) *Server {
	t.Helper()
	s, err := start(t.TempDir(), name, func(int) ([]string, error) { return extra, nil })
	if s != nil {
		t.Cleanup(s.Kill)
	}
	check(t, err)
	return s
}

// RedisCluster is a Redis Cluster of three masters (no replicas), the hash
// slots split evenly between them (or of one master: StartRedisClusterOneMaster).
type RedisCluster struct {
	// Nodes are the three masters.
	Nodes []*Server
}

// Addrs returns the host:port of every node, as go-redis ClusterOptions.Addrs wants them.
func (c *RedisCluster) Addrs() []string {
	a := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		a[i] = n.Addr
	}
	return a
}

// Kill stops every node.
func (c *RedisCluster) Kill() {
	for _, n := range c.Nodes {
		n.Kill()
	}
}

// StartRedisCluster starts a three-master Redis Cluster for this test, waits
// until every node reports cluster_state:ok, and stops it in t.Cleanup.
func StartRedisCluster(t testing.TB) *RedisCluster {
	t.Helper()
	return startCluster(t, "redis", newRedis)
}

// StartRedisClusterOneMaster starts a Redis Cluster of one master, which
// serves every hash slot, for this test, and stops it in t.Cleanup.
func StartRedisClusterOneMaster(t testing.TB) *RedisCluster {
	t.Helper()
	c, err := newRedisClusterOf(t.TempDir(), "redis", newRedis, 1)
	if c != nil {
		t.Cleanup(c.Kill)
	}
	check(t, err)
	return c
}

// startCluster starts a three-master cluster of start's kind for this test
// and stops it in t.Cleanup.
func startCluster(t testing.TB, kind string, start redisStarter) *RedisCluster {
	t.Helper()
	c, err := newRedisCluster(t.TempDir(), kind, start)
	if c != nil {
		t.Cleanup(c.Kill)
	}
	check(t, err)
	return c
}

// redisStarter starts one server of the Redis family in a new directory
// under base: newRedis, newValkey.
type redisStarter func(base, name string, extra func(port int) ([]string, error)) (*Server, error)

// newRedisCluster starts a three-master cluster under base of the servers
// start starts, kind naming them ("redis").
func newRedisCluster(base, kind string, start redisStarter) (*RedisCluster, error) {
	return newRedisClusterOf(base, kind, start, 3)
}

// newRedisClusterOf starts a cluster of the given number of masters under
// base, as newRedisCluster does.
func newRedisClusterOf(base, kind string, start redisStarter, masters int) (*RedisCluster, error) {
	c := &RedisCluster{}
	buses := make([]int, masters)
	for i := range masters {
		n, err := start(base, fmt.Sprintf("%s-cluster-%d", kind, i), func(port int) ([]string, error) {
			bus, err := freePort()
			if err != nil {
				return nil, err
			}
			buses[i] = bus
			return []string{
				"--cluster-enabled", "yes",
				"--cluster-config-file", "nodes.conf",
				"--cluster-port", strconv.Itoa(bus),
				"--cluster-node-timeout", "3000",
			}, nil
		})
		if n != nil {
			c.Nodes = append(c.Nodes, n)
		}
		if err != nil {
			return c, err
		}
	}
	const slots = 16384
	for i, n := range c.Nodes {
		lo, hi := i*slots/masters, (i+1)*slots/masters-1
		if _, err := redisCommand(n.Addr, "CLUSTER", "ADDSLOTSRANGE", strconv.Itoa(lo), strconv.Itoa(hi)); err != nil {
			return c, fmt.Errorf("testserver: cluster addslots on %s: %w", n.Addr, err)
		}
		if _, err := redisCommand(n.Addr, "CLUSTER", "SET-CONFIG-EPOCH", strconv.Itoa(i+1)); err != nil {
			return c, fmt.Errorf("testserver: cluster set-config-epoch on %s: %w", n.Addr, err)
		}
	}
	for i, n := range c.Nodes[1:] {
		if _, err := redisCommand(c.Nodes[0].Addr, "CLUSTER", "MEET", "127.0.0.1", strconv.Itoa(n.Port), strconv.Itoa(buses[i+1])); err != nil {
			return c, fmt.Errorf("testserver: cluster meet %s: %w", n.Addr, err)
		}
	}
	deadline := time.Now().Add(StartTimeout)
	for _, n := range c.Nodes {
		for {
			info, err := redisCommand(n.Addr, "CLUSTER", "INFO")
			if err == nil && strings.Contains(info, "cluster_state:ok") && strings.Contains(info, fmt.Sprintf("cluster_known_nodes:%d", masters)) {
				break
			}
			if time.Now().After(deadline) {
				return c, fmt.Errorf("testserver: cluster node %s not ready after %s: %v\n%s", n.Addr, StartTimeout, err, info)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return c, nil
}

// RedisSentinel is a master, one replica and one sentinel watching them, set
// to fail over quickly (the master is considered down after 500 ms).
type RedisSentinel struct {
	// MasterName is the name the sentinel knows the master by.
	MasterName string
	// Master and Replica are the data servers as started; after a failover
	// the replica is the master.
	Master, Replica *Server
	// Sentinel is the sentinel process.
	Sentinel *Server
}

// SentinelAddrs returns the sentinels' addresses, as go-redis FailoverOptions.SentinelAddrs wants them.
func (s *RedisSentinel) SentinelAddrs() []string { return []string{s.Sentinel.Addr} }

// Kill stops every process.
func (s *RedisSentinel) Kill() {
	s.Sentinel.Kill()
	s.Replica.Kill()
	s.Master.Kill()
}

// StartRedisSentinel starts a master, a replica in sync with it, and a
// sentinel that knows both, and stops them in t.Cleanup.
func StartRedisSentinel(t testing.TB) *RedisSentinel {
	t.Helper()
	return startSentinel(t, "redis", newRedis, redisBinary)
}

// startSentinel starts a master and a replica with start, and a sentinel
// from the server binary sentinelBinary returns, kind naming them
// ("redis").
func startSentinel(t testing.TB, kind string, start redisStarter, sentinelBinary func() (string, error)) *RedisSentinel {
	t.Helper()
	base := t.TempDir()
	s := &RedisSentinel{MasterName: "sessionkit"}
	var err error
	t.Cleanup(func() {
		for _, p := range []*Server{s.Sentinel, s.Replica, s.Master} {
			if p != nil {
				p.Kill()
			}
		}
	})
	s.Master, err = start(base, kind+"-master", nil)
	check(t, err)
	s.Replica, err = start(base, kind+"-replica", func(int) ([]string, error) {
		return []string{"--replicaof", "127.0.0.1", strconv.Itoa(s.Master.Port)}, nil
	})
	check(t, err)
	deadline := time.Now().Add(StartTimeout)
	for {
		info, err := redisCommand(s.Replica.Addr, "INFO", "replication")
		if err == nil && strings.Contains(info, "master_link_status:up") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("testserver: replica %s not in sync after %s: %v\n%s", s.Replica.Addr, StartTimeout, err, info)
		}
		time.Sleep(20 * time.Millisecond)
	}

	bin, err := sentinelBinary()
	check(t, err)
	dir := filepath.Join(base, "sentinel")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	s.Sentinel, err = launch(kind+"-sentinel", bin, dir, func(port int) ([]string, error) {
		conf := filepath.Join(dir, "sentinel.conf")
		text := fmt.Sprintf(`port %d
bind 127.0.0.1
dir %s
sentinel monitor %s 127.0.0.1 %d 1
sentinel down-after-milliseconds %[3]s 2000
sentinel failover-timeout %[3]s 3000
sentinel parallel-syncs %[3]s 1
`, port, dir, s.MasterName, s.Master.Port)
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			return nil, err
		}
		return []string{conf, "--sentinel"}, nil
	}, redisReady)
	check(t, err)
	// The sentinel learns about the replica from the master's INFO; a
	// failover before that would find no replica to promote.
	for {
		info, err := redisCommand(s.Sentinel.Addr, "INFO", "sentinel")
		if err == nil && strings.Contains(info, "status=ok") && strings.Contains(info, "slaves=1") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("testserver: sentinel %s does not see the replica after %s: %v\n%s", s.Sentinel.Addr, StartTimeout, err, info)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return s
}
