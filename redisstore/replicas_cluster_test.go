package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/redisstore"
)

// TestWithReplicasOnClusterRetriesWritesThatDidNotRun: with WithReplicas a
// write goes to the slot's master as a pipeline of its own (the command and
// WAIT), past the ClusterClient's handling of redirects and failures. A
// write that the Cluster answered with MOVED, ASK or CLUSTERDOWN, or whose
// master could not be reached, did not run; the store sends it again where
// the Cluster says, as the ClusterClient would, and it succeeds where it
// used to fail. Each case checks that its first attempt did get that answer.
func TestWithReplicasOnClusterRetriesWritesThatDidNotRun(t *testing.T) {
	t.Parallel()
	cl := testserver.StartReplicatedRedisCluster(t)
	exp := time.Now().Add(time.Hour)

	// A slot moved to another master after the client read the layout:
	// the old master answers MOVED.
	t.Run("MovedSlot", func(t *testing.T) {
		ctx := t.Context()
		w := watchCluster(t, cl, redis.ClusterOptions{}, nil)
		st := newStore(w.client, redisstore.WithReplicas(1, 5*time.Second))
		src, dst := cl.Masters[0], cl.Masters[1]
		id, slot := idOn(t, w.client, st, src)
		if err := st.Set(ctx, id, []byte(`{"n":1}`), exp); err != nil {
			t.Fatal(err)
		}
		moveSlot(t, slot, st.Prefix()+id, src, dst, cl)
		w.reset()
		if err := st.Set(ctx, id, []byte(`{"n":2}`), exp); err != nil {
			t.Fatalf("Set after the slot moved: %v", err)
		}
		w.firstWas(t, "MOVED", func(err error) bool { _, ok := redis.IsMovedError(err); return ok })
		if got, _, _ := st.Get(ctx, id); string(got) != `{"n":2}` {
			t.Fatalf("the session after the Set: %s", got)
		}
	})

	// A slot half way through its migration: the old master answers ASK
	// for a key it does not have, and the new one takes it after ASKING.
	t.Run("AskDuringMigration", func(t *testing.T) {
		ctx := t.Context()
		w := watchCluster(t, cl, redis.ClusterOptions{}, nil)
		st := newStore(w.client, redisstore.WithReplicas(1, 5*time.Second))
		src, dst := cl.Masters[2], cl.Masters[0]
		id, slot := idOn(t, w.client, st, src)
		srcID, dstID := nodeID(t, src), nodeID(t, dst)
		operate(t, dst, "CLUSTER", "SETSLOT", strconv.Itoa(slot), "IMPORTING", srcID)
		operate(t, src, "CLUSTER", "SETSLOT", strconv.Itoa(slot), "MIGRATING", dstID)
		ver, swapped, err := st.CompareAndSwap(ctx, id, "", []byte(`{"n":1}`), exp)
		if err != nil || !swapped {
			t.Fatalf("creating a session in a migrating slot: swapped %v, %v", swapped, err)
		}
		w.firstWas(t, "ASK", func(err error) bool { _, ok := redis.IsAskError(err); return ok })
		for _, n := range []*testserver.Server{dst, src} {
			operate(t, n, "CLUSTER", "SETSLOT", strconv.Itoa(slot), "NODE", dstID)
		}
		if _, v, found, err := st.GetVersion(ctx, id); err != nil || !found || v != ver {
			t.Fatalf("the session after the migration: found %v, version %q (want %q), %v", found, v, ver, err)
		}
	})

	// The master does not serve the slot for a moment (CLUSTERDOWN), as
	// while a Cluster fails over: a read-only request's load (GetAndTouch,
	// a write with WithReplicas) is sent again after the client's backoff,
	// by then the slot is served. The client's MaxRedirects bounds the
	// retries: a client that allows none fails as before.
	t.Run("ClusterDown", func(t *testing.T) {
		ctx := t.Context()
		owner := cl.Masters[1]
		var slot string
		var mu sync.Mutex
		restore := func(addr string, first error) {
			mu.Lock()
			defer mu.Unlock()
			if slot != "" && addr == owner.Addr && redis.IsClusterDownError(first) {
				operate(t, owner, "CLUSTER", "ADDSLOTS", slot)
				slot = ""
			}
		}
		w := watchCluster(t, cl, redis.ClusterOptions{MinRetryBackoff: 50 * time.Millisecond, MaxRetryBackoff: 100 * time.Millisecond}, restore)
		none := watchCluster(t, cl, redis.ClusterOptions{MaxRedirects: -1}, nil)
		st := newStore(w.client, redisstore.WithReplicas(1, 5*time.Second))
		stNone := redisstore.New(none.client, redisstore.WithPrefix(st.Prefix()), redisstore.WithReplicas(1, 5*time.Second))
		id, n := idOn(t, w.client, st, owner)
		if err := st.Set(ctx, id, []byte(`{"n":1}`), exp); err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := stNone.GetVersion(ctx, id); err != nil { // reads the layout
			t.Fatal(err)
		}
		operate(t, owner, "CLUSTER", "DELSLOTS", strconv.Itoa(n))
		t.Cleanup(func() {
			mu.Lock()
			defer mu.Unlock()
			if slot != "" {
				testserver.RedisCommand(owner.Addr, "CLUSTER", "ADDSLOTS", slot)
			}
		})
		none.reset()
		if _, _, _, err := stNone.GetAndTouch(ctx, id, exp); !redis.IsClusterDownError(err) {
			t.Errorf("GetAndTouch on a client with MaxRedirects -1 while the slot is not served: %v, want CLUSTERDOWN", err)
		}
		if got := none.count(); got != 1 {
			t.Errorf("the client with MaxRedirects -1 sent the write %d times, want 1", got)
		}
		mu.Lock()
		slot = strconv.Itoa(n)
		mu.Unlock()
		w.reset()
		data, _, found, err := st.GetAndTouch(ctx, id, exp)
		if err != nil || !found || string(data) != `{"n":1}` {
			t.Fatalf("GetAndTouch while the slot is not served for a moment: %s, found %v, %v", data, found, err)
		}
		w.firstWas(t, "CLUSTERDOWN", redis.IsClusterDownError)
	})

	// A compare-and-swap whose answer never came (the master stopped, the
	// read timed out) may have been applied: it is an error, and it is not
	// sent again, where a second swap could apply a write the caller no
	// longer means or report as a conflict the caller's own write.
	t.Run("TimeoutIsNotRetried", func(t *testing.T) {
		ctx := t.Context()
		w := watchCluster(t, cl, redis.ClusterOptions{ReadTimeout: 300 * time.Millisecond}, nil)
		st := newStore(w.client, redisstore.WithReplicas(1, 100*time.Millisecond))
		master := cl.Masters[0]
		id, _ := idOn(t, w.client, st, master)
		if err := st.Set(ctx, id, []byte(`{"n":1}`), exp); err != nil {
			t.Fatal(err)
		}
		_, v, _, err := st.GetVersion(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		// Stopped for less than the Cluster's node timeout: no failover.
		pid := processID(t, clientOf(t, master))
		if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		resumed := false
		resume := func() {
			if !resumed {
				resumed = true
				syscall.Kill(pid, syscall.SIGCONT)
			}
		}
		t.Cleanup(resume)
		w.reset()
		_, swapped, err := st.CompareAndSwap(ctx, id, v, []byte(`{"n":2}`), exp)
		resume()
		var netErr net.Error
		if !errors.As(err, &netErr) || !netErr.Timeout() || swapped {
			t.Errorf("CompareAndSwap on a stopped master: swapped %v, %v; want a timeout", swapped, err)
		}
		if n := w.count(); n != 1 {
			t.Errorf("the compare-and-swap was sent %d times, want once", n)
		}
	})

	// The caller's context ends while the write waits to be sent again
	// (the slot is not served, and the retry backoff is longer than the
	// context): the error is the context's, as when it ends during the
	// write itself, so that the manager sees a store that ran out of
	// StoreTimeout (it then sends no restoring touch, which would wait for
	// another StoreTimeout).
	t.Run("ContextEndsDuringBackoff", func(t *testing.T) {
		owner := cl.Masters[1]
		w := watchCluster(t, cl, redis.ClusterOptions{MinRetryBackoff: 10 * time.Second, MaxRetryBackoff: 10 * time.Second}, nil)
		st := newStore(w.client, redisstore.WithReplicas(1, 5*time.Second))
		id, n := idOn(t, w.client, st, owner)
		if err := st.Set(t.Context(), id, []byte(`{"n":1}`), exp); err != nil {
			t.Fatal(err)
		}
		slot := strconv.Itoa(n)
		operate(t, owner, "CLUSTER", "DELSLOTS", slot)
		t.Cleanup(func() { operate(t, owner, "CLUSTER", "ADDSLOTS", slot) })
		w.reset()
		// 1 s: time enough for the first try on a loaded machine, and
		// far less than the backoff.
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		err := st.Set(ctx, id, []byte(`{"n":2}`), exp)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Set whose context ended while it waited to be sent again: %v, want context.DeadlineExceeded", err)
		}
		if !redis.IsClusterDownError(w.firsts0()) {
			t.Errorf("the Set's first pipeline: %v, want CLUSTERDOWN", w.firsts0())
		}
	})

	// The key's master is gone (killed) and its slot now on another
	// master: the stale layout's master refuses the connection, and the
	// write goes to the master the layout, read again, names.
	t.Run("MasterGone", func(t *testing.T) {
		ctx := t.Context()
		w := watchCluster(t, cl, redis.ClusterOptions{}, nil)
		st := newStore(w.client, redisstore.WithReplicas(1, 5*time.Second))
		gone, dst := cl.Masters[2], cl.Masters[1]
		id, slot := idOn(t, w.client, st, gone)
		if err := st.Set(ctx, id, []byte(`{"n":1}`), exp); err != nil {
			t.Fatal(err)
		}
		_, v, _, err := st.GetVersion(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		moveSlot(t, slot, st.Prefix()+id, gone, dst, cl)
		gone.Kill()
		// Wait until the Cluster serves again (the replica of the killed
		// master took over its other slots).
		deadline := time.Now().Add(30 * time.Second)
		for serving := false; !serving; {
			serving = true
			for _, n := range []*testserver.Server{cl.Replicas[2], dst} {
				info, err := testserver.RedisCommand(n.Addr, "CLUSTER", "INFO")
				serving = serving && err == nil && strings.Contains(info, "cluster_state:ok")
			}
			if role, _ := testserver.RedisRole(cl.Replicas[2].Addr); role != "master" {
				serving = false
			}
			if !serving && time.Now().After(deadline) {
				t.Fatal("the Cluster does not serve 30s after a master was killed")
			}
			time.Sleep(50 * time.Millisecond)
		}
		w.reset()
		_, swapped, err := st.CompareAndSwap(ctx, id, v, []byte(`{"n":2}`), exp)
		if err != nil || !swapped {
			t.Fatalf("CompareAndSwap after its master was killed: swapped %v, %v", swapped, err)
		}
		w.firstWas(t, "a refused connection", func(err error) bool {
			var op *net.OpError
			return errors.As(err, &op) && op.Op == "dial"
		})
	})
}

// watchedCluster is a ClusterClient whose node clients report each
// pipeline that carries a WAIT (the store's writes under WithReplicas).
type watchedCluster struct {
	client *redis.ClusterClient
	mu     sync.Mutex
	firsts []error // the error of each pipeline's first command
}

// watchCluster returns a client of cl with opt's settings; after, if not
// nil, runs after each write pipeline with the node's address and the
// error of the pipeline's first command.
func watchCluster(t *testing.T, cl *testserver.ReplicatedRedisCluster, opt redis.ClusterOptions, after func(addr string, first error)) *watchedCluster {
	w := &watchedCluster{}
	opt.Addrs = cl.Addrs()
	opt.NewClient = func(o *redis.Options) *redis.Client {
		c := redis.NewClient(o)
		c.AddHook(pipelineHook(func(ctx context.Context, cmds []redis.Cmder, next redis.ProcessPipelineHook) error {
			err := next(ctx, cmds)
			if cmds[len(cmds)-1].Name() != "wait" {
				return err
			}
			first := cmds[0].Err()
			w.mu.Lock()
			w.firsts = append(w.firsts, first)
			w.mu.Unlock()
			if after != nil {
				after(o.Addr, first)
			}
			return err
		}))
		return c
	}
	w.client = redis.NewClusterClient(&opt)
	t.Cleanup(func() { w.client.Close() })
	return w
}

// reset forgets the pipelines so far.
func (w *watchedCluster) reset() {
	w.mu.Lock()
	w.firsts = nil
	w.mu.Unlock()
}

// count returns the number of write pipelines since the last reset.
func (w *watchedCluster) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.firsts)
}

// firsts0 returns the error of the first write pipeline since the last
// reset, nil if there was none.
func (w *watchedCluster) firsts0() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.firsts) == 0 {
		return nil
	}
	return w.firsts[0]
}

// firstWas fails t unless the first write pipeline since the last reset
// failed with an error that is reports (what names it) and a later one succeeded.
func (w *watchedCluster) firstWas(t *testing.T, what string, is func(error) bool) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.firsts) < 2 || !is(w.firsts[0]) || w.firsts[len(w.firsts)-1] != nil {
		t.Errorf("the write's pipelines' first errors: %v; want %s, then success", w.firsts, what)
	}
}

// pipelineHook is a go-redis hook that wraps only pipelines.
type pipelineHook func(ctx context.Context, cmds []redis.Cmder, next redis.ProcessPipelineHook) error

func (h pipelineHook) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (h pipelineHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (h pipelineHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { return h(ctx, cmds, next) }
}

// idOn returns an id whose key in st is in a slot that master serves, and the slot.
func idOn(t *testing.T, c *redis.ClusterClient, st *redisstore.Store, master *testserver.Server) (string, int) {
	t.Helper()
	ctx := t.Context()
	for i := range 1000 {
		id := fmt.Sprintf("id%d", i)
		node, err := c.MasterForKey(ctx, st.Prefix()+id)
		if err != nil {
			t.Fatal(err)
		}
		if node.Options().Addr == master.Addr {
			slot, err := c.ClusterKeySlot(ctx, st.Prefix()+id).Result()
			if err != nil {
				t.Fatal(err)
			}
			return id, int(slot)
		}
	}
	t.Fatalf("no id of 1000 on %s", master.Addr)
	return "", 0
}

// moveSlot moves slot, which holds key and nothing else, from master src to
// master dst, as redis-cli --cluster reshard would, and tells every master.
func moveSlot(t *testing.T, slot int, key string, src, dst *testserver.Server, cl *testserver.ReplicatedRedisCluster) {
	t.Helper()
	s := strconv.Itoa(slot)
	srcID, dstID := nodeID(t, src), nodeID(t, dst)
	operate(t, dst, "CLUSTER", "SETSLOT", s, "IMPORTING", srcID)
	operate(t, src, "CLUSTER", "SETSLOT", s, "MIGRATING", dstID)
	operate(t, src, "MIGRATE", "127.0.0.1", strconv.Itoa(dst.Port), key, "0", "5000")
	operate(t, dst, "CLUSTER", "SETSLOT", s, "NODE", dstID)
	operate(t, src, "CLUSTER", "SETSLOT", s, "NODE", dstID)
	for _, m := range cl.Masters {
		if m != src && m != dst && m.Running() {
			operate(t, m, "CLUSTER", "SETSLOT", s, "NODE", dstID)
		}
	}
}

// nodeID returns the Cluster node id of n.
func nodeID(t *testing.T, n *testserver.Server) string {
	t.Helper()
	return operate(t, n, "CLUSTER", "MYID")
}

// operate runs an operator's command on n and returns its reply.
func operate(t *testing.T, n *testserver.Server, words ...string) string {
	t.Helper()
	r, err := testserver.RedisCommand(n.Addr, words...)
	if err != nil {
		t.Fatalf("%s on %s: %v", strings.Join(words, " "), n.Addr, err)
	}
	return r
}

// TestWithReplicasOnClusterDoesNotResendAWriteWhoseWaitLostItsMaster: a
// write that its master ran and answered, and whose WAIT then lost the
// connection (the master was killed), may have been applied. With the
// client's MaxRetries, go-redis sends the pipeline again itself, and when
// that cannot connect it puts the refused connection on the write's
// command too, which never saw it. The store must not take that for a
// write that never went out: it returns an error and does not send the
// write again, where a second create (SET NX) would find the session its
// first one made and report it taken.
func TestWithReplicasOnClusterDoesNotResendAWriteWhoseWaitLostItsMaster(t *testing.T) {
	t.Parallel()
	cl := testserver.StartReplicatedRedisCluster(t)
	ctx := t.Context()
	w := watchCluster(t, cl, redis.ClusterOptions{MaxRetries: 1, ReadTimeout: 20 * time.Second}, nil)
	// Two replicas where the master has one: the WAIT blocks, so that the
	// master can be killed between the write's answer and the WAIT's (10 s
	// is time enough to see the WAIT and kill the master, even on a loaded
	// machine; the store answers as soon as the master is gone).
	st := newStore(w.client, redisstore.WithReplicas(2, 10*time.Second))
	master := cl.Masters[0]
	id, _ := idOn(t, w.client, st, master)
	type result struct {
		created bool
		err     error
	}
	done := make(chan result, 1)
	go func() {
		_, created, err := st.CompareAndSwap(ctx, id, "", []byte(`{"n":1}`), time.Now().Add(time.Hour))
		done <- result{created, err}
	}()
	// Kill the master once the create ran and its WAIT is blocked.
	admin := clientOf(t, master)
	for deadline := time.Now().Add(9 * time.Second); ; {
		list, err := admin.ClientList(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(list, "cmd=wait") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no client blocked in WAIT on the master after 9s:\n%s", list)
		}
		time.Sleep(20 * time.Millisecond)
	}
	master.Kill()
	var r result
	select {
	case r = <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("CompareAndSwap did not return 30s after its master was killed (the create was sent %d times)", w.count())
	}
	if errors.Is(r.err, redisstore.ErrNotReplicated) && w.count() == 1 {
		t.Skip("the machine was too slow: the WAIT returned before the master was killed")
	}
	if r.err == nil {
		t.Errorf("a create whose master died during its WAIT: created %v, no error; want an error", r.created)
	}
	if n := w.count(); n != 1 {
		t.Errorf("the create was sent %d times (created %v, %v), want once", n, r.created, r.err)
	}
}

// TestWithReplicasOnClusterSendsAgainAWriteThatWaitedOutThePool: a write
// that found no connection free in its master's pool within PoolTimeout
// never went out, and the ClusterClient sends its own commands again after
// that; with WithReplicas, whose pipeline to the master bypasses it, the
// store must too. It failed the write at once (a save under load answered
// 500 where a write without WithReplicas waited again).
func TestWithReplicasOnClusterSendsAgainAWriteThatWaitedOutThePool(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	cl := testserver.StartReplicatedRedisCluster(t)
	client := redis.NewClusterClient(&redis.ClusterOptions{
		// Pipelines (a write and its WAIT) take connections from the
		// main pool, as they do beyond the pipeline pool's (10 by default).
		Addrs: cl.Addrs(), PoolSize: 1, PoolTimeout: 2 * time.Second, PipelinePoolSize: -1,
		MinRetryBackoff: time.Millisecond, MaxRetryBackoff: time.Millisecond,
	})
	t.Cleanup(func() { client.Close() })
	st := newStore(client, redisstore.WithReplicas(1, 5*time.Second))
	exp := time.Now().Add(time.Hour)
	if err := st.Set(ctx, "id", []byte(`{"n":1}`), exp); err != nil {
		t.Fatal(err)
	}
	master, err := client.MasterForKey(ctx, st.Prefix()+"id")
	if err != nil {
		t.Fatal(err)
	}
	// Another request holds the master's only connection until the write
	// has waited out the pool once.
	held := master.Conn()
	if err := held.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- st.Set(ctx, "id", []byte(`{"n":2}`), exp) }()
	for master.PoolStats().Timeouts == 0 {
		select {
		case err := <-done:
			t.Fatalf("Set while the pool's only connection was held: %v; want it sent again once one is free", err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	held.Close()
	if err := <-done; err != nil {
		t.Fatalf("Set that waited out the pool once: %v; want it sent again", err)
	}
	if got, _, err := st.Get(ctx, "id"); err != nil || string(got) != `{"n":2}` {
		t.Fatalf("the session after the Set: %s, %v", got, err)
	}
}
