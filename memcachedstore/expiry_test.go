package memcachedstore

import (
	"testing"
	"time"
)

// legacyFlags is how earlier versions of the store encoded an exact expiry
// in the flags.
func legacyFlags(t time.Time) uint32 { return uint32(t.Sub(legacyEpoch) / legacyUnit) }

// An item with flags 2 (connect-memcached's, and the store's) or 0 is a
// plain session; 4 and 8 (a Buffer, a number in the Node client) are not
// sessions; any other flags are an earlier version's exact expiry, checked.
func TestFlagsTellTheKindOfItem(t *testing.T) {
	now := time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)
	for _, c := range []struct {
		flags uint32
		want  itemKind
	}{
		{0, plain},
		{2, plain},
		{4, gone},
		{8, gone},
		{legacyFlags(now.Add(1250 * time.Millisecond)), legacy},
		{legacyFlags(now.Add(time.Second)), gone}, // its last second: see TestLegacyItemEndsInItsLastSecondAsACurrentOneHasEnded
		{legacyFlags(now), gone},
		{legacyFlags(now.Add(-time.Hour)), gone},
		{legacyFlags(now.Add(-time.Hour)) + 1<<20, legacy}, // 3 days later
	} {
		if got := kindAt(c.flags, now); got != c.want {
			t.Errorf("kindAt(%d) = %d, want %d", c.flags, got, c.want)
		}
	}
}

// Memcached keeps an item of E relative seconds for more than E-1 and at
// most E seconds (its clock moves once a second): the store sends the whole
// seconds left less one, so that Memcached never keeps a session past its
// expiry, and nothing when less than 2 s are left.
func TestMemcachedExpirationEndsTheItemBeforeItsExpiry(t *testing.T) {
	now := time.Now()
	for _, c := range []struct {
		left time.Duration
		want int32 // 0: none (delete)
	}{
		{-time.Second, 0},
		{1999 * time.Millisecond, 0},
		{2 * time.Second, 1},
		{2999 * time.Millisecond, 1},
		{time.Hour, 3599},
		{time.Hour + 999*time.Millisecond, 3599},
		{30 * 24 * time.Hour, 30*24*3600 - 1},
	} {
		e, ok := expiration(now.Add(c.left), c.left)
		if ok != (c.want != 0) || (ok && e != c.want) {
			t.Errorf("expiration for %v left = %d, %v; want %d", c.left, e, ok, c.want)
		}
	}
}

// Beyond 30 days the expiration is an absolute Unix time, which Memcached
// compares with its own clock, rounded down twice: 3 s less than the
// expiry's second.
func TestMemcachedExpirationBeyondThirtyDaysIsAbsolute(t *testing.T) {
	now := time.Now()
	for _, left := range []time.Duration{30*24*time.Hour + time.Second, 400 * 24 * time.Hour} {
		expires := now.Add(left)
		want := min(expires.Unix()-3, 1<<31-1) // from 2037 on, 400 days reach past 2038
		if e, ok := expiration(expires, left); !ok || int64(e) != want {
			t.Errorf("expiration for %v left = %d, %v; want %d", left, e, ok, want)
		}
	}
}

func TestExpirationPast2038IsMemcachedsLast(t *testing.T) {
	now := time.Now()
	for _, expires := range []time.Time{
		time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), // beyond time.Duration: Sub saturates
	} {
		if e, ok := expiration(expires, expires.Sub(now)); !ok || e != 1<<31-1 {
			t.Errorf("expiration for %v = %d, %v; want %d (2038-01-19 03:14:07 UTC)", expires, e, ok, 1<<31-1)
		}
	}
}

// TestLegacyItemEndsInItsLastSecondAsACurrentOneHasEnded: at each instant
// of a session's last second (by the app's clock), an item of an earlier
// version of the store, whose exact expiry the store checks itself, reads
// as no session, as Memcached has ended an item of the current format by
// then, whenever it was written (it lives at most the whole seconds left
// at its write less one). The legacy item was read until its exact expiry
// (to the quarter second below), up to a second after a current one, and
// an app instance whose clock was behind the writer's served it past its
// expiry by that lag.
func TestLegacyItemEndsInItsLastSecondAsACurrentOneHasEnded(t *testing.T) {
	expires := time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC) // a whole quarter second since legacyEpoch
	for left := time.Duration(0); left <= time.Second; left += legacyUnit / 5 {
		now := expires.Add(-left)
		// A current item written at any time before now: written at
		// w, with L left then, Memcached keeps it E whole seconds at most.
		for _, sinceWrite := range []time.Duration{0, 300 * time.Millisecond, 999 * time.Millisecond, time.Second, 2500 * time.Millisecond, time.Hour} {
			written := now.Add(-sinceWrite)
			if e, ok := expiration(expires, expires.Sub(written)); ok && written.Add(time.Duration(e)*time.Second).After(now) {
				t.Fatalf("%v left: a current item written %v before lives until %v", left, sinceWrite, written.Add(time.Duration(e)*time.Second))
			}
		}
		if k := kindAt(legacyFlags(expires), now); k != gone {
			t.Errorf("%v before its exact expiry, a legacy item reads as kind %d, want gone (%d) as a current item is", left, k, gone)
		}
	}
}
