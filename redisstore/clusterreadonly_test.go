package redisstore_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// On a Cluster, a write that a replica answers READONLY (the client's
// layout still names a master that a failover demoted) is sent
// MaxRedirects+1 times in all, as the ClusterClient sends any command:
// it sends one it must not resend again itself after READONLY, to the
// master the layout, read again, names, and the store sent each of those
// tries again too, MaxRedirects times, so that Set, Touch and GetAndTouch
// (since they went as such commands), a create and a swap were sent
// (MaxRedirects+1)² times, 16 by default, before they failed.
func TestAWriteAnsweredReadOnlyOnAClusterIsSentMaxRedirectsPlusOneTimes(t *testing.T) {
	const maxRedirects = 3
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			ctx := t.Context()
			master := srv.start(t)
			replica := srv.start(t, "--replicaof", "127.0.0.1", strconv.Itoa(master.Port))
			// A layout that names the replica the master of every slot.
			c := redis.NewClusterClient(&redis.ClusterOptions{
				ClusterSlots: func(context.Context) ([]redis.ClusterSlot, error) {
					return []redis.ClusterSlot{{Start: 0, End: 16383, Nodes: []redis.ClusterNode{{Addr: replica.Addr}}}}, nil
				},
				MaxRedirects: maxRedirects, MinRetryBackoff: time.Millisecond, MaxRetryBackoff: time.Millisecond,
			})
			t.Cleanup(func() { c.Close() })
			st := newStore(c)
			exp := time.Now().Add(time.Hour)
			type write struct {
				name, command string
				write         func() error
			}
			writes := []write{
				{"set", "set", func() error { return st.Set(ctx, "id", []byte(`{"n":1}`), exp) }},
				{"touch", "pexpire", func() error { _, err := st.Touch(ctx, "id", exp); return err }},
				{"get-and-touch", "getex", func() error { _, _, _, err := st.GetAndTouch(ctx, "id", exp); return err }},
				{"create", "set", func() error {
					_, _, err := st.CompareAndSwap(ctx, "id", "", []byte(`{"n":1}`), exp)
					return err
				}},
				{"destroy", "del", func() error { return st.Destroy(ctx, "id") }},
			}
			if srv.cas == "set" {
				// A swap as SET IFEQ (the script's tries on Redis 7.0 do
				// not show in the replica's commandstats).
				writes = append(writes, write{"swap", "set", func() error {
					_, _, err := st.CompareAndSwap(ctx, "id", `{"n":1}`, []byte(`{"n":2}`), exp)
					return err
				}})
			}
			for _, w := range writes {
				before := receivedCalls(t, replica.Addr, w.command)
				if err := w.write(); !redis.IsReadOnlyError(err) {
					t.Fatalf("%s on a replica: %v; want READONLY", w.name, err)
				}
				if n := receivedCalls(t, replica.Addr, w.command) - before; n != maxRedirects+1 {
					t.Errorf("%s: the replica received %d %s; want %d (MaxRedirects %d)", w.name, n, w.command, maxRedirects+1, maxRedirects)
				}
			}
		})
	}
}
