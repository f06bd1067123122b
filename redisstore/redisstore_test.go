package redisstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/internal/testserver/apptest"
	"github.com/sessionkit/session/redisstore"
	"github.com/sessionkit/session/storetest"
)

func TestMain(m *testing.M) { os.Exit(testserver.Main(m)) }

// clientOf returns a client of srv, closed when t ends.
func clientOf(t testing.TB, srv *testserver.Server) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { c.Close() })
	return c
}

// standalone returns a client of the shared redis-server.
func standalone(t testing.TB) *redis.Client {
	t.Helper()
	return clientOf(t, testserver.SharedRedis(t))
}

// valkey returns a client of the shared valkey-server (8.1 or later), which
// has SET IFEQ.
func valkey(t testing.TB) *redis.Client {
	t.Helper()
	return clientOf(t, testserver.SharedValkey(t))
}

// servers are the standalone servers the store's compare-and-swap tests
// run on: Redis 7.0, where it runs a script, and Valkey 8.1, where it is a SET IFEQ.
var servers = []struct {
	name     string
	client   func(testing.TB) *redis.Client
	start    func(testing.TB, ...string) *testserver.Server
	sentinel func(testing.TB) *testserver.RedisSentinel
	// cas is the command a save's compare-and-swap sends.
	cas string
}{
	{"redis", standalone, testserver.StartRedis, testserver.StartRedisSentinel, "evalsha"},
	{"valkey", valkey, testserver.StartValkey, testserver.StartValkeySentinel, "set"},
}

// cluster returns a client of the shared Redis Cluster.
func cluster(t testing.TB) *redis.ClusterClient {
	t.Helper()
	srv := testserver.SharedRedisCluster(t)
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: srv.Addrs()})
	t.Cleanup(func() { c.Close() })
	return c
}

// newStore returns a store of its own (a unique prefix) on client.
func newStore(client redis.UniversalClient, opts ...redisstore.Option) *redisstore.Store {
	return redisstore.New(client, append([]redisstore.Option{redisstore.WithPrefix(testserver.UniquePrefix() + "sess:")}, opts...)...)
}

func TestConformanceStandalone(t *testing.T) {
	t.Parallel()
	client := standalone(t)
	storetest.Run(t, func(t *testing.T) session.Store { return newStore(client) })
}

func TestConformanceValkey(t *testing.T) {
	t.Parallel()
	client := valkey(t)
	storetest.Run(t, func(t *testing.T) session.Store { return newStore(client) })
}

func TestConformanceValkeyCluster(t *testing.T) {
	t.Parallel()
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: testserver.StartValkeyCluster(t).Addrs()})
	t.Cleanup(func() { c.Close() })
	storetest.Run(t, func(t *testing.T) session.Store { return newStore(c) })
}

func TestConformanceCluster(t *testing.T) {
	t.Parallel()
	client := cluster(t)
	storetest.Run(t, func(t *testing.T) session.Store { return newStore(client) })
}

func TestStoresWhatConnectRedisStores(t *testing.T) {
	ctx := t.Context()
	client := standalone(t)
	st := newStore(client)
	data := []byte(`{"cookie":{"originalMaxAge":60000,"expires":"2030-01-01T00:00:00.000Z","httpOnly":true,"path":"/"},"views":3}`)

	start := time.Now()
	if err := st.Set(ctx, "abc", data, start.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	raw, err := client.Get(ctx, st.Prefix()+"abc").Bytes()
	if err != nil || !bytes.Equal(raw, data) {
		t.Fatalf("GET %sabc = %s, %v; want the document as given", st.Prefix(), raw, err)
	}
	wantPTTL(t, client, st.Prefix()+"abc", time.Minute, start)

	// A browser-session cookie (no expiry) gets the default TTL of a day.
	start = time.Now()
	if err := st.Set(ctx, "browser", data, time.Time{}); err != nil {
		t.Fatal(err)
	}
	wantPTTL(t, client, st.Prefix()+"browser", 24*time.Hour, start)

	// An Express app's write (SET ... EX) is read as is.
	express := []byte(`{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"from":"express"}`)
	client.Set(ctx, st.Prefix()+"fromexpress", express, 10*time.Second)
	got, _, err := st.Get(ctx, "fromexpress")
	if err != nil || !bytes.Equal(got, express) {
		t.Fatalf("Get of an Express-written key = %s, %v", got, err)
	}
}

func TestDefaultPrefixIsConnectRedis(t *testing.T) {
	ctx := t.Context()
	client := standalone(t)
	st := redisstore.New(client)
	id := "default-prefix-" + storetest.NewID()
	if err := st.Set(ctx, id, []byte(`{}`), time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Del(context.Background(), "sess:"+id) })
	if n := client.Exists(ctx, "sess:"+id).Val(); n != 1 {
		t.Fatalf("key sess:%s does not exist", id)
	}
}

func TestWithDefaultTTL(t *testing.T) {
	ctx := t.Context()
	client := standalone(t)
	st := newStore(client, redisstore.WithDefaultTTL(time.Hour))
	start := time.Now()
	if err := st.Set(ctx, "x", []byte(`{}`), time.Time{}); err != nil {
		t.Fatal(err)
	}
	wantPTTL(t, client, st.Prefix()+"x", time.Hour, start)
}

