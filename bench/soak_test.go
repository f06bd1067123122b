package bench

import (
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/session/boltstore"
	"github.com/sessionkit/session/internal/testserver"
	skredis "github.com/sessionkit/session/redisstore"
)

// The soak run (make soak, issue 11): steady load on the HTTP benchmark's
// sessionkit servers on Redis and on bbolt, in this process, for a long
// time, sampling what would grow if something leaked: the heap in use
// (after a collection), goroutines, open file descriptors, Redis's
// connected clients, and each server's p99 over the last interval. It
// passes when none of them trends upwards past the warm-up: the samples are
// cut in thirds (the first is the warm-up), and the mean of the last third
// may exceed the mean of the middle one only by a tolerance.

var (
	soak         = flag.Bool("soak", false, "run TestSoak, the soak run")
	soakDuration = flag.Duration("soak.duration", 10*time.Minute, "length of the soak run (the SOAK environment variable overrides it, e.g. SOAK=1m)")
	soakInterval = flag.Duration("soak.interval", 5*time.Second, "time between two samples")
	soakRate     = flag.Int("soak.rate", 300, "requests per second on each server")
	soakPlot     = flag.String("soak.plot", "", "write an SVG plot of the samples to this file")
)

// soakConns is the number of clients per server; each sends its share of
// the rate, one request at a time.
const soakConns = 8

// sample is what the soak run measures at one point.
type sample struct {
	at                  time.Duration // since the start
	heapMB              float64       // HeapInuse after a GC
	goroutines, fds     int
	redisClients        int
	p99Redis, p99Bolt   time.Duration // over the interval that ends here
	reqsRedis, reqsBolt int           // answered in that interval
	errors              int           // requests that failed in that interval
}

// metric is one sampled figure: how to read it from a sample and how much
// the last third may exceed the middle third (relative and absolute).
type metric struct {
	name, unit string
	value      func(sample) float64
	rel, abs   float64
}

var soakMetrics = []metric{
	{"heap in use", "MB", func(s sample) float64 { return s.heapMB }, 0.20, 1},
	{"goroutines", "", func(s sample) float64 { return float64(s.goroutines) }, 0.10, 10},
	{"open fds", "", func(s sample) float64 { return float64(s.fds) }, 0.10, 5},
	{"Redis connected_clients", "", func(s sample) float64 { return float64(s.redisClients) }, 0.10, 5},
	// Latency on a shared machine wanders more than the rest.
	{"p99 redisstore", "ms", func(s sample) float64 { return ms64(s.p99Redis) }, 0.50, 2},
	{"p99 boltstore", "ms", func(s sample) float64 { return ms64(s.p99Bolt) }, 0.50, 2},
}

func ms64(d time.Duration) float64 { return float64(d) / 1e6 }

// latencies collects one server's request times between two samples.
type latencies struct {
	mu     sync.Mutex
	d      []time.Duration
	errors int
}

func (l *latencies) add(d time.Duration, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.errors++
		return
	}
	l.d = append(l.d, d)
}

// take returns the p99 and count of the interval, and its errors, and starts a new one.
func (l *latencies) take() (p99 time.Duration, n, errors int) {
	l.mu.Lock()
	d, errors := l.d, l.errors
	l.d, l.errors = nil, 0
	l.mu.Unlock()
	if len(d) == 0 {
		return 0, 0, errors
	}
	slices.Sort(d)
	return d[int(0.99*float64(len(d)-1))], len(d), errors
}

func TestSoak(t *testing.T) {
	if !*soak {
		t.Skip("the soak run runs with -soak (make soak)")
	}
	duration := *soakDuration
	if v := os.Getenv("SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("SOAK=%q: %v", v, err)
		}
		duration = d
	}
	if duration < 6**soakInterval {
		t.Fatalf("a soak run of %v has fewer than 6 samples of %v", duration, *soakInterval)
	}

	rdb := testserver.StartRedis(t)
	redisTarget := startSessionkit(t, skredis.New(redisClient(t, rdb.Addr), skredis.WithPrefix("soak:")))
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "sessions.db"))
	if err != nil {
		t.Fatal(err)
	}
	boltTarget := startSessionkit(t, st)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	redisLat, boltLat := &latencies{}, &latencies{}
	for _, tl := range []struct {
		target *loadTarget
		lat    *latencies
	}{{redisTarget, redisLat}, {boltTarget, boltLat}} {
		for range soakConns {
			wg.Go(func() { soakClient(tl.target, tl.lat, stop) })
		}
	}

	var samples []sample
	start := time.Now()
	tick := time.NewTicker(*soakInterval)
	for range tick.C {
		s := sample{at: time.Since(start)}
		var e1, e2 int
		s.p99Redis, s.reqsRedis, e1 = redisLat.take()
		s.p99Bolt, s.reqsBolt, e2 = boltLat.take()
		s.errors = e1 + e2
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		s.heapMB = float64(ms.HeapInuse) / (1 << 20)
		s.goroutines = runtime.NumGoroutine()
		s.fds = openFDs(t)
		s.redisClients = redisClients(t, rdb.Addr)
		samples = append(samples, s)
		t.Logf("%6.0fs heap %5.1f MB, %4d goroutines, %3d fds, %3d Redis clients, p99 Redis %6.2f ms (%d req), bbolt %6.2f ms (%d req), %d errors",
			s.at.Seconds(), s.heapMB, s.goroutines, s.fds, s.redisClients, ms64(s.p99Redis), s.reqsRedis, ms64(s.p99Bolt), s.reqsBolt, s.errors)
		if time.Since(start) >= duration {
			break
		}
	}
	tick.Stop()
	close(stop)
	wg.Wait()

	if *soakPlot != "" {
		if err := os.WriteFile(*soakPlot, []byte(soakSVG(samples, duration)), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("plot written to %s", *soakPlot)
	}
	errors := 0
	for _, s := range samples {
		errors += s.errors
	}
	if errors > 0 {
		t.Errorf("%d requests failed", errors)
	}
	fmt.Printf("\nsoak: %v, %d samples every %v, %d req/s on each server\n\n", duration, len(samples), *soakInterval, *soakRate)
	fmt.Println("| figure | middle third (mean) | last third (mean) | allowed | flat |")
	fmt.Println("|---|--:|--:|--:|---|")
	for _, m := range soakMetrics {
		mid, last, allowed, ok := trend(samples, m)
		verdict := "yes"
		if !ok {
			verdict = "NO"
			t.Errorf("%s grows: mean %.2f%s over the middle third, %.2f%s over the last (allowed %.2f)", m.name, mid, m.unit, last, m.unit, allowed)
		}
		fmt.Printf("| %s | %.2f %s | %.2f %s | %.2f %s | %s |\n", m.name, mid, m.unit, last, m.unit, allowed, m.unit, verdict)
	}
}

