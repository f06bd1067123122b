package mongostore_test

import (
	"testing"
	"time"

	"github.com/sessionkit/session/mongostore"
	"github.com/sessionkit/session/storetest"
)

// TestClearDeletesTheUserIndex: Clear deletes the store's user index
// entries with its sessions, where it left them in <collection>_users
// until they expired (a 30-day session's entry for 30 days), listed by
// UserSessions without their sessions. Another store's entries stay.
func TestClearDeletesTheUserIndex(t *testing.T) {
	ctx := t.Context()
	coll, otherColl := collection(t), collection(t)
	st, other := newStore(t, coll), newStore(t, otherColl)
	exp := time.Now().Add(30 * 24 * time.Hour)
	for _, s := range []*mongostore.Store{st, other} {
		id := storetest.NewID()
		if err := s.Set(ctx, id, []byte(`{"__sessionkit_user":"alice"}`), exp); err != nil {
			t.Fatal(err)
		}
		if err := s.IndexUserSession(ctx, "alice", id, time.Now(), exp); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	var listed []string
	if err := st.UserSessions(ctx, "alice", func(id string, _, _ time.Time, _ []byte) { listed = append(listed, id) }); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 0 || len(entries(t, coll, "alice")) != 0 {
		t.Fatalf("after Clear: UserSessions listed %d entries, the index collection holds %d; want none", len(listed), len(entries(t, coll, "alice")))
	}
	if n := len(entries(t, otherColl, "alice")); n != 1 {
		t.Fatalf("the other store's index collection holds %d entries after Clear, want its 1", n)
	}
}

// TestClearLeavesTheSessionsOfAStoreOnItsUserIndexCollectionName: a store
// on collection "sessions" keeps its user index in "sessions_users"; the
// sessions of another store on a collection of that name (whose _id is a
// string, where an entry's is a document) outlive the first store's Clear.
func TestClearLeavesTheSessionsOfAStoreOnItsUserIndexCollectionName(t *testing.T) {
	ctx := t.Context()
	coll := collection(t)
	st := newStore(t, coll)
	other := newStore(t, coll.Database().Collection(st.UsersCollection()))
	id, data := storetest.NewID(), []byte(`{"a":1}`)
	if err := other.Set(ctx, id, data, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := st.IndexUserSession(ctx, "alice", storetest.NewID(), time.Now(), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := st.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	if got, found, err := other.Get(ctx, id); err != nil || !found || string(got) != string(data) {
		t.Fatalf("the session of the store on %s after the other's Clear: %s, %v, %v; want it kept", st.UsersCollection(), got, found, err)
	}
	if n := len(entries(t, coll, "alice")); n != 0 {
		t.Fatalf("%d entries of alice after Clear, want none", n)
	}
}
