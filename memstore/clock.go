package memstore

import "time"

// WithClock makes the store read the time from now instead of time.Now, for
// tests that drive a manager and its store with one clock (expiry, sweeping,
// default lifetimes all follow it). The sweeper still wakes on real time.
func WithClock(now func() time.Time) Option {
	return func(c *config) { c.now = func() int64 { return now().UnixNano() } }
}
