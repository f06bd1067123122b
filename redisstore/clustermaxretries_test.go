package redisstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/session/internal/testserver"
)

// clusterOf returns a Cluster client whose layout names the server at addr
// the master of every slot, with MaxRedirects 3, the given MaxRetries and
// ReadOnly, and a backoff of 1 ms.
func clusterOf(t *testing.T, addr string, maxRetries int, readOnly bool) *redis.ClusterClient {
	t.Helper()
	c := redis.NewClusterClient(&redis.ClusterOptions{
		ClusterSlots: func(context.Context) ([]redis.ClusterSlot, error) {
			return []redis.ClusterSlot{{Start: 0, End: 16383, Nodes: []redis.ClusterNode{{Addr: addr}}}}, nil
		},
		MaxRedirects: 3, MaxRetries: maxRetries, ReadOnly: readOnly,
		MinRetryBackoff: time.Millisecond, MaxRetryBackoff: time.Millisecond,
	})
	t.Cleanup(func() { c.Close() })
	return c
}

// clusterWrites are the writes the store sends as commands go-redis must
// not send again, with the command each sends, on a session stored as
// `{"n":1}` (a create finds none: another id), on a server without SET
// IFEQ whose store has learnt so (a swap is a script).
var clusterWrites = []struct{ name, command string }{
	{"set", "set"}, {"touch", "pexpire"}, {"get-and-touch", "getex"}, {"create", "set"}, {"swap", "evalsha"},
}

// A write that a Cluster's master answers LOADING (a master that restarted
// and reads its data back) is sent as many times as the ClusterClient
// sends a command of its own: MaxRedirects+1 tries of the cluster, each
// sent by the node's client MaxRetries+1 times (MaxRetries -1, the
// Cluster's default, counting as 0). The store sent it MaxRedirects+1
// times whatever the client's MaxRetries: a user who raised MaxRetries to
// ride out a restart got a quarter of the tries go-redis makes (4 of 12
// with MaxRetries 2), with or without ReadOnly.
func TestAWriteAnsweredLoadingOnAClusterIsSentAsOftenAsTheClusterClientSendsACommand(t *testing.T) {
	for _, maxRetries := range []int{-1, 2} {
		for _, readOnly := range []bool{false, true} {
			t.Run(fmt.Sprintf("MaxRetries=%d/ReadOnly=%v", maxRetries, readOnly), func(t *testing.T) {
				ctx := t.Context()
				master := testserver.StartRedis(t, "--enable-debug-command", "yes")
				c := clusterOf(t, master.Addr, maxRetries, readOnly)
				st := newStore(c)
				exp := time.Now().Add(time.Hour)
				stored := []byte(`{"n":1}`)
				if err := st.Set(ctx, "id", stored, exp); err != nil {
					t.Fatal(err)
				}
				// Redis 7.0 has no SET IFEQ: the store learns it here, and
				// swaps with the script from then on.
				if _, _, err := st.CompareAndSwap(ctx, "id", string(stored), stored, exp); err != nil {
					t.Fatal(err)
				}
				done := loadingFor(t, master.Addr)
				defer done()
				before := receivedCalls(t, master.Addr, "set")
				if err := c.Set(ctx, "ref", "x", time.Hour).Err(); !redis.IsLoadingError(err) {
					t.Fatalf("go-redis's SET on a loading master: %v; want LOADING", err)
				}
				want := receivedCalls(t, master.Addr, "set") - before
				t.Logf("go-redis sent its own SET %d times", want)
				for _, w := range clusterWrites {
					before := receivedCalls(t, master.Addr, w.command)
					if _, err := resentWrites[w.name](ctx, st, stored, exp); !redis.IsLoadingError(err) {
						t.Fatalf("%s on a loading master: %v; want LOADING", w.name, err)
					}
					if n := receivedCalls(t, master.Addr, w.command) - before; n != want {
						t.Errorf("%s: the master received %d %s; want %d, as go-redis sends a command", w.name, n, w.command, want)
					}
				}
			})
		}
	}
}

