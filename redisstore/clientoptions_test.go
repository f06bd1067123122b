package redisstore_test

import (
	"context"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/redisstore"
)

// nilOptionsCluster is a user's type around a *redis.ClusterClient whose
// Options method gives no options (a wrapper that does not keep them).
type nilOptionsCluster struct{ *redis.ClusterClient }

func (nilOptionsCluster) Options() *redis.ClusterOptions { return nil }

// refusingCluster returns a Cluster client whose only master refuses
// every connection, counting its dials in dials.
func refusingCluster(t *testing.T, dials *atomic.Int32) *redis.ClusterClient {
	t.Helper()
	nowhere := refusedAddr(t)
	c := redis.NewClusterClient(&redis.ClusterOptions{
		ClusterSlots: func(context.Context) ([]redis.ClusterSlot, error) {
			return []redis.ClusterSlot{{Start: 0, End: 16383, Nodes: []redis.ClusterNode{{Addr: nowhere}}}}, nil
		},
		DialerRetries: 1,
		Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	})
	t.Cleanup(func() { c.Close() })
	return c
}

// A write with WithReplicas through a Cluster type whose Options method
// gives nil, and whose slot's master refuses every connection, fails
// after as many tries as through a ClusterClient of go-redis's default
// options (MaxRedirects 3), as the store takes such a client: it panicked
// (a nil *ClusterOptions read for MaxRedirects once the first try proved
// it had not run), and, taking the client for a single server's, the
// store would have sent each of the write's own tries again as many times.
func TestAWriteWithReplicasThroughAClusterTypeWithoutOptionsIsTriedAsGoRedisDefaultsSay(t *testing.T) {
	set := func(client redis.UniversalClient) {
		t.Helper()
		st := newStore(client, redisstore.WithReplicas(1, time.Second))
		if err := st.Set(t.Context(), "id", []byte(`{"n":1}`), time.Now().Add(time.Hour)); err == nil {
			t.Fatal("a write whose every connection was refused succeeded")
		}
	}
	var want, got atomic.Int32
	set(refusingCluster(t, &want)) // MaxRedirects 3, go-redis's default
	set(nilOptionsCluster{refusingCluster(t, &got)})
	if got.Load() != want.Load() {
		t.Errorf("%d dials through a Cluster type whose Options gives nil; want %d, as through a ClusterClient of go-redis's default options", got.Load(), want.Load())
	}
}

// embedsRing is a user's client type that embeds *redis.Ring.
type embedsRing struct{ *redis.Ring }

// IDs, Count and Clear walk every shard of a Ring, through the Ring and
// through a user's type that embeds it (ForEachShard), not the one shard
// that SCAN through the Ring goes to.
func TestListingThroughARingOrATypeEmbeddingOneSeesEveryShard(t *testing.T) {
	a, b := testserver.StartRedis(t), testserver.StartRedis(t)
	for name, wrap := range map[string]func(*redis.Ring) redis.UniversalClient{
		"Ring":                         func(r *redis.Ring) redis.UniversalClient { return r },
		"a type embedding *redis.Ring": func(r *redis.Ring) redis.UniversalClient { return embedsRing{r} },
	} {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": a.Addr, "b": b.Addr}})
			t.Cleanup(func() { ring.Close() })
			st := newStore(wrap(ring))
			for i := range 50 {
				if err := st.Set(ctx, "id"+strconv.Itoa(i), []byte(`{}`), time.Now().Add(time.Minute)); err != nil {
					t.Fatal(err)
				}
			}
			stored := func() (n int) {
				for _, srv := range []*testserver.Server{a, b} {
					keys, err := clientOf(t, srv).Keys(ctx, st.Prefix()+"*").Result()
					if err != nil {
						t.Fatal(err)
					}
					if len(keys) == 0 {
						t.Fatalf("no session on shard %s: the test needs both", srv.Addr)
					}
					n += len(keys)
				}
				return n
			}
			if n := stored(); n != 50 {
				t.Fatalf("%d sessions stored; want 50", n)
			}
			if n, err := st.Count(ctx); n != 50 || err != nil {
				t.Errorf("Count = %d, %v; want 50", n, err)
			}
			if err := st.Clear(ctx); err != nil {
				t.Fatal(err)
			}
			for _, srv := range []*testserver.Server{a, b} {
				if n, err := clientOf(t, srv).Keys(ctx, st.Prefix()+"*").Result(); len(n) != 0 || err != nil {
					t.Errorf("shard %s after Clear: %d sessions, %v; want none", srv.Addr, len(n), err)
				}
			}
		})
	}
}

