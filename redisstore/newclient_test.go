package redisstore_test

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/session/redisstore"
)

// New calls no method of the client: wiring that makes the store before
// its client is ready (a nil *redis.Client, replaced in the options
// afterwards, as the interop tests did) must not panic there. The client's
// retry settings are read at the store's first write.
func TestNewCallsNoMethodOfTheClient(t *testing.T) {
	defer func() {
		if v := recover(); v != nil {
			t.Fatalf("New over a nil *redis.Client panicked: %v", v)
		}
	}()
	if st := redisstore.New((*redis.Client)(nil)); st.Prefix() != redisstore.DefaultPrefix {
		t.Errorf("prefix %q, want %q", st.Prefix(), redisstore.DefaultPrefix)
	}
	redisstore.New((*redis.ClusterClient)(nil))
	redisstore.New((*redis.Ring)(nil))
}
