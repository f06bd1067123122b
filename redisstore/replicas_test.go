package redisstore_test

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/internal/testserver/apptest"
	"github.com/sessionkit/session/redisstore"
	"github.com/sessionkit/session/storetest"
)

func TestConformanceWithReplicasOnSentinel(t *testing.T) {
	t.Parallel()
	s := testserver.StartRedisSentinel(t)
	c := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: s.MasterName, SentinelAddrs: s.SentinelAddrs()})
	t.Cleanup(func() { c.Close() })
	storetest.Run(t, func(t *testing.T) session.Store { return newStore(c, redisstore.WithReplicas(1, time.Second)) })

	// A promoted replica has no script in its cache: the pipelined
	// compare-and-swap loads it and goes on.
	t.Run("CompareAndSwapAfterScriptFlush", func(t *testing.T) {
		ctx := t.Context()
		st := newStore(c, redisstore.WithReplicas(1, time.Second))
		exp := time.Now().Add(time.Hour)
		if err := st.Set(ctx, "a", []byte(`{"n":1}`), exp); err != nil {
			t.Fatal(err)
		}
		_, v, _, err := st.GetVersion(ctx, "a")
		if err != nil {
			t.Fatal(err)
		}
		if err := c.ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		if _, swapped, err := st.CompareAndSwap(ctx, "a", v, []byte(`{"n":2}`), exp); err != nil || !swapped {
			t.Fatalf("CompareAndSwap after SCRIPT FLUSH: swapped %v, %v", swapped, err)
		}
		// The same for the user index's script, pipelined with WAIT too.
		if err := c.ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		if err := st.IndexUserSession(ctx, "u", "a", time.Now(), exp); err != nil {
			t.Fatalf("IndexUserSession after SCRIPT FLUSH: %v", err)
		}
	})
}

func TestConformanceWithReplicasOnReplicatedCluster(t *testing.T) {
	t.Parallel()
	cl := testserver.StartReplicatedRedisCluster(t)
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs()})
	t.Cleanup(func() { c.Close() })
	storetest.Run(t, func(t *testing.T) session.Store { return newStore(c, redisstore.WithReplicas(1, time.Second)) })
	t.Run("UserSessionScenarios", func(t *testing.T) {
		apptest.Users(t, func(t *testing.T) session.Store { return newStore(c, redisstore.WithReplicas(1, time.Second)) })
	})
}

// TestConformanceWithReplicasOnValkey runs the pipelined SET IFEQ and WAIT
// on a Valkey 8.1 master with one replica.
func TestConformanceWithReplicasOnValkey(t *testing.T) {
	t.Parallel()
	master := testserver.StartValkey(t)
	replica := testserver.StartValkey(t, "--replicaof", "127.0.0.1", strconv.Itoa(master.Port))
	c := clientOf(t, master)
	rc := clientOf(t, replica)
	for start := time.Now(); !strings.Contains(rc.Info(t.Context(), "replication").Val(), "master_link_status:up"); {
		if time.Since(start) > testserver.StartTimeout {
			t.Fatalf("the replica is not in sync after %v", testserver.StartTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
	storetest.Run(t, func(t *testing.T) session.Store { return newStore(c, redisstore.WithReplicas(1, time.Second)) })
}

func TestWriteThatNoReplicaConfirmedIsAnError(t *testing.T) {
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) { writeThatNoReplicaConfirmedIsAnError(t, srv.client(t)) })
	}
}

