package memstore

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestUserIndexOfDailyLoginsForAYearStaysBounded logs one user in every day
// for a year, each session living 30 days: the index never holds more than
// the sessions of one lifetime (plus the grace), and the listing only what
// is alive.
func TestUserIndexOfDailyLoginsForAYearStaysBounded(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	st := New(WithSweepInterval(0), withClock(func() int64 { return now }))
	ctx := context.Background()
	const life = 30 * 24 * time.Hour
	for day := range 365 {
		id := "s" + time.Unix(0, now).Format("20060102")
		exp := time.Unix(0, now).Add(life)
		if err := st.IndexUserSession(ctx, "u", id, time.Unix(0, now), exp); err != nil {
			t.Fatal(err)
		}
		if err := st.Set(ctx, id, []byte("{}"), exp); err != nil {
			t.Fatal(err)
		}
		if n := len(st.users.m["u"].m); n > 31 {
			t.Fatalf("day %d: %d index entries, want at most 31", day, n)
		}
		now += int64(24 * time.Hour)
	}
	live := 0
	if err := st.UserSessions(ctx, "u", func(id string, used, expires time.Time, data []byte) {
		if data != nil {
			live++
		}
	}); err != nil {
		t.Fatal(err)
	}
	if live != 29 { // the last login was a day ago: 29 of the 30 days are left
		t.Fatalf("%d live sessions listed, want 29", live)
	}
	// A user who never comes back: the sweep drops their entries.
	now += int64(life + indexGrace)
	st.purge()
	if len(st.users.m) != 0 {
		t.Fatalf("after every session expired: %d users in the index, want none", len(st.users.m))
	}
}

// TestIndexWritesOfAUserWalkTheirEntriesOnlyWhenOneIsDue indexes many
// sessions of one user: the writes do not walk all the user's entries each
// time (that made each write cost as much as the user had sessions), yet
// an entry past its deadline is still pruned by the first write after it,
// also when the earliest deadline the store knew of has been moved on by a
// touch.
func TestIndexWritesOfAUserWalkTheirEntriesOnlyWhenOneIsDue(t *testing.T) {
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	now := start.UnixNano()
	st := New(WithSweepInterval(0), withClock(func() int64 { return now }))
	defer st.Close()
	ctx := context.Background()
	index := func(id string, expires time.Time) {
		t.Helper()
		if err := st.IndexUserSession(ctx, "u", id, time.Unix(0, now), expires); err != nil {
			t.Fatal(err)
		}
	}
	const sessions = 1000
	for i := range sessions { // session i expires i seconds after the first
		index(fmt.Sprint("s", i), start.Add(time.Hour+time.Duration(i)*time.Second))
	}
	ids := st.users.m["u"]
	if len(ids.m) != sessions || ids.walks > 1 {
		t.Fatalf("%d entries after %d index writes, walked %d times; want %d, walked at most once", len(ids.m), sessions, ids.walks, sessions)
	}

	index("s0", start.Add(3*time.Hour)) // a touch moves the earliest deadline on
	now = start.Add(time.Hour + indexGrace).UnixNano()
	index("late", start.Add(3*time.Hour)) // s0's old deadline: nothing to prune yet
	if len(ids.m) != sessions+1 {
		t.Fatalf("%d entries; want %d, none past its deadline", len(ids.m), sessions+1)
	}
	now = start.Add(time.Hour + indexGrace + 10*time.Second).UnixNano()
	index("later", start.Add(3*time.Hour)) // s1 to s10 are past their deadline
	walks := ids.walks
	index("later", start.Add(3*time.Hour))
	if ids.walks != walks {
		t.Fatalf("a write with no entry due walked the entries")
	}
	for i := 1; i <= 10; i++ {
		if _, ok := ids.m[fmt.Sprint("s", i)]; ok {
			t.Errorf("s%d outlived its deadline", i)
		}
	}
	for _, id := range []string{"s0", "s11", "late", "later"} {
		if _, ok := ids.m[id]; !ok {
			t.Errorf("%s was pruned before its deadline", id)
		}
	}
	if len(ids.m) != sessions+2-10 || ids.walks > 3 {
		t.Fatalf("%d entries, %d walks; want %d entries, at most 3 walks", len(ids.m), ids.walks, sessions+2-10)
	}
}
