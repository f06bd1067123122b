// Package testclock is the one clock a test hands to a session manager and to
// its store together, so that both agree on the time whatever the real date.
//
// A test that pins a date starts a Clock at Epoch() and gives Clock.Now to
// every component that reads the time (the manager, memstore.WithClock,
// boltstore's clock): a fixed date next to a component that reads the real
// clock only passes until the real clock catches up with it.
//
// Epoch is 2026-11-22 09:59:00 UTC unless the environment variable
// SESSIONKIT_TEST_EPOCH holds another RFC 3339 time, so the whole suite can
// be run as if on another date:
//
//	SESSIONKIT_TEST_EPOCH=2027-11-22T09:59:00Z go test ./...
package testclock

import (
	"fmt"
	"os"
	"sync/atomic"
	"time"
)

// EpochEnv names the environment variable that moves Epoch.
const EpochEnv = "SESSIONKIT_TEST_EPOCH"

// defaultEpoch is the date the tests were written on; any other works too.
var defaultEpoch = time.Date(2026, 11, 22, 9, 59, 0, 0, time.UTC)

// Epoch returns the date pinned clocks start at: $SESSIONKIT_TEST_EPOCH, or
// 2026-11-22 09:59:00 UTC. It panics on a malformed variable, so that a run
// meant for another date never silently runs at the default one.
func Epoch() time.Time {
	v := os.Getenv(EpochEnv)
	if v == "" {
		return defaultEpoch
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		panic(fmt.Sprintf("testclock: %s=%q is not an RFC 3339 time: %v", EpochEnv, v, err))
	}
	return t.UTC()
}

// Clock is a settable time source, safe for concurrent use (a store's
// sweeper may read it while the test moves it). It only moves when told.
type Clock struct{ ns atomic.Int64 }

// New returns a clock standing at t.
func New(t time.Time) *Clock {
	c := &Clock{}
	c.Set(t)
	return c
}

// Now returns the clock's time, in UTC.
func (c *Clock) Now() time.Time { return time.Unix(0, c.ns.Load()).UTC() }

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) { c.ns.Store(t.UnixNano()) }

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }
