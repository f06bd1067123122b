package redisstore_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/session/internal/testserver"
)

// loadingFor keeps the server at addr loading its data (DEBUG RELOAD, each
// key slowed by key-load-delay) until the returned func is called, which
// waits for the reload to end: the server answers LOADING to a write
// meanwhile, as a master does that restarted and reads its data back.
func loadingFor(t *testing.T, addr string) (done func()) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, ReadTimeout: -1})
	t.Cleanup(func() { c.Close() })
	ctx := t.Context()
	p := c.Pipeline()
	// Many keys, each slowed a little: the server answers between
	// batches of about 70 keys (1024 bytes), so a round trip takes about
	// 15 ms, and a window of over 10 s, which done cuts short, holds the
	// tests' hundred or so.
	for i := range 50000 {
		p.Set(ctx, "loading:"+strconv.Itoa(i), "x", 0)
	}
	if _, err := p.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	for _, kv := range [][2]string{{"key-load-delay", "200"}, {"loading-process-events-interval-bytes", "1024"}} {
		if err := c.ConfigSet(ctx, kv[0], kv[1]).Err(); err != nil {
			t.Fatal(err)
		}
	}
	reloaded := make(chan error, 1)
	go func() { reloaded <- c.Do(ctx, "debug", "reload").Err() }()
	probe := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	t.Cleanup(func() { probe.Close() })
	for {
		err := probe.Set(ctx, "probe", "x", 0).Err()
		if redis.IsLoadingError(err) {
			break
		}
		select {
		case err := <-reloaded:
			t.Fatalf("DEBUG RELOAD ended before the server answered LOADING: %v", err)
		case <-time.After(time.Millisecond):
		}
	}
	return func() {
		t.Helper()
		testserver.RedisCommand(addr, "CONFIG", "SET", "key-load-delay", "0")
		if err := <-reloaded; err != nil {
			t.Fatalf("DEBUG RELOAD: %v", err)
		}
	}
}

// On a Cluster whose client reads from replicas (ReadOnly, RouteByLatency,
// RouteRandomly), a write that its master answers LOADING (a master that
// restarted and reads its data back) is sent MaxRedirects+1 times in all,
// as the ClusterClient sends any command: with ReadOnly it sends one it
// must not resend again itself after LOADING, to the slot's node its
// layout names (the master, for a write), and the store sent each of those
// tries again too, MaxRedirects times: Set, Touch, GetAndTouch, a create
// and a swap were sent (MaxRedirects+1)² times, 16 by default, each after
// a backoff of up to MaxRetryBackoff (1 s by default), before they failed.
func TestAWriteAnsweredLoadingOnAReadOnlyClusterIsSentMaxRedirectsPlusOneTimes(t *testing.T) {
	const maxRedirects = 3
	// Without ReadOnly the ClusterClient does not send it again after
	// LOADING: the store does, as many times.
	for _, readOnly := range []bool{true, false} {
		t.Run("ReadOnly="+strconv.FormatBool(readOnly), func(t *testing.T) {
			ctx := t.Context()
			master := testserver.StartRedis(t, "--enable-debug-command", "yes")
			c := redis.NewClusterClient(&redis.ClusterOptions{
				ClusterSlots: func(context.Context) ([]redis.ClusterSlot, error) {
					return []redis.ClusterSlot{{Start: 0, End: 16383, Nodes: []redis.ClusterNode{{Addr: master.Addr}}}}, nil
				},
				ReadOnly:     readOnly,
				MaxRedirects: maxRedirects, MinRetryBackoff: time.Millisecond, MaxRetryBackoff: time.Millisecond,
			})
			t.Cleanup(func() { c.Close() })
			st := newStore(c)
			exp := time.Now().Add(time.Hour)
			if err := st.Set(ctx, "warm", []byte(`{}`), exp); err != nil {
				t.Fatal(err)
			}
			done := loadingFor(t, master.Addr)
			before := receivedCalls(t, master.Addr, "set")
			err := st.Set(ctx, "id", []byte(`{"n":1}`), exp)
			n := receivedCalls(t, master.Addr, "set") - before
			done()
			if !redis.IsLoadingError(err) {
				t.Fatalf("Set on a loading master: %v; want LOADING", err)
			}
			if n != maxRedirects+1 {
				t.Errorf("the master received %d set; want %d (MaxRedirects %d)", n, maxRedirects+1, maxRedirects)
			}
		})
	}
}
