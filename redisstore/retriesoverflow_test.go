package redisstore_test

import (
	"bytes"
	"context"
	"math"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/session/internal/testserver"
)

// A client whose MaxRetries (or a Cluster's MaxRedirects) is math.MaxInt,
// a user's "retry for ever" (storeurl's max_retries=9223372036854775807
// too), has a write whose answer was lost sent again, as go-redis sends a
// command of its own again: the store counted its tries as MaxRetries+1,
// which wrapped around to a negative number, so that it sent no write
// again, and a Set whose first answer was lost failed at once.
func TestAWriteWhoseReplyWasLostIsSentAgainWithTheLargestMaxRetries(t *testing.T) {
	direct := standalone(t)
	ctx := t.Context()
	slots := func(addr string) func(context.Context) ([]redis.ClusterSlot, error) {
		return func(context.Context) ([]redis.ClusterSlot, error) {
			return []redis.ClusterSlot{{Start: 0, End: 16383, Nodes: []redis.ClusterNode{{Addr: addr}}}}, nil
		}
	}
	const backoff = time.Millisecond
	for _, k := range []struct {
		name string
		make func(addr string) redis.UniversalClient
	}{
		{"Client MaxRetries=MaxInt", func(addr string) redis.UniversalClient {
			return redis.NewClient(&redis.Options{Addr: addr, MaxRetries: math.MaxInt, MinRetryBackoff: backoff, MaxRetryBackoff: backoff})
		}},
		{"Ring MaxRetries=MaxInt", func(addr string) redis.UniversalClient {
			return redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": addr}, MaxRetries: math.MaxInt, MinRetryBackoff: backoff, MaxRetryBackoff: backoff})
		}},
		{"ClusterClient MaxRetries=MaxInt", func(addr string) redis.UniversalClient {
			return redis.NewClusterClient(&redis.ClusterOptions{ClusterSlots: slots(addr), MaxRetries: math.MaxInt, MinRetryBackoff: backoff, MaxRetryBackoff: backoff})
		}},
		{"ClusterClient MaxRedirects=MaxInt", func(addr string) redis.UniversalClient {
			return redis.NewClusterClient(&redis.ClusterOptions{ClusterSlots: slots(addr), MaxRedirects: math.MaxInt, MinRetryBackoff: backoff, MaxRetryBackoff: backoff})
		}},
		{"ClusterClient MaxRedirects=MaxInt/2 MaxRetries=3", func(addr string) redis.UniversalClient {
			return redis.NewClusterClient(&redis.ClusterOptions{ClusterSlots: slots(addr), MaxRedirects: math.MaxInt / 2, MaxRetries: 3, MinRetryBackoff: backoff, MaxRetryBackoff: backoff})
		}},
	} {
		t.Run(k.name, func(t *testing.T) {
			p := testserver.StartProxy(t, direct.Options().Addr)
			c := k.make(p.Addr)
			t.Cleanup(func() { c.Close() })
			st := newStore(c)
			data := []byte(`{"n":1}`)
			p.LoseReply("\r\nset\r\n", nil)
			if err := st.Set(ctx, "id", data, time.Now().Add(time.Hour)); err != nil {
				t.Fatalf("Set whose first answer was lost: %v; want it sent again", err)
			}
			if n := p.LostReplies(); n != 1 {
				t.Fatalf("the proxy lost %d answers; want 1", n)
			}
			if b, err := direct.Get(ctx, st.Prefix()+"id").Bytes(); err != nil || !bytes.Equal(b, data) {
				t.Errorf("stored %q, %v; want %q", b, err, data)
			}
		})
	}
}
