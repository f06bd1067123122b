package faults_test

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/faults"
	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/redisstore"
)

// behindProxy runs the load on a Redis server that the apps reach through
// a proxy, calling misbehave on the proxy after before acknowledged writes
// and healing it once the users have had 2*users answers.
func behindProxy(t *testing.T, name string, misbehave func(*testserver.Proxy)) faults.Report {
	srv := testserver.StartRedis(t)
	proxy := testserver.StartProxy(t, srv.Addr)
	var stores []session.Store
	for range 2 {
		c := redis.NewClient(redisOptions(proxy.Addr))
		t.Cleanup(func() { c.Close() })
		stores = append(stores, redisstore.New(c))
	}
	cfg := config(twoApps(t, stores...))
	cfg.NotApp = proxy.Goroutines
	rep := run(t, name, "Redis", cfg, func(l *faults.Live) error {
		misbehave(proxy)
		defer proxy.Heal()
		return l.WaitRequests(2 * users)
	})
	// Writes are either acknowledged and there, or failed: a stalled write
	// delivered after the heal is a stale compare-and-swap that fails.
	checkNothingLost(t, rep)
	checkBounded(t, rep, storeBound)
	// Every user has one request at a time: goroutines that grow between
	// the fault and the heal are requests or store calls piling up.
	if grown := rep.GoroutinesAtHeal - rep.GoroutinesAtFault; grown > users/2 {
		t.Errorf("goroutines grew by %d while the network misbehaved (%d at the fault, %d at the heal)", grown, rep.GoroutinesAtFault, rep.GoroutinesAtHeal)
	}
	return rep
}

func TestStalledNetworkFailsRequestsWithinTheStoreTimeoutAndRecovers(t *testing.T) {
	rep := behindProxy(t, "6a. Network to Redis stalled (blackhole), then healed", (*testserver.Proxy).Stall)
	if rep.Errors == 0 {
		t.Error("no request failed while the network to Redis was stalled")
	}
}

func TestSlowNetworkIsMeasured(t *testing.T) {
	behindProxy(t, "6b. Network to Redis 50ms slower each way", func(p *testserver.Proxy) { p.Delay(50 * time.Millisecond) })
}

func TestResetConnectionsFailWithinTheStoreTimeoutAndRecover(t *testing.T) {
	rep := behindProxy(t, "6c. Connections to Redis reset, then healed", (*testserver.Proxy).Drop)
	if rep.Errors == 0 {
		t.Error("no request failed while every connection to Redis was reset")
	}
}
