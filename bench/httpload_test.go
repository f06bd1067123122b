package bench

import (
	"bufio"
	"cmp"
	"context"
	crand "crypto/rand"
	"encoding/xml"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/alexedwards/scs/redisstore"
	"github.com/alexedwards/scs/v2"
	scsmemstore "github.com/alexedwards/scs/v2/memstore"
	"github.com/bradfitz/gomemcache/memcache"
	redigo "github.com/gomodule/redigo/redis"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"go.etcd.io/bbolt"
	"golang.org/x/sys/unix"

	session "github.com/sessionkit/session"
	"github.com/sessionkit/session/boltstore"
	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/memcachedstore"
	"github.com/sessionkit/session/memstore"
	"github.com/sessionkit/session/pgstore"
	skredis "github.com/sessionkit/session/redisstore"
)

// The HTTP load benchmark (make bench-http): real HTTP servers on loopback,
// driven by wrk in a process of its own (-httpload.wrk; without it, by a Go
// load generator in this process), in one run, so that each server's
// throughput can be put next to the limit its store allows (the same server
// doing one raw store read per request, and no session logic).
var (
	httpLoad         = flag.Bool("httpload", false, "run TestHTTPLoad, the HTTP load benchmark")
	httpLoadDuration = flag.Duration("httpload.duration", 3*time.Second, "measured time per server and request kind")
	httpLoadWarmup   = flag.Duration("httpload.warmup", time.Second, "unmeasured load on each server and request kind before the first round (wrk: at least 1s); 0 for none")
	httpLoadConns    = flag.Int("httpload.conns", 32, "concurrent connections")
	httpLoadSessions = flag.Int("httpload.sessions", 300, "sessions per server, one picked at random per request")
	httpLoadOnly     = flag.String("httpload.only", "", "run only the servers whose name matches this regexp")
	httpLoadRounds   = flag.Int("httpload.rounds", 3, "rounds over all servers; req/s are the median round's, ratios the median of the rounds' ratios")
	httpLoadPlot     = flag.String("httpload.plot", "", "write an SVG bar chart of the results to this file")
	httpLoadWrk      = flag.String("httpload.wrk", "", "drive the servers with this wrk binary, in a process of its own, instead of the Go load generator in this one")
	httpLoadPin      = flag.String("httpload.pin", "", "SERVERS:LOAD, two CPU lists as taskset takes them (0:1): this process, its servers and the store servers it starts run on the first, wrk on the second (needs -httpload.wrk)")
	httpLoadBurn     = flag.String("httpload.burn", "3us,6us", "CPU times, comma-separated: for each, a server that sends sessionkit's headers and spends that much CPU per request, with no session (a yardstick: what a handler costing that much gets here); empty for none")
)

// headersOnly names the server that sends sessionkit's response headers
// and keeps no session; the yardsticks (burnName) are named after it.
const headersOnly = "net/http bare, session headers"

// sessionLifetime is every server's session lifetime: persistent cookies, so
// that every read-only request touches the stored expiry.
const sessionLifetime = time.Hour

// rawValue is what the raw servers read per request: about the size of the
// session documents the other servers keep.
var rawValue = []byte(`{"cookie":{"originalMaxAge":3600000,"expires":"2030-01-02T03:04:05.678Z","httpOnly":true,"path":"/","sameSite":"lax"},"n":1,"pad":"0123456789abcdef0123456789abcdef"}`)

// loadTarget is one server under load.
type loadTarget struct {
	name  string
	limit string // the target whose throughput bounds this one's ("" for a limit itself)
	url   string
	// read and write are the paths of a read-only and of a modifying request.
	read, write string
	// cookies are the Cookie headers of the sessions, made before the run.
	cookies []string
}

// loadResult is one run of one request kind against one target.
type loadResult struct {
	reqs     float64 // requests per second
	p50, p99 time.Duration
	errors   int
	// cpu is this process's CPU time (user + system) per request: the Go
	// servers' work, the Go load generator's share included when it drives
	// them (not wrk's), a store server's or the express peer's excluded. It
	// moves less than req/s with the machine's other load, so it shows what
	// a server's own work costs.
	cpu time.Duration
}

