package redisstore

import "time"

// SetClock makes s read the time from now, for its TTLs and its user
// index (tests only).
func SetClock(s *Store, now func() time.Time) { s.now = now }