func writeThatNoReplicaConfirmedIsAnError(t *testing.T, client *redis.Client) {
	ctx := t.Context()
	// The shared server has no replica: WAIT 1 can only time out.
	st := newStore(client, redisstore.WithReplicas(1, 20*time.Millisecond))
	exp := time.Now().Add(time.Hour)
	check := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, redisstore.ErrNotReplicated) {
			t.Errorf("%s without a replica: %v, want ErrNotReplicated", op, err)
		}
	}
	check("Set", st.Set(ctx, "a", []byte(`{"n":1}`), exp))
	_, _, err := st.CompareAndSwap(ctx, "b", "", []byte(`{"n":1}`), exp)
	check("CompareAndSwap (create)", err)
	_, v, _, _ := st.GetVersion(ctx, "a")
	_, _, err = st.CompareAndSwap(ctx, "a", v, []byte(`{"n":2}`), exp)
	check("CompareAndSwap", err)
	_, err = st.Touch(ctx, "a", exp)
	check("Touch", err)
	// A read-only request's load carries its touch: it waits as Touch does.
	_, _, _, err = st.GetAndTouch(ctx, "a", exp)
	check("GetAndTouch", err)
	_, _, _, err = st.GetAndTouch(ctx, "a", time.Now().Add(-time.Second))
	check("GetAndTouch with a past expiry (a delete)", err)
	check("Destroy", st.Destroy(ctx, "a"))
	check("IndexUserSession", st.IndexUserSession(ctx, "u", "b", time.Now(), exp))
	// Reads do not wait, nor does removing an index entry (losing it in a
	// failover leaves an entry the listing skips).
	if _, _, err := st.Get(ctx, "b"); err != nil {
		t.Errorf("Get: %v", err)
	}
	if err := st.UserSessions(ctx, "u", func(string, time.Time, time.Time, []byte) {}); err != nil {
		t.Errorf("UserSessions: %v", err)
	}
	if err := st.UnindexUserSession(ctx, "u", "b"); err != nil {
		t.Errorf("UnindexUserSession: %v", err)
	}
}

// TestUserIndexEntryIsOnTheReplicaOnceIndexed runs a master and a replica:
// with WithReplicas, IndexUserSession returns only once the replica has the
// entry, so a failover cannot lose the entry of a session that the manager
// then writes (in a Cluster, on another master); while the replica is
// stopped (SIGSTOP), it fails with ErrNotReplicated, where it used to
// report success without waiting.
func TestUserIndexEntryIsOnTheReplicaOnceIndexed(t *testing.T) {
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			ctx := t.Context()
			master := srv.start(t)
			replica := srv.start(t, "--replicaof", "127.0.0.1", strconv.Itoa(master.Port))
			c, rc := clientOf(t, master), clientOf(t, replica)
			waitInSync := func() {
				t.Helper()
				// The link up is not enough: the master holds the stream
				// until the replica's first acknowledgement (a second at
				// most), and a WAIT meanwhile counts no replica.
				deadline := time.Now().Add(testserver.StartTimeout)
				if err := testserver.WaitReplicaInSync(replica, deadline); err != nil {
					t.Fatal(err)
				}
				if err := testserver.WaitReplicating(master, 1, deadline); err != nil {
					t.Fatal(err)
				}
			}
			waitInSync()
			st := newStore(c, redisstore.WithReplicas(1, 300*time.Millisecond))
			exp := time.Now().Add(time.Hour)

			pid := processID(t, rc)
			if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
				t.Fatal(err)
			}
			resumed := false
			resume := func() {
				if !resumed {
					resumed = true
					syscall.Kill(pid, syscall.SIGCONT)
				}
			}
			t.Cleanup(resume)
			err := st.IndexUserSession(ctx, "u", "stalled", time.Now(), exp)
			if !errors.Is(err, redisstore.ErrNotReplicated) {
				t.Errorf("IndexUserSession with the replica stopped: %v, want ErrNotReplicated", err)
			}
			resume()
			waitInSync()

			// A wait as long as the start's: the replica just resumed, and
			// the machine may be loaded (300 ms is for the stalled write,
			// which waits all of it).
			synced := newStore(c, redisstore.WithReplicas(1, testserver.StartTimeout))
			if err := synced.IndexUserSession(ctx, "u", "synced", time.Now(), exp); err != nil {
				t.Fatalf("IndexUserSession with the replica running: %v", err)
			}
			if err := rc.ZScore(ctx, synced.UserIndexPrefix()+"{user:u}", "synced").Err(); err != nil {
				t.Errorf("the replica's index right after IndexUserSession: %v, want the entry", err)
			}
		})
	}
}

