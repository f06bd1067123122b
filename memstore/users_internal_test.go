package memstore

import (
	"context"
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
