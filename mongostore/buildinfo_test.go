package mongostore_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/sessionkit/session/internal/testclock"
	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/mongostore"
)

// proxied returns a collection of its own on the shared FerretDB, reached
// through a proxy, and the proxy.
func proxied(t *testing.T) (*mongo.Collection, *testserver.Proxy) {
	t.Helper()
	srv := testserver.SharedMongo(t)
	proxy := testserver.StartProxy(t, srv.Addr)
	_, db := srv.NewDatabase(t)
	return connect(t, "mongodb://"+proxy.Addr+"/").Database(db).Collection("sessions"), proxy
}

// purgeOneExpired stores an expired session under id and checks that
// PurgeExpired deletes it, and it alone.
func purgeOneExpired(t *testing.T, st *mongostore.Store, coll *mongo.Collection, clock *testclock.Clock, id string) {
	t.Helper()
	insertRaw(t, coll, bson.D{{Key: "_id", Value: id}, {Key: "session", Value: `{}`}, {Key: "expires", Value: clock.Now().Add(-time.Minute)}})
	if n, err := st.PurgeExpired(t.Context()); n != 1 || err != nil {
		t.Fatalf("PurgeExpired = %d, %v; want 1 (%s)", n, err, id)
	}
}

// TestPurgeExpiredAsksAServerThatRefusesBuildInfoAgainOnlyAnHourLater: a
// store whose server refuses buildInfo (a proxy that does not pass it on, a
// user without the privilege) takes it for FerretDB, the purge that is
// right on any server, says so once in its log, and asks again an hour
// later, not at every purge. It asked at every PurgeExpired, a round trip
// each, and logged nothing.
func TestPurgeExpiredAsksAServerThatRefusesBuildInfoAgainOnlyAnHourLater(t *testing.T) {
	coll, proxy := proxied(t)
	clock := testclock.New(testclock.Epoch())
	var logs bytes.Buffer
	st := newStore(t, coll, mongostore.WithClock(clock.Now),
		mongostore.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	proxy.Refuse("buildInfo", 13, "Unauthorized")

	for i := range 3 {
		purgeOneExpired(t, st, coll, clock, fmt.Sprintf("first%d", i))
		clock.Advance(10 * time.Minute)
	}
	if got := proxy.Refused(); got != 1 {
		t.Fatalf("buildInfo asked %d times in 3 purges 10 minutes apart, want once", got)
	}
	if got := strings.Count(logs.String(), "refused buildInfo"); got != 1 {
		t.Errorf("the refusal was logged %d times, want once:\n%s", got, &logs)
	}

	clock.Advance(30*time.Minute + time.Millisecond) // an hour after the refusal
	purgeOneExpired(t, st, coll, clock, "later")
	if got := proxy.Refused(); got != 2 {
		t.Fatalf("buildInfo asked %d times in all, an hour after it was refused; want twice", got)
	}

	// Answered at last (FerretDB): the store knows, and asks no more.
	proxy.Heal()
	clock.Advance(time.Hour)
	purgeOneExpired(t, st, coll, clock, "answered")
	proxy.Refuse("buildInfo", 13, "Unauthorized")
	clock.Advance(2 * time.Hour)
	purgeOneExpired(t, st, coll, clock, "known")
	if got := proxy.Refused(); got != 2 {
		t.Fatalf("buildInfo asked again after the server answered it (refused %d times in all, want 2)", got)
	}
}

// TestPurgeExpiredAsksBuildInfoAgainAfterANetworkError: a buildInfo whose
// answer did not come (the connection dropped) tells nothing about the
// server: the next purge asks again, however soon, and a purge whose
// buildInfo was lost still deletes, in the way that is right on any
// server.
func TestPurgeExpiredAsksBuildInfoAgainAfterANetworkError(t *testing.T) {
	coll, proxy := proxied(t)
	clock := testclock.New(testclock.Epoch())
	st := newStore(t, coll, mongostore.WithClock(clock.Now))
	proxy.LoseRequests("buildInfo", 1)
	for i := range 2 {
		purgeOneExpired(t, st, coll, clock, fmt.Sprintf("lost%d", i))
		if got := proxy.LostRequests(); got != i+1 {
			t.Fatalf("after %d purges, %d buildInfo requests lost; want %d (asked at every purge)", i+1, got, i+1)
		}
	}
	proxy.Heal()
	purgeOneExpired(t, st, coll, clock, "answered")
	proxy.Refuse("buildInfo", 13, "Unauthorized")
	purgeOneExpired(t, st, coll, clock, "known")
	if got := proxy.Refused(); got != 0 {
		t.Fatalf("buildInfo asked again after the server answered it")
	}
}

// TestPurgeExpiredAsksARefusingServerAgainAfterTheClockWentBack: a store
// whose clock was set back after the server refused buildInfo (an NTP
// correction of a clock that ran days ahead, a VM restored) still asks
// again an hour later by that clock. It waited until the clock came back
// to an hour past the refusal: days of purges the batched, locked way, with
// nothing logged, after the refusal had ended.
func TestPurgeExpiredAsksARefusingServerAgainAfterTheClockWentBack(t *testing.T) {
	coll, proxy := proxied(t)
	clock := testclock.New(testclock.Epoch())
	st := newStore(t, coll, mongostore.WithClock(clock.Now))
	proxy.Refuse("buildInfo", 13, "Unauthorized")
	purgeOneExpired(t, st, coll, clock, "refused")
	if got := proxy.Refused(); got != 1 {
		t.Fatalf("buildInfo refused %d times at the first purge, want once", got)
	}
	clock.Advance(-48 * time.Hour)
	clock.Advance(time.Hour + time.Millisecond)
	purgeOneExpired(t, st, coll, clock, "back")
	if got := proxy.Refused(); got != 2 {
		t.Fatalf("buildInfo asked %d times in all, an hour after the clock went back 2 days; want twice", got)
	}
}

// TestPurgeExpiredAsksBuildInfoAgainAfterATransientServerError: an error a
// server gives for a passing state (shutting down, stepping down, a time
// limit), not for the command, tells nothing about the server either: the
// next purge asks again, however soon, and says nothing of a refusal.
func TestPurgeExpiredAsksBuildInfoAgainAfterATransientServerError(t *testing.T) {
	for _, e := range []struct {
		code int32
		name string
	}{{91, "ShutdownInProgress"}, {189, "PrimarySteppedDown"}, {11600, "InterruptedAtShutdown"}, {50, "MaxTimeMSExpired"}} {
		t.Run(e.name, func(t *testing.T) {
			coll, proxy := proxied(t)
			clock := testclock.New(testclock.Epoch())
			var logs bytes.Buffer
			st := newStore(t, coll, mongostore.WithClock(clock.Now),
				mongostore.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))))
			proxy.Refuse("buildInfo", e.code, e.name)
			for i := range 2 {
				purgeOneExpired(t, st, coll, clock, fmt.Sprintf("transient%d", i))
				clock.Advance(time.Minute)
				if got := proxy.Refused(); got != i+1 {
					t.Fatalf("after %d purges a minute apart, buildInfo answered %s %d times; want %d (asked at every purge)", i+1, e.name, got, i+1)
				}
			}
			if strings.Contains(logs.String(), "refused buildInfo") {
				t.Errorf("a passing %s was logged as a refusal:\n%s", e.name, &logs)
			}
		})
	}
}
