package mongostore_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/sessionkit/session/mongostore"
)

// A store dropped without Close is collected, and its cleanup goroutine
// ends: the goroutine held the store, so that neither ever went away.
func TestDroppedStoreStopsItsCleanup(t *testing.T) {
	st, err := mongostore.New(collection(t), mongostore.WithCleanupInterval(5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	done := mongostore.CleanupDone(st)
	st = nil
	_ = st
	timeout := time.After(10 * time.Second)
	for {
		runtime.GC()
		select {
		case <-done:
			return
		case <-timeout:
			t.Fatal("the cleanup of a store nothing refers to still runs 10s later")
		case <-time.After(10 * time.Millisecond):
		}
	}
}
