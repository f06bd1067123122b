package bench

import (
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The yardstick servers of TestHTTPLoad (-httpload.burn): the headers-only
// server that also spends a fixed CPU time per request. A session server's
// ratio next to theirs says how much CPU per request it costs on this
// machine, where a slower handler also costs the kernel and the runtime
// more per request (the README's "What the targets allow a session to
// spend").

// burnTimes parses -httpload.burn: comma-separated durations, each above
// zero.
func burnTimes(t testing.TB, flag string) []time.Duration {
	var ds []time.Duration
	for f := range strings.SplitSeq(flag, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		d, err := time.ParseDuration(f)
		if err != nil || d <= 0 {
			t.Fatalf("-httpload.burn %q: %q is not a duration above zero", flag, f)
		}
		ds = append(ds, d)
	}
	return ds
}

// burnName is the yardstick server's name for CPU time d.
func burnName(d time.Duration) string {
	return headersOnly + ", +" + d.String() + " CPU"
}

// spin does n rounds of work that the compiler cannot drop or shorten (each
// round depends on the last), and returns the result for spinSink.
func spin(n int) uint64 {
	x := uint64(n)
	for range n {
		x = x*6364136223846793005 + 1442695040888963407
	}
	return x
}

// spinSink keeps spin's results, so that its work is not dead code.
var spinSink atomic.Uint64

// spinRounds is how many rounds of spin take d of CPU here.
func spinRounds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int(math.Round(d.Seconds() * spinPerSecond()))
}

// spinPerSecond is spin's rounds per second of CPU on this machine: the
// fastest of a few timed runs, the one least disturbed by other load.
var spinPerSecond = sync.OnceValue(func() float64 {
	const n = 1 << 21
	best := time.Duration(math.MaxInt64)
	for range 7 {
		start := time.Now()
		spinSink.Store(spin(n))
		best = min(best, time.Since(start))
	}
	return n / best.Seconds()
})

func TestBurnFlagGivesOneYardstickPerDuration(t *testing.T) {
	ds := burnTimes(t, " 3us, 6µs,,12us ")
	if want := []time.Duration{3 * time.Microsecond, 6 * time.Microsecond, 12 * time.Microsecond}; !slices.Equal(ds, want) {
		t.Fatalf("burnTimes = %v, want %v", ds, want)
	}
	if got := burnName(ds[0]); got != "net/http bare, session headers, +3µs CPU" {
		t.Fatalf("burnName = %q", got)
	}
	if ds := burnTimes(t, ""); len(ds) != 0 {
		t.Fatalf("an empty -httpload.burn gave %v, want no yardsticks", ds)
	}
	if spinRounds(0) != 0 {
		t.Fatal("no burn still spins")
	}
	// More CPU time is more rounds: the yardsticks are ordered as asked.
	if a, b := spinRounds(3*time.Microsecond), spinRounds(6*time.Microsecond); a <= 0 || b <= a {
		t.Fatalf("spinRounds(3µs) = %d, spinRounds(6µs) = %d; want 0 < the first < the second", a, b)
	}
}
