package pgstore_test

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/session/pgstore"
)

// A store dropped without Close is collected, and its cleanup goroutine
// ends: the goroutine held the store, so that neither ever went away and
// its purges went on for as long as the process ran.
func TestDroppedStoreStopsItsCleanup(t *testing.T) {
	pool := newPool(t)
	table := strings.Trim(newStore(t, pool).Table(), `"`)
	st, err := pgstore.New(pool, pgstore.WithTable(table), pgstore.WithCleanupInterval(5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	done := pgstore.CleanupDone(st)
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
