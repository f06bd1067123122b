package session

import (
	"fmt"
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
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), // five-digit years: AppendFormat's own, toISOString's +010000
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
		want := "x" + tm.UTC().Format(isoMillis)
		if y := tm.UTC().Year(); y < 0 || y > 9999 { // toISOString's expanded year
			want = "x" + fmt.Sprintf("%+07d", y) + tm.UTC().Format(isoMillis[4:])
		}
		if got := string(appendISOTime([]byte("x"), tm)); got != want {
			t.Fatalf("appendISOTime(%v) = %q, want %q", tm, got, want)
		}
		if got, want := string(appendHTTPTime([]byte("x"), tm)), "x"+tm.UTC().Format(http.TimeFormat); got != want {
			t.Fatalf("appendHTTPTime(%v) = %q, want %q", tm, got, want)
		}
	}
}

// A year outside 0 to 9999 (an express maxAge of thousands of years, which
// means "never expires") is written by toISOString with a sign and six
// digits. Such a stored expiry reads back, and is written as express writes
// it: it was read as a corrupt document, the session lost.
func TestStoredTimeWithAnExpandedYearReadsAndWritesAsJavaScriptDoes(t *testing.T) {
	for js, want := range map[string]time.Time{ // node: new Date(Date.UTC(...)).toISOString()
		"+010000-01-01T00:00:00.000Z": time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		"-000001-01-01T00:00:00.000Z": time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		"+033000-06-01T00:00:00.000Z": time.Date(33000, 6, 1, 0, 0, 0, 0, time.UTC),
		"+275760-09-13T00:00:00.000Z": time.Date(275760, 9, 13, 0, 0, 0, 0, time.UTC), // JavaScript's last date
		"-271821-04-20T23:59:59.999Z": time.Date(-271821, 4, 20, 23, 59, 59, 999e6, time.UTC),
	} {
		if got, ok := parseISOTime([]byte(`"` + js + `"`)); !ok || !got.Equal(want) {
			t.Errorf("parseISOTime(%s) = %v, %v; want %v", js, got, ok, want)
		}
		if got := string(appendISOTime(nil, want)); got != js {
			t.Errorf("appendISOTime(%v) = %s, want %s", want, got, js)
		}
	}
	for _, bad := range []string{"-000000-01-01T00:00:00.000Z", "+01000a-01-01T00:00:00.000Z", "+010000-13-01T00:00:00.000Z", "*010000-01-01T00:00:00.000Z", "+010000-01-01T00:00:00.000z"} {
		if got, ok := parseISOTime([]byte(`"` + bad + `"`)); ok {
			t.Errorf("parseISOTime(%s) = %v, want refused", bad, got)
		}
	}

	m, st := newTestManager(t, Options{})
	express := `{"cookie":{"originalMaxAge":1000000000000000,"expires":"+033000-06-01T00:00:00.000Z","httpOnly":true,"path":"/"},"views":1}`
	if err := st.Store.Set(t.Context(), "abc", []byte(express), time.Date(33000, 6, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, m.Handler(incrViews))
	b.cookie = m.signer.cookieValue("abc")
	if got := b.get("/").Body.String(); got != "2" {
		t.Fatalf("views = %s, want the stored session's next (2)", got)
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

// FuzzStoredTimeReadsBackAsWritten holds parseISOTime, which reads every
// stored expires and creation time, to time.Parse for what that reads, and
// to appendISOTime: a time it reads is written back as a string it reads
// as the same millisecond.
func FuzzStoredTimeReadsBackAsWritten(f *testing.F) {
	for _, s := range []string{`"2026-11-22T10:00:00.000Z"`, `"2026-02-31T10:00:00.000Z"`, `"2026-11-22T10:00:00Z"`, `"2026-11-22T10:00:00.123456789+02:00"`,
		`"+010000-01-01T00:00:00.000Z"`, `"-000001-12-31T23:59:59.999Z"`, `"-000000-01-01T00:00:00.000Z"`, `"9999-12-31T23:30:00.000-01:00"`, `"0000-01-01T00:30:00+01:00"`, `"\u0032026-11-22T10:00:00.000Z"`, `null`, `1`, `"soon"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		got, ok := parseISOTime(v)
		if want, err := time.Parse(time.RFC3339Nano, unquote(v)); err == nil && (!ok || !got.Equal(want)) {
			t.Fatalf("parseISOTime(%s) = %v, %v; time.Parse reads %v", v, got, ok, want)
		}
		if !ok {
			return
		}
		written := `"` + string(appendISOTime(nil, got)) + `"`
		if back, ok := parseISOTime([]byte(written)); !ok || !back.Equal(got.Truncate(time.Millisecond)) {
			t.Fatalf("parseISOTime(%s) = %v; written back as %s, read as %v, %v", v, got, written, back, ok)
		}
	})
}
