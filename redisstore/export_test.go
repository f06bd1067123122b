package redisstore

import "time"

// SetClock makes s read the time from now, for its TTLs and its user
// index (tests only).
func SetClock(s *Store, now func() time.Time) { s.now = now }

// The retry settings the store takes for a client whose options it
// cannot read (tests only).
const (
	DefaultMaxRetries      = defaultMaxRetries
	DefaultMinRetryBackoff = defaultMinRetryBackoff
	DefaultMaxRetryBackoff = defaultMaxRetryBackoff
)
