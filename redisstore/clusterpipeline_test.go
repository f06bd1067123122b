package redisstore_test

import (
	"context"
	"net"
	"strconv"
	"sync"
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

// pipelineCounter is a hook that counts the pipelines holding a PEXPIRE
// that a node's client is given, sent or not (its connection refused).
type pipelineCounter struct{ n *atomic.Int32 }

func (pipelineCounter) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (pipelineCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (h pipelineCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, c := range cmds {
			if c.Name() == "pexpire" {
				h.n.Add(1)
				break
			}
		}
		return next(ctx, cmds)
	}
}

// On a Cluster, GetAndTouch on a server without GETEX (MGET and PEXPIRE in
// one pipeline) whose master refuses the connection (a master that has
// just died) is tried MaxRedirects+1 times in all, as the ClusterClient
// tries a pipeline of its own. The ClusterClient sends a pipeline whose
// connection it could not get again itself, MaxRedirects times, whatever
// commands it holds, and the store sent each of those tries again too,
// MaxRedirects times: (MaxRedirects+1)² tries, 16 by default, each with
// its dials and backoff, before the load failed.
func TestGetAndTouchWithoutGetExWhoseConnectionIsRefusedOnAClusterIsTriedMaxRedirectsPlusOneTimes(t *testing.T) {
	const maxRedirects = 3
	ctx := t.Context()
	srv := testserver.StartRedis(t, noGetEx...)
	nowhere := refusedAddr(t)
	var (
		refuse atomic.Bool
		mu     sync.Mutex
		conns  []net.Conn
	)
	c := redis.NewClusterClient(&redis.ClusterOptions{
		ClusterSlots: func(context.Context) ([]redis.ClusterSlot, error) {
			return []redis.ClusterSlot{{Start: 0, End: 16383, Nodes: []redis.ClusterNode{{Addr: srv.Addr}}}}, nil
		},
		MaxRedirects: maxRedirects, MinRetryBackoff: time.Millisecond, MaxRetryBackoff: time.Millisecond,
		DialerRetries: 1,
		Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if refuse.Load() {
				addr = nowhere
			}
			cn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err == nil {
				mu.Lock()
				conns = append(conns, cn)
				mu.Unlock()
			}
			return cn, err
		},
	})
	t.Cleanup(func() { c.Close() })
	var tries atomic.Int32
	c.OnNewNode(func(node *redis.Client) { node.AddHook(pipelineCounter{&tries}) })
	st := newStore(c)
	exp := time.Now().Add(time.Hour)
	if err := st.Set(ctx, "id", []byte(`{}`), exp); err != nil {
		t.Fatal(err)
	}
	// The first GetAndTouch learns that the server lacks GETEX.
	if _, _, ok, err := st.GetAndTouch(ctx, "id", exp); !ok || err != nil {
		t.Fatalf("GetAndTouch: %v, %v", ok, err)
	}
	// The master dies: its connections close, and new ones are refused.
	refuse.Store(true)
	mu.Lock()
	for _, cn := range conns {
		cn.Close()
	}
	mu.Unlock()
	tries.Store(0)
	if _, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.MGet(ctx, "ref")
		p.PExpire(ctx, "ref", time.Hour)
		return nil
	}); err == nil {
		t.Fatal("go-redis's pipeline to a master that refuses connections succeeded")
	}
	want := tries.Load()
	t.Logf("go-redis tried its own pipeline %d times", want)
	tries.Store(0)
	if _, _, _, err := st.GetAndTouch(ctx, "id", exp); err == nil {
		t.Fatal("GetAndTouch on a master that refuses connections succeeded")
	}
	if n := tries.Load(); n != want || n != maxRedirects+1 {
		t.Errorf("GetAndTouch was tried %d times; want %d, as go-redis tries a pipeline (MaxRedirects %d)", n, maxRedirects+1, maxRedirects)
	}
}
