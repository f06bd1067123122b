package redisstore_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/session/internal/testserver"
)

// noGetEx are the server arguments that make it answer GETEX as a server
// before Redis 6.2 does (unknown command), so that GetAndTouch sends MGET
// and PEXPIRE in a pipeline.
var noGetEx = []string{"--rename-command", "getex", ""}

// On a Cluster, GetAndTouch on a server without GETEX (MGET and PEXPIRE in
// one pipeline) that the slot's node answers READONLY (a layout that
// still names a demoted master) or, with a client that reads from
// replicas, LOADING (a master reading its data back) is sent
// MaxRedirects+1 times in all, as any other write: the ClusterClient does
// not send a pipeline that holds a command it must not resend (PEXPIRE)
// again, and the store, which took it that the ClusterClient had, sent it
// once.
func TestGetAndTouchWithoutGetExRefusedOnAClusterIsSentMaxRedirectsPlusOneTimes(t *testing.T) {
	const maxRedirects = 3
	newCluster := func(t *testing.T, addr string, readOnly bool) *redis.ClusterClient {
		c := redis.NewClusterClient(&redis.ClusterOptions{
			ClusterSlots: func(context.Context) ([]redis.ClusterSlot, error) {
				return []redis.ClusterSlot{{Start: 0, End: 16383, Nodes: []redis.ClusterNode{{Addr: addr}}}}, nil
			},
			ReadOnly:     readOnly,
			MaxRedirects: maxRedirects, MinRetryBackoff: time.Millisecond, MaxRetryBackoff: time.Millisecond,
		})
		t.Cleanup(func() { c.Close() })
		return c
	}
	exp := time.Now().Add(time.Hour)
	t.Run("READONLY", func(t *testing.T) {
		ctx := t.Context()
		master := testserver.StartRedis(t, noGetEx...)
		replica := testserver.StartRedis(t, append([]string{"--replicaof", "127.0.0.1", strconv.Itoa(master.Port)}, noGetEx...)...)
		// A layout that names the replica the master of every slot.
		st := newStore(newCluster(t, replica.Addr, false))
		// The first GetAndTouch learns that the server lacks GETEX.
		if _, _, _, err := st.GetAndTouch(ctx, "id", exp); !redis.IsReadOnlyError(err) {
			t.Fatalf("GetAndTouch on a replica: %v; want READONLY", err)
		}
		before := receivedCalls(t, replica.Addr, "pexpire")
		if _, _, _, err := st.GetAndTouch(ctx, "id", exp); !redis.IsReadOnlyError(err) {
			t.Fatalf("GetAndTouch on a replica: %v; want READONLY", err)
		}
		if n := receivedCalls(t, replica.Addr, "pexpire") - before; n != maxRedirects+1 {
			t.Errorf("the replica received %d pexpire; want %d (MaxRedirects %d)", n, maxRedirects+1, maxRedirects)
		}
	})
	t.Run("READONLY, then a layout that names the new master", func(t *testing.T) {
		ctx := t.Context()
		master := testserver.StartRedis(t, noGetEx...)
		replica := testserver.StartRedis(t, append([]string{"--replicaof", "127.0.0.1", strconv.Itoa(master.Port)}, noGetEx...)...)
		var failedOver atomic.Bool
		c := redis.NewClusterClient(&redis.ClusterOptions{
			ClusterSlots: func(context.Context) ([]redis.ClusterSlot, error) {
				addr := replica.Addr // the layout the client read before a failover
				if failedOver.Load() {
					addr = master.Addr
				}
				return []redis.ClusterSlot{{Start: 0, End: 16383, Nodes: []redis.ClusterNode{{Addr: addr}}}}, nil
			},
			MaxRedirects: maxRedirects, MinRetryBackoff: time.Millisecond, MaxRetryBackoff: time.Millisecond,
		})
		t.Cleanup(func() { c.Close() })
		st := newStore(c)
		// The first GetAndTouch learns that the server lacks GETEX.
		if _, _, _, err := st.GetAndTouch(ctx, "id", exp); !redis.IsReadOnlyError(err) {
			t.Fatalf("GetAndTouch on a replica: %v; want READONLY", err)
		}
		failedOver.Store(true) // the layout the cluster now gives; the client still has the old one
		before := receivedCalls(t, master.Addr, "pexpire")
		if _, _, _, err := st.GetAndTouch(ctx, "id", exp); err != nil {
			t.Fatalf("GetAndTouch after READONLY, with a layout read again that names the new master: %v", err)
		}
		if n := receivedCalls(t, master.Addr, "pexpire") - before; n != 1 {
			t.Errorf("the new master received %d pexpire; want 1", n)
		}
	})
	t.Run("LOADING with ReadOnly", func(t *testing.T) {
		ctx := t.Context()
		master := testserver.StartRedis(t, append([]string{"--enable-debug-command", "yes"}, noGetEx...)...)
		st := newStore(newCluster(t, master.Addr, true))
		if err := st.Set(ctx, "id", []byte(`{}`), exp); err != nil {
			t.Fatal(err)
		}
		// The first GetAndTouch learns that the server lacks GETEX.
		if _, _, ok, err := st.GetAndTouch(ctx, "id", exp); !ok || err != nil {
			t.Fatalf("GetAndTouch: %v, %v", ok, err)
		}
		done := loadingFor(t, master.Addr)
		before := receivedCalls(t, master.Addr, "pexpire")
		_, _, _, err := st.GetAndTouch(ctx, "id", exp)
		n := receivedCalls(t, master.Addr, "pexpire") - before
		done()
		if !redis.IsLoadingError(err) {
			t.Fatalf("GetAndTouch on a loading master: %v; want LOADING", err)
		}
		if n != maxRedirects+1 {
			t.Errorf("the master received %d pexpire; want %d (MaxRedirects %d)", n, maxRedirects+1, maxRedirects)
		}
	})
}
