package mongostore_test

import (
	"fmt"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// TestClearDeletesMoreSessionsThanOneStatementHolds: Clear of more
// sessions and user index entries than one SQL statement of FerretDB's
// backend takes parameters (32766 for SQLite) deletes them all. Its
// deleteManys failed whole past the limit ("too many SQL variables"), and
// the store could not be cleared at all.
func TestClearDeletesMoreSessionsThanOneStatementHolds(t *testing.T) {
	ctx := bulkContext(t)
	st, coll, clock := bulkStore(t)
	const sessions = 33000
	users := coll.Database().Collection(st.UsersCollection())
	exp := clock.Now().Add(time.Hour)
	docs := make([]any, 0, 1000)
	entries := make([]any, 0, 1000)
	for i := range sessions {
		id := fmt.Sprintf("live%05d", i)
		docs = append(docs, bson.D{{Key: "_id", Value: id}, {Key: "session", Value: `{}`}, {Key: "expires", Value: exp}})
		entries = append(entries, bson.D{{Key: "_id", Value: bson.D{{Key: "user", Value: "u"}, {Key: "sid", Value: id}}}, {Key: "expires", Value: exp}})
		if len(docs) == cap(docs) || i == sessions-1 {
			if _, err := coll.InsertMany(ctx, docs); err != nil {
				t.Fatal(err)
			}
			if _, err := users.InsertMany(ctx, entries); err != nil {
				t.Fatal(err)
			}
			docs, entries = docs[:0], entries[:0]
		}
	}
	if err := st.Clear(ctx); err != nil {
		t.Fatalf("Clear: %v", err)
	}
	if n, err := coll.CountDocuments(ctx, bson.D{}); n != 0 || err != nil {
		t.Fatalf("%d sessions after Clear (%v), want none", n, err)
	}
	if n, err := users.CountDocuments(ctx, bson.D{}); n != 0 || err != nil {
		t.Fatalf("%d user index entries after Clear (%v), want none", n, err)
	}
}
