package main

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/sessionkit/session/memstore"
)

// deadlineStore is a memstore (not one the manager knows never waits) that
// records the time left to each listing of a user's index.
type deadlineStore struct {
	*memstore.Store
	left []time.Duration // -1: no deadline
}

func (d *deadlineStore) UserSessions(ctx context.Context, user string, yield func(string, time.Time, time.Time, []byte)) error {
	left := time.Duration(-1)
	if dl, ok := ctx.Deadline(); ok {
		left = time.Until(dl)
	}
	d.left = append(d.left, left)
	return d.Store.UserSessions(ctx, user, yield)
}

// -timeout bounds user and logout-user, not the manager's default
// StoreTimeout (5 s), which bounds the manager's store calls on a user's
// sessions: a -timeout of a minute, for a slow store or a user with many
// sessions, would otherwise give up after 5 s.
func TestUserCommandsWaitForTheStoreAsLongAsTimeout(t *testing.T) {
	st := &deadlineStore{Store: memstore.New()}
	t.Cleanup(func() { st.Close() })
	fillUsers(t, st)
	c := &cli{stdout: io.Discard, stderr: io.Discard, timeout: time.Minute, store: st}
	if err := c.user(t.Context(), "dana"); err != nil {
		t.Fatal(err)
	}
	if err := c.logoutUser(t.Context(), "dana", ""); err != nil {
		t.Fatal(err)
	}
	if len(st.left) != 2 {
		t.Fatalf("%d listings, want 2", len(st.left))
	}
	for i, left := range st.left {
		if left < 50*time.Second {
			t.Errorf("listing %d had %v left, want about the minute of -timeout", i, left)
		}
	}
}
