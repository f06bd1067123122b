package memcachedstore

import (
	"testing"
	"time"
)

func TestExpiryInFlagsRoundsDownToAQuarterSecond(t *testing.T) {
	at := time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)
	for _, c := range []struct {
		expires time.Time
		before  time.Time // still valid at this time
		after   time.Time // expired at this time
	}{
		{at, at.Add(-time.Nanosecond), at},
		{at.Add(100 * time.Millisecond), at.Add(-time.Nanosecond), at},
		{at.Add(260 * time.Millisecond), at.Add(249 * time.Millisecond), at.Add(250 * time.Millisecond)},
	} {
		f := expiryFlags(c.expires)
		if f == 0 {
			t.Fatalf("expiryFlags(%v) = 0", c.expires)
		}
		if flagsExpired(f, c.before) {
			t.Errorf("expires %v: expired at %v already", c.expires, c.before)
		}
		if !flagsExpired(f, c.after) {
			t.Errorf("expires %v: not expired at %v", c.expires, c.after)
		}
		if !flagsExpired(f, c.expires) {
			t.Errorf("expires %v: not expired at its own expiry", c.expires)
		}
	}
}

func TestExpiryOutsideFlagsRangeLeavesFlagsZero(t *testing.T) {
	for _, e := range []time.Time{epoch.Add(-time.Hour), epoch.Add(1 << 32 * flagUnit)} {
		if f := expiryFlags(e); f != 0 {
			t.Errorf("expiryFlags(%v) = %d, want 0 (out of range)", e, f)
		}
	}
	if flagsExpired(0, time.Now().Add(100*365*24*time.Hour)) {
		t.Error("flags 0 (written by someone else) counted as expired")
	}
	if f := expiryFlags(time.Date(2058, 1, 1, 0, 0, 0, 0, time.UTC)); f == 0 {
		t.Error("an expiry in 2058 is out of range")
	}
}

func TestMemcachedExpirationIsRelativeUpToThirtyDaysThenAbsolute(t *testing.T) {
	now := time.Now()
	for _, c := range []struct {
		left time.Duration
		want func(int32) bool
	}{
		{1500 * time.Millisecond, func(e int32) bool { return e == 3 }}, // rounded up, plus a second
		{time.Hour, func(e int32) bool { return e == 3601 }},
		{29 * 24 * time.Hour, func(e int32) bool { return e == 29*24*3600+1 }},
		{31 * 24 * time.Hour, func(e int32) bool {
			return int64(e) >= now.Add(31*24*time.Hour).Unix()+1 && int64(e) <= now.Add(31*24*time.Hour).Unix()+3
		}},
	} {
		if e := expiration(now.Add(c.left), c.left); !c.want(e) {
			t.Errorf("expiration for %v left = %d", c.left, e)
		}
	}
}

func TestExpirationPast2038IsMemcachedsLast(t *testing.T) {
	now := time.Now()
	for _, expires := range []time.Time{
		time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), // beyond time.Duration: Sub saturates
	} {
		if e := expiration(expires, expires.Sub(now)); e != 1<<31-1 {
			t.Errorf("expiration for %v = %d, want %d (2038-01-19 03:14:07 UTC)", expires, e, 1<<31-1)
		}
	}
	if f := expiryFlags(time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)); f != 0 {
		t.Errorf("expiryFlags of year 9999 = %d, want 0 (out of range: Memcached's expiry applies)", f)
	}
}
