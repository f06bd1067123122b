package mongostore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver"
)

// MongoDB refuses WithTTLIndex's index when one on expires exists with
// other options (IndexOptionsConflict: a TTL index with another
// expireAfterSeconds, or the plain expires_1 that the store made on the
// user index collection without WithTTLIndex). New's error then said "use
// WithCleanupInterval if the server has none", about a server that has TTL
// indexes, and did not say which index to drop, nor, for the session
// collection, which collection it was.
func TestTTLIndexConflictSaysWhichIndexToDrop(t *testing.T) {
	conflict := mongo.CommandError{Code: 85, Name: "IndexOptionsConflict",
		Message: `An existing index has the same name as the requested index. Requested index: { v: 2, key: { expires: 1 }, name: "expires_1", expireAfterSeconds: 60 }, existing index: { v: 2, key: { expires: 1 }, name: "expires_1" }`}
	for _, c := range []struct{ coll string }{{"sessions"}, {"sessions_users"}} {
		err := ttlIndexError(context.Background(), c.coll, c.coll == "sessions", conflict)
		msg := err.Error()
		for _, want := range []string{
			"create the TTL index on " + c.coll + ".expires",
			"already has an index on expires with other options",
			"db." + c.coll + ".dropIndex({expires: 1})",
			"or leave out WithTTLIndex",
			"IndexOptionsConflict",
		} {
			if !strings.Contains(msg, want) {
				t.Errorf("%s: %q does not say %q", c.coll, msg, want)
			}
		}
		if strings.Contains(msg, "WithCleanupInterval") {
			t.Errorf("%s: %q points to WithCleanupInterval, for a server that has TTL indexes", c.coll, msg)
		}
		var ce mongo.CommandError
		if !errors.As(err, &ce) || ce.Code != 85 {
			t.Errorf("%s: %v does not wrap the server's error", c.coll, err)
		}
	}

	// An index named expires_1 on other keys (IndexKeySpecsConflict).
	err := ttlIndexError(context.Background(), "sessions", true, mongo.CommandError{Code: 86, Name: "IndexKeySpecsConflict", Message: "Index must have unique name."})
	for _, want := range []string{`already has an index named "expires_1" on other keys`, `db.sessions.dropIndex("expires_1")`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}

	// A server without TTL indexes (FerretDB v1) is pointed to
	// WithCleanupInterval, as before.
	err = ttlIndexError(context.Background(), "sessions", true, mongo.CommandError{Code: 238, Name: "NotImplemented", Message: "TTL indexes are not supported"})
	if !strings.Contains(err.Error(), "WithCleanupInterval") || !strings.Contains(err.Error(), "sessions.expires") {
		t.Errorf("%q does not point to WithCleanupInterval on sessions.expires", err)
	}
}

// lateTimerContext is a context whose deadline has passed but whose timer
// has not fired yet: Err is still nil, as a context.WithTimeout's is for a
// moment on a loaded machine, when the driver's socket deadline (the
// context's) has already ended the request.
type lateTimerContext struct{ context.Context }

func (lateTimerContext) Deadline() (time.Time, bool) { return time.Now().Add(-time.Millisecond), true }

// NewContext's error once its context's deadline has passed wraps
// context.DeadlineExceeded and gives no advice about the server, even
// when the driver noticed the deadline before the context's timer fired:
// it used to say "use WithCleanupInterval if the server has none" then
// (seen under load).
func TestTTLIndexErrorAtThePassedDeadlineBlamesTheContext(t *testing.T) {
	ctx := lateTimerContext{context.Background()}
	for _, driverErr := range []error{
		errors.New("connection(127.0.0.1:1[-3]) incomplete read of message header: i/o timeout"),
		fmt.Errorf("incomplete read of message header: %w", context.DeadlineExceeded),
	} {
		err := ttlIndexError(ctx, "sessions", true, driverErr)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%v: does not wrap context.DeadlineExceeded", err)
		}
		if !errors.Is(err, driverErr) {
			t.Errorf("%v: does not wrap the driver's error", err)
		}
		if strings.Contains(err.Error(), "WithCleanupInterval") {
			t.Errorf("%v: gives advice about the server", err)
		}
	}
}

// NewContext's error when the driver did not send the index's creation
// because the context's deadline was too near (before it passed) wraps
// context.DeadlineExceeded and gives no advice about the server, where it
// said "use WithCleanupInterval if the server has none".
func TestTTLIndexErrorAtADeadlineTooNearToSendBlamesTheContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	driverErr := fmt.Errorf("%w: network round-trip time stats: moving avg: 540µs, min: 500µs", driver.ErrDeadlineWouldBeExceeded)
	err := ttlIndexError(ctx, "sessions", true, driverErr)
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, driverErr) {
		t.Errorf("%v: does not wrap context.DeadlineExceeded and the driver's error", err)
	}
	if strings.Contains(err.Error(), "WithCleanupInterval") {
		t.Errorf("%v: gives advice about the server", err)
	}
}
