package mongostore_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/sessionkit/session/mongostore"
)

// The tests of this file change the cleanup's default interval
// (SetDefaultCleanupInterval): none of them is parallel.

func insertExpired(t *testing.T, coll *mongo.Collection, id string) {
	t.Helper()
	insertRaw(t, coll, bson.D{{Key: "_id", Value: id}, {Key: "session", Value: `{}`}, {Key: "expires", Value: time.Now().Add(-time.Second)}})
}

// A store made with nothing but its collection deletes expired documents in
// the background, and keeps the live ones: it deleted none (the cleanup was
// off unless WithCleanupInterval asked for it), and the collection of an app
// on the defaults only grew.
func TestStoreWithNoOptionsDeletesExpiredSessions(t *testing.T) {
	mongostore.SetDefaultCleanupInterval(t, 20*time.Millisecond)
	coll := collection(t)
	// Both expired before the store starts, so that its first run removes
	// both (one inserted after a run would be removed by the next).
	insertExpired(t, coll, "a")
	insertExpired(t, coll, "b")
	logger, recs := logTo()
	st := newStore(t, coll, mongostore.WithLogger(logger))
	if got := st.CleanupInterval(); got != 20*time.Millisecond {
		t.Fatalf("CleanupInterval() = %v with no option, want the default (20ms in this test)", got)
	}
	if err := st.Set(t.Context(), "live", []byte(`{}`), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	rec := waitFor(t, recs, slog.LevelDebug, "removed expired sessions")
	if n := attr(rec, "count"); n != "2" {
		t.Fatalf("the cleanup removed %s sessions, want 2", n)
	}
	cur, err := coll.Find(t.Context(), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	var docs []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(t.Context(), &docs); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range docs {
		got = append(got, d.ID)
	}
	if len(got) != 1 || got[0] != "live" {
		t.Fatalf("after the cleanup the collection holds %v, want [live]", got)
	}
}

// The public default is 15 minutes, pgstore's, and WithCleanupInterval of
// zero or less turns the cleanup off: no goroutine runs, and an expired
// document stays.
func TestCleanupIntervalDefaultsTo15MinutesAndZeroTurnsItOff(t *testing.T) {
	if mongostore.DefaultCleanupInterval != 15*time.Minute {
		t.Fatalf("DefaultCleanupInterval = %v, want 15m (pgstore's)", mongostore.DefaultCleanupInterval)
	}
	st := newStore(t, collection(t))
	if got := st.CleanupInterval(); got != mongostore.DefaultCleanupInterval {
		t.Fatalf("CleanupInterval() = %v with no option, want %v", got, mongostore.DefaultCleanupInterval)
	}

	mongostore.SetDefaultCleanupInterval(t, 20*time.Millisecond)
	for _, d := range []time.Duration{0, -time.Minute} {
		coll := collection(t)
		st := newStore(t, coll, mongostore.WithCleanupInterval(d))
		if got := st.CleanupInterval(); got != 0 {
			t.Errorf("CleanupInterval() = %v with WithCleanupInterval(%v), want 0", got, d)
		}
		select {
		case <-mongostore.CleanupDone(st):
		default:
			t.Errorf("WithCleanupInterval(%v) started a cleanup", d)
		}
		insertExpired(t, coll, "old")
		// A store with the default cleanup on another collection has
		// purged by the time this one would have.
		other := collection(t)
		logger, recs := logTo()
		newStore(t, other, mongostore.WithLogger(logger))
		insertExpired(t, other, "old")
		waitFor(t, recs, slog.LevelDebug, "removed expired sessions")
		if n, err := coll.CountDocuments(t.Context(), bson.D{}); err != nil || n != 1 {
			t.Errorf("WithCleanupInterval(%v): %d documents (%v), want the expired one kept", d, n, err)
		}
	}
}

// The cleanup runs with a context of its own, not NewContext's (nor New's,
// which ends 30 s after New): a store made with a context that has ended
// still deletes expired documents, and logs no failure.
func TestCleanupOutlivesNewContextsContext(t *testing.T) {
	mongostore.SetDefaultCleanupInterval(t, 20*time.Millisecond)
	coll := collection(t)
	logger, recs := logTo()
	ctx, cancel := context.WithCancel(t.Context())
	st, err := mongostore.NewContext(ctx, coll, mongostore.WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cancel()
	insertExpired(t, coll, "a")
	timeout := time.After(10 * time.Second)
	for {
		var rec slog.Record
		select {
		case rec = <-recs: // waitFor would skip a warning
		case <-timeout:
			t.Fatal("the cleanup removed nothing in 10s after NewContext's context ended")
		}
		if rec.Level >= slog.LevelWarn {
			t.Fatalf("the cleanup logged %q (%s) after NewContext's context ended", rec.Message, attr(rec, "err"))
		}
		if strings.Contains(rec.Message, "removed expired sessions") {
			break
		}
	}
	if n, err := coll.CountDocuments(t.Context(), bson.D{}); err != nil || n != 0 {
		t.Fatalf("%d documents (%v) after the cleanup, want none", n, err)
	}
}
