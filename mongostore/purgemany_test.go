package mongostore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/sessionkit/session/internal/testclock"
	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/mongostore"
)

// TestPurgeExpiredDeletesMoreExpiredSessionsThanOneStatementHolds: a purge
// of more expired sessions (and user index entries) than one SQL statement
// of FerretDB's backend takes parameters (32766 for SQLite, 65535 for
// PostgreSQL) deletes them all and leaves the live ones. FerretDB deletes
// what a deleteMany matched with one statement holding every _id: past the
// limit the whole deleteMany failed ("too many SQL variables"), every purge
// after it too, and the expired sessions piled up.
func TestPurgeExpiredDeletesMoreExpiredSessionsThanOneStatementHolds(t *testing.T) {
	ctx := bulkContext(t)
	st, coll, clock := bulkStore(t)
	const expired = 33000
	users := coll.Database().Collection(st.UsersCollection())
	old := clock.Now().Add(-48 * time.Hour) // past the user index's grace too
	docs := make([]any, 0, 1000)
	entries := make([]any, 0, 1000)
	for i := range expired {
		id := fmt.Sprintf("old%05d", i)
		docs = append(docs, bson.D{{Key: "_id", Value: id}, {Key: "session", Value: `{}`}, {Key: "expires", Value: old}})
		entries = append(entries, bson.D{{Key: "_id", Value: bson.D{{Key: "user", Value: "u"}, {Key: "sid", Value: id}}}, {Key: "expires", Value: old}})
		if len(docs) == cap(docs) || i == expired-1 {
			if _, err := coll.InsertMany(ctx, docs); err != nil {
				t.Fatal(err)
			}
			if _, err := users.InsertMany(ctx, entries); err != nil {
				t.Fatal(err)
			}
			docs, entries = docs[:0], entries[:0]
		}
	}
	if err := st.Set(ctx, "live", []byte(`{}`), clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n, err := st.PurgeExpired(ctx); n != expired || err != nil {
		t.Fatalf("PurgeExpired = %d, %v; want %d", n, err, expired)
	}
	if n, err := coll.CountDocuments(ctx, bson.D{}); n != 1 || err != nil {
		t.Fatalf("%d sessions after PurgeExpired (%v), want the live one", n, err)
	}
	if n, err := users.CountDocuments(ctx, bson.D{}); n != 0 || err != nil {
		t.Fatalf("%d user index entries after PurgeExpired (%v), want none", n, err)
	}
}

// bulkTimeout bounds a test's deletes of tens of thousands of documents:
// FerretDB's delete of 33000 documents on SQLite can take longer than the
// test client's usual 10 s Timeout per command on a loaded machine.
const bulkTimeout = 5 * time.Minute

// bulkContext is the context of such a test: a deadline of its own, which
// the driver keeps to in place of the client's Timeout.
func bulkContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), bulkTimeout)
	t.Cleanup(cancel)
	return ctx
}

// bulkStore is clocked on a client whose Timeout per command is
// bulkTimeout: a purge's deleteMany goes on without its caller's context,
// deadline included (it runs to its end on the server whatever the client
// does, see PurgeExpired), so the client's Timeout is what bounds it; at
// 10 s the purge of 33000 sessions failed under load (CI, load average 20).
func bulkStore(t *testing.T) (*mongostore.Store, *mongo.Collection, *testclock.Clock) {
	t.Helper()
	clock := testclock.New(testclock.Epoch())
	uri, db := testserver.SharedMongo(t).NewDatabase(t)
	coll := connect(t, uri, func(o *options.ClientOptions) { o.SetTimeout(bulkTimeout) }).Database(db).Collection("sessions")
	return newStore(t, coll, mongostore.WithClock(clock.Now)), coll, clock
}