// processID returns the process id of the server c talks to.
func processID(t *testing.T, c *redis.Client) int {
	t.Helper()
	info, err := c.Info(t.Context(), "server").Result()
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "process_id:"); ok {
			pid, err := strconv.Atoi(v)
			if err != nil {
				t.Fatal(err)
			}
			return pid
		}
	}
	t.Fatalf("no process_id in INFO server:\n%s", info)
	return 0
}

func TestWithReplicasZeroWaitsForNothing(t *testing.T) {
	st := newStore(standalone(t), redisstore.WithReplicas(1, time.Second), redisstore.WithReplicas(0, time.Second))
	if err := st.Set(t.Context(), "a", []byte(`{}`), time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("Set with the option turned off: %v", err)
	}
}

// TestWithReplicasSubMillisecondTimeoutStillEnds: WAIT takes whole
// milliseconds and waits for ever with 0, so a timeout under a millisecond
// must not become WAIT n 0. On a server without a replica the write fails
// with ErrNotReplicated within about a millisecond, not at the client's
// read timeout (3 s) with an i/o timeout.
func TestWithReplicasSubMillisecondTimeoutStillEnds(t *testing.T) {
	st := newStore(standalone(t), redisstore.WithReplicas(1, 500*time.Microsecond))
	start := time.Now()
	err := st.Set(t.Context(), "a", []byte(`{}`), time.Now().Add(time.Hour))
	if !errors.Is(err, redisstore.ErrNotReplicated) {
		t.Fatalf("Set with WithReplicas(1, 500µs) and no replica: %v after %v, want ErrNotReplicated", err, time.Since(start))
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Set with WithReplicas(1, 500µs) took %v, want about a millisecond", d)
	}
}

// TestWithReplicasOfTheLargestTimeoutWrites: WithReplicas with the
// largest time.Duration (wait as long as it takes) sends a WAIT a replica
// answers, and the write succeeds once the replica confirms it. Rounding the
// timeout up to whole milliseconds wrapped that Duration around to a
// negative one, and Redis refused WAIT with it, so that every write failed.
func TestWithReplicasOfTheLargestTimeoutWrites(t *testing.T) {
	master, _ := replicatedPair(t, testserver.StartRedis)
	st := newStore(clientOf(t, master), redisstore.WithReplicas(1, math.MaxInt64))
	if err := st.Set(t.Context(), "a", []byte(`{}`), time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("Set with WithReplicas(1, the largest Duration) and a replica: %v", err)
	}
}

func TestWithReplicasRefusesARing(t *testing.T) {
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": testserver.SharedRedis(t).Addr}})
	t.Cleanup(func() { ring.Close() })
	st := newStore(ring, redisstore.WithReplicas(1, time.Second))
	err := st.Set(t.Context(), "a", []byte(`{}`), time.Now().Add(time.Hour))
	if err == nil || !strings.Contains(err.Error(), "WithReplicas") {
		t.Fatalf("Set on a Ring with WithReplicas: %v, want an error naming the option", err)
	}
}

