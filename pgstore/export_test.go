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

// CleanupDone returns a channel closed when the store's cleanup goroutine
// has ended (at once for a store without one).
func CleanupDone(s *Store) <-chan struct{} { return s.stopper.Done() }

// SetBeforeCreate makes New's table creation call f between its check of
// the catalog and its statements, with the number of the try, until the
// test ends.
func SetBeforeCreate(t interface{ Cleanup(func()) }, f func(try int)) {
	beforeCreate = f
	t.Cleanup(func() { beforeCreate = nil })
}
