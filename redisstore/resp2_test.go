package redisstore_test

import (
	"testing"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/internal/testserver/apptest"
	"github.com/sessionkit/session/storetest"
)

// TestConformanceOverRESP2 runs the store on a server that knows no HELLO,
// as Redis before 6 and proxies that speak only RESP2: go-redis, whose
// default protocol is RESP3, falls back to RESP2, and the store must read
// every reply (its scripts' among them) the same.
func TestConformanceOverRESP2(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t, "--rename-command", "HELLO", `""`)
	client := clientOf(t, srv)
	info, err := client.ClientInfo(t.Context()).Result()
	if err != nil {
		t.Fatal(err)
	}
	if info.Resp != 2 {
		t.Fatalf("the client speaks RESP%d to a server without HELLO, want RESP2", info.Resp)
	}
	storetest.Run(t, func(t *testing.T) session.Store { return newStore(client) })
	apptest.Users(t, func(t *testing.T) session.Store { return newStore(client) })
}