// TestGetAndTouchWithoutGetExWaitsForTheReplica: on a server without GETEX
// (before Redis 6.2) GetAndTouch pipelines a read and PEXPIRE, and with
// WithReplicas the WAIT after them: it reads the session (and a missing one
// as missing) once the replica has the new expiry, and fails with
// ErrNotReplicated while the replica is stopped, as Touch does.
func TestGetAndTouchWithoutGetExWaitsForTheReplica(t *testing.T) {
	ctx := t.Context()
	noGetEx := []string{"--rename-command", "GETEX", "", "--rename-command", "GETDEL", ""}
	master := testserver.StartRedis(t, noGetEx...)
	replica := testserver.StartRedis(t, append(noGetEx, "--replicaof", "127.0.0.1", strconv.Itoa(master.Port))...)
	c, rc := clientOf(t, master), clientOf(t, replica)
	deadline := time.Now().Add(testserver.StartTimeout)
	if err := testserver.WaitReplicaInSync(replica, deadline); err != nil {
		t.Fatal(err)
	}
	if err := testserver.WaitReplicating(master, 1, deadline); err != nil {
		t.Fatal(err)
	}
	st := newStore(c, redisstore.WithReplicas(1, testserver.StartTimeout))
	if err := st.Set(ctx, "a", []byte(`{"n":1}`), time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the first call finds GETEX missing, the second goes straight to the pipeline
		data, _, found, err := st.GetAndTouch(ctx, "a", time.Now().Add(time.Hour))
		if err != nil || !found || string(data) != `{"n":1}` {
			t.Fatalf("GetAndTouch = %s, %v, %v; want the session", data, found, err)
		}
		if ttl := rc.PTTL(ctx, st.Prefix()+"a").Val(); ttl <= 59*time.Minute {
			t.Errorf("the replica's PTTL right after GetAndTouch = %v, want about 1h", ttl)
		}
	}
	if data, _, found, err := st.GetAndTouch(ctx, "missing", time.Now().Add(time.Hour)); err != nil || found || data != nil {
		t.Errorf("GetAndTouch of a missing session = %s, %v, %v; want not found", data, found, err)
	}

	pid := processID(t, rc)
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGCONT) })
	stalled := newStore(c, redisstore.WithPrefix(st.Prefix()), redisstore.WithReplicas(1, 300*time.Millisecond))
	for range 2 {
		if _, _, _, err := stalled.GetAndTouch(ctx, "a", time.Now().Add(time.Hour)); !errors.Is(err, redisstore.ErrNotReplicated) {
			t.Errorf("GetAndTouch with the replica stopped: %v, want ErrNotReplicated", err)
		}
	}
}

// roundTrips counts what a go-redis client sends: a command or a pipeline
// (a command and its WAIT) is one round trip.
type roundTrips struct{ n atomic.Int64 }

func (h *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}

func (h *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}

// replicatedPair starts a master with one replica on srv's kind of server
// and returns once the replica confirms the master's writes.
func replicatedPair(t testing.TB, start func(testing.TB, ...string) *testserver.Server) (master, replica *testserver.Server) {
	t.Helper()
	master = start(t)
	replica = start(t, "--replicaof", "127.0.0.1", strconv.Itoa(master.Port))
	deadline := time.Now().Add(testserver.StartTimeout)
	if err := testserver.WaitReplicaInSync(replica, deadline); err != nil {
		t.Fatal(err)
	}
	if err := testserver.WaitReplicating(master, 1, deadline); err != nil {
		t.Fatal(err)
	}
	return master, replica
}

