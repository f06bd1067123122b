package redisstore_test

import (
	"errors"
	"strconv"
	"strings"
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
