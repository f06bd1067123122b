package main

import (
	"testing"
	"time"
)

// A stored cookie expiry that has passed, while the store still keeps the
// session (a touch extends a Redis key's lifetime, not the stored
// document's cookie), shows as how long ago it expired, where list and user
// said "in -1m30s".
func TestAPastExpiryShowsAsExpiredAgo(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	past, future := now.Add(-90*time.Second), now.Add(time.Hour)
	doc := func(e time.Time) []byte { return document(t, &e, nil) }
	for _, tc := range []struct {
		name, got, want string
	}{
		{"list, past", expiry(doc(past), now), "2026-11-22T09:58:30Z (expired 1m30s ago)"},
		{"list, future", expiry(doc(future), now), "2026-11-22T11:00:00Z (in 1h0m0s)"},
		{"list, now", expiry(doc(now), now), "2026-11-22T10:00:00Z (in 0s)"},
		{"user, past", expiresIn(now, past), "2026-11-22T09:58:30Z (expired 1m30s ago)"},
		{"user, future", expiresIn(now, future), "2026-11-22T11:00:00Z (in 1h0m0s)"},
		{"user, year 1", expiresIn(now, time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC)), "0001-01-01T00:00:01Z (expired 2562047h47m16.854775807s ago)"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}
