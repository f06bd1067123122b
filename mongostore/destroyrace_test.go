package mongostore_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/sessionkit/session/storetest"
)

// A Destroy concurrent with a compare-and-swap, a touch and a read-and-touch
// of the same session (each from another store, as from other processes,
// whose locks do not serialize them) leaves no document behind: FerretDB v1
// reads and then writes a filtered update by _id, but that write is an
// UPDATE of the row, which a delete in between leaves deleted.
func TestDestroyRacingWritesLeavesNothingBehind(t *testing.T) {
	coll := collection(t)
	a, b, c, d := newStore(t, coll), newStore(t, coll), newStore(t, coll), newStore(t, coll)
	ctx := t.Context()
	for round := range 60 {
		id := storetest.NewID()
		exp := time.Now().Add(time.Hour)
		if err := a.Set(ctx, id, []byte(`{"n":0}`), exp); err != nil {
			t.Fatal(err)
		}
		_, v, _, err := a.GetVersion(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		start := make(chan struct{})
		var wg sync.WaitGroup
		run := func(f func() error) {
			wg.Go(func() {
				<-start
				if err := f(); err != nil {
					t.Error(err)
				}
			})
		}
		run(func() error {
			_, _, err := a.CompareAndSwap(ctx, id, v, []byte(`{"n":1}`), exp.Add(time.Minute))
			return err
		})
		run(func() error { _, err := b.Touch(ctx, id, exp.Add(2*time.Minute)); return err })
		run(func() error { _, _, _, err := c.GetAndTouch(ctx, id, exp.Add(3*time.Minute)); return err })
		run(func() error { return d.Destroy(ctx, id) })
		close(start)
		wg.Wait()
		n, err := coll.CountDocuments(context.Background(), bson.D{{Key: "_id", Value: id}})
		if err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Fatalf("round %d: the document is there after its Destroy returned: %v", round, rawDoc(t, coll, id))
		}
	}
}