// wantPTTL asserts that key's PTTL is d less at most the time since start,
// taken before the write that gave it d, and 3 ms: the store sends the time
// left rounded down to the millisecond less one (Store.ttl), and Redis
// counts the key's expiry and the PTTL in whole milliseconds. A fixed
// allowance (a TTL of 86399 s at least) failed on a machine that took half
// a second between the write and the TTL.
func wantPTTL(t *testing.T, client redis.UniversalClient, key string, d time.Duration, start time.Time) {
	t.Helper()
	ttl, err := client.PTTL(t.Context(), key).Result()
	if floor := d - time.Since(start) - 3*time.Millisecond; err != nil || ttl < floor || ttl > d {
		t.Fatalf("PTTL of %s = %v, %v; want %v, less at most the %v since the write", key, ttl, err, d, time.Since(start))
	}
}

func TestTouchDoesNotRewriteDocument(t *testing.T) {
	ctx := t.Context()
	client := standalone(t)
	st := newStore(client)
	if err := st.Set(ctx, "id", []byte(`{"v":1}`), time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	// Another instance writes meanwhile; a touch must not undo its write.
	client.Set(ctx, st.Prefix()+"id", `{"v":2}`, time.Minute)
	if found, err := st.Touch(ctx, "id", time.Now().Add(time.Hour)); err != nil || !found {
		t.Fatal(err)
	}
	if got := client.Get(ctx, st.Prefix()+"id").Val(); got != `{"v":2}` {
		t.Fatalf("after Touch the value is %s, want the other instance's {\"v\":2}", got)
	}
	if ttl := client.PTTL(ctx, st.Prefix()+"id").Val(); ttl <= 59*time.Minute {
		t.Fatalf("PTTL after Touch = %v, want about 1h", ttl)
	}
}

func TestExpressWriteBetweenReadAndSaveConflicts(t *testing.T) {
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) { expressWriteBetweenReadAndSaveConflicts(t, srv.client(t)) })
	}
}

func expressWriteBetweenReadAndSaveConflicts(t *testing.T, client *redis.Client) {
	ctx := t.Context()
	st := newStore(client)
	if err := st.Set(ctx, "id", []byte(`{"a":1}`), time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	_, v1, _, err := st.GetVersion(ctx, "id")
	if err != nil {
		t.Fatal(err)
	}
	// Express knows nothing of versions: it just writes the value.
	client.Set(ctx, st.Prefix()+"id", `{"a":1,"b":2}`, time.Minute)
	if _, swapped, err := st.CompareAndSwap(ctx, "id", v1, []byte(`{"a":3}`), time.Now().Add(time.Minute)); err != nil || swapped {
		t.Fatalf("CompareAndSwap after an Express write: %v, want not swapped", err)
	}
	got, v2, _, err := st.GetVersion(ctx, "id")
	if err != nil || string(got) != `{"a":1,"b":2}` {
		t.Fatalf("GetVersion = %s, %v", got, err)
	}
	v3, swapped, err := st.CompareAndSwap(ctx, "id", v2, []byte(`{"a":3,"b":2}`), time.Now().Add(time.Minute))
	if err != nil || !swapped {
		t.Fatalf("CompareAndSwap with the fresh version: swapped %v, %v", swapped, err)
	}
	if _, v4, _, _ := st.GetVersion(ctx, "id"); v4 != v3 {
		t.Fatalf("CompareAndSwap returned version %q, GetVersion says %q", v3, v4)
	}
	// Writing the same bytes again keeps the version: it is the value's hash.
	if _, v5, _, _ := st.GetVersion(ctx, "id"); v5 != v3 {
		t.Fatalf("version changed without a write: %q, %q", v3, v5)
	}
}

func TestListerSeesOnlyItsPrefixOnEveryClusterMaster(t *testing.T) {
	ctx := t.Context()
	client := cluster(t)
	st, other := newStore(client), newStore(client)
	var want []string
	for i := range 50 { // 50 keys land on all three masters
		id := "id" + strconv.Itoa(i)
		want = append(want, id)
		if err := st.Set(ctx, id, []byte(`{}`), time.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	if err := other.Set(ctx, "other", []byte(`{}`), time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	perMaster := map[string]int{}
	client.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		keys, _ := c.Keys(ctx, st.Prefix()+"*").Result() // a test may use KEYS
		mu.Lock()
		defer mu.Unlock()
		perMaster[c.Options().Addr] = len(keys)
		return nil
	})
	if len(perMaster) != 3 {
		t.Fatalf("keys per master: %v, want keys on 3 masters", perMaster)
	}
	ids, err := st.IDs(ctx)
	slices.Sort(ids)
	slices.Sort(want)
	if err != nil || !slices.Equal(ids, want) {
		t.Fatalf("IDs = %v, %v; want %v", ids, err, want)
	}
	if n, err := st.Count(ctx); n != 50 || err != nil {
		t.Fatalf("Count = %d, %v; want 50", n, err)
	}
	if err := st.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := st.Count(ctx); n != 0 || err != nil {
		t.Fatalf("Count after Clear = %d, %v; want 0", n, err)
	}
	if _, found, err := other.Get(ctx, "other"); err != nil || !found {
		t.Fatalf("Clear deleted another prefix's session: %v", err)
	}
}

// A prefix's glob characters are matched literally by the SCAN of IDs,
// Count and Clear: each pair's second prefix is matched by the first taken
// as a pattern.
func TestPrefixWithGlobCharactersIsMatchedLiterally(t *testing.T) {
	ctx := t.Context()
	client := standalone(t)
	for _, pair := range [][2]string{{"a*[", "ab["}, {"a?", "ab"}, {"a[b]", "ab"}, {`x\*`, "x*"}, {"\xff*", "\xffb"}} {
		base := testserver.UniquePrefix()
		st := redisstore.New(client, redisstore.WithPrefix(base+pair[0]))
		lookalike := redisstore.New(client, redisstore.WithPrefix(base+pair[1]))
		st.Set(ctx, "1", []byte(`{}`), time.Now().Add(time.Minute))
		lookalike.Set(ctx, "2", []byte(`{}`), time.Now().Add(time.Minute))
		if ids, err := st.IDs(ctx); err != nil || !slices.Equal(ids, []string{"1"}) {
			t.Errorf("prefix %q beside %q: IDs = %v, %v; want [1]", pair[0], pair[1], ids, err)
		}
		if err := st.Clear(ctx); err != nil {
			t.Fatal(err)
		}
		if _, found, err := lookalike.Get(ctx, "2"); err != nil || !found {
			t.Errorf("prefix %q beside %q: the other's session after Clear: found %v, %v", pair[0], pair[1], found, err)
		}
	}
}

// TestEmptyPrefixStoresSessionsButRefusesToListOrClear pins WithPrefix(""):
// sessions work, as with connect-redis, but IDs, Count and Clear would take
// every key of the database for a session (Clear would delete them all), so
// they fail with ErrNoPrefix and touch nothing.
func TestEmptyPrefixStoresSessionsButRefusesToListOrClear(t *testing.T) {
	client := clientOf(t, testserver.StartRedis(t)) // a server of its own: a wrong Clear wipes it
	ctx := t.Context()
	if err := client.Set(ctx, "app:config", "keep me", 0).Err(); err != nil {
		t.Fatal(err)
	}
	st := redisstore.New(client, redisstore.WithPrefix(""))
	if err := st.Set(ctx, "sid1", []byte(`{}`), time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got := client.Get(ctx, "sid1").Val(); got != `{}` {
		t.Fatalf("GET sid1 = %q, want the session under its bare id", got)
	}
	if _, v, found, err := st.GetVersion(ctx, "sid1"); err != nil || !found {
		t.Fatalf("GetVersion: found %v, %v", found, err)
	} else if _, swapped, err := st.CompareAndSwap(ctx, "sid1", v, []byte(`{"a":1}`), time.Now().Add(time.Minute)); err != nil || !swapped {
		t.Fatalf("CompareAndSwap: swapped %v, %v", swapped, err)
	}
	if ids, err := st.IDs(ctx); !errors.Is(err, redisstore.ErrNoPrefix) {
		t.Errorf("IDs = %q, %v; want ErrNoPrefix", ids, err)
	}
	if n, err := st.Count(ctx); !errors.Is(err, redisstore.ErrNoPrefix) {
		t.Errorf("Count = %d, %v; want ErrNoPrefix", n, err)
	}
	if err := st.Clear(ctx); !errors.Is(err, redisstore.ErrNoPrefix) {
		t.Errorf("Clear: %v; want ErrNoPrefix", err)
	}
	if n := client.Exists(ctx, "app:config", "sid1").Val(); n != 2 {
		t.Fatalf("%d of the keys app:config and sid1 are left, want both", n)
	}
	if err := st.Destroy(ctx, "sid1"); err != nil {
		t.Fatal(err)
	}
	if _, found, err := st.Get(ctx, "sid1"); err != nil || found {
		t.Fatalf("Get after Destroy: found %v, %v", found, err)
	}
}

func TestParallelRequestsThroughTwoManagersLoseNothing(t *testing.T) {
	t.Parallel()
	t.Run("standalone", func(t *testing.T) {
		apptest.ParallelUpdatesThroughTwoAppsLoseNothing(t, newStore(standalone(t)), 100)
	})
	t.Run("cluster", func(t *testing.T) {
		apptest.ParallelUpdatesThroughTwoAppsLoseNothing(t, newStore(cluster(t)), 100)
	})
}

func TestSessionDestroyedDuringSlowRequestStaysDestroyed(t *testing.T) {
	apptest.DestroyDuringSlowRequestStaysDestroyed(t, newStore(standalone(t)))
}

func TestOneRoundTripPerStoreOperation(t *testing.T) {
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			// The compare-and-swap of a modifying request: a script on Redis
			// 7.0, SET IFEQ on Valkey 8.1.
			oneRoundTripPerStoreOperation(t, srv.start(t), srv.cas) // its own server: the counts are server-wide
		})
	}
}

