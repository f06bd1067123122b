package mongostore_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/session/internal/testclock"
	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/mongostore"
)

// TestPurgeExpiredGoesOnWhenTheRoleDoesNotCoverTheUserIndex: an
// application whose MongoDB role covers the sessions collection and not
// <collection>_users (here the proxy answers the purge's find there as
// such a server does: Unauthorized, code 13) has its expired sessions
// purged and counted, and no error: the refusal is logged once, at
// warning level, and not at every later purge. PurgeExpired failed with
// the refusal, so the interval cleanup, on by default, logged a failed
// cleanup every 15 minutes though it had purged the sessions.
func TestPurgeExpiredGoesOnWhenTheRoleDoesNotCoverTheUserIndex(t *testing.T) {
	srv := testserver.SharedMongo(t)
	proxy := testserver.StartProxy(t, srv.Addr)
	_, db := srv.NewDatabase(t)
	client := connect(t, "mongodb://"+proxy.Addr+"/")
	clock := testclock.New(testclock.Epoch())
	logger, recs := logTo()
	st := newStore(t, client.Database(db).Collection("sessions"),
		mongostore.WithClock(clock.Now), mongostore.WithLogger(logger), mongostore.WithCleanupInterval(0))
	ctx := t.Context()
	proxy.RefuseOn("find", st.UsersCollection(), 13, "Unauthorized")
	for round := range 2 {
		if err := st.Set(ctx, "old", []byte(`{}`), clock.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		clock.Advance(2 * time.Minute)
		if n, err := st.PurgeExpired(ctx); n != 1 || err != nil {
			t.Fatalf("round %d: PurgeExpired = %d, %v; want the expired session purged and no error", round, n, err)
		}
		if got := proxy.Refused(); got != round+1 {
			t.Fatalf("round %d: the server refused %d finds on the user index, want %d (asked at every purge)", round, got, round+1)
		}
	}
	warnings := drainWarnings(recs)
	if len(warnings) != 1 {
		t.Fatalf("%d warnings in two purges refused on the user index, want 1: %q", len(warnings), messages(warnings))
	}
	if msg, err := warnings[0].Message, attr(warnings[0], "err"); attr(warnings[0], "collection") != st.UsersCollection() || !strings.Contains(err, "Unauthorized") {
		t.Errorf("the warning %q (err %q) does not name %s and the server's refusal", msg, err, st.UsersCollection())
	}

	// Once a pruning has worked (the role was fixed), a refusal is news
	// again.
	proxy.Heal()
	if _, err := st.PurgeExpired(ctx); err != nil {
		t.Fatal(err)
	}
	proxy.RefuseOn("find", st.UsersCollection(), 13, "Unauthorized")
	if _, err := st.PurgeExpired(ctx); err != nil {
		t.Fatal(err)
	}
	if warnings := drainWarnings(recs); len(warnings) != 1 {
		t.Fatalf("%d warnings for a refusal after a pruning that worked, want 1: %q", len(warnings), messages(warnings))
	}
}

// drainWarnings returns the records of recs at warning level or above
// that it holds now.
func drainWarnings(recs records) []slog.Record {
	var warnings []slog.Record
	for len(recs) > 0 {
		if rec := <-recs; rec.Level >= slog.LevelWarn {
			warnings = append(warnings, rec)
		}
	}
	return warnings
}

// messages returns the messages of recs.
func messages(recs []slog.Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.Message)
	}
	return out
}
