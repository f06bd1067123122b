package mongostore_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/sessionkit/session/mongostore"
	"github.com/sessionkit/session/storetest"
)

// passedDeadline is a context whose deadline has passed but whose timer has
// not fired yet: Err is still nil, as a context.WithTimeout's is for a
// moment on a loaded machine, while the driver already refuses to send a
// command it cannot finish in time.
type passedDeadline struct{ context.Context }

func (passedDeadline) Deadline() (time.Time, bool) { return time.Now().Add(-time.Millisecond), true }

// TestUserIndexesMissedByTheCallersDeadlineAreMadeByTheNextCall: the first
// index write of a store, whose context's deadline passed while the store
// created the user index collection's indexes, fails with the deadline,
// warns of nothing, and the next call creates them. The driver noticed the
// deadline before the context's timer fired, and the store took it for a
// timeout of the server's: it warned that it "cannot create the user index
// collection's index on _id.user yet; listing a user's sessions scans the
// collection", and put the indexes off for a minute.
func TestUserIndexesMissedByTheCallersDeadlineAreMadeByTheNextCall(t *testing.T) {
	coll := collection(t)
	var logs bytes.Buffer
	st := newStore(t, coll, mongostore.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	exp := time.Now().Add(time.Hour)
	err := st.IndexUserSession(passedDeadline{t.Context()}, "alice", storetest.NewID(), time.Now(), exp)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("IndexUserSession past its deadline: %v; want context.DeadlineExceeded", err)
	}
	if logs.Len() > 0 {
		t.Errorf("the caller's deadline was logged as the server's failure:\n%s", &logs)
	}
	if err := st.IndexUserSession(t.Context(), "alice", storetest.NewID(), time.Now(), exp); err != nil {
		t.Fatal(err)
	}
	specs, err := coll.Database().Collection(st.UsersCollection()).Indexes().ListSpecifications(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range specs {
		names = append(names, s.Name)
	}
	for _, want := range []string{"_id.user_1", "expires_1"} {
		if !slices.Contains(names, want) {
			t.Errorf("after a call with time left the user index collection has indexes %v, no %s", names, want)
		}
	}
}
