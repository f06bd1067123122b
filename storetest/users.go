package storetest

import (
	"bytes"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/session"
)

// indexed is what UserSessions reported for one entry.
type indexed struct {
	used, expires time.Time
	data          []byte
}

// userSessions collects what ix reports for user.
func userSessions(t *testing.T, ix session.UserIndex, user string) map[string]indexed {
	t.Helper()
	got := map[string]indexed{}
	err := ix.UserSessions(ctx(t), user, func(id string, used, expires time.Time, data []byte) {
		if _, dup := got[id]; dup {
			t.Errorf("UserSessions(%q) reported %q twice", user, id)
		}
		got[id] = indexed{used, expires, data}
	})
	if err != nil {
		t.Fatalf("UserSessions(%q): %v", user, err)
	}
	return got
}

func mustIndex(t *testing.T, ix session.UserIndex, user, id string, used, expires time.Time) {
	t.Helper()
	if err := ix.IndexUserSession(ctx(t), user, id, used, expires); err != nil {
		t.Fatalf("IndexUserSession(%q, %q): %v", user, id, err)
	}
}

// sameMillis compares times at the millisecond precision every store keeps.
func sameMillis(a, b time.Time) bool { return a.UnixMilli() == b.UnixMilli() }

// testUserIndex pins session.UserIndex: entries are listed with their
// session's bytes, re-indexing replaces, users are separate, a destroyed or
// expired session is listed without data (never with it), and parallel
// indexing of one user loses no entry.
func testUserIndex(t *testing.T, newStore func(*testing.T) session.Store, cfg *config) {
	st := newStore(t)
	ix, ok := st.(session.UserIndex)
	if !ok {
		t.Skip("store is not a session.UserIndex")
	}
	now := time.Now()
	t.Run("IndexedSessionIsListedWithItsData", func(t *testing.T) {
		id, data := NewID(), Document(200)
		used, expires := now.Add(-time.Second), later()
		mustIndex(t, ix, "alice", id, used, expires)
		mustSet(t, st, id, data, expires)
		got := userSessions(t, ix, "alice")
		e, ok := got[id]
		switch {
		case !ok:
			t.Fatalf("UserSessions(alice) = %v, want %q", got, id)
		case !bytes.Equal(e.data, data):
			t.Errorf("data = %s, want %s", short(e.data), short(data))
		case !sameMillis(e.used, used) || !sameMillis(e.expires, expires):
			t.Errorf("used %v expires %v, want %v and %v", e.used, e.expires, used, expires)
		}
	})
	t.Run("ReindexingReplacesTheEntry", func(t *testing.T) {
		id := NewID()
		mustIndex(t, ix, "bob", id, now.Add(-time.Hour), now.Add(time.Hour))
		expires := later().Add(time.Hour)
		mustIndex(t, ix, "bob", id, now, expires)
		mustSet(t, st, id, Document(10), later())
		got := userSessions(t, ix, "bob")
		if e := got[id]; len(got) != 1 || !sameMillis(e.used, now) || !sameMillis(e.expires, expires) {
			t.Errorf("UserSessions(bob): %d entries, %q used %v expires %v; want one, used %v expires %v", len(got), id, e.used, e.expires, now, expires)
		}
		// An earlier expiry replaces a later one too: the manager records
		// the shorter expiry of a save that shortened the session.
		shorter := later()
		mustIndex(t, ix, "bob", id, now, shorter)
		got = userSessions(t, ix, "bob")
		if e := got[id]; len(got) != 1 || !sameMillis(e.expires, shorter) {
			t.Errorf("UserSessions(bob) after re-indexing with an earlier expiry: %d entries, %q expires %v; want one, expiring %v", len(got), id, e.expires, shorter)
		}
	})
	t.Run("UsersAreSeparate", func(t *testing.T) {
		a, b := NewID(), NewID()
		mustIndex(t, ix, "carol", a, now, later())
		mustIndex(t, ix, "dave", b, now, later())
		mustSet(t, st, a, Document(10), later())
		mustSet(t, st, b, Document(10), later())
		if got := userSessions(t, ix, "carol"); len(got) != 1 || got[a].data == nil {
			t.Errorf("UserSessions(carol): %d entries, want only %q", len(got), a)
		}
		if got := userSessions(t, ix, "nobody"); len(got) != 0 {
			t.Errorf("UserSessions(nobody): %d entries, want none", len(got))
		}
	})
	t.Run("DestroyedSessionIsListedWithoutData", func(t *testing.T) {
		id := NewID()
		mustIndex(t, ix, "erin", id, now, later())
		mustSet(t, st, id, Document(10), later())
		if err := st.Destroy(ctx(t), id); err != nil {
			t.Fatal(err)
		}
		// The entry stays until its expiry (plus IndexGrace): the manager
		// removes it (UserIndexRemover) where it knows that is safe.
		if e, ok := userSessions(t, ix, "erin")[id]; !ok || e.data != nil {
			t.Errorf("destroyed session: listed %v, data %s; want it listed without data", ok, short(e.data))
		}
	})
	t.Run("IndexedButNeverStoredHasNoData", func(t *testing.T) {
		id := NewID()
		mustIndex(t, ix, "frank", id, now, later())
		if e, ok := userSessions(t, ix, "frank")[id]; !ok || e.data != nil {
			t.Errorf("never stored session: listed %v, data %s; want it listed without data", ok, short(e.data))
		}
	})
	t.Run("ZeroExpiresGetsTheDefaultLifetime", func(t *testing.T) {
		id := NewID()
		mustIndex(t, ix, "gina", id, now, time.Time{})
		mustSet(t, st, id, Document(10), time.Time{})
		e, ok := userSessions(t, ix, "gina")[id]
		if !ok || e.data == nil || !e.expires.After(time.Now()) {
			t.Errorf("UserSessions(gina): listed %v, data %v, expires %v; want the session with a future expiry", ok, e.data != nil, e.expires)
		}
	})
	// The manager always records a last use, but the interface takes any
	// time: the zero time must come back as the zero time (memstore and
	// boltstore listed it in the year 1754, the overflow of its UnixNano).
	t.Run("ZeroUsedIsListedAsTheZeroTime", func(t *testing.T) {
		id := NewID()
		mustIndex(t, ix, "gus", id, time.Time{}, later())
		mustSet(t, st, id, Document(10), later())
		e, ok := userSessions(t, ix, "gus")[id]
		if !ok || e.data == nil || !e.used.IsZero() {
			t.Errorf("UserSessions(gus): listed %v, data %v, used %v; want the session with a zero used", ok, e.data != nil, e.used)
		}
	})
	t.Run("ExpiredSessionIsListedWithoutData", func(t *testing.T) {
		id := NewID()
		expires := time.Now().Add(ExpiryWait + cfg.early)
		mustIndex(t, ix, "hank", id, now, expires)
		// The wait covers the write's own time, as testExpiry's does.
		start := time.Now()
		mustSet(t, st, id, Document(10), expires)
		time.Sleep(time.Until(expires) + time.Since(start) + expiryMargin)
		// Its entry is kept for IndexGrace after the expiry.
		if e, ok := userSessions(t, ix, "hank")[id]; !ok || e.data != nil {
			t.Errorf("expired session: listed %v, data %s; want it listed without data until IndexGrace has passed", ok, short(e.data))
		}
	})
	t.Run("EntryPastItsGraceIsNotListed", func(t *testing.T) {
		gone, kept := NewID(), NewID()
		mustIndex(t, ix, "iris", kept, now, later())
		mustSet(t, st, kept, Document(10), later())
		// Last, so that no later index write of the user prunes it.
		mustIndex(t, ix, "iris", gone, now.Add(-3*session.IndexGrace), now.Add(-2*session.IndexGrace))
		got := userSessions(t, ix, "iris")
		if _, listed := got[gone]; listed || got[kept].data == nil {
			t.Errorf("UserSessions(iris): %d entries, the one whose expiry plus IndexGrace has passed listed: %v; want only %q", len(got), listed, kept)
		}
	})
	t.Run("ParallelIndexingOfOneUserLosesNothing", func(t *testing.T) {
		const n = 50
		var wg sync.WaitGroup
		ids := make([]string, n)
		for i := range n {
			ids[i] = NewID()
			wg.Go(func() {
				if err := ix.IndexUserSession(ctx(t), "ivy", ids[i], now, later()); err != nil {
					t.Error(err)
				}
				if err := st.Set(ctx(t), ids[i], Document(10), later()); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		got := userSessions(t, ix, "ivy")
		var missing []string
		for _, id := range ids {
			if got[id].data == nil {
				missing = append(missing, id)
			}
		}
		if len(missing) > 0 || len(got) != n {
			slices.Sort(missing)
			t.Errorf("%d entries listed, %d of %d parallel ones missing: %v", len(got), len(missing), n, missing)
		}
	})
	t.Run("OddUserIDs", func(t *testing.T) {
		for _, user := range []string{"a:b", "{x}", "user@example.com", "ü ñ", "*", "a\x00b"} {
			id := NewID()
			mustIndex(t, ix, user, id, now, later())
			mustSet(t, st, id, Document(10), later())
			if got := userSessions(t, ix, user); len(got) != 1 || got[id].data == nil {
				t.Errorf("user %q: UserSessions: %d entries, want %q", user, len(got), id)
			}
		}
	})
}

// testUserIndexRemover pins session.UserIndexRemover: an unindexed entry is
// no longer listed, while its session and every other entry (the user's
// others, and another user's for the same id) stay; unindexing a missing
// entry is not an error; the entry can be indexed again.
func testUserIndexRemover(t *testing.T, newStore func(*testing.T) session.Store, cfg *config) {
	st := newStore(t)
	rm := capability[session.UserIndexRemover](t, st)
	now := time.Now()
	mustUnindex := func(t *testing.T, user, id string) {
		t.Helper()
		if err := rm.UnindexUserSession(ctx(t), user, id); err != nil {
			t.Fatalf("UnindexUserSession(%q, %q): %v", user, id, err)
		}
	}
	t.Run("UnindexedEntryIsNoLongerListed", func(t *testing.T) {
		gone, kept := NewID(), NewID()
		data := Document(10)
		for _, id := range []string{gone, kept} {
			mustIndex(t, rm, "alice", id, now, later())
			mustSet(t, st, id, data, later())
		}
		mustUnindex(t, "alice", gone)
		got := userSessions(t, rm, "alice")
		if _, listed := got[gone]; listed || len(got) != 1 || got[kept].data == nil {
			t.Errorf("UserSessions(alice) after unindexing %q: %d entries (the unindexed one listed: %v), want only %q with its data", gone, len(got), listed, kept)
		}
		mustGet(t, st, gone, data) // the session itself is not the index's to delete
	})
	t.Run("OtherUsersEntryForTheSameIDStays", func(t *testing.T) {
		id := NewID()
		mustIndex(t, rm, "bob", id, now, later())
		mustIndex(t, rm, "carol", id, now, later())
		mustSet(t, st, id, Document(10), later())
		mustUnindex(t, "bob", id)
		if got := userSessions(t, rm, "bob"); len(got) != 0 {
			t.Errorf("UserSessions(bob): %d entries after unindexing the only one, want none", len(got))
		}
		if got := userSessions(t, rm, "carol"); len(got) != 1 || got[id].data == nil {
			t.Errorf("UserSessions(carol): %d entries, want %q: unindexing bob's entry removed carol's", len(got), id)
		}
	})
	t.Run("UnindexingAMissingEntryIsNotAnError", func(t *testing.T) {
		id := NewID()
		mustUnindex(t, "nobody", id) // a user who has no entries at all
		mustIndex(t, rm, "dave", NewID(), now, later())
		mustUnindex(t, "dave", id) // a user who has others
		mustIndex(t, rm, "dave", id, now, later())
		mustUnindex(t, "dave", id)
		mustUnindex(t, "dave", id) // twice
		if _, listed := userSessions(t, rm, "dave")[id]; listed {
			t.Errorf("UserSessions(dave) lists %q after it was unindexed", id)
		}
	})
	t.Run("UnindexedEntryCanBeIndexedAgain", func(t *testing.T) {
		id := NewID()
		mustIndex(t, rm, "erin", id, now, later())
		mustUnindex(t, "erin", id)
		mustIndex(t, rm, "erin", id, now, later())
		mustSet(t, st, id, Document(10), later())
		if got := userSessions(t, rm, "erin"); len(got) != 1 || got[id].data == nil {
			t.Errorf("UserSessions(erin): %d entries, want %q indexed again", len(got), id)
		}
	})
	t.Run("OddUserIDs", func(t *testing.T) {
		for _, user := range []string{"a:b", "{x}", "user@example.com", "ü ñ", "*", "a\x00b"} {
			gone, kept := NewID(), NewID()
			mustIndex(t, rm, user, gone, now, later())
			mustIndex(t, rm, user, kept, now, later())
			mustUnindex(t, user, gone)
			if got := userSessions(t, rm, user); len(got) != 1 {
				t.Errorf("user %q: UserSessions: %d entries after unindexing one of two, want %q", user, len(got), kept)
			}
		}
	})
}