// TestWithReplicasWaitsOnlyAfterWritesAndAddsNoRoundTrip counts, with the
// master's INFO commandstats, the commands of each kind of request against
// a master with one replica, with and without WithReplicas, and the round
// trips the client sent: WAIT rides in the pipeline of each write (a touch
// carried on the load is one), so no request costs a round trip more; a
// read-only request whose touch is not due (TouchAfter) wrote nothing and
// sends no WAIT; a login with SetUser waits once per write (the load's
// touch, the old id's DEL, the index entry, the new id's SET).
func TestWithReplicasWaitsOnlyAfterWritesAndAddsNoRoundTrip(t *testing.T) {
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			master, _ := replicatedPair(t, srv.start)
			for _, waits := range []bool{false, true} {
				client := clientOf(t, master)
				sent := &roundTrips{}
				client.AddHook(sent)
				var opts []redisstore.Option
				if waits {
					opts = append(opts, redisstore.WithReplicas(1, testserver.StartTimeout))
				}
				st := newStore(client, opts...)
				// TouchAfter leaves a read-only request alone right after
				// a save; the other app touches on every unmodified request.
				reader := apptest.New(t, st, apptest.HourCookieTouchAfterMinute)
				toucher := apptest.New(t, st, apptest.HourCookie)
				first := reader.MustDo(t, "/set?k=a&v=1", nil)
				// Loads the scripts, and tells the store whether the server
				// has SET IFEQ.
				reader.MustDo(t, "/set?k=a&v=2", first.Cookies)
				toucher.MustDo(t, "/login?u=warm-up", nil)
				wait := 0
				if waits {
					wait = 1
				}
				for _, c := range []struct {
					name       string
					app        *apptest.App
					path       string
					cookies    []*http.Cookie
					roundTrips int64
					want       map[string]int // nil: only the WAITs are compared
					waits      int
				}{
					{"new session", reader, "/set?k=a&v=1", nil, 1, map[string]int{"set": 1}, 1},
					{"read-only, touch not due", reader, "/get?k=a", first.Cookies, 1, map[string]int{"get": 1}, 0},
					{"read-only, touch due", toucher, "/get?k=a", first.Cookies, 1, map[string]int{"getex": 1}, 1},
					{"modifying, touch not due", reader, "/set?k=b&v=3", first.Cookies, 2, map[string]int{"get": 1, srv.cas: 1}, 1},
					{"modifying, touch due", toucher, "/set?k=b&v=4", first.Cookies, 2, map[string]int{"getex": 1, srv.cas: 1}, 2},
					{"login with SetUser", toucher, "/login?u=ada", first.Cookies, 4, nil, 4},
				} {
					before := sent.n.Load()
					got := testserver.RedisCommandsDuring(t, master.Addr, func() { c.app.MustDo(t, c.path, c.cookies) })
					delete(got, "replconf") // the replica's acknowledgements
					if n := sent.n.Load() - before; n != c.roundTrips {
						t.Errorf("WithReplicas %v, %s: %d round trips, want %d", waits, c.name, n, c.roundTrips)
					}
					if got["wait"] != c.waits*wait {
						t.Errorf("WithReplicas %v, %s: %d WAITs (commands %v), want %d", waits, c.name, got["wait"], got, c.waits*wait)
					}
					delete(got, "wait")
					if got = withoutScriptCalls(got); c.want != nil && !maps.Equal(got, c.want) {
						t.Errorf("WithReplicas %v, %s: commands %v, want %v", waits, c.name, got, c.want)
					}
				}
			}
		})
	}
}

// TestReadOnlyRequestFailsBeforeTheHandlerWhenNoReplicaConfirmsItsTouch
// stops the replica (SIGSTOP): a read-only request whose touch is due
// carries the touch on the load, whose WAIT times out, so session.From
// returns nil and the ErrorHandler answers with ErrNotReplicated before the
// handler reads the session (the touch, which the cookie's expiry relies
// on, could be lost in a failover); a read-only request whose touch is not
// due (TouchAfter) wrote nothing, waits for nothing and is served.
func TestReadOnlyRequestFailsBeforeTheHandlerWhenNoReplicaConfirmsItsTouch(t *testing.T) {
	master, replica := replicatedPair(t, testserver.StartRedis)
	client := clientOf(t, master)
	// The save waits as long as a start may take (the machine may be
	// loaded); the requests with the replica stopped wait 200 ms.
	saving := newStore(client, redisstore.WithReplicas(1, testserver.StartTimeout))
	st := redisstore.New(client, redisstore.WithPrefix(saving.Prefix()), redisstore.WithReplicas(1, 200*time.Millisecond))
	var handled atomic.Int64
	var failed []error
	var mu sync.Mutex
	serve := func(store *redisstore.Store, touchAfter time.Duration) *httptest.Server {
		m, err := session.New(session.Options{
			Secrets: []string{apptest.Secret}, Store: store, Logger: slog.New(slog.DiscardHandler),
			Cookie: session.CookieOptions{MaxAge: time.Hour}, TouchAfter: touchAfter,
			ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
				mu.Lock()
				failed = append(failed, err)
				mu.Unlock()
				http.Error(w, "store", http.StatusServiceUnavailable)
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s := session.From(r) // loads the session
			if s == nil {
				return // the ErrorHandler has answered
			}
			handled.Add(1)
			if r.URL.Path == "/set" {
				s.Set("a", 1)
			}
		})))
		t.Cleanup(srv.Close)
		return srv
	}
	saver, toucher, reader := serve(saving, time.Minute), serve(st, 0), serve(st, time.Minute)
	get := func(srv *httptest.Server, path string, cookies []*http.Cookie) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		for _, c := range cookies {
			req.AddCookie(c)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	saved := get(saver, "/set", nil)
	if saved.StatusCode != http.StatusOK || len(saved.Cookies()) == 0 {
		t.Fatalf("the first save: %d, cookies %v", saved.StatusCode, saved.Cookies())
	}
	cookies := saved.Cookies()

	pid := processID(t, clientOf(t, replica))
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGCONT) })

	handled.Store(0)
	if resp := get(toucher, "/get", cookies); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("read-only request, touch due, replica stopped: %d, want the ErrorHandler's 503", resp.StatusCode)
	}
	if n := handled.Load(); n != 0 {
		t.Errorf("the handler got the session %d times after the load's touch was not replicated, want 0", n)
	}
	mu.Lock()
	if len(failed) != 1 || !errors.Is(failed[0], redisstore.ErrNotReplicated) {
		t.Errorf("the ErrorHandler got %v, want one error wrapping ErrNotReplicated", failed)
	}
	mu.Unlock()
	if resp := get(reader, "/get", cookies); resp.StatusCode != http.StatusOK || handled.Load() != 1 {
		t.Errorf("read-only request, touch not due (TouchAfter), replica stopped: %d, handler got the session %d times; want 200 and once", resp.StatusCode, handled.Load())
	}
}