func oneRoundTripPerStoreOperation(t *testing.T, srv *testserver.Server, cas string) {
	client := clientOf(t, srv)
	st := redisstore.New(client)
	// TouchAfter leaves a read-only request alone right after a save; the
	// second app touches on every unmodified request, as express does.
	reader := apptest.New(t, st, apptest.HourCookieTouchAfterMinute)
	toucher := apptest.New(t, st, apptest.HourCookie)
	browserSession := apptest.New(t, st, nil) // no MaxAge: a browser-session cookie

	first := reader.MustDo(t, "/set?k=a&v=1", nil)
	// Loads the script into Redis 7.0, and tells the store that the server
	// has no SET IFEQ.
	reader.MustDo(t, "/set?k=a&v=2", first.Cookies)
	browserFirst := browserSession.MustDo(t, "/set?k=a&v=1", nil)

	cases := []struct {
		name    string
		app     *apptest.App
		path    string
		cookies []*http.Cookie
		want    map[string]int
	}{
		{"new session", reader, "/set?k=a&v=1", nil, map[string]int{"set": 1}},
		{"read-only", reader, "/get?k=a", first.Cookies, map[string]int{"get": 1}},
		{"modifying", reader, "/set?k=b&v=3", first.Cookies, map[string]int{"get": 1, cas: 1}},
		// The touch rides on the load: GETEX key PX ttl.
		{"touch-only", toucher, "/get?k=a", first.Cookies, map[string]int{"getex": 1}},
		{"browser-session read-only", browserSession, "/get?k=a", browserFirst.Cookies, map[string]int{"getex": 1}},
		{"browser-session modifying", browserSession, "/set?k=b&v=4", browserFirst.Cookies, map[string]int{"getex": 1, cas: 1}},
		// A session whose own max age (1h, from reader) differs from the
		// app's: the load's touch is not the right one, the end's is (a
		// GETEX too, whose answer tells whether another request gave the
		// session another cookie meanwhile).
		{"own max age read-only", browserSession, "/get?k=a", first.Cookies, map[string]int{"getex": 2}},
	}
	for _, c := range cases {
		got := withoutScriptCalls(testserver.RedisCommandsDuring(t, srv.Addr, func() { c.app.MustDo(t, c.path, c.cookies) }))
		if !maps.Equal(got, c.want) {
			t.Errorf("%s request: commands %v, want %v", c.name, got, c.want)
		}
	}
}

