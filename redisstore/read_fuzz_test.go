package redisstore

import (
	"crypto/sha1"
	"encoding/hex"
	"math"
	"strconv"
	"testing"
	"time"
)

// FuzzIndexTimesReadBackAsWritten checks the readers of a user index
// entry's times, which the listing script hands back as text: the expiry,
// a sorted set score (a double, in unix ms), and the last use, a hash value
// (the decimal unix ms the store wrote, or anything a hand edit or another
// program left). What the store writes reads back as that millisecond, in
// the forms Redis may print a score in (up to 2^53 ms every integer is a
// double); any text reads as the zero time or as a time within a
// millisecond of the number it holds, never a wrapped one.
func FuzzIndexTimesReadBackAsWritten(f *testing.F) {
	f.Add(time.Date(2026, 11, 22, 9, 59, 0, 0, time.UTC).UnixMilli(), "1795341540000", "1795341540000")
	f.Add(int64(0), "inf", "0")
	f.Add(int64(-1), "-inf", "-1")
	f.Add(int64(1)<<53, "nan", "x")
	f.Add(int64(math.MaxInt64), "9.2233720368547758e+18", "9223372036854775807")
	f.Add(int64(math.MinInt64), "-9.2233720368547758e+18", "-9223372036854775808")
	f.Add(int64(-62135596800000), "1e300", "1e3")
	f.Add(int64(1), "0x1p-2", "+5")
	f.Fuzz(func(t *testing.T, ms int64, score, used string) {
		if ms != 0 {
			if got := lastUse(strconv.FormatInt(ms, 10)); !got.Equal(time.UnixMilli(ms)) {
				t.Fatalf("lastUse(%d) = %v, want %v", ms, got, time.UnixMilli(ms))
			}
		}
		if ms > -1<<53 && ms < 1<<53 {
			x := float64(ms)
			for _, s := range []string{strconv.FormatFloat(x, 'g', 17, 64), strconv.FormatFloat(x, 'g', -1, 64), strconv.FormatFloat(x, 'f', -1, 64)} {
				if got := expiryOf(s); !got.Equal(time.UnixMilli(ms)) {
					t.Fatalf("expiryOf(%q) = %v, want %v", s, got, time.UnixMilli(ms))
				}
			}
		}

		if got := expiryOf(score); !got.IsZero() {
			x, err := strconv.ParseFloat(score, 64)
			if err != nil || math.Abs(float64(got.UnixMilli())-x) > 1 || math.Abs(x) >= 1<<63 {
				t.Fatalf("expiryOf(%q) = %v (%d ms), not the score's time", score, got, got.UnixMilli())
			}
		}
		if got := lastUse(used); !got.IsZero() {
			n, err := strconv.ParseInt(used, 10, 64)
			if err != nil || got.UnixMilli() != n {
				t.Fatalf("lastUse(%q) = %v (%d ms), not the text's time", used, got, got.UnixMilli())
			}
		}
	})
}

// FuzzVersionStandsForItsValue checks that a version (the value itself,
// with a NUL in front of an empty one or one starting with NUL) is never
// empty, which would ask CompareAndSwap to create, and stands for exactly
// the value read: valueOf gives it back, and versionHash is its SHA-1, as
// the compare-and-set script computes it over the stored value.
func FuzzVersionStandsForItsValue(f *testing.F) {
	f.Add([]byte(`{"cookie":{}}`))
	f.Add([]byte{})
	f.Add([]byte{0})
	f.Add([]byte{0, 0, 'x'})
	f.Fuzz(func(t *testing.T, value []byte) {
		v := version(value)
		if v == "" {
			t.Fatalf("version(%q) is empty", value)
		}
		if got := valueOf(v); got != string(value) {
			t.Fatalf("valueOf(version(%q)) = %q", value, got)
		}
		sum := sha1.Sum(value)
		if got := versionHash(v); got != hex.EncodeToString(sum[:]) {
			t.Fatalf("versionHash(version(%q)) = %s, want %x", value, got, sum)
		}
	})
}
