package redisstore_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/redisstore"
)

// Through a user's type that holds a *redis.ClusterClient without saying
// so (a struct with a UniversalClient field, its methods forwarding: no
// Options, no ForEachMaster), IDs, Count and Clear fail, naming what to
// give New instead: the store took it for a single server's and sent SCAN
// through it, which the Cluster client sends to one master, so that Count
// and IDs reported that master's sessions alone and Clear reported
// success and left the other masters' sessions stored.
func TestListingThroughAnOpaqueWrapperOfAClusterClientFails(t *testing.T) {
	ctx := t.Context()
	c := cluster(t)
	st := newStore(wrapsClient{c})
	listingFails(ctx, t, st, c) // 50 keys land on all three masters
	_, err := st.Count(ctx)
	if err == nil {
		t.Fatal("Count through an opaque wrapper of a Cluster client succeeded")
	}
	for _, want := range []string{"Cluster", "*redis.ClusterClient", "ForEachMaster", "redisstore_test.wrapsClient"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Count's error %q does not name %q", err, want)
		}
	}
}

// Through a user's type that holds the client of one server without saying
// so, IDs, Count and Clear work as through the client itself, on Redis and
// on Valkey: the server says it is no Cluster's node.
func TestListingThroughAnOpaqueWrapperOfOneServerWorks(t *testing.T) {
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			direct := srv.client(t)
			listsAndClears(t, newStore(wrapsClient{direct}), direct)
		})
	}
}

// Through an opaque wrapper of the client of a Cluster of one master, IDs,
// Count and Clear fail too, and the error says why one master does not do:
// SCAN through the wrapper reaches whichever node the client picks, the
// only master today, but the store cannot see the Cluster grow (a master
// added, slots moved to it), after which the same listing would miss the
// sessions on the new master in silence. The error said "one master only"
// of a Cluster that has no other.
func TestListingThroughAnOpaqueWrapperOfAOneMasterClusterFailsAndSaysWhy(t *testing.T) {
	ctx := t.Context()
	srv := testserver.StartRedisClusterOneMaster(t)
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: srv.Addrs()})
	t.Cleanup(func() { c.Close() })
	st := newStore(wrapsClient{c})
	listingFails(ctx, t, st, c)
	_, err := st.Count(ctx)
	if err == nil {
		t.Fatal("Count through an opaque wrapper of a one-master Cluster's client succeeded")
	}
	for _, want := range []string{"whole only while the Cluster has a single master", "cannot see", "*redis.ClusterClient"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Count's error %q does not say %q", err, want)
		}
	}
}

// newStoreWithPrefix returns a store on client with prefix.
func newStoreWithPrefix(client redis.UniversalClient, prefix string) *redisstore.Store {
	return redisstore.New(client, redisstore.WithPrefix(prefix))
}

// clusterInfoCalls returns the CLUSTER INFO calls the nodes of c received.
func clusterInfoCalls(t *testing.T, c *testserver.RedisCluster) (n int) {
	t.Helper()
	for _, node := range c.Nodes {
		n += receivedCalls(t, node.Addr, "cluster|info")
	}
	return n
}