// withoutScriptCalls returns the round trips among got, commands counted by
// INFO commandstats: it also counts the calls a script makes, and the CAS
// script's GET and SET run inside the EVALSHA round trip.
func withoutScriptCalls(got map[string]int) map[string]int {
	for range got["evalsha"] {
		got["get"]--
		got["set"]--
	}
	for k, n := range got {
		if n == 0 {
			delete(got, k)
		}
	}
	return got
}

// storedSession stores {"n":0} under "id" through a new store on srv, a
// server of the test's own (command counts are server-wide), and returns
// the server's client, the store, the session's version and its expiry.
func storedSession(t *testing.T, srv *testserver.Server) (*redis.Client, *redisstore.Store, string, time.Time) {
	t.Helper()
	client := clientOf(t, srv)
	st := redisstore.New(client)
	exp := time.Now().Add(time.Hour)
	if err := st.Set(t.Context(), "id", []byte(`{"n":0}`), exp); err != nil {
		t.Fatal(err)
	}
	_, v, _, err := st.GetVersion(t.Context(), "id")
	if err != nil {
		t.Fatal(err)
	}
	return client, st, v, exp
}

// countedSwap swaps session "id" from version v to data, which must
// succeed, and returns the new version and the commands the server ran.
func countedSwap(t *testing.T, client *redis.Client, st *redisstore.Store, v string, data []byte, exp time.Time) (string, map[string]int) {
	t.Helper()
	var swapped bool
	var err error
	got := testserver.RedisCommandsDuring(t, client.Options().Addr, func() { v, swapped, err = st.CompareAndSwap(t.Context(), "id", v, data, exp) })
	if err != nil || !swapped {
		t.Fatalf("CompareAndSwap to %s: swapped %v, %v", data, swapped, err)
	}
	if stored := client.Get(t.Context(), "sess:id").Val(); stored != string(data) {
		t.Fatalf("after CompareAndSwap the value is %s, want %s", stored, data)
	}
	return v, got
}

func TestCompareAndSwapFallsBackToTheScriptWithoutSetIfEq(t *testing.T) {
	client, st, v, exp := storedSession(t, testserver.StartRedis(t)) // Redis 7.0: no SET IFEQ
	for i, want := range []map[string]int{
		// The refused SET IFEQ, then the script: EVALSHA, which the new
		// server refuses (NOSCRIPT), and EVAL; its GET and SET count too.
		{"set": 2, "evalsha": 1, "eval": 1, "get": 1},
		{"set": 1, "evalsha": 1, "get": 1}, // the script only
	} {
		var got map[string]int
		v, got = countedSwap(t, client, st, v, []byte(fmt.Sprintf(`{"n":%d}`, i+1)), exp)
		if !maps.Equal(got, want) {
			t.Errorf("CompareAndSwap %d: commands %v, want %v", i+1, got, want)
		}
	}
	// A conflict still shows as one.
	client.Set(t.Context(), "sess:id", `{"n":"express"}`, time.Hour)
	if _, swapped, err := st.CompareAndSwap(t.Context(), "id", v, []byte(`{"n":9}`), exp); err != nil || swapped {
		t.Fatalf("CompareAndSwap after another write: swapped %v, %v; want a conflict", swapped, err)
	}
}

// TestSubMillisecondDefaultTTLSwapStoresTheSession: a default TTL under a
// millisecond is sent as one millisecond by Set, Touch and GetAndTouch
// (go-redis rounds it up), and the script's swap must do the same: it got
// the TTL in whole milliseconds, 0, and deleted the session while
// CompareAndSwap reported it swapped, with the new value's version.
func TestSubMillisecondDefaultTTLSwapStoresTheSession(t *testing.T) {
	client := clientOf(t, testserver.StartRedis(t)) // Redis 7.0: the script
	st := redisstore.New(client, redisstore.WithDefaultTTL(500*time.Microsecond))
	if err := st.Set(t.Context(), "id", []byte(`{"n":0}`), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	_, v, _, err := st.GetVersion(t.Context(), "id")
	if err != nil {
		t.Fatal(err)
	}
	var swapped bool
	got := testserver.RedisCommandsDuring(t, client.Options().Addr, func() {
		_, swapped, err = st.CompareAndSwap(t.Context(), "id", v, []byte(`{"n":1}`), time.Time{})
	})
	if err != nil || !swapped {
		t.Fatalf("CompareAndSwap with the zero expiry: swapped %v, %v", swapped, err)
	}
	if got["del"] != 0 {
		t.Fatalf("CompareAndSwap with the zero expiry and a 500µs default TTL ran %v: it deleted the session it reports swapped", got)
	}
}

func TestCompareAndSwapOnValkeyIsOneSetIfEq(t *testing.T) {
	client, st, v, exp := storedSession(t, testserver.StartValkey(t))
	v, got := countedSwap(t, client, st, v, []byte(`{"n":1}`), exp)
	if want := map[string]int{"set": 1}; !maps.Equal(got, want) {
		t.Errorf("CompareAndSwap: commands %v, want %v", got, want)
	}
	if ttl := client.PTTL(t.Context(), "sess:id").Val(); ttl <= 59*time.Minute {
		t.Errorf("PTTL after CompareAndSwap = %v, want about 1h", ttl)
	}
	// An expiry that has passed deletes, through the script (Valkey 8.1 has
	// no conditional delete).
	if _, swapped, err := st.CompareAndSwap(t.Context(), "id", v, []byte(`{"n":2}`), time.Now().Add(-time.Second)); err != nil || !swapped {
		t.Fatalf("CompareAndSwap with a past expiry: swapped %v, %v", swapped, err)
	}
	if client.Exists(t.Context(), "sess:id").Val() != 0 {
		t.Fatal("CompareAndSwap with a past expiry left the session")
	}
}

// TestSentinelFailoverNeedsNoRestart kills the master under a store on a
// Sentinel failover client, on Redis (the script) and on Valkey (SET IFEQ).
func TestSentinelFailoverNeedsNoRestart(t *testing.T) {
	t.Parallel()
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			t.Parallel()
			testSentinelFailover(t, srv.sentinel(t), srv.cas)
		})
	}
}