func TestHTTPLoad(t *testing.T) {
	if !*httpLoad {
		t.Skip("the HTTP load benchmark runs with -httpload (make bench-http)")
	}
	var only *regexp.Regexp
	if *httpLoadOnly != "" {
		only = regexp.MustCompile(*httpLoadOnly)
	}
	if *httpLoadPin != "" {
		pinServers(t)
	}
	// A server whose store server is not installed is left out (on
	// returns a nil target for it), not the whole run: StartRedis and
	// StartMemcached would skip the test.
	var rdb, mc *testserver.Server
	if err := testserver.RedisAvailable(); err != nil {
		t.Logf("no Redis servers: %v", err)
	} else {
		rdb = testserver.StartRedis(t)
	}
	if err := testserver.MemcachedAvailable(); err != nil {
		t.Logf("no Memcached servers: %v", err)
	} else {
		mc = testserver.StartMemcached(t)
	}
	// PostgreSQL starts only if a server that needs it runs: it takes
	// seconds, where the others take milliseconds. Where it is not
	// installed, pg returns nil and the servers that need it are left out,
	// as those on Valkey are (StartPostgres would skip the whole test).
	pg := sync.OnceValue(func() *testserver.Postgres {
		if err := testserver.PostgresAvailable(); err != nil {
			t.Logf("no PostgreSQL servers: %v", err)
			return nil
		}
		return testserver.StartPostgres(t)
	})
	var vk *testserver.Server
	if err := testserver.ValkeyAvailable(); err != nil {
		t.Logf("no Valkey servers: %v", err)
	} else {
		vk = testserver.StartValkey(t)
	}
	// on is start for a server on srv's address: nil (the server left out)
	// where srv did not start.
	on := func(srv *testserver.Server, start func(t *testing.T, addr string) *loadTarget) func(t *testing.T) *loadTarget {
		return func(t *testing.T) *loadTarget {
			if srv == nil {
				return nil
			}
			return start(t, srv.Addr)
		}
	}

	type setup struct {
		name, limit string
		start       func(t *testing.T) *loadTarget
	}
	setups := []setup{
		{"net/http bare", "", startBare},
		{"raw Redis GET", "", on(rdb, startRawRedis)},
		{"raw Memcached get", "", on(mc, startRawMemcached)},
		{"raw bbolt read", "", startRawBolt},
		{"raw PostgreSQL SELECT", "", func(t *testing.T) *loadTarget { return startRawPostgres(t, pgPool(t, pg)) }},
		// What the session's response headers alone cost: bare, plus the
		// Vary, Set-Cookie and Cache-Control headers sessionkit sends.
		{headersOnly, "net/http bare", func(t *testing.T) *loadTarget { return startSessionHeaders(t, 0) }},
		{"sessionkit memstore", "net/http bare", func(t *testing.T) *loadTarget { return startSessionkit(t, memstore.New()) }},
		{"sessionkit boltstore", "raw bbolt read", func(t *testing.T) *loadTarget {
			st, err := boltstore.Open(filepath.Join(t.TempDir(), "sessions.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return startSessionkit(t, st)
		}},
		{"sessionkit redisstore", "raw Redis GET", on(rdb, func(t *testing.T, addr string) *loadTarget {
			return startSessionkit(t, skredis.New(redisClient(t, addr), skredis.WithPrefix("sk:")))
		})},
		// The same without GetAndTouch: a read-only request's touch is a
		// PEXPIRE after the GET, as before GETEX (the store hidden behind
		// the interfaces it had then).
		{"sessionkit redisstore, no GETEX", "raw Redis GET", on(rdb, func(t *testing.T, addr string) *loadTarget {
			st := skredis.New(redisClient(t, addr), skredis.WithPrefix("sk2:"))
			return startSessionkit(t, struct {
				session.VersionedStore
				session.Toucher
			}{st, st})
		})},
		{"sessionkit memcachedstore", "raw Memcached get", on(mc, func(t *testing.T, addr string) *loadTarget {
			return startSessionkit(t, memcachedstore.New(memcachedClient(addr)))
		})},
		{"sessionkit pgstore", "raw PostgreSQL SELECT", func(t *testing.T) *loadTarget { return startPgstore(t, pg) }},
		// The same with TouchAfter: a read-only request reads with a
		// SELECT, and touches at most once a minute.
		{"sessionkit pgstore, TouchAfter 1m", "raw PostgreSQL SELECT", func(t *testing.T) *loadTarget {
			return startPgstore(t, pg, func(o *session.Options) { o.TouchAfter = time.Minute })
		}},
		{"scs memstore", "net/http bare", func(t *testing.T) *loadTarget { return startSCS(t, scsmemstore.New()) }},
		{"scs redisstore", "raw Redis GET", on(rdb, func(t *testing.T, addr string) *loadTarget {
			pool := &redigo.Pool{MaxIdle: 2 * *httpLoadConns, Dial: func() (redigo.Conn, error) { return redigo.Dial("tcp", addr) }}
			t.Cleanup(func() { pool.Close() })
			return startSCS(t, redisstore.NewWithPrefix(pool, "scs:"))
		})},
		// The same on Valkey 8.1, where the store's compare-and-swap is a
		// SET IFEQ instead of a script (left out where there is no
		// Valkey).
		{"raw Valkey GET", "", on(vk, startRawRedis)},
		{"sessionkit redisstore, Valkey", "raw Valkey GET", on(vk, func(t *testing.T, addr string) *loadTarget {
			return startSessionkit(t, skredis.New(redisClient(t, addr), skredis.WithPrefix("sk:")))
		})},
		{"express-session MemoryStore", "net/http bare", func(t *testing.T) *loadTarget { return startExpress(t, "SESSION_STORE=memory") }},
		{"express-session connect-redis", "raw Redis GET", on(rdb, func(t *testing.T, addr string) *loadTarget {
			return startExpress(t, "SESSION_STORE=redis", "REDIS_URL=redis://"+addr, "SESSION_PREFIX=express:")
		})},
	}

	// The yardsticks go right after the headers-only server they add to.
	var burns []setup
	for _, d := range burnTimes(t, *httpLoadBurn) {
		burns = append(burns, setup{burnName(d), "net/http bare", func(t *testing.T) *loadTarget { return startSessionHeaders(t, d) }})
	}
	at := slices.IndexFunc(setups, func(s setup) bool { return s.name == headersOnly })
	setups = slices.Insert(setups, at+1, burns...)

	// Every server is started first, then measured in rounds. Within a
	// round each limit brackets the servers it bounds (the limit, each of
	// them, the limit again; see roundGroups), so that a server and its
	// limit are measured seconds apart and a load that comes and goes on
	// the shared machine falls on both alike.
	var (
		ran     []setup
		targets []*loadTarget
		// needed are the limits of the servers that run: their ratios
		// need them.
		needed = map[string]bool{}
	)
	for _, s := range setups {
		if only == nil || only.MatchString(s.name) {
			needed[s.limit] = true
		}
	}
	for _, s := range setups {
		if only != nil && !only.MatchString(s.name) && !(s.limit == "" && needed[s.name]) {
			continue
		}
		// The server's goroutines carry its name as a profile label, so
		// that a -cpuprofile of the run splits by server (go tool pprof
		// -tagfocus 'server=sessionkit memstore').
		var target *loadTarget
		pprof.Do(context.Background(), pprof.Labels("server", s.name), func(context.Context) { target = s.start(t) })
		if target == nil {
			continue
		}
		target.name, target.limit = s.name, s.limit
		ran, targets = append(ran, s), append(targets, target)
	}
	warm := func(target *loadTarget, kind, path string) {
		if *httpLoadWarmup > 0 {
			r := runLoad(t, target, path, *httpLoadWarmup)
			t.Logf("warm-up: %s %s: %.0f req/s, %d errors (not counted)", target.name, kind, r.reqs, r.errors)
		}
	}
	runs, ratioRuns := measureRounds(targets, *httpLoadRounds, warm, func(round int, target *loadTarget, kind, path string) loadResult {
		r := runLoad(t, target, path, *httpLoadDuration)
		t.Logf("round %d: %s %s: %.0f req/s, p50 %v, p99 %v, cpu/req %v, %d errors", round+1, target.name, kind, r.reqs, r.p50, r.p99, r.cpu, r.errors)
		return r
	})
	results := map[string]map[string]loadResult{}
	for name, kinds := range runs {
		results[name] = map[string]loadResult{}
		for kind, rs := range kinds {
			rs = slices.Clone(rs)
			slices.SortFunc(rs, func(a, b loadResult) int { return cmp.Compare(a.reqs, b.reqs) })
			results[name][kind] = rs[len(rs)/2]
		}
	}

	// ratio is s's throughput over its limit's: the median of the rounds'
	// ratios, 0 for a limit itself.
	ratio := func(s setup, kind string) float64 {
		if qs := ratioRuns[s.name][kind]; len(qs) > 0 {
			return median(qs)
		}
		return 0
	}
	var (
		b    strings.Builder
		rows []httpLoadRow
	)
	b.WriteString(httpLoadSetting() + "\n\n")
	b.WriteString("| server | read req/s | read p50 / p99 | write req/s | write p50 / p99 | ratios of the rounds, read; write | CPU µs/req, read / write | limit |\n")
	b.WriteString("|---|---:|---:|---:|---:|---|---:|---|\n")
	for _, s := range ran {
		r, ok := results[s.name]
		if !ok || len(r) < 2 {
			fmt.Fprintf(&b, "| %s | skipped | | | | | | |\n", s.name)
			continue
		}
		rows = append(rows, httpLoadRow{
			name: s.name, read: r["read"].reqs, write: r["write"].reqs,
			readRatio: ratio(s, "read"), writeRatio: ratio(s, "write"), isLimit: s.limit == "",
		})
		cell := func(kind string) string {
			v := fmt.Sprintf("%.0f", r[kind].reqs)
			if q := ratio(s, kind); q > 0 {
				v += fmt.Sprintf(" (%.2f)", q)
			}
			if r[kind].errors > 0 {
				v += fmt.Sprintf(", %d errors", r[kind].errors)
			}
			return v
		}
		lat := func(kind string) string { return ms(r[kind].p50) + " / " + ms(r[kind].p99) }
		limit := s.limit
		if limit == "" {
			limit = "(a limit)"
		}
		cpu := func(kind string) string {
			return strconv.FormatFloat(float64(medianCPU(runs[s.name][kind]))/1e3, 'f', 1, 64)
		}
		// spread is the range of the rounds' ratios: how far single
		// rounds wander.
		spread := func(kind string) string {
			qs := ratioRuns[s.name][kind]
			if len(qs) == 0 {
				return ""
			}
			return fmt.Sprintf("%.2f–%.2f", slices.Min(qs), slices.Max(qs))
		}
		rounds := ""
		if r, w := spread("read"), spread("write"); r != "" || w != "" {
			rounds = r + "; " + w
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s / %s | %s |\n", s.name, cell("read"), lat("read"), cell("write"), lat("write"), rounds, cpu("read"), cpu("write"), limit)
	}
	fmt.Println()
	fmt.Print(b.String())
	if *httpLoadPlot != "" {
		heading := []string{
			"make bench-http, " + time.Now().UTC().Format(time.DateOnly) + ": requests per second over HTTP, each server with its ratio to its limit",
			httpLoadSetting(),
		}
		if err := os.WriteFile(*httpLoadPlot, []byte(httpLoadSVG(heading, rows)), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("chart written to %s", *httpLoadPlot)
	}
}

// measureRounds measures targets in rounds (see roundGroups), each server
// and request kind with run, after warm has loaded each of them once,
// unmeasured: the first load on a server dials its store client's pool
// (PostgreSQL forks a backend for each connection, whose first queries are
// slow) and finds the servers' caches cold, and a round whose limit was
// measured cold, and its servers warm, has ratios that are too high. It
// returns each server's runs by kind, and its ratios to its limit, one per
// round.
func measureRounds(targets []*loadTarget, rounds int, warm func(target *loadTarget, kind, path string), run func(round int, target *loadTarget, kind, path string) loadResult) (runs map[string]map[string][]loadResult, ratios map[string]map[string][]float64) {
	kinds := []string{"read", "write"}
	pathOf := func(target *loadTarget, kind string) string {
		if kind == "write" {
			return target.write
		}
		return target.read
	}
	for _, target := range targets {
		for _, kind := range kinds {
			warm(target, kind, pathOf(target, kind))
		}
	}
	runs, ratios = map[string]map[string][]loadResult{}, map[string]map[string][]float64{}
	for round := range rounds {
		for _, group := range roundGroups(targets, round) {
			for _, kind := range kinds {
				reqs := make([]float64, len(group))
				for i, target := range group {
					if runs[target.name] == nil {
						runs[target.name] = map[string][]loadResult{}
					}
					r := run(round, target, kind, pathOf(target, kind))
					runs[target.name][kind] = append(runs[target.name][kind], r)
					reqs[i] = r.reqs
				}
				for i, q := range bracketedRatios(group, reqs) {
					name := group[i+1].name
					if ratios[name] == nil {
						ratios[name] = map[string][]float64{}
					}
					ratios[name][kind] = append(ratios[name][kind], q)
				}
			}
		}
	}
	return runs, ratios
}

// httpLoadSetting says how TestHTTPLoad measures, for the heading of its
// table and of its chart.
func httpLoadSetting() string {
	generator := "a Go load generator in the servers' process"
	if *httpLoadWrk != "" {
		generator = "wrk (2 threads) in a process of its own"
	}
	if servers, load := pinnedCPUs(); load != "" {
		generator += fmt.Sprintf(" on CPU %s, the servers on CPU %s", load, servers)
	}
	return fmt.Sprintf("load from %s, %d connections, %d sessions per server, %v of warm-up, then %d rounds of %v per server and kind, each limit's servers between two runs of it (median req/s; each ratio the median of the rounds' ratios), GOMAXPROCS %d",
		generator, *httpLoadConns, *httpLoadSessions, *httpLoadWarmup, *httpLoadRounds, *httpLoadDuration, runtime.GOMAXPROCS(0))
}

// httpLoadRow is one server's figures as httpLoadSVG draws them.
type httpLoadRow struct {
	name                  string
	read, write           float64 // requests per second (the median round's)
	readRatio, writeRatio float64 // to the server's limit; 0 when it has none
	isLimit               bool    // the server is a limit (no session logic)
}

// httpLoadSVG draws rows as a horizontal bar chart for the README: a row per
// server, in rows' order, with a bar for reads and one for writes, each
// ending in its req/s and, if there is one, the ratio to the server's limit;
// the limits' bars are gray. heading gives the lines above the chart. It is
// a pure function of its arguments, so that a test can draw it without
// running servers.
func httpLoadSVG(heading []string, rows []httpLoadRow) string {
	const (
		width           = 900.0
		plotX, plotW    = 260.0, 540.0 // names to the left, figures to the right
		barH, barGap    = 11.0, 2.0
		rowH            = 2*barH + barGap + 10
		readColor       = "#1f5fbf"
		writeColor      = "#e8830c"
		limitReadColor  = "#8c8c8c"
		limitWriteColor = "#c8c8c8"
	)
	vmax := 0.0
	for _, r := range rows {
		vmax = max(vmax, r.read, r.write)
	}
	ticks := niceTicks(vmax)
	top := ticks[len(ticks)-1]
	x := func(v float64) float64 { return plotX + max(v, 0)/top*plotW }

	headH := 18.0 * float64(len(heading))
	legendY := headH + 16
	plotY := legendY + 22
	axisY := plotY + float64(len(rows))*rowH
	height := axisY + 42

	var b strings.Builder
	svgOpen(&b, width, height)
	for i, line := range heading {
		size := 11
		if i == 0 {
			size = 13
		}
		fmt.Fprintf(&b, `<text x="10" y="%.0f" font-size="%d">%s</text>`+"\n", 18+18*float64(i), size, xmlText(line))
	}

	// The legend: a swatch and a word per bar colour, then how to read a ratio.
	lx := 10.0
	for _, item := range []struct{ color, label string }{
		{readColor, "read"}, {writeColor, "write"},
		{limitReadColor, "limit, read"}, {limitWriteColor, "limit, write"},
	} {
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="12" height="%.0f" fill="%s"/>`+"\n", lx, legendY-barH+1, barH, item.color)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f">%s</text>`+"\n", lx+16, legendY, item.label)
		lx += 16 + 7*float64(len(item.label)) + 14
	}
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" fill="#555">(0.93): ratio to the server's limit, the same server with no session logic</text>`+"\n", lx, legendY)

	for _, tick := range ticks {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e5e5e5"/>`+"\n", x(tick), plotY-4, x(tick), axisY)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", x(tick), axisY+14, thousands(int(tick)))
	}
	fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#888"/>`+"\n", plotX, plotY-4, plotX, axisY)
	fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#888"/>`+"\n", plotX, axisY, plotX+plotW, axisY)
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">requests per second</text>`+"\n", plotX+plotW/2, axisY+32)

	for i, r := range rows {
		y := plotY + float64(i)*rowH
		nameColor, colors := "#000", [2]string{readColor, writeColor}
		if r.isLimit {
			nameColor, colors = "#555", [2]string{limitReadColor, limitWriteColor}
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end" font-size="12" fill="%s">%s</text>`+"\n", plotX-8, y+barH+barGap/2+4, nameColor, xmlText(r.name))
		for k, bar := range []struct {
			kind         string
			value, ratio float64
		}{{"read", r.read, r.readRatio}, {"write", r.write, r.writeRatio}} {
			by := y + float64(k)*(barH+barGap)
			label := thousands(int(math.Round(bar.value)))
			if bar.ratio > 0 {
				label += fmt.Sprintf(" (%.2f)", bar.ratio)
			}
			fmt.Fprintf(&b, `<rect class="bar %s" x="%.1f" y="%.1f" width="%.2f" height="%.0f" fill="%s"/>`+"\n", bar.kind, plotX, by, x(bar.value)-plotX, barH, colors[k])
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="10">%s</text>`+"\n", x(bar.value)+4, by+barH-2, label)
		}
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func ms(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 2, 64) + " ms" }

// runLoad drives target's path with the configured connections, each
// request with the cookie of a random session, for a short warm-up (its
// connections') and then the measured duration d.
func runLoad(t *testing.T, target *loadTarget, path string, d time.Duration) loadResult {
	if *httpLoadWrk != "" {
		return runWrk(t, target, path, d)
	}
	conns := *httpLoadConns
	transport := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport}
	url := target.url + path

	const warmup = 500 * time.Millisecond
	start := time.Now()
	measureFrom, end := start.Add(warmup), start.Add(warmup+d)
	var (
		mu        sync.Mutex
		latencies []time.Duration
		errors    int
		wg        sync.WaitGroup
	)
	var sent atomic.Int64
	cpuBefore := processCPU(t)
	for range conns {
		wg.Go(func() {
			var lat []time.Duration
			errs := 0
			for {
				now := time.Now()
				if now.After(end) {
					break
				}
				sent.Add(1)
				cookie := target.cookies[rand.IntN(len(target.cookies))]
				req, _ := http.NewRequest(http.MethodGet, url, nil)
				req.Header.Set("Cookie", cookie)
				resp, err := client.Do(req)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				if now.Before(measureFrom) {
					continue
				}
				if err != nil {
					errs++
					continue
				}
				lat = append(lat, time.Since(now))
			}
			mu.Lock()
			latencies = append(latencies, lat...)
			errors += errs
			mu.Unlock()
		})
	}
	wg.Wait()
	cpu := (processCPU(t) - cpuBefore) / time.Duration(max(sent.Load(), 1))
	if len(latencies) == 0 {
		t.Fatalf("%s %s: no successful request (%d errors)", target.name, path, errors)
	}
	slices.Sort(latencies)
	at := func(q float64) time.Duration { return latencies[int(q*float64(len(latencies)-1))] }
	return loadResult{
		reqs: float64(len(latencies)) / d.Seconds(),
		p50:  at(0.50), p99: at(0.99), errors: errors, cpu: cpu,
	}
}

// medianCPU is the median of the rounds' CPU time per request.
func medianCPU(rs []loadResult) time.Duration {
	cpus := make([]time.Duration, 0, len(rs))
	for _, r := range rs {
		cpus = append(cpus, r.cpu)
	}
	return median(cpus)
}

// roundGroups is the order in which round measures targets: a group per
// limit, in targets' order, that runs the limit, then each server it
// bounds, then the limit again, so that every server is measured between
// two runs of its limit a few seconds away. Odd rounds take the bounded
// servers in reverse, so that none is always the one next to a limit's
// run. A server whose limit is not among targets makes a group of its own.
func roundGroups(targets []*loadTarget, round int) [][]*loadTarget {
	var groups [][]*loadTarget
	bracketed := map[*loadTarget]bool{}
	for _, limit := range targets {
		if limit.limit != "" {
			continue
		}
		var bounded []*loadTarget
		for _, t := range targets {
			if t.limit == limit.name {
				bounded = append(bounded, t)
				bracketed[t] = true
			}
		}
		if round%2 == 1 {
			slices.Reverse(bounded)
		}
		group := []*loadTarget{limit}
		if len(bounded) > 0 {
			group = append(append(group, bounded...), limit)
		}
		groups = append(groups, group)
	}
	for _, t := range targets {
		if t.limit != "" && !bracketed[t] {
			groups = append(groups, []*loadTarget{t})
		}
	}
	return groups
}

// bracketedRatios are the ratios of a roundGroups group's bounded servers
// (group[1:len-1]) to their limit, given the req/s of each run in group's
// order. The limit's throughput at a server's turn is interpolated
// between its two runs, so that a load that grows or fades steadily over
// the group does not favour the servers measured on its quieter side.
// They are nil for a group with no limit or no limit throughput.
func bracketedRatios(group []*loadTarget, reqs []float64) []float64 {
	last := len(group) - 1
	if last < 2 || group[0].limit != "" || group[last] != group[0] || reqs[0] <= 0 || reqs[last] <= 0 {
		return nil
	}
	ratios := make([]float64, 0, last-1)
	for i := 1; i < last; i++ {
		limit := reqs[0] + (reqs[last]-reqs[0])*float64(i)/float64(last)
		ratios = append(ratios, reqs[i]/limit)
	}
	return ratios
}

// wrkScript makes wrk send each request with the cookie of a random
// session (one per line of the file named by its first argument) and print
// its results on one line for runWrk.
const wrkScript = `
local cookies = {}
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("seed", threads)
end
function init(args)
  for line in io.lines(args[1]) do cookies[#cookies + 1] = line end
  math.randomseed(os.time() * 100 + seed)
end
function request()
  return wrk.format("GET", nil, {Cookie = cookies[math.random(#cookies)]})
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("sessionkit-wrk %d %d %d %d %d\n", summary.requests, summary.duration,
    e.connect + e.read + e.write + e.status + e.timeout, latency:percentile(50), latency:percentile(99)))
end
`

// runWrk is runLoad with wrk (-httpload.wrk) as the load generator: two
// threads, as many connections, the same random cookie per request. wrk
// runs in a process of its own, so the CPU time per request is the
// servers' alone.
func runWrk(t *testing.T, target *loadTarget, path string, d time.Duration) loadResult {
	dir := t.TempDir()
	script, cookies := filepath.Join(dir, "cookies.lua"), filepath.Join(dir, "cookies.txt")
	if err := os.WriteFile(script, []byte(wrkScript), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cookies, []byte(strings.Join(target.cookies, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	secs := max(int(d.Round(time.Second).Seconds()), 1)
	cpuBefore := processCPU(t)
	args := []string{*httpLoadWrk, "-t2", "-c" + strconv.Itoa(*httpLoadConns), "-d" + strconv.Itoa(secs) + "s",
		"-s", script, target.url + path, "--", cookies}
	if _, load := pinnedCPUs(); load != "" {
		args = append([]string{"taskset", "-c", load}, args...)
	}
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	cpu := processCPU(t) - cpuBefore
	if err != nil {
		t.Fatalf("%s %s: wrk: %v\n%s", target.name, path, err, out)
	}
	var requests, micros, errors, p50, p99 int64
	for line := range strings.Lines(string(out)) {
		if _, err := fmt.Sscanf(line, "sessionkit-wrk %d %d %d %d %d", &requests, &micros, &errors, &p50, &p99); err == nil {
			break
		}
	}
	if requests <= errors || micros <= 0 {
		t.Fatalf("%s %s: no successful request from wrk:\n%s", target.name, path, out)
	}
	return loadResult{
		reqs: float64(requests-errors) / (float64(micros) / 1e6),
		p50:  time.Duration(p50) * time.Microsecond, p99: time.Duration(p99) * time.Microsecond,
		errors: int(errors), cpu: cpu / time.Duration(requests),
	}
}

// pinnedCPUs returns the two CPU lists of -httpload.pin, the servers' and
// the load's ("" when it is not set).
func pinnedCPUs() (servers, load string) {
	servers, load, _ = strings.Cut(*httpLoadPin, ":")
	return servers, load
}

// pinServers moves every thread of this process to the CPUs -httpload.pin
// names for the servers, and sets GOMAXPROCS to their number; threads and
// processes started later inherit them, and runWrk gives wrk the other
// list. With the load on CPUs of its own, a server's throughput is its own
// CPU time per request alone.
func pinServers(t *testing.T) {
	servers, load := pinnedCPUs()
	if servers == "" || load == "" || *httpLoadWrk == "" {
		t.Fatalf("-httpload.pin %q: want SERVERS:LOAD, two CPU lists (0:1), and -httpload.wrk", *httpLoadPin)
	}
	out, err := exec.Command("taskset", "-a", "-p", "-c", servers, strconv.Itoa(os.Getpid())).CombinedOutput()
	if err != nil {
		t.Fatalf("taskset: %v\n%s", err, out)
	}
	// The runtime counts the CPUs it may use only when it starts: as under
	// a container's CPU limit, it should run as many Ps as it has CPUs.
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		t.Fatal(err)
	}
	runtime.GOMAXPROCS(set.Count())
}

// median is the middle of xs once sorted (the upper one of an even count);
// xs is left as it was.
func median[T cmp.Ordered](xs []T) T {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// processCPU is the CPU time (user + system) this process has used.
func processCPU(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// listen starts h on a loopback port for the test.
func listen(t *testing.T, h http.Handler) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// randomKeys returns n random session ids.
func randomKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = crand.Text()
	}
	return keys
}

// rawTarget is a server with no session logic that answers every request
// (both kinds) with one store read under the request's cookie, after
// filling the store with put.
func rawTarget(t *testing.T, put func(key string) error, read func(ctx context.Context, key string) ([]byte, error)) *loadTarget {
	keys := randomKeys(*httpLoadSessions)
	cookies := make([]string, len(keys))
	for i, k := range keys {
		if err := put(k); err != nil {
			t.Fatal(err)
		}
		cookies[i] = "sid=" + k
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie("sid")
		if err != nil {
			http.Error(w, "no cookie", http.StatusBadRequest)
			return
		}
		v, err := read(r.Context(), c.Value)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		io.WriteString(w, strconv.Itoa(len(v)))
	})
	return &loadTarget{url: listen(t, limitMux(h)), read: "/read", write: "/write", cookies: cookies}
}

// limitMux routes both paths of a limit to h through a ServeMux, as the
// session servers route theirs: a limit is the same server without the
// session, routing included.
func limitMux(h http.Handler) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/read", h)
	mux.Handle("/write", h)
	return mux
}

func startBare(t *testing.T) *loadTarget {
	return sessionlessTarget(t, limitMux(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { writeInt(w, 1) })))
}

// sessionlessTarget serves h, which keeps no session, to requests with the
// cookies of random session ids.
func sessionlessTarget(t *testing.T, h http.Handler) *loadTarget {
	keys := randomKeys(*httpLoadSessions)
	cookies := make([]string, len(keys))
	for i, k := range keys {
		cookies[i] = "sid=" + k
	}
	return &loadTarget{url: listen(t, h), read: "/read", write: "/write", cookies: cookies}
}

// startSessionHeaders is startBare with the response headers of
// startSessionkit's server: Vary: Cookie on both paths, and on /write a
// Set-Cookie as long as sessionkit's and Cache-Control: private. It
// measures what sending them costs, apart from the session's work. With a
// burn it also spends that much CPU per request (see spin); without one its
// handlers do no more than before the yardsticks existed.
func startSessionHeaders(t *testing.T, burn time.Duration) *loadTarget {
	rounds := spinRounds(burn)
	expires := time.Now().Add(sessionLifetime)
	setCookie := "sid=s%3A" + strings.Repeat("x", 32) + "." + strings.Repeat("y", 43) + "; Path=/; Expires=" +
		expires.UTC().Format(http.TimeFormat) + "; Max-Age=" + strconv.Itoa(int(sessionLifetime.Seconds())) + "; HttpOnly; SameSite=Lax"
	mux := http.NewServeMux()
	mux.HandleFunc("/read", func(w http.ResponseWriter, r *http.Request) {
		if rounds > 0 {
			spinSink.Store(spin(rounds))
		}
		w.Header()["Vary"] = []string{"Cookie"}
		writeInt(w, 1)
	})
	mux.HandleFunc("/write", func(w http.ResponseWriter, r *http.Request) {
		if rounds > 0 {
			spinSink.Store(spin(rounds))
		}
		h := w.Header()
		h["Vary"], h["Set-Cookie"], h["Cache-Control"] = []string{"Cookie"}, []string{setCookie}, []string{"private"}
		writeInt(w, 1)
	})
	return sessionlessTarget(t, mux)
}

func redisClient(t *testing.T, addr string) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 2 * *httpLoadConns})
	t.Cleanup(func() { c.Close() })
	return c
}

// memcachedClient keeps as many idle connections as the load has (the
// default of 2 would make most requests dial).
func memcachedClient(addr string) *memcache.Client {
	c := memcache.New(addr)
	c.MaxIdleConns = 2 * *httpLoadConns
	return c
}

func startRawRedis(t *testing.T, addr string) *loadTarget {
	c := redisClient(t, addr)
	return rawTarget(t,
		func(k string) error { return c.Set(context.Background(), "raw:"+k, rawValue, time.Hour).Err() },
		func(ctx context.Context, k string) ([]byte, error) { return c.Get(ctx, "raw:"+k).Bytes() })
}

func startRawMemcached(t *testing.T, addr string) *loadTarget {
	c := memcachedClient(addr)
	return rawTarget(t,
		func(k string) error { return c.Set(&memcache.Item{Key: "raw:" + k, Value: rawValue, Expiration: 3600}) },
		func(_ context.Context, k string) ([]byte, error) {
			it, err := c.Get("raw:" + k)
			if err != nil {
				return nil, err
			}
			return it.Value, nil
		})
}

func startRawBolt(t *testing.T) *loadTarget {
	db, err := bbolt.Open(filepath.Join(t.TempDir(), "raw.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	bucket := []byte("raw")
	return rawTarget(t,
		func(k string) error {
			return db.Update(func(tx *bbolt.Tx) error {
				b, err := tx.CreateBucketIfNotExists(bucket)
				if err != nil {
					return err
				}
				return b.Put([]byte(k), rawValue)
			})
		},
		func(_ context.Context, k string) ([]byte, error) {
			var v []byte
			err := db.View(func(tx *bbolt.Tx) error {
				v = append(v, tx.Bucket(bucket).Get([]byte(k))...)
				return nil
			})
			return v, err
		})
}

// pgPool returns a pool on a fresh database of the server that pg starts,
// with a connection for each of the load's (pgx's default of 4 would make
// most requests wait for one); nil when pg has no server (PostgreSQL is not
// installed).
func pgPool(t *testing.T, pg func() *testserver.Postgres) *pgxpool.Pool {
	srv := pg()
	if srv == nil {
		return nil // no PostgreSQL here
	}
	cfg, err := pgxpool.ParseConfig(srv.NewDatabase(t)) // a DSN
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = int32(2 * *httpLoadConns)
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// startPgstore serves sessionkit on pgstore, on a table of its own in a
// fresh database of the server that pg starts.
func startPgstore(t *testing.T, pg func() *testserver.Postgres, adjust ...func(*session.Options)) *loadTarget {
	pool := pgPool(t, pg)
	if pool == nil {
		return nil // no PostgreSQL here: the server is left out
	}
	st, err := pgstore.New(pool, pgstore.WithCreateTable())
	if err != nil {
		t.Fatal(err)
	}
	return startSessionkit(t, st, adjust...)
}

// startRawPostgres reads a value by primary key with one SELECT per
// request, as pgstore's Get does.
func startRawPostgres(t *testing.T, pool *pgxpool.Pool) *loadTarget {
	if pool == nil {
		return nil // no PostgreSQL here: the server is left out
	}
	if _, err := pool.Exec(context.Background(), `CREATE TABLE raw (k text PRIMARY KEY, v bytea NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	return rawTarget(t,
		func(k string) error {
			_, err := pool.Exec(context.Background(), `INSERT INTO raw (k, v) VALUES ($1, $2)`, k, rawValue)
			return err
		},
		func(ctx context.Context, k string) ([]byte, error) {
			var v []byte
			err := pool.QueryRow(ctx, `SELECT v FROM raw WHERE k = $1`, k).Scan(&v)
			return v, err
		})
}

// makeSessions creates the target's sessions through its write path,
// without a cookie, and keeps the cookie each answer sets.
func makeSessions(t *testing.T, target *loadTarget, name string) {
	for range *httpLoadSessions {
		resp, err := http.Get(target.url + target.write)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		var cookie string
		for _, c := range resp.Cookies() {
			if c.Name == name {
				cookie = c.Name + "=" + c.Value
			}
		}
		if resp.StatusCode != http.StatusOK || cookie == "" {
			t.Fatalf("creating a session: status %d, cookie %q", resp.StatusCode, cookie)
		}
		target.cookies = append(target.cookies, cookie)
	}
}

// startSessionkit serves a counter on sessionkit with st: /read reads it,
// /write increments it; adjust, if any, changes the options first.
func startSessionkit(t *testing.T, st session.Store, adjust ...func(*session.Options)) *loadTarget {
	o := session.Options{
		Secrets: []string{string(authKey)},
		Store:   st,
		Cookie:  session.CookieOptions{MaxAge: sessionLifetime, SameSite: session.SameSiteLax},
	}
	for _, f := range adjust {
		f(&o)
	}
	m, err := session.New(o)
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := st.(io.Closer); ok {
		t.Cleanup(func() { c.Close() })
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/read", func(w http.ResponseWriter, r *http.Request) {
		n, _ := session.GetAs[int](session.From(r), "n")
		writeInt(w, n)
	})
	mux.HandleFunc("/write", func(w http.ResponseWriter, r *http.Request) {
		s := session.From(r)
		n, _ := session.GetAs[int](s, "n")
		s.Set("n", n+1)
		writeInt(w, n+1)
	})
	target := &loadTarget{url: listen(t, m.Handler(mux)), read: "/read", write: "/write"}
	makeSessions(t, target, "sid")
	return target
}

// startSCS serves the same counter on scs with st.
func startSCS(t *testing.T, st scs.Store) *loadTarget {
	sm := scs.New()
	sm.Store = st
	sm.Lifetime = sessionLifetime
	sm.Cookie.Persist = true
	mux := http.NewServeMux()
	mux.HandleFunc("/read", func(w http.ResponseWriter, r *http.Request) {
		writeInt(w, sm.GetInt(r.Context(), "n"))
	})
	mux.HandleFunc("/write", func(w http.ResponseWriter, r *http.Request) {
		n := sm.GetInt(r.Context(), "n") + 1
		sm.Put(r.Context(), "n", n)
		writeInt(w, n)
	})
	target := &loadTarget{url: listen(t, sm.LoadAndSave(mux)), read: "/read", write: "/write"}
	makeSessions(t, target, sm.Cookie.Name)
	return target
}

// startExpress runs the interop peer (interop/peer/server.js: express-session
// with the store env names) under Node: GET /session reads the session, GET
// /views increments a counter. It returns nil, leaving the server out, when
// Node or the peer's packages are missing (make deps installs them).
func startExpress(t *testing.T, env ...string) *loadTarget {
	node, err := exec.LookPath("node")
	dir := filepath.Join("..", "interop", "peer")
	if err != nil {
		t.Log("node not installed: no express servers")
		return nil
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules")); err != nil {
		t.Log("interop/peer has no node_modules (make deps installs them): no express servers")
		return nil
	}
	cmd := exec.Command(node, "server.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PORT=0", "HOST=127.0.0.1", "NODE_ENV=production", "SESSION_SECRET="+string(authKey))
	cmd.Env = append(cmd.Env, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	port := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if p, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
				port <- p
			}
		}
	}()
	select {
	case p := <-port:
		target := &loadTarget{url: "http://127.0.0.1:" + p, read: "/session", write: "/views"}
		makeSessions(t, target, "sid")
		return target
	case <-time.After(30 * time.Second):
		t.Fatal("express did not start within 30s")
	}
	return nil
}

func TestHTTPLoadChartDrawsEveryServerAndRatio(t *testing.T) {
	rows := []httpLoadRow{
		{name: "net/http bare", read: 36000, write: 32500, isLimit: true},
		{name: "raw Redis GET", read: 15600, write: 16200, isLimit: true},
		{name: "sessionkit + memstore & <co>", read: 27000, write: 23700, readRatio: 0.75, writeRatio: 0.73},
		{name: "sessionkit + redisstore", read: 14583, write: 8110, readRatio: 0.93, writeRatio: 0.50},
		{name: "express-session", read: 2481, write: 0, readRatio: 0.07},
	}
	svg := httpLoadSVG([]string{"a heading with <&> in it", "32 connections"}, rows)

	// Well-formed XML; collect every text and the bars' widths, in order.
	var (
		texts  []string
		widths []float64
		inText bool
	)
	dec := xml.NewDecoder(strings.NewReader(svg))
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the chart is not well-formed XML: %v\n%s", err, svg)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			inText = tok.Name.Local == "text"
			if tok.Name.Local != "rect" {
				break
			}
			var class, width string
			for _, a := range tok.Attr {
				switch a.Name.Local {
				case "class":
					class = a.Value
				case "width":
					width = a.Value
				}
			}
			if strings.HasPrefix(class, "bar ") {
				w, err := strconv.ParseFloat(width, 64)
				if err != nil {
					t.Fatalf("bar %q has width %q", class, width)
				}
				widths = append(widths, w)
			}
		case xml.CharData:
			if inText {
				texts = append(texts, string(tok))
			}
		case xml.EndElement:
			inText = false
		}
	}

	for _, want := range []string{
		"a heading with <&> in it", "32 connections", "read", "write", "limit, read", "limit, write",
		"net/http bare", "raw Redis GET", "sessionkit + memstore & <co>", "sessionkit + redisstore", "express-session",
		"36,000", "27,000 (0.75)", "23,700 (0.73)", "14,583 (0.93)", "8,110 (0.50)", "2,481 (0.07)", "0",
	} {
		if !slices.Contains(texts, want) {
			t.Errorf("no text %q in the chart; texts: %q", want, texts)
		}
	}
	for _, text := range texts {
		if strings.HasPrefix(text, "36,000 (") || strings.HasPrefix(text, "15,600 (") {
			t.Errorf("a limit has a ratio: %q", text)
		}
	}

	// A read and a write bar per row, each as long as its req/s.
	if len(widths) != 2*len(rows) {
		t.Fatalf("%d bars for %d rows, want 2 per row", len(widths), len(rows))
	}
	scale := widths[0] / rows[0].read
	for i, r := range rows {
		for k, v := range []float64{r.read, r.write} {
			if w := widths[2*i+k]; math.Abs(w-v*scale) > 0.02 {
				t.Errorf("%s bar %d is %.2f wide for %.0f req/s, want %.2f (proportional)", r.name, k, w, v, v*scale)
			}
		}
	}
	if longest := slices.Index(widths, slices.Max(widths)); longest != 0 {
		t.Errorf("the longest bar is number %d, want the largest value's (0)", longest)
	}
}

func TestEachServerIsMeasuredBetweenTwoRunsOfItsLimit(t *testing.T) {
	bare := &loadTarget{name: "bare"}
	raw := &loadTarget{name: "raw"}
	lonely := &loadTarget{name: "raw memcached"}
	mem := &loadTarget{name: "mem", limit: "bare"}
	red := &loadTarget{name: "redis", limit: "raw"}
	scs := &loadTarget{name: "scs", limit: "bare"}
	orphan := &loadTarget{name: "bolt", limit: "raw bbolt"} // its limit did not start
	targets := []*loadTarget{bare, raw, lonely, mem, red, scs, orphan}

	names := func(groups [][]*loadTarget) [][]string {
		var out [][]string
		for _, g := range groups {
			var ns []string
			for _, tg := range g {
				ns = append(ns, tg.name)
			}
			out = append(out, ns)
		}
		return out
	}
	for round, want := range [][][]string{
		{{"bare", "mem", "scs", "bare"}, {"raw", "redis", "raw"}, {"raw memcached"}, {"bolt"}},
		{{"bare", "scs", "mem", "bare"}, {"raw", "redis", "raw"}, {"raw memcached"}, {"bolt"}},
	} {
		if got := names(roundGroups(targets, round)); !slices.EqualFunc(got, want, slices.Equal) {
			t.Errorf("round %d: groups %q, want %q", round, got, want)
		}
	}
}

func TestNoServerIsMeasuredColdInTheFirstRound(t *testing.T) {
	bare := &loadTarget{name: "bare", read: "/read", write: "/write"}
	mem := &loadTarget{name: "mem", limit: "bare", read: "/read", write: "/write"}
	raw := &loadTarget{name: "raw", read: "/get", write: "/get"}
	red := &loadTarget{name: "redis", limit: "raw", read: "/read", write: "/write"}
	targets := []*loadTarget{bare, raw, mem, red}

	// A server serves a tenth of its rate on the first load of a path
	// (its pools and caches cold), and the same rate afterwards: 1,000
	// req/s for a limit, 500 for a server with one.
	type use struct {
		target *loadTarget
		path   string
	}
	loaded := map[use]bool{}
	rate := func(target *loadTarget, path string) float64 {
		r := 1000.0
		if target.limit != "" {
			r = 500
		}
		if u := (use{target, path}); !loaded[u] {
			loaded[u] = true
			return r / 10
		}
		return r
	}
	var measured int
	runs, ratios := measureRounds(targets, 3,
		func(target *loadTarget, kind, path string) { rate(target, path) },
		func(round int, target *loadTarget, kind, path string) loadResult {
			measured++
			return loadResult{reqs: rate(target, path)}
		})

	for _, target := range targets {
		for _, kind := range []string{"read", "write"} {
			for i, r := range runs[target.name][kind] {
				if r.reqs != 1000 && r.reqs != 500 {
					t.Errorf("%s %s, run %d: %.0f req/s, a cold server's rate", target.name, kind, i+1, r.reqs)
				}
			}
			if target.limit == "" {
				continue
			}
			if qs := ratios[target.name][kind]; len(qs) != 3 || slices.ContainsFunc(qs, func(q float64) bool { return q != 0.5 }) {
				t.Errorf("%s %s: ratios %v, want 0.5 in each of the 3 rounds", target.name, kind, qs)
			}
		}
	}
	// Each round: each limit twice around its server, for each kind.
	if want := 3 * 2 * 6; measured != want {
		t.Errorf("%d measured runs, want %d", measured, want)
	}
}

func TestBracketedRatiosInterpolateTheLimitBetweenItsRuns(t *testing.T) {
	limit := &loadTarget{name: "bare"}
	a := &loadTarget{name: "a", limit: "bare"}
	b := &loadTarget{name: "b", limit: "bare"}
	c := &loadTarget{name: "c", limit: "bare"}
	group := []*loadTarget{limit, a, b, c, limit}

	// The limit falls from 40k to 20k over the group: at a's turn it
	// stands at 35k, at b's 30k, at c's 25k.
	got := bracketedRatios(group, []float64{40000, 28000, 24000, 25000, 20000})
	want := []float64{0.8, 0.8, 1}
	if len(got) != len(want) {
		t.Fatalf("ratios %v, want %v", got, want)
	}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-9 {
			t.Errorf("ratio of %s = %v, want %v", group[i+1].name, got[i], want[i])
		}
	}

	for _, tc := range []struct {
		name  string
		group []*loadTarget
		reqs  []float64
	}{
		{"a limit alone", []*loadTarget{limit}, []float64{30000}},
		{"a server whose limit did not run", []*loadTarget{a}, []float64{30000}},
		{"a limit that served nothing", group, []float64{0, 28000, 24000, 25000, 20000}},
	} {
		if got := bracketedRatios(tc.group, tc.reqs); got != nil {
			t.Errorf("%s: ratios %v, want none", tc.name, got)
		}
	}
}

func TestWrkSendsTheCookieOfARandomSessionWithEveryRequest(t *testing.T) {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		t.Skip("wrk is not installed (apt-get install wrk); make bench-http installs it")
	}
	defer func(was string) { *httpLoadWrk = was }(*httpLoadWrk)
	*httpLoadWrk = wrk

	// The server counts the requests of each session and fails those of
	// the first ten of them, which wrk must count as errors.
	var (
		mu           sync.Mutex
		seen         = map[string]int{}
		ok, failures int
	)
	target := &loadTarget{name: "counter"}
	for i := range 50 {
		target.cookies = append(target.cookies, fmt.Sprintf("sid=%d", i))
	}
	target.url = listen(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cookie := r.Header.Get("Cookie")
		mu.Lock()
		defer mu.Unlock()
		seen[cookie]++
		if r.URL.Path != "/read" || slices.Index(target.cookies, cookie) < 10 {
			failures++
			http.Error(w, "refused", http.StatusInternalServerError)
			return
		}
		ok++
	}))
	r := runWrk(t, target, "/read", time.Second)

	mu.Lock()
	defer mu.Unlock()
	for cookie := range seen {
		if !slices.Contains(target.cookies, cookie) {
			t.Errorf("a request came with the cookie %q", cookie)
		}
	}
	if len(seen) != len(target.cookies) {
		t.Errorf("%d of %d sessions got requests", len(seen), len(target.cookies))
	}
	// wrk counts the responses it read; the server may have answered up to
	// one request per connection more. Its rate is per second of a run of
	// at least a second (longer on a busy machine), so at most that count.
	slack := *httpLoadConns
	if r.errors > failures || r.errors < failures-slack || r.errors == 0 {
		t.Errorf("wrk counted %d errors; the server refused %d requests", r.errors, failures)
	}
	if got := int(r.reqs); got > ok || got < ok/2-slack {
		t.Errorf("wrk reported %d successful requests/s; the server answered %d in a run of about 1 s", got, ok)
	}
}
