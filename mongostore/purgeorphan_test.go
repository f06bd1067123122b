package mongostore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// TestPurgeExpiredEndedByItsContextHoldsBackUntilTheServerHasDeleted: on
// FerretDB, a deleteMany whose client stopped waiting (the purge's context
// ended: Close, the interval's bound, the caller's deadline) still runs on
// the server, a find and then a delete by _id. A Set of a session that
// batch is deleting waits until the server has answered the deleteMany,
// and the session it saved stays. The batch ended when the purge's
// context did, so the Set renewed the session between FerretDB's find and
// its delete, was reported saved, and the session was deleted.
//
// The server's deleteMany takes long here: it reads filler documents
// (half a second on SQLite); the Set reaches the server 50 ms after the
// deleteMany (the proxy delays it), within that read. Without the fix
// the test fails when the Set lands within the server's read; with it,
// it passes whatever the timing.
func TestPurgeExpiredEndedByItsContextHoldsBackUntilTheServerHasDeleted(t *testing.T) {
	st, proxy, clock, uri, db := proxiedStoreOf(t)
	direct := connect(t, uri).Database(db).Collection("sessions") // not through the proxy
	ctx := t.Context()
	for _, id := range []string{"old", "other-old"} {
		if err := st.Set(ctx, id, []byte(`{"n":1}`), clock.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	// Filler that the server's deleteMany reads after the expired ones.
	far := clock.Now().Add(24 * time.Hour)
	pad := strings.Repeat("x", 1000)
	for b := range 2 {
		docs := make([]any, 0, 5000)
		for i := range 5000 {
			docs = append(docs, bson.D{{Key: "_id", Value: fmt.Sprintf("live%06d", b*5000+i)}, {Key: "session", Value: pad}, {Key: "expires", Value: far}})
		}
		if _, err := direct.InsertMany(ctx, docs); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(2 * time.Minute) // "old" and "other-old" have expired

	pctx, cancelPurge := context.WithCancel(ctx)
	defer cancelPurge()
	purged := purgeStalledAtDelete(t, pctx, st, proxy, -1)
	set := make(chan error, 1)
	go func() { set <- st.Set(ctx, "old", []byte(`{"n":2}`), clock.Now().Add(time.Hour)) }()
	proxy.Heal()                       // the deleteMany goes to the server
	proxy.Delay(50 * time.Millisecond) // and whatever follows, 50 ms later each way
	cancelPurge()
	if err := <-purged; !errors.Is(err, context.Canceled) {
		t.Fatalf("PurgeExpired with its context cancelled: %v, want context.Canceled", err)
	}
	if err := <-set; err != nil {
		t.Fatalf("Set of a session the purge was deleting: %v", err)
	}
	proxy.Heal()

	// The server's deleteMany has run once "other-old" is gone.
	deadline := time.Now().Add(30 * time.Second)
	for {
		n, err := direct.CountDocuments(ctx, bson.D{{Key: "_id", Value: "other-old"}})
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the server's deleteMany deleted nothing in 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if data, found, err := st.Get(ctx, "old"); !found || err != nil || string(data) != `{"n":2}` {
		t.Errorf("Get of the session Set saved while the purge's deleteMany ran on the server = %s, %v, %v; want it", data, found, err)
	}
}
