package redisstore_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

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
