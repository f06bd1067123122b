package mongostore_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/mongostore"
)

// TestCleanupLogsARunThatOutlastsItsBound changes a package default
// (SetMinCleanupRun): it is not parallel.

// records is a slog handler that hands every record to a channel.
type records chan slog.Record

func (r records) Enabled(context.Context, slog.Level) bool { return true }
func (r records) Handle(_ context.Context, rec slog.Record) error {
	select {
	case r <- rec:
	default: // a test that stopped reading does not block the store
	}
	return nil
}
func (r records) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r records) WithGroup(string) slog.Handler      { return r }

// logTo returns a logger whose records come out of the returned channel.
func logTo() (*slog.Logger, records) {
	r := make(records, 100)
	return slog.New(r), r
}

// waitFor returns the first record of recs at level whose message
// contains msg, failing the test if none comes within 10 seconds.
func waitFor(t *testing.T, recs records, level slog.Level, msg string) slog.Record {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case rec := <-recs:
			if rec.Level == level && strings.Contains(rec.Message, msg) {
				return rec
			}
		case <-timeout:
			t.Fatalf("no %s record %q in 10s", level, msg)
		}
	}
}

// attr returns the value of the record's attribute key, as text.
func attr(rec slog.Record, key string) string {
	var v string
	rec.Attrs(func(a slog.Attr) bool {
		if a.Key == key {
			v = a.Value.String()
			return false
		}
		return true
	})
	return v
}

// A cleanup that fails (here: the client was disconnected) says so in the
// store's log, with the collection and the error.
func TestCleanupLogsItsFailures(t *testing.T) {
	srv := testserver.SharedMongo(t)
	uri, db := srv.NewDatabase(t)
	client, err := mongo.Connect(options.Client().ApplyURI(uri).SetTimeout(10 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	logger, recs := logTo()
	newStore(t, client.Database(db).Collection("sessions"), mongostore.WithLogger(logger), mongostore.WithCleanupInterval(20*time.Millisecond))
	if err := client.Disconnect(t.Context()); err != nil {
		t.Fatal(err)
	}
	rec := waitFor(t, recs, slog.LevelWarn, "cleanup of expired sessions failed")
	if got := attr(rec, "collection"); got != "sessions" {
		t.Errorf("the failure names collection %q, want sessions", got)
	}
	if got := attr(rec, "err"); !strings.Contains(got, "disconnected") {
		t.Errorf("the failure says %q, want the driver's error", got)
	}
}

// A cleanup run that a server which stopped answering holds past the run's
// bound is logged: it was not, the run's context having ended, which the
// cleanup took for Close's doing, so that a cleanup that never finished
// said nothing.
func TestCleanupLogsARunThatOutlastsItsBound(t *testing.T) {
	mongostore.SetMinCleanupRun(t, 300*time.Millisecond)
	srv := testserver.SharedMongo(t)
	proxy := testserver.StartProxy(t, srv.Addr)
	_, db := srv.NewDatabase(t)
	// No client Timeout: only the run's bound ends a request.
	client, err := mongo.Connect(options.Client().ApplyURI("mongodb://" + proxy.Addr + "/"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	t.Cleanup(proxy.Heal) // before the disconnection
	coll := client.Database(db).Collection("sessions")
	if err := coll.FindOne(t.Context(), bson.D{{Key: "_id", Value: ""}}).Err(); err != mongo.ErrNoDocuments {
		t.Fatalf("find through the proxy: %v", err)
	}
	logger, recs := logTo()
	st := newStore(t, coll, mongostore.WithLogger(logger), mongostore.WithCleanupInterval(20*time.Millisecond))
	proxy.Stall()
	rec := waitFor(t, recs, slog.LevelWarn, "cleanup of expired sessions failed")
	if got := attr(rec, "err"); !strings.Contains(got, "deadline") {
		t.Errorf("the failure says %q, want the run's deadline", got)
	}
	closed := make(chan error, 1)
	go func() { closed <- st.Close() }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end a cleanup that waits on a server that stopped answering")
	}
}