// The store asks the server whether an opaque client is a Cluster's once
// (one CLUSTER INFO), at its first listing, and never on a request's
// operations (Get, Set, Touch, GetAndTouch, CompareAndSwap, Destroy),
// which stay one round trip each.
func TestAnOpaqueClientIsAskedWhetherItIsAClustersOnceAndNeverOnARequest(t *testing.T) {
	ctx := t.Context()
	srv := testserver.StartRedisCluster(t) // its CLUSTER INFO calls are the store's
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: srv.Addrs()})
	t.Cleanup(func() { c.Close() })
	st := newStore(wrapsClient{c})
	requests := func() {
		t.Helper()
		exp := time.Now().Add(time.Hour)
		if err := st.Set(ctx, "id", []byte(`{"n":1}`), exp); err != nil {
			t.Fatal(err)
		}
		b, v, found, err := st.GetVersion(ctx, "id")
		if err != nil || !found {
			t.Fatalf("GetVersion = %q, %v, %v", b, found, err)
		}
		if _, _, err := st.CompareAndSwap(ctx, "id", v, []byte(`{"n":2}`), exp); err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.CompareAndSwap(ctx, "other", "", []byte(`{"n":1}`), exp); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Touch(ctx, "id", exp); err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := st.GetAndTouch(ctx, "id", exp); err != nil {
			t.Fatal(err)
		}
		if err := st.Destroy(ctx, "id"); err != nil {
			t.Fatal(err)
		}
	}
	before := clusterInfoCalls(t, srv)
	requests()
	if n := clusterInfoCalls(t, srv) - before; n != 0 {
		t.Errorf("a request's operations sent %d CLUSTER INFO; want none", n)
	}
	for range 2 {
		if _, err := st.Count(ctx); err == nil {
			t.Error("Count through an opaque wrapper of a Cluster client succeeded")
		}
		if _, err := st.IDs(ctx); err == nil {
			t.Error("IDs through an opaque wrapper of a Cluster client succeeded")
		}
		if err := st.Clear(ctx); err == nil {
			t.Error("Clear through an opaque wrapper of a Cluster client succeeded")
		}
	}
	requests()
	if n := clusterInfoCalls(t, srv) - before; n != 1 {
		t.Errorf("the nodes received %d CLUSTER INFO; want 1, at the first listing", n)
	}
}

// restrictedUser creates on every server of addrs the user "app",
// password "pw", whom an ACL of the kind an application's user gets
// (+@read +@write +@keyspace, and more) keeps from CLUSTER INFO.
func restrictedUser(t *testing.T, addrs []string, more ...string) {
	t.Helper()
	for _, addr := range addrs {
		args := append([]string{"ACL", "SETUSER", "app", "on", ">pw", "~*", "resetchannels", "-@all", "+@read", "+@write", "+@keyspace"}, more...)
		if _, err := testserver.RedisCommand(addr, args...); err != nil {
			t.Fatal(err)
		}
		if out, err := testserver.RedisCommand(addr, "ACL", "DRYRUN", "app", "CLUSTER", "INFO"); err != nil || !strings.Contains(out, "no permissions") {
			t.Fatalf("ACL DRYRUN app CLUSTER INFO on %s = %q, %v; want it refused", addr, out, err)
		}
	}
}

// Through an opaque wrapper of one server's client whose user may not run
// CLUSTER INFO (an ACL of +@read +@write +@keyspace), IDs, Count and Clear
// work, on Redis and on Valkey, in RESP3 and RESP2: the server's answer to
// a bare HELLO, which every user may send, says it is no Cluster's node.
// They failed, the store asking CLUSTER INFO alone.
func TestListingThroughAnOpaqueClientOfAUserWhoMayNotRunClusterInfoWorks(t *testing.T) {
	for _, srv := range servers {
		server := srv.start(t) // its ACL changes
		restrictedUser(t, []string{server.Addr})
		for _, protocol := range []int{3, 2} {
			t.Run(fmt.Sprintf("%s/RESP%d", srv.name, protocol), func(t *testing.T) {
				listsThroughARestrictedUser(t, server, protocol)
			})
		}
	}
}

// listsThroughARestrictedUser stores sessions through an opaque wrapper of
// a client of server as the user "app" (restrictedUser) in protocol, and
// lists and clears them.
func listsThroughARestrictedUser(t *testing.T, server *testserver.Server, protocol int) {
	c := redis.NewClient(&redis.Options{Addr: server.Addr, Username: "app", Password: "pw", Protocol: protocol})
	t.Cleanup(func() { c.Close() })
	listsAndClears(t, newStore(wrapsClient{c}), clientOf(t, server))
}

