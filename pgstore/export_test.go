package pgstore

import "time"

// PurgeBatch is how many rows one statement of PurgeExpired deletes at most.
const PurgeBatch = purgeBatch

// SetNewTimeout sets how long New waits for the server, until the test ends.
func SetNewTimeout(t interface{ Cleanup(func()) }, d time.Duration) {
	old := newTimeout
	newTimeout = d
	t.Cleanup(func() { newTimeout = old })
}