// A write that a replica answers READONLY (the Cluster client's layout
// names a master that a failover demoted) is sent as many times as the
// ClusterClient sends a command of its own: with MaxRetries 2 go-redis
// sends one 12 times (each of its MaxRedirects+1 tries three times), the
// store sent the writes it must not send again 4 times, the ClusterClient's
// own tries of a command it must not resend, whatever the MaxRetries.
func TestAWriteAnsweredReadOnlyOnAClusterIsSentAsOftenAsTheClusterClientSendsACommand(t *testing.T) {
	ctx := t.Context()
	master := testserver.StartRedis(t)
	replica := testserver.StartRedis(t, "--replicaof", "127.0.0.1", fmt.Sprint(master.Port))
	c := clusterOf(t, replica.Addr, 2, false)
	st := newStore(c)
	exp := time.Now().Add(time.Hour)
	stored := []byte(`{"n":1}`)
	direct := clientOf(t, master)
	if err := direct.Set(ctx, st.Prefix()+"id", stored, time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	// The replica counts the SET it receives from its master in its
	// commandstats: wait until it has run it, or it may land among the
	// tries counted below.
	if n, err := direct.Wait(ctx, 1, 0).Result(); n != 1 || err != nil {
		t.Fatalf("WAIT for the replica = %d, %v; want 1", n, err)
	}
	before := receivedCalls(t, replica.Addr, "set")
	if err := c.Set(ctx, "ref", "x", time.Hour).Err(); !redis.IsReadOnlyError(err) {
		t.Fatalf("go-redis's SET on a replica: %v; want READONLY", err)
	}
	want := receivedCalls(t, replica.Addr, "set") - before
	t.Logf("go-redis sent its own SET %d times", want)
	for _, w := range clusterWrites {
		if w.name == "swap" {
			continue // a script on Redis 7.0: its tries do not show in a replica's commandstats
		}
		before := receivedCalls(t, replica.Addr, w.command)
		if _, err := resentWrites[w.name](ctx, st, stored, exp); !redis.IsReadOnlyError(err) {
			t.Fatalf("%s on a replica: %v; want READONLY", w.name, err)
		}
		if n := receivedCalls(t, replica.Addr, w.command) - before; n != want {
			t.Errorf("%s: the replica received %d %s; want %d, as go-redis sends a command", w.name, n, w.command, want)
		}
	}
}

// A write whose every answer is lost (a connection reset once it went
// out) is tried as many times as the ClusterClient tries a command of its
// own: (MaxRedirects+1) × (MaxRetries+1), MaxRetries -1 (a Cluster's
// default) counting as 0, so that only MaxRedirects -1 with it has the
// write tried once. With MaxRetries 2 the store tried it MaxRedirects+1
// times (4 of go-redis's 12, 1 of its 3 with MaxRedirects -1). A swap,
// which may have run, is tried once.
func TestAWriteWhoseRepliesAreLostOnAClusterIsTriedAsOftenAsTheClusterClientTriesACommand(t *testing.T) {
	direct := standalone(t)
	ctx := t.Context()
	for _, o := range []struct{ maxRedirects, maxRetries int }{{3, 2}, {-1, 2}, {-1, -1}, {3, -1}} {
		t.Run(fmt.Sprintf("MaxRedirects=%d/MaxRetries=%d", o.maxRedirects, o.maxRetries), func(t *testing.T) {
			client := func(addr string) *redis.ClusterClient {
				c := redis.NewClusterClient(&redis.ClusterOptions{
					ClusterSlots: func(context.Context) ([]redis.ClusterSlot, error) {
						return []redis.ClusterSlot{{Start: 0, End: 16383, Nodes: []redis.ClusterNode{{Addr: addr}}}}, nil
					},
					MaxRedirects: o.maxRedirects, MaxRetries: o.maxRetries,
					MinRetryBackoff: time.Millisecond, MaxRetryBackoff: time.Millisecond,
				})
				t.Cleanup(func() { c.Close() })
				return c
			}
			want := func() int {
				p := testserver.StartProxy(t, direct.Options().Addr)
				p.LoseReplies("\r\nset\r\n", 1)
				if err := client(p.Addr).Set(ctx, testserver.UniquePrefix()+"ref", "x", time.Hour).Err(); err == nil {
					t.Fatal("go-redis's SET whose every answer was lost succeeded")
				}
				return p.LostReplies()
			}()
			t.Logf("go-redis tried its own SET %d times", want)
			for _, w := range lostReplyWritesAndSwap() {
				p := testserver.StartProxy(t, direct.Options().Addr)
				n, want := triesWithEveryAnswerLost(t, direct, p, newStore(client(p.Addr)), w), want
				if w.name == "swap" {
					want = 1
				}
				if n != want {
					t.Errorf("%s tried %d times; want %d", w.name, n, want)
				}
			}
		})
	}
}