// listsAndClears stores 20 sessions through st, checks that Count and IDs
// see them all, clears them, and checks through direct, a client of the
// same server, that none is left.
func listsAndClears(t *testing.T, st *redisstore.Store, direct redis.UniversalClient) {
	t.Helper()
	ctx := t.Context()
	for i := range 20 {
		if err := st.Set(ctx, "id"+strconv.Itoa(i), []byte(`{}`), time.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := st.Count(ctx); n != 20 || err != nil {
		t.Errorf("Count = %d, %v; want 20", n, err)
	}
	if ids, err := st.IDs(ctx); len(ids) != 20 || err != nil {
		t.Errorf("IDs gave %d, %v; want 20", len(ids), err)
	}
	if err := st.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := newStoreWithPrefix(direct, st.Prefix()).Count(ctx); n != 0 || err != nil {
		t.Errorf("Count after Clear = %d, %v; want 0", n, err)
	}
}

// Through an opaque wrapper of a Cluster's client whose user may not run
// CLUSTER INFO (but CLUSTER SLOTS, without which the client cannot learn
// the Cluster's layout), IDs, Count and Clear still fail, naming what to
// give New instead, on Redis and on Valkey: the server's answer to a bare
// HELLO says it is a Cluster's node.
func TestListingThroughAnOpaqueClusterClientOfAUserWhoMayNotRunClusterInfoFails(t *testing.T) {
	for _, k := range []struct {
		name  string
		start func(testing.TB) *testserver.RedisCluster
	}{{"redis", testserver.StartRedisCluster}, {"valkey", testserver.StartValkeyCluster}} {
		t.Run(k.name, func(t *testing.T) {
			ctx := t.Context()
			srv := k.start(t) // its ACL changes
			restrictedUser(t, srv.Addrs(), "+cluster|slots")
			c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: srv.Addrs(), Username: "app", Password: "pw"})
			t.Cleanup(func() { c.Close() })
			whole := redis.NewClusterClient(&redis.ClusterOptions{Addrs: srv.Addrs()})
			t.Cleanup(func() { whole.Close() })
			st := newStore(wrapsClient{c})
			listingFails(ctx, t, st, whole) // 50 keys land on all three masters
			_, err := st.Count(ctx)
			if err == nil {
				t.Fatal("Count through an opaque wrapper of a Cluster client succeeded")
			}
			for _, want := range []string{"Cluster", "HELLO", "*redis.ClusterClient", "ForEachMaster", "redisstore_test.wrapsClient"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Count's error %q does not name %q", err, want)
				}
			}
		})
	}
}

// A server that refuses the store CLUSTER INFO (its ACL) and answers no
// bare HELLO (Redis before 6.2; here, HELLO renamed away) cannot tell it
// whether an opaque client is a Cluster's: IDs, Count and Clear fail and
// say so, rather than risk the answer of one master; once the user may
// run CLUSTER INFO, they work.
func TestListingThroughAnOpaqueClientFailsWhileTheServerTellsNeitherWay(t *testing.T) {
	ctx := t.Context()
	srv := testserver.StartRedis(t, "--rename-command", "HELLO", "") // its ACL changes
	restrictedUser(t, []string{srv.Addr})
	c := redis.NewClient(&redis.Options{Addr: srv.Addr, Username: "app", Password: "pw"})
	t.Cleanup(func() { c.Close() })
	st := newStore(wrapsClient{c})
	if err := st.Set(ctx, "id", []byte(`{}`), time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	_, err := st.Count(ctx)
	if err == nil || !strings.Contains(err.Error(), "CLUSTER INFO") || !strings.Contains(err.Error(), "HELLO") || !strings.Contains(err.Error(), "+cluster|info") {
		t.Errorf("Count while CLUSTER INFO is refused and HELLO unknown: %v; want an error that names CLUSTER INFO, HELLO and +cluster|info", err)
	}
	if _, err := testserver.RedisCommand(srv.Addr, "ACL", "SETUSER", "app", "+cluster|info"); err != nil {
		t.Fatal(err)
	}
	if n, err := st.Count(ctx); n != 1 || err != nil {
		t.Errorf("Count once CLUSTER INFO is allowed = %d, %v; want 1", n, err)
	}
}
