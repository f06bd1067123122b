package interop

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/session/internal/testserver"
)

// The Redis migration on Valkey 8.1: the Express app on connect-redis and
// the Go app on redisstore share one valkey-server, where the Go app's save
// is a SET IFEQ against the value it loaded instead of the script, so an
// Express write between the two must still be noticed.

// newValkeyWorld starts a valkey-server of this test's own (its command
// counts are the test's), the Express app on it, and a Go app.
func newValkeyWorld(t *testing.T) *world {
	t.Helper()
	srv := testserver.StartValkey(t)
	node, err := startPeer(srv.Addr)
	checkStarted(t, err)
	t.Cleanup(node.stop) // before the server, so Node does not log a lost connection
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { rdb.Close() })
	return &world{t: t, rdb: rdb, node: node, goApp: newGoApp(t, rdb, nil)}
}

func TestValkeySessionsContinueBothWays(t *testing.T) {
	w := newValkeyWorld(t)
	t.Run("GoToExpress", func(t *testing.T) {
		b := w.browser()
		b.t = t
		goSessionContinuesInExpress(t, b)
	})
	t.Run("ExpressToGo", func(t *testing.T) {
		b := w.browser()
		b.t = t
		expressSessionContinuesInGo(t, b, nil)
	})
	logoutOnEitherSideEndsTheSession(t, w.browser, w.goApp.URL, w.node.URL, w.exists)
}

func TestValkeyExpressWriteDuringGoRequestIsNotLost(t *testing.T) {
	w := newValkeyWorld(t)
	b := w.browser()
	b.goViews()
	id := b.goSession().ID

	ran := testserver.RedisCommandsDuring(t, w.rdb.Options().Addr, func() {
		expressWritesDuringSlowGoRequest(t, b, w.goApp, w.node)
	})
	bothWritesKept(t, b, w.raw(id))
	// The Go save went through SET IFEQ (the conflicting one and the retry
	// after the re-read), never the script.
	if n := ran["evalsha"] + ran["eval"]; n != 0 {
		t.Errorf("the Go app ran the script %d times on Valkey, want SET IFEQ only", n)
	}
}
