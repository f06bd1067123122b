package bench

import (
	"context"
	"crypto/hmac"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	session "github.com/sessionkit/session"
	"github.com/sessionkit/session/boltstore"
	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/memstore"
	skredis "github.com/sessionkit/session/redisstore"
)

// The scale benchmark (make bench-scale): cost as the work grows. Each store
// is filled with N live sessions, then measured: a read-only and a modifying
// request through the middleware (in-process, no HTTP) on sessions picked at
// random among all N, the memory or disk each session takes, and the time of
// Count, a full IDs listing and PurgeExpired of N/10 expired sessions.
var (
	scale           = flag.Bool("scale", false, "run TestScale, the scale benchmark")
	scaleSizes      = flag.String("scale.sizes", "10000,100000", "live sessions per store (boltstore, redisstore, pgstore, memcachedstore)")
	scaleMemSizes   = flag.String("scale.memsizes", "10000,100000,1000000", "live sessions per store (memstore)")
	scaleMongoSizes = flag.String("scale.mongosizes", "10000,50000,100000", "live sessions per store (mongostore, on FerretDB: each of its operations scans the whole collection, see scaleStores)")
	scaleDuration   = flag.Duration("scale.duration", time.Second, "measured time per request kind")
	scaleOnly       = flag.String("scale.only", "", "run only the stores whose name matches this regexp")
)

// scaleSecret signs the benchmark's cookies.
const scaleSecret = "scale-benchmark-secret-0123456789abcdef"

// scaleStore opens a fresh, empty store, and reports the bytes it uses
// (heap, server memory or file size) at any time.
type scaleStore struct {
	name  string
	sizes string
	open  func(t *testing.T) (st session.Store, used func() int64, closeFn func())
	// available, if set, says why the store's server cannot run here (not
	// installed): its rows are then left out, not the whole run (open
	// would skip the test).
	available func() error
	// noList and noPurge say why the store has no session.Lister or no
	// session.Purger, for the table; a store without one and without a
	// reason fails the run.
	noList, noPurge string
	// fillWorkers is how many goroutines write the fill (0: 64).
	fillWorkers int
	// fillCreates makes the fill store each session as the manager
	// stores a new one in a session.VersionedStore: CompareAndSwap from
	// no version (a create), not Set (an upsert). See scaleStores.
	fillCreates bool
}

// scaleRow is the measurement of one store holding n live sessions.
type scaleRow struct {
	store             string
	n                 int
	fill              time.Duration
	bytesPerSession   float64
	read, write       latency
	count, ids, purge time.Duration // count, ids < 0: no session.Lister; purge < 0: no PurgeExpired
	purged            int
	// noList and noPurge are the scaleStore's, for the table.
	noList, noPurge string
	// skipped, when set, is why the store's server did not run: the row
	// has no figures.
	skipped string
}

// latency summarises the durations of one request kind.
type latency struct {
	mean, p50, p99 time.Duration
	n              int
}

func TestScale(t *testing.T) {
	if !*scale {
		t.Skip("the scale benchmark runs with -scale (make bench-scale)")
	}
	rows := scaleRows(t, scaleStores(), regexp.MustCompile(*scaleOnly))
	fmt.Println()
	fmt.Print(scaleTable(rows))
}

// scaleStores are the stores the benchmark measures, at the sizes of their
// flags.
func scaleStores() []scaleStore {
	return []scaleStore{
		{name: "memstore", sizes: *scaleMemSizes, open: openMemstore},
		{name: "boltstore", sizes: *scaleSizes, open: openBoltstore},
		{name: "redisstore", sizes: *scaleSizes, open: openRedisstore, available: testserver.RedisAvailable,
			noPurge: "Redis expires keys itself"},
		{name: "pgstore", sizes: *scaleSizes, open: openPgstore, available: testserver.PostgresAvailable},
		// On FerretDB v1 (SQLite), whose lookups by _id do not use its
		// _id index (the index is on the expression sjson->"_id", the
		// query's sjson->'$._id', which SQLite does not match), so that
		// every read scans the whole collection, and every update or
		// delete whose filter holds more than _id reads and decodes every
		// document besides. Filled with creates (fillCreates), as the
		// manager stores a new session: an insert, which FerretDB checks
		// against its unique _id index. Set is an upsert, a scan and an
		// update by _id that scans again: a fill with it took time in n²
		// (4,000 sessions a minute on a loaded machine, 100,000 would have
		// taken hours). Its SQLite takes one write at a time: 64 writers
		// wait past its busy timeout (SQLITE_BUSY), and more than a few
		// gain nothing.
		{name: "mongostore", sizes: *scaleMongoSizes, open: openMongostore, available: ferretdbAvailable, fillWorkers: 4, fillCreates: true},
		{name: "memcachedstore", sizes: *scaleSizes, open: openMemcachedstore, available: testserver.MemcachedAvailable,
			noList: "Memcached cannot list its keys", noPurge: "Memcached expires items itself"},
	}
}

