package mongostore_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/session/internal/testclock"
	"github.com/sessionkit/session/mongostore"
)

// TestPurgeExpiredLeavesASessionSetWhileItRuns: a Set that renews a session
// at the brink of its expiry while PurgeExpired runs (the Set read the time
// just before the expiry, the purge just after) leaves the session stored.
// Set is what the manager writes with when the store is wrapped in one that
// is not versioned. It took no lock, and FerretDB runs the purge's
// deleteMany as a find and then a delete by _id: a Set between the two was
// reported saved, and the session was gone.
func TestPurgeExpiredLeavesASessionSetWhileItRuns(t *testing.T) {
	ctx := t.Context()
	var (
		ns        atomic.Int64
		purgeRead atomic.Pointer[chan struct{}]
	)
	now := func() time.Time {
		if ch := purgeRead.Swap(nil); ch != nil {
			defer close(*ch)
		}
		return time.Unix(0, ns.Load()).UTC()
	}
	set := func(at time.Time) { ns.Store(at.UnixNano()) }
	start := testclock.Epoch()
	set(start)
	st := newStore(t, collection(t), mongostore.WithClock(now))
	for round := range 5 {
		id := fmt.Sprintf("set-%d", round)
		set(start)
		expires := start.Add(time.Hour)
		if err := st.Set(ctx, id, []byte(`{"a":1}`), expires); err != nil {
			t.Fatal(err)
		}
		set(expires.Add(time.Millisecond)) // the purge's time
		read := make(chan struct{})
		purgeRead.Store(&read)
		var wg sync.WaitGroup
		var purgeErr error
		wg.Go(func() { _, purgeErr = st.PurgeExpired(ctx) })
		<-read
		set(expires.Add(-time.Millisecond)) // the Set's time
		err := st.Set(ctx, id, []byte(`{"a":2}`), expires.Add(time.Hour))
		wg.Wait()
		if err != nil || purgeErr != nil {
			t.Fatalf("%s: Set %v, purge %v", id, err, purgeErr)
		}
		if _, found, err := st.Get(context.Background(), id); !found || err != nil {
			t.Fatalf("%s: Set renewed the session while PurgeExpired ran and reported it saved, and it is gone (Get: found %v, %v)", id, found, err)
		}
	}
}
