package redisstore_test

import (
	"context"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/internal/testserver/apptest"
	"github.com/sessionkit/session/redisstore"
)

// laggingReplica makes the replica at addr stop applying its master's
// writes until t ends, while it still answers reads: CLIENT PAUSE WRITE
// holds the link from its master too. It stands for a replica that has not
// yet got the latest writes, as asynchronous replication allows.
func laggingReplica(t *testing.T, addr string) {
	t.Helper()
	if _, err := testserver.RedisCommand(addr, "CLIENT", "PAUSE", "600000", "WRITE"); err != nil {
		t.Fatalf("CLIENT PAUSE on the replica %s: %v", addr, err)
	}
	t.Cleanup(func() { testserver.RedisCommand(addr, "CLIENT", "UNPAUSE") })
}

// readsLag makes replicas lag (laggingReplica) and returns once reads, a
// client that reads from replicas, reads from them: a key written through
// masters reads back as it was before, on every master. A client that has
// not learnt of a replica yet (from CLUSTER SLOTS, or from the sentinel)
// reads from the master; it is told to read the layout again until it does.
func readsLag(t *testing.T, reads, masters redis.UniversalClient, replicas []string) {
	t.Helper()
	for _, r := range replicas {
		laggingReplica(t, r)
	}
	ctx := t.Context()
	for start, n := time.Now(), 0; ; n++ {
		stale := true
		for i := range 30 { // keys in every master's slots
			key := testserver.UniquePrefix() + "probe" + strconv.Itoa(i)
			if err := masters.Set(ctx, key, n, time.Minute).Err(); err != nil {
				t.Fatal(err)
			}
			if got, err := reads.Get(ctx, key).Result(); err == nil && got == strconv.Itoa(n) {
				stale = false
			}
		}
		if stale {
			return
		}
		if time.Since(start) > testserver.StartTimeout {
			t.Fatalf("the client still reads from the masters after %v", testserver.StartTimeout)
		}
		if c, ok := reads.(interface{ ReloadState(context.Context) }); ok {
			c.ReloadState(ctx)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// replicasListed returns once CLUSTER SLOTS names a replica beside each
// master, which it does only once the replica has a replication offset
// (some write reached it): a client reads from replicas only once it
// knows them.
func replicasListed(t *testing.T, cl *testserver.ReplicatedRedisCluster) {
	t.Helper()
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs()})
	defer c.Close()
	ctx := t.Context()
	for start := time.Now(); ; {
		// A write to every master moves its replica's offset.
		for i := range 30 {
			if err := c.Set(ctx, "warm"+strconv.Itoa(i), "", time.Minute).Err(); err != nil {
				t.Fatal(err)
			}
		}
		slots, err := c.ClusterSlots(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(slots, func(s redis.ClusterSlot) bool { return len(s.Nodes) < 2 }) {
			return
		}
		if time.Since(start) > testserver.StartTimeout {
			t.Fatalf("CLUSTER SLOTS names no replica for some masters after %v: %v", testserver.StartTimeout, slots)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// replicaReadingSetup is a client that sends reads to replicas: a Cluster
// client with ReadOnly, or a Sentinel client of NewFailoverClusterClient
// with ReplicaOnly (on Redis and on Valkey). start returns that client, a
// client of the masters, and the replicas' addresses.
type replicaReadingSetup struct {
	name  string
	start func(t *testing.T) (reads, masters redis.UniversalClient, replicas []string)
}

func replicaReadingSetups() []replicaReadingSetup {
	setups := []replicaReadingSetup{{"Cluster", func(t *testing.T) (redis.UniversalClient, redis.UniversalClient, []string) {
		cl := testserver.StartReplicatedRedisCluster(t)
		replicasListed(t, cl)
		reads := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs(), ReadOnly: true})
		masters := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs()})
		t.Cleanup(func() { reads.Close(); masters.Close() })
		return reads, masters, testserver.Addrs(cl.Replicas)
	}}}
	for _, srv := range servers {
		setups = append(setups, replicaReadingSetup{"Sentinel/" + srv.name, func(t *testing.T) (redis.UniversalClient, redis.UniversalClient, []string) {
			s := srv.sentinel(t)
			reads := redis.NewFailoverClusterClient(&redis.FailoverOptions{MasterName: s.MasterName, SentinelAddrs: s.SentinelAddrs(), ReplicaOnly: true})
			t.Cleanup(func() { reads.Close() })
			return reads, clientOf(t, s.Master), []string{s.Replica.Addr}
		}})
	}
	// A user's type that embeds *redis.ClusterClient, whose reads go to
	// replicas as that client's do.
	setups = append(setups, replicaReadingSetup{"Sentinel/redis/a type embedding *redis.ClusterClient", func(t *testing.T) (redis.UniversalClient, redis.UniversalClient, []string) {
		s := testserver.StartRedisSentinel(t)
		reads := redis.NewFailoverClusterClient(&redis.FailoverOptions{MasterName: s.MasterName, SentinelAddrs: s.SentinelAddrs(), ReplicaOnly: true})
		t.Cleanup(func() { reads.Close() })
		return embedsCluster{reads}, clientOf(t, s.Master), []string{s.Replica.Addr}
	}})
	return setups
}

// DestroyUserSessions ("log out everywhere") must end a login that the
// replicas have not got yet, on a client that reads from replicas: the
// store listed the user's index on the master but read each session from
// a replica, found none there, and the manager skipped it: the device
// stayed logged in.
func TestDestroyUserSessionsEndsALoginTheReplicasHaveNotGot(t *testing.T) {
	t.Parallel()
	for _, setup := range replicaReadingSetups() {
		t.Run(setup.name, func(t *testing.T) {
			reads, masters, replicas := setup.start(t)
			st := newStore(reads)
			a := apptest.New(t, st, nil)
			readsLag(t, reads, masters, replicas)
			id := a.MustDo(t, "/login?u=alice", nil).Body
			n, err := a.Manager.DestroyUserSessions(t.Context(), "alice")
			if err != nil {
				t.Fatal(err)
			}
			if n != 1 {
				t.Errorf("DestroyUserSessions ended %d sessions, want the one login", n)
			}
			if left, err := masters.Exists(t.Context(), st.Prefix()+id).Result(); err != nil || left != 0 {
				t.Errorf("the login's session after DestroyUserSessions: %d stored on the master (%v), want it gone", left, err)
			}
		})
	}
}

// A create whose answer was lost is sent again, finds its id taken, and
// reads the session back to tell its own first try from another's. That
// read must go to the master: a replica that has not got the first try
// yet answers nothing, the store reported the id taken, and the manager
// moved the session to a fresh id, leaving the first try stored under an
// id that no client holds.
func TestACreateWhoseReplyWasLostReadsItselfBackFromTheMaster(t *testing.T) {
	t.Parallel()
	for _, srv := range servers {
		t.Run("Sentinel/"+srv.name, func(t *testing.T) {
			s := srv.sentinel(t)
			p := testserver.StartProxy(t, s.Master.Addr)
			reads := redis.NewFailoverClusterClient(&redis.FailoverOptions{
				MasterName: s.MasterName, SentinelAddrs: s.SentinelAddrs(), ReplicaOnly: true,
				// The master through the proxy (the sentinel names it by its port
				// alone, ":port").
				Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
					if _, port, _ := net.SplitHostPort(addr); port == strconv.Itoa(s.Master.Port) {
						addr = p.Addr
					}
					var d net.Dialer
					return d.DialContext(ctx, network, addr)
				}})
			t.Cleanup(func() { reads.Close() })
			st := newStore(reads)
			a := apptest.New(t, st, nil)
			readsLag(t, reads, clientOf(t, s.Master), []string{s.Replica.Addr})
			p.LoseReply("\r\nnx\r\n", nil)
			id := a.MustDo(t, "/set?k=n&v=a", nil).Body
			ids, err := redisstore.New(clientOf(t, s.Master), redisstore.WithPrefix(st.Prefix())).IDs(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids, []string{id}) {
				t.Errorf("stored sessions %v after a create whose reply was lost; want only the one whose id the client got, %s", ids, id)
			}
		})
	}
}