// scaleRows measures each store of stores whose name only matches, at each
// of its sizes. A store whose server is not available here gets one row
// saying so, and the others still run.
func scaleRows(t *testing.T, stores []scaleStore, only *regexp.Regexp) []scaleRow {
	var rows []scaleRow
	for _, s := range stores {
		if !only.MatchString(s.name) {
			continue
		}
		if s.available != nil {
			if err := s.available(); err != nil {
				t.Logf("%s left out: %v", s.name, err)
				rows = append(rows, scaleRow{store: s.name, skipped: err.Error()})
				continue
			}
		}
		for _, f := range strings.Split(s.sizes, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n <= 0 {
				t.Fatalf("bad size %q", f)
			}
			row := measureScale(t, s, n)
			t.Logf("%s %d: fill %v, %.0f B/session, read mean %v p50 %v p99 %v (%d), write mean %v p50 %v p99 %v (%d), Count %v, IDs %v, PurgeExpired %v (%d)",
				row.store, row.n, row.fill.Round(time.Millisecond), row.bytesPerSession,
				row.read.mean, row.read.p50, row.read.p99, row.read.n, row.write.mean, row.write.p50, row.write.p99, row.write.n,
				row.count, row.ids, row.purge, row.purged)
			rows = append(rows, row)
		}
	}
	return rows
}

// openMemstore is a memstore with its sweeper off (PurgeExpired is timed);
// its bytes are the live heap.
func openMemstore(t *testing.T) (session.Store, func() int64, func()) {
	st := memstore.New(memstore.WithSweepInterval(0))
	return st, liveHeap, func() { st.Close() }
}

// liveHeap returns the heap in use after a full collection.
func liveHeap() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// openBoltstore is a boltstore in a new file with its sweeper off; its
// bytes are the file's size.
func openBoltstore(t *testing.T) (session.Store, func() int64, func()) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	st, err := boltstore.Open(path, boltstore.WithSweepInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	size := func() int64 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	return st, size, func() { st.Close() }
}

// openRedisstore is a redisstore on a Redis server of its own; its bytes are
// the server's INFO used_memory.
func openRedisstore(t *testing.T) (session.Store, func() int64, func()) {
	srv := testserver.StartRedis(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr, PoolSize: 64})
	used := func() int64 {
		info, err := c.Info(context.Background(), "memory").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(info, "\r\n") {
			if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					t.Fatal(err)
				}
				return n
			}
		}
		t.Fatal("no used_memory in INFO memory")
		return 0
	}
	return skredis.New(c), used, func() { c.Close(); srv.Kill() }
}

