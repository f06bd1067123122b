package mongostore

import "time"

// SetDefaultCleanupInterval sets, until the test ends, the interval of the
// cleanup of a store made without WithCleanupInterval nor WithTTLIndex
// (DefaultCleanupInterval otherwise). Tests that call it must not be
// parallel.
func SetDefaultCleanupInterval(t interface{ Cleanup(func()) }, d time.Duration) {
	old := defaultCleanupInterval
	defaultCleanupInterval = d
	t.Cleanup(func() { defaultCleanupInterval = old })
}

// SetMinCleanupRun sets, until the test ends, the least time one cleanup
// run may take before it is ended (10 seconds otherwise). Tests that call
// it must not be parallel.
func SetMinCleanupRun(t interface{ Cleanup(func()) }, d time.Duration) {
	old := minCleanupRun
	minCleanupRun = d
	t.Cleanup(func() { minCleanupRun = old })
}

// CleanupDone returns a channel closed when the store's cleanup goroutine
// has ended (at once for a store without one).
func CleanupDone(s *Store) <-chan struct{} { return s.stopper.Done() }
