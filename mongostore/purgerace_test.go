package mongostore_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/sessionkit/session/internal/testclock"
	"github.com/sessionkit/session/mongostore"
)

// TestPurgeExpiredLeavesASessionRenewedWhileItRuns: a compare-and-swap, a
// touch, a GetAndTouch or a Set that renews a session at the brink of its expiry
// while PurgeExpired runs (the write read the time just before the expiry,
// the purge just after) either leaves the session stored or reports it
// missing; it never reports the session renewed while the purge deletes it.
// PurgeExpired was one deleteMany({expires: {$lt: now}}), which FerretDB
// runs as a find and then a delete by _id: a write that renewed the session
// between the two was reported saved, and the session was gone (a user
// logged out by the request that kept them logged in).
func TestPurgeExpiredLeavesASessionRenewedWhileItRuns(t *testing.T) {
	ctx := t.Context()
	// The clock closes purgeRead at the first reading after it is armed:
	// the purge's.
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
	renewals := map[string]func(id, version string, exp time.Time) (bool, error){
		"CompareAndSwap": func(id, version string, exp time.Time) (bool, error) {
			_, ok, err := st.CompareAndSwap(ctx, id, version, []byte(`{"a":2}`), exp)
			return ok, err
		},
		"Touch": func(id, _ string, exp time.Time) (bool, error) {
			return st.Touch(ctx, id, exp)
		},
		"GetAndTouch": func(id, _ string, exp time.Time) (bool, error) {
			_, _, found, err := st.GetAndTouch(ctx, id, exp)
			return found, err
		},
		// What the manager writes with when the store is wrapped in one
		// that is not versioned. It took no lock, and so renewed a session
		// the purge then deleted.
		"Set": func(id, _ string, exp time.Time) (bool, error) {
			return true, st.Set(ctx, id, []byte(`{"a":2}`), exp)
		},
	}
	for name, renew := range renewals {
		t.Run(name, func(t *testing.T) { // not parallel: they share the clock
			for round := range 5 {
				id := fmt.Sprintf("%s-%d", name, round)
				set(start)
				expires := start.Add(time.Hour)
				if err := st.Set(ctx, id, []byte(`{"a":1}`), expires); err != nil {
					t.Fatal(err)
				}
				_, version, _, err := st.GetVersion(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				set(expires.Add(time.Millisecond)) // the purge's time
				read := make(chan struct{})
				purgeRead.Store(&read)
				var wg sync.WaitGroup
				var purgeErr error
				wg.Go(func() { _, purgeErr = st.PurgeExpired(ctx) })
				<-read
				set(expires.Add(-time.Millisecond)) // the renewal's time
				renewed, err := renew(id, version, expires.Add(time.Hour))
				wg.Wait()
				if err != nil || purgeErr != nil {
					t.Fatalf("%s: renewal %v, purge %v", id, err, purgeErr)
				}
				if _, found, err := st.Get(context.Background(), id); renewed && (!found || err != nil) {
					t.Fatalf("%s reported the session renewed while PurgeExpired ran, and it is gone (Get: found %v, %v)", id, found, err)
				}
			}
		})
	}
}

// TestPurgeExpiredDeletesEveryExpiredDocumentWhateverItsID: the purge
// deletes and counts every expired document, those whose _id is not a
// string (not written by a session store) too, and leaves the live ones.
func TestPurgeExpiredDeletesEveryExpiredDocumentWhateverItsID(t *testing.T) {
	ctx := t.Context()
	st, coll, clock := clocked(t)
	const expired = 300
	docs := make([]any, 0, expired+3)
	for i := range expired {
		docs = append(docs, bson.D{{Key: "_id", Value: fmt.Sprintf("old%d", i)}, {Key: "session", Value: `{}`}, {Key: "expires", Value: clock.Now().Add(-time.Second)}})
	}
	for _, id := range []any{bson.NewObjectID(), int32(7), bson.D{{Key: "user", Value: "u"}}} {
		docs = append(docs, bson.D{{Key: "_id", Value: id}, {Key: "expires", Value: clock.Now().Add(-time.Second)}})
	}
	if _, err := coll.InsertMany(ctx, docs); err != nil {
		t.Fatal(err)
	}
	if err := st.Set(ctx, "live", []byte(`{}`), clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n, err := st.PurgeExpired(ctx); n != expired+3 || err != nil {
		t.Fatalf("PurgeExpired = %d, %v; want %d", n, err, expired+3)
	}
	if n, err := coll.CountDocuments(ctx, bson.D{}); n != 1 || err != nil {
		t.Fatalf("%d documents after PurgeExpired (%v), want the live one", n, err)
	}
}