// measureScale fills a fresh store of kind s with n live sessions and measures it.
func measureScale(t *testing.T, s scaleStore, n int) scaleRow {
	ctx := t.Context()
	st, used, closeFn := s.open(t)
	defer closeFn()
	row := scaleRow{store: s.name, n: n, noList: s.noList, noPurge: s.noPurge}

	doc := scaleDocument(t, time.Now())
	ids := make([]string, n)
	for i := range ids {
		ids[i] = newScaleID()
	}
	before := used()
	start := time.Now()
	fill(t, st, s, ids, doc, func() time.Time { return time.Now().Add(scaleLifetime) })
	row.fill = time.Since(start)
	row.bytesPerSession = float64(used()-before) / float64(n)

	read, write := scaleHandlers(t, st)
	row.read = requests(t, read, ids)
	row.write = requests(t, write, ids)

	row.count, row.ids = -1, -1
	if lister, ok := st.(session.Lister); ok {
		row.count = median3(t, func() error {
			c, err := lister.Count(ctx)
			if err == nil && c != n {
				err = fmt.Errorf("Count = %d, want %d", c, n)
			}
			return err
		})
		row.ids = median3(t, func() error {
			got, err := lister.IDs(ctx)
			if err == nil && len(got) != n {
				err = fmt.Errorf("IDs gave %d, want %d", len(got), n)
			}
			return err
		})
	} else if s.noList == "" {
		t.Fatalf("%s is not a session.Lister, and no reason is given", s.name)
	}

	row.purge = -1
	if p, ok := st.(session.Purger); ok {
		// n/10 more sessions, each expiring 2s after it is written.
		expiring := make([]string, n/10)
		for i := range expiring {
			expiring[i] = newScaleID()
		}
		fill(t, st, s, expiring, doc, func() time.Time { return time.Now().Add(2 * time.Second) })
		time.Sleep(2*time.Second + 100*time.Millisecond)
		start := time.Now()
		purged, err := p.PurgeExpired(ctx)
		row.purge = time.Since(start)
		if err != nil {
			t.Fatal(err)
		}
		row.purged = purged
	} else if s.noPurge == "" {
		t.Fatalf("%s is not a session.Purger, and no reason is given", s.name)
	}
	return row
}

// scaleLifetime is the scale benchmark's cookie and session lifetime.
const scaleLifetime = time.Hour

// scaleStoreTimeout is the manager's StoreTimeout in the scale benchmark:
// longer than any request it measures takes (see scaleHandlers).
const scaleStoreTimeout = time.Minute

// scaleHandlers are the read-only and the modifying request of the scale
// benchmark, through a manager on st. A read is a load alone, the lookup
// that could grow with the number of sessions: TouchAfter is as long as a
// session lives less a minute, so that no read's touch is due however long
// the fill took (a touch counts from the document's last write, and a fill
// of a million sessions takes minutes), and each read's touch would be a
// rewrite of its session. The store calls get scaleStoreTimeout, not the
// default 5 s: a save on FerretDB reads every document of the collection,
// and took longer than 5 s at 100,000 sessions on a loaded machine, which
// failed the request and so the run.
func scaleHandlers(t *testing.T, st session.Store) (read, write http.Handler) {
	m, err := session.New(session.Options{
		Secrets:      []string{scaleSecret},
		Store:        st,
		Cookie:       session.CookieOptions{MaxAge: scaleLifetime, SameSite: session.SameSiteLax}, // as scaleDocument's
		TouchAfter:   scaleLifetime - time.Minute,
		StoreTimeout: scaleStoreTimeout,
	})
	if err != nil {
		t.Fatal(err)
	}
	read = m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if session.From(r).Get("n") == nil {
			http.Error(w, "no session", http.StatusInternalServerError)
		}
	}))
	write = m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.From(r)
		if s.Get("n") == nil {
			http.Error(w, "no session", http.StatusInternalServerError)
			return
		}
		s.Set("n", rand.IntN(1000))
	}))
	return read, write
}

