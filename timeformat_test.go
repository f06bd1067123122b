package session

import (
	"math/rand/v2"
	"net/http"
	"testing"
	"time"
)

// The hand-written formats must give exactly what time.AppendFormat gives
// with the layouts they stand for, at any instant and in any zone.
func TestTimeFormatsMatchTheLayoutsTheyStandFor(t *testing.T) {
	zone := time.FixedZone("UTC-9:30", -(9*3600 + 1800))
	times := []time.Time{
		{},
		time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2000, 2, 29, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(2026, 12, 31, 23, 59, 59, 999_500_000, zone), // next year in UTC
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), // five-digit years: AppendFormat's own
		time.Date(-1, 6, 1, 0, 0, 0, 0, time.UTC),
		time.Date(999, 3, 4, 5, 6, 7, 8_000_000, time.UTC),
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		sec := r.Int64N(time.Date(10001, 1, 1, 0, 0, 0, 0, time.UTC).Unix()-time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC).Unix()) +
			time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
		times = append(times, time.Unix(sec, r.Int64N(1e9)).In(zone))
	}
	for _, tm := range times {
		if got, want := string(appendISOTime([]byte("x"), tm)), "x"+tm.UTC().Format(isoMillis); got != want {
			t.Fatalf("appendISOTime(%v) = %q, want %q", tm, got, want)
		}
		if got, want := string(appendHTTPTime([]byte("x"), tm)), "x"+tm.UTC().Format(http.TimeFormat); got != want {
			t.Fatalf("appendHTTPTime(%v) = %q, want %q", tm, got, want)
		}
	}
}

func BenchmarkTimeFormat(b *testing.B) {
	tm := time.Date(2026, 11, 29, 18, 4, 5, 678_000_000, time.UTC)
	buf := make([]byte, 0, 64)
	b.Run("ISO/AppendFormat", func(b *testing.B) {
		for b.Loop() {
			buf = tm.UTC().AppendFormat(buf[:0], isoMillis)
		}
	})
	b.Run("ISO/appendISOTime", func(b *testing.B) {
		for b.Loop() {
			buf = appendISOTime(buf[:0], tm)
		}
	})
	b.Run("HTTP/AppendFormat", func(b *testing.B) {
		for b.Loop() {
			buf = tm.UTC().AppendFormat(buf[:0], http.TimeFormat)
		}
	})
	b.Run("HTTP/appendHTTPTime", func(b *testing.B) {
		for b.Loop() {
			buf = appendHTTPTime(buf[:0], tm)
		}
	})
}