// A conditional write that did not happen (a compare-and-swap that found
// another version, a create that found its id taken, a touch or a load
// with its touch of a session that is gone) fails with
// ErrNotReplicated as a write does when its WAIT falls short, not with the
// conflict: the caller's retry (the manager's re-read and second try, or a
// fresh id) would write, and fail so, and the stored session is left as it
// was.
func TestConflictThatNoReplicaConfirmedIsErrNotReplicated(t *testing.T) {
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			ctx := t.Context()
			client := srv.client(t)
			plain := newStore(client)
			// The shared server has no replica: WAIT 1 can only time out.
			st := redisstore.New(client, redisstore.WithPrefix(plain.Prefix()), redisstore.WithReplicas(1, 20*time.Millisecond))
			exp := time.Now().Add(time.Hour)
			if err := plain.Set(ctx, "a", []byte(`{"n":1}`), exp); err != nil {
				t.Fatal(err)
			}
			_, stale, _, err := plain.GetVersion(ctx, "a")
			if err != nil {
				t.Fatal(err)
			}
			if err := plain.Set(ctx, "a", []byte(`{"n":2}`), exp); err != nil {
				t.Fatal(err)
			}
			if _, swapped, err := st.CompareAndSwap(ctx, "a", stale, []byte(`{"n":3}`), exp); swapped || !errors.Is(err, redisstore.ErrNotReplicated) {
				t.Errorf("CompareAndSwap of a stale version without a replica: swapped %v, %v; want ErrNotReplicated", swapped, err)
			}
			if _, created, err := st.CompareAndSwap(ctx, "a", "", []byte(`{"n":4}`), exp); created || !errors.Is(err, redisstore.ErrNotReplicated) {
				t.Errorf("create of a taken id without a replica: created %v, %v; want ErrNotReplicated", created, err)
			}
			if found, err := st.Touch(ctx, "gone", exp); found || !errors.Is(err, redisstore.ErrNotReplicated) {
				t.Errorf("Touch of a missing session without a replica: found %v, %v; want ErrNotReplicated", found, err)
			}
			if _, _, found, err := st.GetAndTouch(ctx, "gone", exp); found || !errors.Is(err, redisstore.ErrNotReplicated) {
				t.Errorf("GetAndTouch of a missing session without a replica: found %v, %v; want ErrNotReplicated", found, err)
			}
			if b, _, err := plain.Get(ctx, "a"); err != nil || string(b) != `{"n":2}` {
				t.Errorf("stored after the conflicts: %s, %v; want the session as it was", b, err)
			}
		})
	}
}
