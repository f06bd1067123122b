package pgstore_test

import (
	"testing"
	"time"

	"github.com/sessionkit/session/pgstore"
	"github.com/sessionkit/session/storetest"
)

// TestClearDeletesTheUserIndex: Clear deletes the store's user index
// entries with its sessions, where it left them in <table>_users until
// they expired (a 30-day session's entry for 30 days), listed by
// UserSessions without their sessions. Another store's entries stay.
func TestClearDeletesTheUserIndex(t *testing.T) {
	ctx := t.Context()
	pool := newPool(t)
	st, other := newStore(t, pool), newStore(t, pool)
	exp := time.Now().Add(30 * 24 * time.Hour)
	for _, s := range []*pgstore.Store{st, other} {
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
	if len(listed) != 0 || indexRows(t, pool, st, "") != 0 {
		t.Fatalf("after Clear: UserSessions listed %d entries, the index table holds %d rows; want none", len(listed), indexRows(t, pool, st, ""))
	}
	if n := indexRows(t, pool, other, ""); n != 1 {
		t.Fatalf("the other store's index table holds %d rows after Clear, want its 1", n)
	}
}

// TestClearWorksWithoutAUserIndexTable: a store on connect-pg-simple's
// table, without <table>_users (opened without WithCreateTable), clears
// its sessions.
func TestClearWorksWithoutAUserIndexTable(t *testing.T) {
	ctx := t.Context()
	pool := newPool(t)
	exec(t, pool, `CREATE TABLE "session" ("sid" varchar NOT NULL PRIMARY KEY, "sess" json NOT NULL, "expire" timestamp(6) NOT NULL)`)
	st, err := pgstore.New(pool, pgstore.WithCleanupInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Set(ctx, storetest.NewID(), []byte(`{}`), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := st.Clear(ctx); err != nil {
		t.Fatalf("Clear without a user index table: %v", err)
	}
	if n, err := st.Count(ctx); err != nil || n != 0 {
		t.Fatalf("Count after Clear = %d, %v; want 0", n, err)
	}
}
