package mongostore

import (
	"testing"
	"time"
)

// With WithTTLIndex the server removes expired documents, and the interval
// cleanup is off unless WithCleanupInterval asks for it too, before or
// after WithTTLIndex; without it the cleanup runs every
// DefaultCleanupInterval.
func TestCleanupIsOffByDefaultWithATTLIndexOnly(t *testing.T) {
	for _, c := range []struct {
		name string
		opts []Option
		want time.Duration
	}{
		{"none", nil, DefaultCleanupInterval},
		{"ttl index", []Option{WithTTLIndex()}, 0},
		{"ttl index, then interval", []Option{WithTTLIndex(), WithCleanupInterval(time.Minute)}, time.Minute},
		{"interval, then ttl index", []Option{WithCleanupInterval(time.Minute), WithTTLIndex()}, time.Minute},
		{"interval", []Option{WithCleanupInterval(time.Minute)}, time.Minute},
		{"zero", []Option{WithCleanupInterval(0)}, 0},
		{"negative", []Option{WithCleanupInterval(-time.Second)}, 0},
		{"zero, then ttl index", []Option{WithCleanupInterval(0), WithTTLIndex()}, 0},
	} {
		if got := newConfig(c.opts).cleanupInterval; got != c.want {
			t.Errorf("%s: cleanup interval %v, want %v", c.name, got, c.want)
		}
	}
}
