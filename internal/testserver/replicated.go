package testserver

import (
	"bufio"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ClusterNodeTimeout is the cluster-node-timeout of [StartReplicatedRedisCluster]:
// how long a master may be unreachable before its replica takes over. It is
// short so that a failover fits in a test.
const ClusterNodeTimeout = 1000 * time.Millisecond

// ReplicatedRedisCluster is a Redis Cluster of three masters, each with one
// replica, the hash slots split evenly between the masters.
type ReplicatedRedisCluster struct {
	// Masters are the three masters as started; Replicas[i] replicates
	// Masters[i]. After a failover the roles are swapped (see [RedisRole]).
	Masters, Replicas []*Server
}

// Addrs returns the host:port of every node, masters first.
func (c *ReplicatedRedisCluster) Addrs() []string {
	return append(Addrs(c.Masters), Addrs(c.Replicas)...)
}

// Kill stops every node.
func (c *ReplicatedRedisCluster) Kill() {
	for _, n := range append(append([]*Server(nil), c.Masters...), c.Replicas...) {
		n.Kill()
	}
}

// StartReplicatedRedisCluster starts a Redis Cluster of three masters with a
// replica each, waits until every node reports cluster_state:ok and every
// replica is in sync, and stops it in t.Cleanup. A replica may always take
// over (cluster-replica-validity-factor 0), after [ClusterNodeTimeout].
func StartReplicatedRedisCluster(t testing.TB) *ReplicatedRedisCluster {
	t.Helper()
	c, err := newReplicatedRedisCluster(t.TempDir())
	t.Cleanup(c.Kill)
	check(t, err)
	return c
}

func newReplicatedRedisCluster(base string) (*ReplicatedRedisCluster, error) {
	c := &ReplicatedRedisCluster{}
	buses := map[*Server]int{}
	start := func(name string) (*Server, error) {
		var bus int
		n, err := newRedis(base, name, func(port int) ([]string, error) {
			var err error
			if bus, err = freePort(); err != nil {
				return nil, err
			}
			return []string{
				"--cluster-enabled", "yes",
				"--cluster-config-file", "nodes.conf",
				"--cluster-port", strconv.Itoa(bus),
				"--cluster-node-timeout", strconv.Itoa(int(ClusterNodeTimeout.Milliseconds())),
				"--cluster-replica-validity-factor", "0",
			}, nil
		})
		if n != nil {
			buses[n] = bus
		}
		return n, err
	}
	for i := range 3 {
		m, err := start(fmt.Sprintf("redis-cluster-master-%d", i))
		if m != nil {
			c.Masters = append(c.Masters, m)
		}
		if err != nil {
			return c, err
		}
		r, err := start(fmt.Sprintf("redis-cluster-replica-%d", i))
		if r != nil {
			c.Replicas = append(c.Replicas, r)
		}
		if err != nil {
			return c, err
		}
	}
	const slots = 16384
	for i, n := range c.Masters {
		lo, hi := i*slots/3, (i+1)*slots/3-1
		if _, err := redisCommand(n.Addr, "CLUSTER", "ADDSLOTSRANGE", strconv.Itoa(lo), strconv.Itoa(hi)); err != nil {
			return c, fmt.Errorf("testserver: cluster addslots on %s: %w", n.Addr, err)
		}
		if _, err := redisCommand(n.Addr, "CLUSTER", "SET-CONFIG-EPOCH", strconv.Itoa(i+1)); err != nil {
			return c, fmt.Errorf("testserver: cluster set-config-epoch on %s: %w", n.Addr, err)
		}
	}
	first := c.Masters[0]
	for _, n := range append(append([]*Server(nil), c.Masters[1:]...), c.Replicas...) {
		if _, err := redisCommand(first.Addr, "CLUSTER", "MEET", "127.0.0.1", strconv.Itoa(n.Port), strconv.Itoa(buses[n])); err != nil {
			return c, fmt.Errorf("testserver: cluster meet %s: %w", n.Addr, err)
		}
	}
	deadline := time.Now().Add(StartTimeout)
	for i, r := range c.Replicas {
		id, err := redisCommand(c.Masters[i].Addr, "CLUSTER", "MYID")
		if err != nil {
			return c, fmt.Errorf("testserver: cluster myid on %s: %w", c.Masters[i].Addr, err)
		}
		// The replica must have learnt of its master through gossip first.
		for {
			if _, err = redisCommand(r.Addr, "CLUSTER", "REPLICATE", id); err == nil {
				break
			}
			if time.Now().After(deadline) {
				return c, fmt.Errorf("testserver: cluster replicate %s on %s: %w", id, r.Addr, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	all := append(append([]*Server(nil), c.Masters...), c.Replicas...)
	for _, n := range all {
		for {
			info, err := redisCommand(n.Addr, "CLUSTER", "INFO")
			if err == nil && strings.Contains(info, "cluster_state:ok") && strings.Contains(info, "cluster_known_nodes:6") {
				break
			}
			if time.Now().After(deadline) {
				return c, fmt.Errorf("testserver: cluster node %s not ready after %s: %v\n%s", n.Addr, StartTimeout, err, info)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	for i, r := range c.Replicas {
		if err := WaitReplicaInSync(r, deadline); err != nil {
			return c, err
		}
		if err := WaitReplicating(c.Masters[i], 1, deadline); err != nil {
			return c, err
		}
	}
	return c, nil
}

// RedisRole returns the replication role of the Redis server at addr:
// "master" or "slave" (Redis's word).
func RedisRole(addr string) (string, error) {
	info, err := redisCommand(addr, "INFO", "replication")
	if err != nil {
		return "", err
	}
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "role:"); ok {
			return v, nil
		}
	}
	return "", fmt.Errorf("testserver: no role in INFO replication of %s", addr)
}

// WaitReplicaInSync waits until s is a replica whose link to its master is
// up (the initial sync done), or deadline passes.
func WaitReplicaInSync(s *Server, deadline time.Time) error {
	for {
		info, err := redisCommand(s.Addr, "INFO", "replication")
		if err == nil && strings.Contains(info, "role:slave") && strings.Contains(info, "master_link_status:up") {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("testserver: %s not a replica in sync by %s: %v\n%s", s.Addr, deadline.Format(time.TimeOnly), err, info)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WaitReplicating waits until n replicas of master confirm a write made
// now (PUBLISH, which replicates, then WAIT n on the same connection), or
// deadline passes. A replica whose link is up may not stream yet: after a
// full sync the master holds the stream until the replica's first
// acknowledgement, up to a second later, and until then the replica has
// none of the writes the master acknowledges.
func WaitReplicating(master *Server, n int, deadline time.Time) error {
	var last error
	for {
		got, err := publishAndWait(master.Addr, n, 200*time.Millisecond)
		if err == nil && got >= n {
			return nil
		}
		last = err
		if time.Now().After(deadline) {
			return fmt.Errorf("testserver: %d replicas of %s do not confirm writes by %s (last: %d, %v)", n, master.Addr, deadline.Format(time.TimeOnly), got, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// publishAndWait sends PUBLISH and WAIT n wait on one connection to addr
// and returns WAIT's answer: how many replicas have the PUBLISH.
func publishAndWait(addr string, n int, wait time.Duration) (int, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(wait + 2*time.Second))
	req := "PUBLISH testserver:probe x\r\nWAIT " + strconv.Itoa(n) + " " + strconv.Itoa(int(wait.Milliseconds())) + "\r\n"
	if _, err := c.Write([]byte(req)); err != nil {
		return 0, err
	}
	r := bufio.NewReader(c)
	var line string
	for range 2 {
		if line, err = r.ReadString('\n'); err != nil {
			return 0, err
		}
	}
	line = strings.TrimRight(line, "\r\n")
	if !strings.HasPrefix(line, ":") {
		return 0, fmt.Errorf("WAIT answered %q", line)
	}
	return strconv.Atoi(line[1:])
}

// RedisCommand runs one command on a fresh connection to the Redis server
// (or sentinel) at addr and returns its reply as text: the way a test acts
// as an operator (SENTINEL GET-MASTER-ADDR-BY-NAME, CONFIG SET, ...).
func RedisCommand(addr string, words ...string) (string, error) {
	return redisCommand(addr, words...)
}
