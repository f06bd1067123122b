package redisstore

import "time"

// SetClock makes s's user index read the time from now (tests only).
func SetClock(s *Store, now func() time.Time) { s.now = now }