// testSentinelFailover checks that a store on s's sentinels goes on after
// the master dies, and that a save's compare-and-swap on the promoted
// replica is still one cas command.
func testSentinelFailover(t *testing.T, s *testserver.RedisSentinel, cas string) {
	client := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName:    s.MasterName,
		SentinelAddrs: s.SentinelAddrs(),
		DialTimeout:   200 * time.Millisecond,
		ReadTimeout:   500 * time.Millisecond,
		WriteTimeout:  500 * time.Millisecond,
		MaxRetries:    -1,
	})
	t.Cleanup(func() { client.Close() })
	app := apptest.New(t, redisstore.New(client), nil)
	// The client's timeouts are short to go on quickly after the failover,
	// and without retries: one request before it on a loaded machine may
	// miss them, so the session is made with a few tries.
	var first apptest.Response
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		r, err := app.Do("/set?k=before&v=1", nil)
		if err == nil && r.Status == http.StatusOK {
			first = r
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("before the failover, requests still fail after 10s: %v %d %s", err, r.Status, r.Body)
		}
	}
	// The replica has the session before the master goes.
	replica := clientOf(t, s.Replica)
	for start := time.Now(); replica.Exists(t.Context(), redisstore.DefaultPrefix+first.Body).Val() == 0; {
		if time.Since(start) > 10*time.Second {
			t.Fatal("the replica does not have the session after 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}

	s.Master.Kill()
	deadline := time.Now().Add(30 * time.Second)
	var last apptest.Response
	for {
		r, err := app.Do("/set?k=after&v=2", first.Cookies)
		if err == nil && r.Status == http.StatusOK {
			break
		}
		last = r
		if time.Now().After(deadline) {
			t.Fatalf("requests still fail 30s after the master was killed: %v %d %s\nsentinel log:\n%s", err, last.Status, last.Body, s.Sentinel.Log())
		}
		time.Sleep(100 * time.Millisecond)
	}
	v := app.Values(t, first.Cookies)
	if v.New || v.Values["before"] != "1" || v.Values["after"] != "2" {
		t.Fatalf("after failover: %+v, want the session with before=1 and after=2", v)
	}
	role, err := replica.Do(t.Context(), "ROLE").Slice()
	if err != nil || len(role) == 0 || role[0] != "master" {
		t.Fatalf("the replica's ROLE = %v, %v; want master after failover", role, err)
	}
	calls := withoutScriptCalls(testserver.RedisCommandsDuring(t, s.Replica.Addr, func() { app.MustDo(t, "/set?k=later&v=3", first.Cookies) }))
	if calls[cas] != 1 {
		t.Fatalf("a save on the promoted replica ran %v; want one %s", calls, cas)
	}
}

func TestServerKilledMidTraffic(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t)
	opts := &redis.Options{
		Addr:               srv.Addr,
		DialTimeout:        200 * time.Millisecond,
		ReadTimeout:        200 * time.Millisecond,
		WriteTimeout:       200 * time.Millisecond,
		MaxRetries:         1,
		DialerRetries:      2,
		DialerRetryTimeout: 50 * time.Millisecond,
	}
	client := redis.NewClient(opts)
	t.Cleanup(func() { client.Close() })
	// The longest a command may take with these settings: each of its tries
	// dials (with retries and their backoff) and reads.
	perTry := time.Duration(opts.DialerRetries)*(opts.DialTimeout+opts.DialerRetryTimeout) + opts.ReadTimeout + opts.WriteTimeout
	apptest.ServerKilledMidTraffic(t, redisstore.New(client), apptest.Outage{
		Kill:       srv.Kill,
		Restart:    func() { srv.Restart(t) },
		MaxLatency: time.Duration(opts.MaxRetries+1)*perTry + time.Second, // a second of slack for a loaded machine
	})
}

func TestErrorsDoNotShowWholeSessionID(t *testing.T) {
	st := newStore(standalone(t))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	id := storetest.NewID()
	_, _, err := st.Get(ctx, id)
	if err == nil || strings.Contains(err.Error(), id) || !strings.Contains(err.Error(), id[:6]) {
		t.Fatalf("Get error %q: want the start of the id, not all of it", err)
	}
}

func TestGetAndTouchReadsAndSetsTheExpiry(t *testing.T) {
	ctx := t.Context()
	client := standalone(t)
	st := newStore(client)
	if err := st.Set(ctx, "id", []byte(`{"v":1}`), time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	data, ver, found, err := st.GetAndTouch(ctx, "id", time.Now().Add(time.Hour))
	if err != nil || !found || string(data) != `{"v":1}` {
		t.Fatalf("GetAndTouch = %s, %v, %v", data, found, err)
	}
	if _, v, _, _ := st.GetVersion(ctx, "id"); v != ver {
		t.Fatalf("GetAndTouch's version %q is not GetVersion's %q", ver, v)
	}
	if ttl := client.PTTL(ctx, st.Prefix()+"id").Val(); ttl <= 59*time.Minute {
		t.Fatalf("PTTL after GetAndTouch = %v, want about 1h", ttl)
	}
	if _, _, found, err := st.GetAndTouch(ctx, "missing", time.Now().Add(time.Hour)); found || err != nil {
		t.Fatalf("GetAndTouch of a missing session: found %v, %v", found, err)
	}
	if client.Exists(ctx, st.Prefix()+"missing").Val() != 0 {
		t.Fatal("GetAndTouch created a missing session")
	}
	// A browser-session cookie (zero expiry) gets the default TTL.
	if _, _, found, _ := st.GetAndTouch(ctx, "id", time.Time{}); !found {
		t.Fatal("GetAndTouch with the zero expiry: not found")
	}
	if ttl := client.PTTL(ctx, st.Prefix()+"id").Val(); ttl <= 23*time.Hour {
		t.Fatalf("PTTL after GetAndTouch with the zero expiry = %v, want the default day", ttl)
	}
	// An expiry in the past deletes.
	if _, _, found, err := st.GetAndTouch(ctx, "id", time.Now().Add(-time.Second)); found || err != nil {
		t.Fatalf("GetAndTouch with a past expiry: found %v, %v; want not found", found, err)
	}
	if client.Exists(ctx, st.Prefix()+"id").Val() != 0 {
		t.Fatal("GetAndTouch with a past expiry left the session")
	}
}

func TestGetAndTouchWorksWithoutGetEx(t *testing.T) {
	// A server without GETEX and GETDEL, as before Redis 6.2.
	srv := testserver.StartRedis(t, "--rename-command", "GETEX", "", "--rename-command", "GETDEL", "")
	client := clientOf(t, srv)
	ctx := t.Context()
	st := redisstore.New(client)
	if err := st.Set(ctx, "id", []byte(`{"v":1}`), time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the first call finds GETEX missing, the second goes straight to GET
		data, _, found, err := st.GetAndTouch(ctx, "id", time.Now().Add(time.Hour))
		if err != nil || !found || string(data) != `{"v":1}` {
			t.Fatalf("GetAndTouch = %s, %v, %v", data, found, err)
		}
		if ttl := client.PTTL(ctx, "sess:id").Val(); ttl <= 59*time.Minute {
			t.Fatalf("PTTL after GetAndTouch = %v, want about 1h", ttl)
		}
	}
	if _, _, found, err := st.GetAndTouch(ctx, "id", time.Now().Add(-time.Second)); found || err != nil {
		t.Fatalf("GetAndTouch with a past expiry: found %v, %v; want not found", found, err)
	}
	if client.Exists(ctx, "sess:id").Val() != 0 {
		t.Fatal("GetAndTouch with a past expiry left the session")
	}
}

// farFuture is a common "never expires": beyond time.Duration's 292 years.
var farFuture = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)

// ttlWrites are the store's writes that send a TTL. prepare (if any) gets
// session id ready and returns its version; write then sets its expiry to
// expires and reports whether it found (or swapped) the session.
var ttlWrites = []struct {
	name    string
	prepare func(t *testing.T, st *redisstore.Store, id string) (version string)
	write   func(ctx context.Context, st *redisstore.Store, id, version string, expires time.Time) (bool, error)
}{
	{"Set", nil, func(ctx context.Context, st *redisstore.Store, id, _ string, expires time.Time) (bool, error) {
		return true, st.Set(ctx, id, []byte(`{"n":1}`), expires)
	}},
	{"Touch", storedVersion, func(ctx context.Context, st *redisstore.Store, id, _ string, expires time.Time) (bool, error) {
		return st.Touch(ctx, id, expires)
	}},
	{"GetAndTouch", storedVersion, func(ctx context.Context, st *redisstore.Store, id, _ string, expires time.Time) (bool, error) {
		_, _, found, err := st.GetAndTouch(ctx, id, expires)
		return found, err
	}},
	{"CompareAndSwapCreate", nil, func(ctx context.Context, st *redisstore.Store, id, _ string, expires time.Time) (bool, error) {
		_, swapped, err := st.CompareAndSwap(ctx, id, "", []byte(`{"n":1}`), expires)
		return swapped, err
	}},
	{"CompareAndSwap", storedVersion, func(ctx context.Context, st *redisstore.Store, id, v string, expires time.Time) (bool, error) {
		_, swapped, err := st.CompareAndSwap(ctx, id, v, []byte(`{"n":2}`), expires)
		return swapped, err
	}},
}

// storedVersion stores a session under id for an hour and returns its version.
func storedVersion(t *testing.T, st *redisstore.Store, id string) string {
	t.Helper()
	if err := st.Set(t.Context(), id, []byte(`{"n":0}`), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	_, v, _, err := st.GetVersion(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestFarFutureExpiryIsKept pins that an expiry in year 9999, past
// time.Duration's range, stores the session for the longest TTL (about 292
// years) rather than overflowing into a negative one, which deletes.
func TestFarFutureExpiryIsKept(t *testing.T) {
	for _, srv := range servers { // the swap is a script on Redis, SET IFEQ on Valkey
		t.Run(srv.name, func(t *testing.T) {
			client := srv.client(t)
			st := newStore(client)
			for _, w := range ttlWrites {
				t.Run(w.name, func(t *testing.T) {
					var v string
					if w.prepare != nil {
						v = w.prepare(t, st, w.name)
					}
					if ok, err := w.write(t.Context(), st, w.name, v, farFuture); err != nil || !ok {
						t.Fatalf("%s to year 9999: %v, %v", w.name, ok, err)
					}
					if _, found, err := st.Get(t.Context(), w.name); err != nil || !found {
						t.Fatalf("Get after %s to year 9999: found %v, %v; want found", w.name, found, err)
					}
					if ttl := client.PTTL(t.Context(), st.Prefix()+w.name).Val(); ttl < 290*365*24*time.Hour {
						t.Fatalf("PTTL after %s to year 9999 = %v, want about 292 years", w.name, ttl)
					}
				})
			}
		})
	}
}

// TestLargestDefaultTTLKeepsTheSession: WithDefaultTTL of the largest
// time.Duration (an application's "keep sessions without an expiry for
// ever") keeps such a session for about 292 years, as it did before the
// option rounded a TTL up to whole milliseconds. Rounding up the largest
// Duration wrapped it around to a negative TTL, which Redis refuses, so
// that every save of a session without an expiry failed.
func TestLargestDefaultTTLKeepsTheSession(t *testing.T) {
	for _, srv := range servers { // the swap is a script on Redis, SET IFEQ on Valkey
		t.Run(srv.name, func(t *testing.T) {
			client := srv.client(t)
			st := newStore(client, redisstore.WithDefaultTTL(math.MaxInt64))
			for _, w := range ttlWrites {
				t.Run(w.name, func(t *testing.T) {
					var v string
					if w.prepare != nil {
						v = w.prepare(t, st, w.name)
					}
					if ok, err := w.write(t.Context(), st, w.name, v, time.Time{}); err != nil || !ok {
						t.Fatalf("%s without an expiry: %v, %v", w.name, ok, err)
					}
					if _, found, err := st.Get(t.Context(), w.name); err != nil || !found {
						t.Fatalf("Get after %s without an expiry: found %v, %v; want found", w.name, found, err)
					}
					if ttl := client.PTTL(t.Context(), st.Prefix()+w.name).Val(); ttl < 290*365*24*time.Hour {
						t.Fatalf("PTTL after %s without an expiry = %v, want about 292 years", w.name, ttl)
					}
				})
			}
		})
	}
}

// TestExpiryMoreThan292YearsAgoDeletes pins the other end of the TTL's
// range: an expiry so far in the past that time.Until saturates at the
// smallest time.Duration (year 1700, or the zero instant of a time zone east
// of UTC, which IsZero does not take for the zero time) is in the past like
// any other, and deletes; one millisecond less than that smallest duration
// must not wrap around to about 292 years, which kept the session.
func TestExpiryMoreThan292YearsAgoDeletes(t *testing.T) {
	ancient := map[string]time.Time{
		"1700":     time.Date(1700, 1, 1, 0, 0, 0, 0, time.UTC),
		"year1CET": time.Date(1, 1, 1, 0, 0, 0, 0, time.FixedZone("CET", 3600)),
	}
	for _, srv := range servers { // the swap is a script on Redis, SET IFEQ on Valkey
		t.Run(srv.name, func(t *testing.T) {
			client := srv.client(t)
			st := newStore(client)
			for name, expires := range ancient {
				for _, w := range ttlWrites {
					t.Run(name+"/"+w.name, func(t *testing.T) {
						id := name + w.name
						var v string
						if w.prepare != nil {
							v = w.prepare(t, st, id)
						}
						if _, err := w.write(t.Context(), st, id, v, expires); err != nil {
							t.Fatalf("%s to %v: %v", w.name, expires, err)
						}
						if _, found, err := st.Get(t.Context(), id); err != nil || found {
							t.Fatalf("Get after %s to %v: found %v, %v; want the session gone", w.name, expires, found, err)
						}
						if n := client.Exists(t.Context(), st.Prefix()+id).Val(); n != 0 {
							t.Fatalf("%s to %v left the key (PTTL %v)", w.name, expires, client.PTTL(t.Context(), st.Prefix()+id).Val())
						}
					})
				}
			}
		})
	}
}

// TestSessionIsNeverFoundAfterItsExpiry pins the TTL's rounding against the
// Redis clock: Redis keeps a key through the millisecond its TTL ends in, so
// a TTL rounded up (or not shortened by that millisecond) outlives expires.
// The TTL counts from when Redis receives the write, which is within the
// write call, so the key must be gone once expires plus the call's duration
// has passed; a slow machine only makes the Get later, never fail wrongly.
// The key dies less than 2 ms before expires: a Get answered before that
// must find it.
func TestSessionIsNeverFoundAfterItsExpiry(t *testing.T) {
	const (
		lead  = 10 * time.Millisecond
		tries = 20
		// Slack for the Go and Redis clocks (monotonic and wall) drifting
		// apart within a few milliseconds.
		slack = 200 * time.Microsecond
	)
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			t.Parallel()
			st := newStore(srv.client(t))
			for _, w := range ttlWrites {
				t.Run(w.name, func(t *testing.T) { // one at a time: a busier machine makes the bound looser
					late, early := 0, 0
					for i := range tries {
						id, v := fmt.Sprintf("%s%d", w.name, i), ""
						if w.prepare != nil {
							v = w.prepare(t, st, id)
						}
						start := time.Now()
						expires := start.Add(lead)
						if _, err := w.write(t.Context(), st, id, v, expires); err != nil {
							t.Fatal(err)
						}
						took := time.Since(start)
						_, found, err := st.Get(t.Context(), id)
						if err != nil {
							t.Fatal(err)
						}
						if !found && time.Now().Before(expires.Add(-2*time.Millisecond-slack)) {
							early++
						}
						time.Sleep(time.Until(expires.Add(took + slack)))
						if _, found, err = st.Get(t.Context(), id); err != nil {
							t.Fatal(err)
						} else if found {
							late++
						}
					}
					if late > 0 {
						t.Errorf("%s: %d of %d sessions were found after their expiry", w.name, late, tries)
					}
					if early > 0 {
						t.Errorf("%s: %d of %d sessions were gone more than 2 ms before their expiry", w.name, early, tries)
					}
				})
			}
		})
	}
}

// TestEmptyValueHasAVersionThatSwaps pins that a stored empty value (which an
// app writing the keys itself may leave) gets a non-empty version, as the
// contract asks: the version is the value itself, and "" would make
// CompareAndSwap create-if-absent, so such a session could never be saved.
// A value of one NUL byte must get another version than the empty value.
func TestEmptyValueHasAVersionThatSwaps(t *testing.T) {
	for _, srv := range servers { // the swap is a script on Redis, SET IFEQ on Valkey
		t.Run(srv.name, func(t *testing.T) {
			ctx := t.Context()
			client := srv.client(t)
			st := newStore(client)
			versionOf := func(value string) string {
				t.Helper()
				if err := client.Set(ctx, st.Prefix()+"id", value, time.Minute).Err(); err != nil {
					t.Fatal(err)
				}
				_, v, found, err := st.GetVersion(ctx, "id")
				if err != nil || !found || v == "" {
					t.Fatalf("GetVersion of the stored value %q: version %q, found %v, %v; want a non-empty version", value, v, found, err)
				}
				if _, v2, _, _ := st.GetAndTouch(ctx, "id", time.Now().Add(time.Minute)); v2 != v {
					t.Fatalf("GetAndTouch of the stored value %q: version %q, GetVersion's is %q", value, v2, v)
				}
				return v
			}
			empty, nul := versionOf(""), versionOf("\x00")
			if empty == nul {
				t.Fatalf("the values \"\" and \"\\x00\" have the same version %q", empty)
			}
			// "\x00" is stored: the empty value's version conflicts.
			if _, swapped, err := st.CompareAndSwap(ctx, "id", empty, []byte(`{"a":1}`), time.Now().Add(time.Minute)); err != nil || swapped {
				t.Fatalf("CompareAndSwap from the empty value's version over \"\\x00\": swapped %v, %v; want a conflict", swapped, err)
			}
			for _, value := range []string{"", "\x00"} {
				v2, swapped, err := st.CompareAndSwap(ctx, "id", versionOf(value), []byte(`{"a":1}`), time.Now().Add(time.Minute))
				if err != nil || !swapped {
					t.Fatalf("CompareAndSwap from the version of %q: swapped %v, %v", value, swapped, err)
				}
				if _, got, _, _ := st.GetVersion(ctx, "id"); got != v2 {
					t.Fatalf("CompareAndSwap returned version %q, GetVersion says %q", v2, got)
				}
			}
		})
	}
}

// Clear during a resharding (redis-cli --cluster reshard, or a master
// added and given slots): a slot that is migrating has its keys on two
// masters, the ones moved already on the importing master, which answers
// MOVED for them to anyone but a client that says ASKING. SCAN on that
// master lists them; Clear must delete them all the same (its DEL through
// the Cluster client follows the redirects), not fail with MOVED and leave
// the sessions behind.
func TestClearDuringASlotMigrationDeletesEverySession(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	cl := testserver.StartRedisCluster(t)
	client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs()})
	t.Cleanup(func() { client.Close() })
	st := newStore(client)
	// Two sessions in one slot (one hash tag), and more on every master.
	ids := []string{"{tag}moved", "{tag}left"}
	for i := range 30 {
		ids = append(ids, "id"+strconv.Itoa(i))
	}
	for _, id := range ids {
		if err := st.Set(ctx, id, []byte(`{}`), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	moved := st.Prefix() + ids[0]
	slot, err := client.ClusterKeySlot(ctx, moved).Result()
	if err != nil {
		t.Fatal(err)
	}
	owner, err := client.MasterForKey(ctx, moved)
	if err != nil {
		t.Fatal(err)
	}
	var src, dst *testserver.Server
	for _, n := range cl.Nodes {
		if n.Addr == owner.Options().Addr {
			src = n
		} else if dst == nil {
			dst = n
		}
	}
	// Half way through moving the slot: one of its keys moved, one not.
	s := strconv.Itoa(int(slot))
	operate(t, dst, "CLUSTER", "SETSLOT", s, "IMPORTING", nodeID(t, src))
	operate(t, src, "CLUSTER", "SETSLOT", s, "MIGRATING", nodeID(t, dst))
	operate(t, src, "MIGRATE", "127.0.0.1", strconv.Itoa(dst.Port), moved, "0", "5000")

	got, err := st.IDs(ctx)
	slices.Sort(got)
	want := slices.Sorted(slices.Values(ids))
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("IDs during the migration = %v, %v; want %v", got, err, want)
	}
	if err := st.Clear(ctx); err != nil {
		t.Fatalf("Clear during the migration: %v", err)
	}
	for _, n := range cl.Nodes {
		keys, err := clientOf(t, n).Keys(ctx, st.Prefix()+"*").Result() // a test may use KEYS
		if err != nil || len(keys) > 0 {
			t.Errorf("after Clear, %s still has %v (%v)", n.Addr, keys, err)
		}
	}
}