// trend compares the mean of m over the middle and the last third of the
// samples: the last may be at most allowed.
func trend(samples []sample, m metric) (mid, last, allowed float64, ok bool) {
	n := len(samples) / 3
	mean := func(ss []sample) float64 {
		sum := 0.0
		for _, s := range ss {
			sum += m.value(s)
		}
		return sum / float64(len(ss))
	}
	mid, last = mean(samples[n:2*n]), mean(samples[len(samples)-n:])
	allowed = mid*(1+m.rel) + m.abs
	return mid, last, allowed, last <= allowed
}

// soakClient sends its share of the rate to target until stop: mostly
// reads, a quarter writes, and one in twenty a new session (no cookie),
// which replaces one of the sessions it picks from, as visitors come and go.
func soakClient(target *loadTarget, lat *latencies, stop <-chan struct{}) {
	cookies := slices.Clone(target.cookies)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}}
	defer client.CloseIdleConnections()
	tick := time.NewTicker(time.Second * soakConns / time.Duration(*soakRate))
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		path, i, cookie := target.read, rand.IntN(len(cookies)), ""
		switch p := rand.IntN(100); {
		case p < 5:
			path = target.write
		case p < 30:
			path, cookie = target.write, cookies[i]
		default:
			cookie = cookies[i]
		}
		req, _ := http.NewRequest(http.MethodGet, target.url+path, nil)
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		sent := time.Now()
		resp, err := client.Do(req)
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err == nil && resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
			if cookie == "" && err == nil {
				for _, c := range resp.Cookies() {
					if c.Name == "sid" {
						cookies[i] = c.Name + "=" + c.Value
					}
				}
			}
		}
		lat.add(time.Since(sent), err)
	}
}

// openFDs counts this process's open file descriptors.
func openFDs(t *testing.T) int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("count open fds: %v", err)
	}
	return len(entries)
}

// redisClients is connected_clients of the Redis server at addr (the
// sampler's own connection included).
func redisClients(t *testing.T, addr string) int {
	info, err := testserver.RedisCommand(addr, "INFO", "clients")
	if err != nil {
		t.Fatalf("INFO clients: %v", err)
	}
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "connected_clients:"); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatalf("connected_clients %q", v)
			}
			return n
		}
	}
	t.Fatalf("no connected_clients in INFO clients")
	return 0
}

// soakSVG draws each metric's samples in a panel of its own, on a common
// time axis, with the thirds marked: a plain SVG, written by hand.
func soakSVG(samples []sample, duration time.Duration) string {
	const (
		panelW, panelH = 360.0, 150.0
		padL, padT     = 50.0, 30.0
		cols           = 2
	)
	rows := (len(soakMetrics) + cols - 1) / cols
	width := cols * (panelW + padL + 20)
	height := float64(rows)*(panelH+padT+30) + 30
	var b strings.Builder
	svgOpen(&b, width, height)
	fmt.Fprintf(&b, `<text x="10" y="18" font-size="13">make soak: %v, a sample every %v, %d req/s on each server; shaded: the warm-up third</text>`+"\n",
		duration, *soakInterval, *soakRate)
	tmax := samples[len(samples)-1].at.Seconds()
	third := samples[len(samples)/3].at.Seconds()
	for k, m := range soakMetrics {
		x0 := padL + float64(k%cols)*(panelW+padL+20)
		y0 := 30 + padT + float64(k/cols)*(panelH+padT+30)
		vmax := 0.0
		for _, s := range samples {
			vmax = math.Max(vmax, m.value(s))
		}
		vmax = niceCeil(vmax)
		x := func(sec float64) float64 { return x0 + sec/tmax*panelW }
		y := func(v float64) float64 { return y0 + panelH - v/vmax*panelH }
		title := m.name
		if m.unit != "" {
			title += " (" + m.unit + ")"
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="12">%s</text>`+"\n", x0, y0-8, title)
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#eee"/>`+"\n", x0, y0, x(third)-x0, panelH)
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#888"/>`+"\n", x0, y0, panelW, panelH)
		for _, v := range []float64{0, vmax / 2, vmax} {
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end">%s</text>`+"\n", x0-4, y(v)+4, strconv.FormatFloat(v, 'g', 4, 64))
		}
		for _, sec := range []float64{0, tmax / 2, tmax} {
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%.0fs</text>`+"\n", x(sec), y0+panelH+14, sec)
		}
		var pts []string
		for _, s := range samples {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(s.at.Seconds()), y(m.value(s))))
		}
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="#1f5fbf" stroke-width="1.5"/>`+"\n", strings.Join(pts, " "))
	}
	b.WriteString("</svg>\n")
	return b.String()
}