// A client made with MaxRetries -1 (no retries, in go-redis) has the
// store send a write whose answer is lost once, through go-redis's own
// client types and a user's type that embeds one, as go-redis would:
// the store reads the client's settings as its constructor settled them
// (0), never go-redis's default of 3 that a MaxRetries of 0 would give.
func TestAWriteThroughAClientWithoutRetriesIsTriedOnce(t *testing.T) {
	direct := standalone(t)
	for _, kind := range clientKinds {
		if kind.name == "a type wrapping a UniversalClient" {
			continue // the store cannot read its settings: go-redis's defaults
		}
		for _, w := range lostReplyWrites {
			t.Run(kind.name+"/"+w.name, func(t *testing.T) {
				ctx := t.Context()
				p := testserver.StartProxy(t, direct.Options().Addr)
				client := kind.make(&redis.Options{Addr: p.Addr, MaxRetries: -1})
				t.Cleanup(func() { client.Close() })
				st := newStore(client)
				stored := []byte(`{"n":1}`)
				if w.name != "create" {
					if err := direct.Set(ctx, st.Prefix()+"id", stored, time.Hour).Err(); err != nil {
						t.Fatal(err)
					}
				}
				p.LoseReplies("\r\n"+w.command+"\r\n", 1)
				if _, err := resentWrites[w.name](ctx, st, stored, time.Now().Add(time.Hour)); err == nil {
					t.Fatalf("%s whose every answer was lost succeeded", w.name)
				}
				if n := p.LostReplies(); n != 1 {
					t.Errorf("%s tried %d times through a client of MaxRetries -1; want once", w.name, n)
				}
			})
		}
	}
}

// optionsCluster is a user's type around a Cluster's client that gives
// its options (so the store takes it for a Cluster's) but not the methods
// of *redis.ClusterClient that walk the masters.
type optionsCluster struct {
	redis.UniversalClient
	opt *redis.ClusterOptions
}

func (c optionsCluster) Options() *redis.ClusterOptions { return c.opt }

// Through a client the store knows for a Cluster's (its Options gives
// *redis.ClusterOptions) but that cannot walk the masters (no
// ForEachMaster), IDs, Count and Clear fail, where they went to one
// master: Count reported that master's sessions alone and Clear reported
// success and left the other masters' sessions stored.
func TestListingThroughAClusterTypeThatCannotWalkItsMastersFails(t *testing.T) {
	ctx := t.Context()
	c := cluster(t)
	listingFails(ctx, t, newStore(optionsCluster{c, c.Options()}), c) // 50 keys land on all three masters
}

// listingFails stores 50 sessions through st, and checks that st's Count,
// IDs and Clear fail; whole, through the client that can walk every node,
// counts what a Clear that did not fail left.
func listingFails(ctx context.Context, t *testing.T, st *redisstore.Store, whole redis.UniversalClient) {
	t.Helper()
	for i := range 50 {
		if err := st.Set(ctx, "id"+strconv.Itoa(i), []byte(`{}`), time.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := st.Count(ctx); err == nil {
		t.Errorf("Count = %d, nil; want an error (50 sessions stored)", n)
	}
	if ids, err := st.IDs(ctx); err == nil {
		t.Errorf("IDs gave %d, nil; want an error (50 sessions stored)", len(ids))
	}
	if err := st.Clear(ctx); err == nil {
		n, err := redisstore.New(whole, redisstore.WithPrefix(st.Prefix())).Count(ctx)
		t.Errorf("Clear = nil and left %d sessions (%v); want an error", n, err)
	}
}

// optionsRing is a user's type around a Ring's client that gives its
// options but not ForEachShard.
type optionsRing struct {
	redis.UniversalClient
	opt *redis.RingOptions
}

func (c optionsRing) Options() *redis.RingOptions { return c.opt }

// Through a client that gives a Ring's options but cannot walk its shards
// (no ForEachShard), IDs, Count and Clear fail, where they went to one
// shard: Count reported that shard's sessions alone and Clear reported
// success and left the other shard's sessions stored.
func TestListingThroughARingTypeThatCannotWalkItsShardsFails(t *testing.T) {
	ctx := t.Context()
	a, b := testserver.StartRedis(t), testserver.StartRedis(t)
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": a.Addr, "b": b.Addr}})
	t.Cleanup(func() { ring.Close() })
	listingFails(ctx, t, newStore(optionsRing{ring, ring.Options()}), ring) // 50 keys land on both shards
}