// scaleDocument is the stored document of every session: what the
// middleware writes at written for a session holding a small counter and a
// 32-byte string, with a 1 h cookie.
func scaleDocument(t *testing.T, written time.Time) []byte {
	maxAge := scaleLifetime.Milliseconds()
	exp := written.Add(scaleLifetime).UTC()
	doc := &session.Document{
		Cookie:  session.DocumentCookie{OriginalMaxAge: &maxAge, Expires: &exp, HTTPOnly: true, Path: "/", SameSite: "lax"},
		Created: written,
		Values:  map[string]json.RawMessage{"n": json.RawMessage("1"), "pad": json.RawMessage(`"0123456789abcdef0123456789abcdef"`)},
	}
	b, err := session.JSONCodec{}.Encode(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// newScaleID is a session id as the manager makes them (24 random bytes).
func newScaleID() string {
	var b [24]byte
	crand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// scaleCookie is the Cookie header of the session id: express-session's
// signed value, s:<id>.<base64 HMAC-SHA256 without padding>.
func scaleCookie(id string) string {
	mac := hmac.New(sha256.New, []byte(scaleSecret))
	mac.Write([]byte(id))
	return "sid=s:" + id + "." + base64.RawStdEncoding.EncodeToString(mac.Sum(nil))
}

// fill stores doc under every id, with Set (or, with s.fillCreates, the
// manager's create: CompareAndSwap from no version, which must succeed),
// from s.fillWorkers goroutines (0: 64, so that boltstore's writes share
// commits), each with its own copy of doc and of the id: a
// store that keeps the id it is given (memstore) then holds bytes of its
// own, as it does with an id that came in a request, and not the caller's
// ids, which were allocated before the bytes per session were measured.
func fill(t *testing.T, st session.Store, s scaleStore, ids []string, doc []byte, expires func() time.Time) {
	workers := s.fillWorkers
	if workers <= 0 {
		workers = 64
	}
	put := func(id string, data []byte, exp time.Time) error {
		return st.Set(context.Background(), id, data, exp)
	}
	if s.fillCreates {
		vs, ok := st.(session.VersionedStore)
		if !ok {
			t.Fatalf("%s fills with creates, but is not a session.VersionedStore", s.name)
		}
		put = func(id string, data []byte, exp time.Time) error {
			_, swapped, err := vs.CompareAndSwap(context.Background(), id, "", data, exp)
			if err == nil && !swapped {
				err = fmt.Errorf("the create of session %.8s… found it stored", id)
			}
			return err
		}
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		ferr error
	)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(ids); i += workers {
				if err := put(strings.Clone(ids[i]), slices.Clone(doc), expires()); err != nil {
					mu.Lock()
					ferr = err
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	if ferr != nil {
		t.Fatal(ferr)
	}
}

// requests serves h one request after another for the measured duration,
// each on a session picked at random among ids, and summarises their times.
func requests(t *testing.T, h http.Handler, ids []string) latency {
	var times []time.Duration
	deadline := time.Now().Add(*scaleDuration)
	for time.Now().Before(deadline) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Cookie", scaleCookie(ids[rand.IntN(len(ids))]))
		w := httptest.NewRecorder()
		start := time.Now()
		h.ServeHTTP(w, r)
		times = append(times, time.Since(start))
		if w.Code != http.StatusOK {
			t.Fatalf("request: %d %s", w.Code, w.Body)
		}
	}
	var sum time.Duration
	for _, d := range times {
		sum += d
	}
	slices.Sort(times)
	return latency{
		mean: sum / time.Duration(len(times)),
		p50:  times[len(times)/2],
		p99:  times[len(times)*99/100],
		n:    len(times),
	}
}

// median3 times f three times and returns the median.
func median3(t *testing.T, f func() error) time.Duration {
	var d [3]time.Duration
	for i := range d {
		start := time.Now()
		if err := f(); err != nil {
			t.Fatal(err)
		}
		d[i] = time.Since(start)
	}
	slices.Sort(d[:])
	return d[1]
}

// scaleTable returns the rows as the README's Markdown table.
func scaleTable(rows []scaleRow) string {
	var b strings.Builder
	b.WriteString("| store | live sessions | fill | bytes / session | read p50 / p99 | write p50 / p99 | Count | IDs | PurgeExpired (n/10 expired) |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		if r.skipped != "" {
			fmt.Fprintf(&b, "| %s | skipped (server not available) | | | | | | | |\n", r.store)
			continue
		}
		count, ids := "— ("+r.noList+")", "—"
		if r.count >= 0 {
			count, ids = dur(r.count), dur(r.ids)
		}
		purge := "— (" + r.noPurge + ")"
		if r.purge >= 0 {
			purge = fmt.Sprintf("%s (%s)", dur(r.purge), thousands(r.purged))
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %.0f | %s / %s | %s / %s | %s | %s | %s |\n",
			r.store, thousands(r.n), dur(r.fill), r.bytesPerSession,
			dur(r.read.p50), dur(r.read.p99), dur(r.write.p50), dur(r.write.p99),
			count, ids, purge)
	}
	return b.String()
}

// dur prints d with three significant digits in µs, ms or s.
func dur(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return strconv.FormatFloat(float64(d)/1e3, 'g', 3, 64) + " µs"
	case d < time.Second:
		return strconv.FormatFloat(float64(d)/1e6, 'g', 3, 64) + " ms"
	}
	return strconv.FormatFloat(d.Seconds(), 'g', 3, 64) + " s"
}

// thousands prints n with comma separators.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
