package redisstore_test

import (
	"bytes"
	"context"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/session/internal/testclock"
	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/internal/testserver/apptest"
	"github.com/sessionkit/session/redisstore"
)

// lostReplyApps returns two app instances on one store prefix of srv's
// server: a, whose client reaches the server through the returned proxy
// with go-redis's default options (MaxRetries 3: a command whose
// connection was lost is sent again), and b, whose client reaches it
// directly.
func lostReplyApps(t *testing.T, client func(testing.TB) *redis.Client) (a, b *apptest.App, p *testserver.Proxy) {
	t.Helper()
	direct := client(t)
	p = testserver.StartProxy(t, direct.Options().Addr)
	viaProxy := redis.NewClient(&redis.Options{Addr: p.Addr})
	t.Cleanup(func() { viaProxy.Close() })
	prefix := redisstore.WithPrefix(testserver.UniquePrefix() + "sess:")
	a = apptest.New(t, redisstore.New(viaProxy, prefix), nil)
	b = apptest.New(t, redisstore.New(direct, prefix), nil)
	return a, b, p
}

// A save whose compare-and-swap the server ran but whose answer was lost
// (the connection reset) must not be applied a second time over a write
// that came after it. go-redis sent the command again; the second try
// found the later write, the store reported a conflict, and the manager
// re-read the session and applied its change again: "n" went back to the
// first request's value, and the second request's write, made after it
// had read the first one's, was lost.
func TestASwapWhoseReplyWasLostIsNotAppliedAgainOverALaterWrite(t *testing.T) {
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			a, b, p := lostReplyApps(t, srv.client)
			first := b.MustDo(t, "/set?k=n&v=0", nil)
			b.MustDo(t, "/set?k=m&v=1", first.Cookies) // a swap: the server has the script
			var sawA string
			var bErr error
			p.LoseReply("\r\n"+map[string]string{"evalsha": "evalsha", "set": "ifeq"}[srv.cas]+"\r\n", func() {
				// The server ran a's write. Another request reads it and
				// writes after it.
				r, err := b.Do("/get?k=n", first.Cookies)
				sawA, bErr = r.Body, err
				if err == nil {
					r, err = b.Do("/set?k=n&v=b", first.Cookies)
					if err == nil && r.Status != http.StatusOK {
						bErr = &statusError{r}
					}
				}
				if err != nil {
					bErr = err
				}
			})
			if _, err := a.Do("/set?k=n&v=a", first.Cookies); err != nil {
				t.Fatal(err)
			}
			if bErr != nil || sawA != "a" {
				t.Fatalf("the request after a's write: read %q, %v; want a's value, a", sawA, bErr)
			}
			if got := b.Values(t, first.Cookies).Values["n"]; got != "b" {
				t.Errorf("n = %q after a save that read a's write and wrote b; want b (a's write applied once, before it)", got)
			}
		})
	}
}

type statusError struct{ r apptest.Response }

func (e *statusError) Error() string { return http.StatusText(e.r.Status) + ": " + e.r.Body }

// receivedCalls returns the calls of command that the server at addr
// received, run or refused (READONLY and the like), from INFO commandstats.
func receivedCalls(t *testing.T, addr, command string) int {
	t.Helper()
	info, err := testserver.RedisCommand(addr, "INFO", "commandstats")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(info, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_"+command+":"); ok {
			for _, field := range strings.Split(rest, ",") {
				if name, v, _ := strings.Cut(field, "="); name == "calls" || name == "rejected_calls" {
					c, _ := strconv.Atoi(v)
					n += c
				}
			}
		}
	}
	return n
}

// A compare-and-swap that go-redis no longer sends again after a lost
// answer is still sent again after an answer that proves it did not run,
// here READONLY from a master turned replica (a failover), as go-redis
// did: the client's MaxRetries times more.
func TestASwapRefusedAsReadOnlyIsSentAgainAsTheClientsRetriesSay(t *testing.T) {
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			s := srv.start(t)
			client := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: 2, MinRetryBackoff: time.Millisecond, MaxRetryBackoff: time.Millisecond})
			t.Cleanup(func() { client.Close() })
			st := newStore(client)
			ctx := t.Context()
			exp := time.Now().Add(time.Hour)
			v, ok, err := st.CompareAndSwap(ctx, "id", "", []byte(`{"n":1}`), exp)
			if err != nil || !ok {
				t.Fatalf("create: %v, %v", ok, err)
			}
			// A swap first: a store on Redis 7 learns it has no SET IFEQ.
			if v, ok, err = st.CompareAndSwap(ctx, "id", v, []byte(`{"n":2}`), exp); err != nil || !ok {
				t.Fatalf("swap: %v, %v", ok, err)
			}
			// The new master has the same session: the script finds the
			// value it expects and writes, which a replica refuses.
			other := srv.start(t)
			if err := clientOf(t, other).Set(ctx, st.Prefix()+"id", `{"n":2}`, time.Hour).Err(); err != nil {
				t.Fatal(err)
			}
			host, port, _ := strings.Cut(other.Addr, ":")
			if _, err := testserver.RedisCommand(s.Addr, "REPLICAOF", host, port); err != nil {
				t.Fatal(err)
			}
			before := receivedCalls(t, s.Addr, srv.cas)
			if _, _, err := st.CompareAndSwap(ctx, "id", v, []byte(`{"n":3}`), exp); !redis.IsReadOnlyError(err) {
				t.Fatalf("CompareAndSwap on a replica: %v; want READONLY", err)
			}
			if n := receivedCalls(t, s.Addr, srv.cas) - before; n != 3 {
				t.Errorf("the replica received %d %s; want 3 (MaxRetries 2)", n, srv.cas)
			}
		})
	}
}

// A new session's create (SET NX) whose answer was lost after the server
// ran it is sent again by go-redis, and finds the session stored: its own
// write, not another session's. The session keeps its id and is stored
// once. The store reported the id taken, so the manager took it for a
// GenerateID that repeats ids: it logged so, moved the session to a fresh
// id and created it there, and the first write stayed stored under an id
// no client holds.
func TestACreateWhoseReplyWasLostIsStoredOnceUnderItsID(t *testing.T) {
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			direct := srv.client(t)
			p := testserver.StartProxy(t, direct.Options().Addr)
			viaProxy := redis.NewClient(&redis.Options{Addr: p.Addr})
			t.Cleanup(func() { viaProxy.Close() })
			st := newStore(viaProxy)
			a := apptest.New(t, st, nil)
			p.LoseReply("\r\nnx\r\n", nil)
			r := a.MustDo(t, "/set?k=n&v=a", nil)
			ids, err := redisstore.New(direct, redisstore.WithPrefix(st.Prefix())).IDs(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if len(ids) != 1 || ids[0] != r.Body {
				t.Errorf("stored sessions %v after a create whose reply was lost; want only the one whose id the client got, %s", ids, r.Body)
			}
		})
	}
}

// With WithReplicas the swap and its WAIT go out in one pipeline, which
// go-redis does not send again once it holds a command it must not resend.
// An answer that proves the swap did not run (READONLY from a master turned
// replica by a failover) must still be sent again the client's MaxRetries
// times, as go-redis sent that pipeline before: a Sentinel failover failed
// every save that reached the old master in its window at once.
func TestASwapWithReplicasRefusedAsReadOnlyIsSentAgainAsTheClientsRetriesSay(t *testing.T) {
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			master, _ := replicatedPair(t, srv.start)
			client := redis.NewClient(&redis.Options{Addr: master.Addr, MaxRetries: 2, MinRetryBackoff: time.Millisecond, MaxRetryBackoff: time.Millisecond})
			t.Cleanup(func() { client.Close() })
			st := newStore(client, redisstore.WithReplicas(1, 5*time.Second))
			ctx := t.Context()
			exp := time.Now().Add(time.Hour)
			v, ok, err := st.CompareAndSwap(ctx, "id", "", []byte(`{"n":1}`), exp)
			if err != nil || !ok {
				t.Fatalf("create: %v, %v", ok, err)
			}
			if v, ok, err = st.CompareAndSwap(ctx, "id", v, []byte(`{"n":2}`), exp); err != nil || !ok {
				t.Fatalf("swap: %v, %v", ok, err)
			}
			other := srv.start(t)
			if err := clientOf(t, other).Set(ctx, st.Prefix()+"id", `{"n":2}`, time.Hour).Err(); err != nil {
				t.Fatal(err)
			}
			host, port, _ := strings.Cut(other.Addr, ":")
			if _, err := testserver.RedisCommand(master.Addr, "REPLICAOF", host, port); err != nil {
				t.Fatal(err)
			}
			before := receivedCalls(t, master.Addr, srv.cas)
			if _, _, err := st.CompareAndSwap(ctx, "id", v, []byte(`{"n":3}`), exp); !redis.IsReadOnlyError(err) {
				t.Fatalf("CompareAndSwap on a replica: %v; want READONLY", err)
			}
			if n := receivedCalls(t, master.Addr, srv.cas) - before; n != 3 {
				t.Errorf("the replica received %d %s; want 3 (MaxRetries 2)", n, srv.cas)
			}
		})
	}
}

// refusedAddr returns a loopback address where nothing listens, nor can
// until the test ends: a dial there is refused (testserver.RefusingAddr;
// a port found free and closed again could be given to another test
// binary's server meanwhile, which would then answer the dials).
func refusedAddr(t *testing.T) string {
	t.Helper()
	return testserver.RefusingAddr(t)
}

// A compare-and-swap that never reached the server (its connection could
// not be made, the pool had no connection free in time, the master refused
// writes for want of replicas) did not run: go-redis sent it again, the
// client's MaxRetries times, before it became a command it must not resend
// after a lost answer, and so must the store. It failed at once: a save
// whose first dial after a failover was refused, or that waited out the
// pool under load, answered 500.
func TestASwapThatNeverReachedTheServerIsSentAgain(t *testing.T) {
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			ctx := t.Context()
			exp := time.Now().Add(time.Hour)
			data := []byte(`{"n":1}`)
			// stored creates the session with a client of its own and
			// returns its version.
			stored := func(t *testing.T, st *redisstore.Store) string {
				t.Helper()
				v, ok, err := redisstore.New(srv.client(t), redisstore.WithPrefix(st.Prefix())).CompareAndSwap(ctx, "id", "", data, exp)
				if err != nil || !ok {
					t.Fatalf("create: %v, %v", ok, err)
				}
				return v
			}
			t.Run("refused connection", func(t *testing.T) {
				refused := refusedAddr(t)
				var dials atomic.Int32
				client := redis.NewClient(&redis.Options{
					Addr: srv.client(t).Options().Addr, MaxRetries: 2, MinRetryBackoff: time.Millisecond, MaxRetryBackoff: time.Millisecond,
					// The first connection is refused, as a master's that
					// has just died; the next ones reach the server. The
					// pool dials once per try (5 times by default, the
					// master may stay away longer).
					DialerRetries: 1,
					Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
						if dials.Add(1) == 1 {
							addr = refused
						}
						return (&net.Dialer{}).DialContext(ctx, network, addr)
					},
				})
				t.Cleanup(func() { client.Close() })
				st := newStore(client)
				v := stored(t, st)
				if _, ok, err := st.CompareAndSwap(ctx, "id", v, []byte(`{"n":2}`), exp); err != nil || !ok {
					t.Fatalf("CompareAndSwap whose first connection was refused: %v, %v; want it swapped", ok, err)
				}
			})
			t.Run("pool timeout", func(t *testing.T) {
				client := redis.NewClient(&redis.Options{
					Addr: srv.client(t).Options().Addr, MaxRetries: 2, MinRetryBackoff: time.Millisecond, MaxRetryBackoff: time.Millisecond,
					PoolSize: 1, PoolTimeout: 2 * time.Second,
				})
				t.Cleanup(func() { client.Close() })
				st := newStore(client)
				v := stored(t, st)
				// Another request holds the pool's only connection until
				// the swap has waited out the pool once.
				held := client.Conn()
				if err := held.Ping(ctx).Err(); err != nil {
					t.Fatal(err)
				}
				type result struct {
					ok  bool
					err error
				}
				done := make(chan result, 1)
				go func() {
					_, ok, err := st.CompareAndSwap(ctx, "id", v, []byte(`{"n":2}`), exp)
					done <- result{ok, err}
				}()
				for client.PoolStats().Timeouts == 0 {
					time.Sleep(5 * time.Millisecond)
				}
				held.Close()
				if r := <-done; r.err != nil || !r.ok {
					t.Fatalf("CompareAndSwap that waited out the pool once: %v, %v; want it swapped", r.ok, r.err)
				}
			})
			t.Run("no replicas", func(t *testing.T) {
				s := srv.start(t, "--min-replicas-to-write", "1")
				client := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: 2, MinRetryBackoff: time.Millisecond, MaxRetryBackoff: time.Millisecond})
				t.Cleanup(func() { client.Close() })
				st := newStore(client)
				if err := client.Set(ctx, st.Prefix()+"id", data, time.Hour).Err(); !redis.IsNoReplicasError(err) {
					t.Fatalf("SET on a master with min-replicas-to-write 1 and no replica: %v; want NOREPLICAS", err)
				}
				// The master refuses any write before it runs it, a SET
				// IFEQ on Redis 7 too (the store has not learnt yet that
				// the server lacks it). The version is the value itself.
				before := receivedCalls(t, s.Addr, "set")
				_, _, err := st.CompareAndSwap(ctx, "id", string(data), []byte(`{"n":2}`), exp)
				if !redis.IsNoReplicasError(err) {
					t.Fatalf("CompareAndSwap: %v; want NOREPLICAS", err)
				}
				if n := receivedCalls(t, s.Addr, "set") - before; n != 3 {
					t.Errorf("the master received %d set; want 3 (MaxRetries 2)", n)
				}
			})
		})
	}
}

// A create (SET NX) that finds the id taken by another client's session
// reports it taken even when that session's bytes are exactly the ones it
// would store (two new sessions of a GenerateID that repeats ids, written in
// one millisecond with the same values): only a create whose own first try
// may have stored them (its answer lost, and go-redis sent it again) reads
// them back as its own. It reported the create done, so two clients held
// one session: what one stored next (a login) the other read.
func TestACreateOfAnIDAnotherClientStoredIdenticalBytesUnderIsTaken(t *testing.T) {
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			first := newStore(srv.client(t))
			second := redisstore.New(srv.client(t), redisstore.WithPrefix(first.Prefix()))
			ctx := t.Context()
			data, exp := []byte(`{"cookie":{"originalMaxAge":3600000},"cart":"socks"}`), time.Now().Add(time.Hour)
			if _, ok, err := first.CompareAndSwap(ctx, "id", "", data, exp); err != nil || !ok {
				t.Fatalf("the first client's create: %v, %v", ok, err)
			}
			if v, ok, err := second.CompareAndSwap(ctx, "id", "", data, exp); err != nil || ok {
				t.Errorf("another client's create of the same id with the same bytes: version %q, created %v, %v; want the id taken", v, ok, err)
			}
		})
	}
}

// refusingClient returns a client of addr whose first refuse dials are
// refused, as a master's that has just died, and that counts its dials in
// dials. It dials once per try (DialerRetries 1), and sends a command again
// maxRetries times, with a backoff of a millisecond.
func refusingClient(t *testing.T, addr string, maxRetries int, refuse int32, dials *atomic.Int32) *redis.Client {
	return refusingClientThen(t, addr, maxRetries, refuse, dials, nil)
}

// refusingClientThen is refusingClient that calls refused, if not nil,
// at each dial it refuses.
func refusingClientThen(t *testing.T, addr string, maxRetries int, refuse int32, dials *atomic.Int32, refused func()) *redis.Client {
	t.Helper()
	nowhere := refusedAddr(t)
	client := redis.NewClient(&redis.Options{
		Addr: addr, MaxRetries: maxRetries, MinRetryBackoff: time.Millisecond, MaxRetryBackoff: time.Millisecond,
		DialerRetries: 1,
		Dialer: func(ctx context.Context, network, a string) (net.Conn, error) {
			if dials.Add(1) <= refuse {
				a = nowhere
				if refused != nil {
					refused()
				}
			}
			return (&net.Dialer{}).DialContext(ctx, network, a)
		},
	})
	t.Cleanup(func() { client.Close() })
	return client
}

// A create whose connection could not be made sent nothing: trying it again
// is its first send, not a second one that may find its own first write.
// The store took the tries after a refused connection for sends again once
// the client's retries for refused connections were spent, so a create
// that then found another client's session with exactly its bytes (a
// GenerateID that repeats ids, two new sessions in one millisecond) read it
// back and reported it its own: two clients held one session.
func TestACreateWhoseConnectionsWereRefusedDoesNotTakeAnotherClientsIdenticalSession(t *testing.T) {
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			ctx := t.Context()
			data, exp := []byte(`{"cookie":{"originalMaxAge":3600000},"cart":"socks"}`), time.Now().Add(time.Hour)
			var dials atomic.Int32
			// MaxRetries 1: two tries, both refused; the third dial would connect.
			st := newStore(refusingClient(t, srv.client(t).Options().Addr, 1, 2, &dials))
			other := redisstore.New(srv.client(t), redisstore.WithPrefix(st.Prefix()))
			if _, ok, err := other.CompareAndSwap(ctx, "id", "", data, exp); err != nil || !ok {
				t.Fatalf("the other client's create: %v, %v", ok, err)
			}
			if v, ok, err := st.CompareAndSwap(ctx, "id", "", data, exp); ok {
				t.Errorf("a create of an id another client stored identical bytes under, after refused connections: version %q, created, %v; want the id taken or an error", v, err)
			}
		})
	}
}

// A write whose connection is refused every time is tried once and then
// the client's MaxRetries times more, as go-redis tries a command, and no
// more: a create tried that many times again for each of those, so that
// it failed only after (MaxRetries+1)² dials, each up to the client's
// DialTimeout (5 s by default) times its DialerRetries.
func TestAWriteWhoseConnectionIsAlwaysRefusedIsTriedMaxRetriesPlusOneTimes(t *testing.T) {
	const maxRetries = 2
	ctx := t.Context()
	exp := time.Now().Add(time.Hour)
	for name, op := range map[string]func(st *redisstore.Store) error{
		"create": func(st *redisstore.Store) error {
			_, _, err := st.CompareAndSwap(ctx, "id", "", []byte(`{"n":1}`), exp)
			return err
		},
		"swap": func(st *redisstore.Store) error {
			_, _, err := st.CompareAndSwap(ctx, "id", `{"n":1}`, []byte(`{"n":2}`), exp)
			return err
		},
		"set": func(st *redisstore.Store) error { return st.Set(ctx, "id", []byte(`{"n":1}`), exp) },
		"touch": func(st *redisstore.Store) error {
			_, err := st.Touch(ctx, "id", exp)
			return err
		},
		"get-and-touch": func(st *redisstore.Store) error {
			_, _, _, err := st.GetAndTouch(ctx, "id", exp)
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			var dials atomic.Int32
			st := newStore(refusingClient(t, testserver.SharedRedis(t).Addr, maxRetries, math.MaxInt32, &dials))
			if err := op(st); err == nil {
				t.Fatal("a write whose every connection was refused succeeded")
			}
			if n := dials.Load(); n != maxRetries+1 {
				t.Errorf("%d dials; want %d (MaxRetries %d)", n, maxRetries+1, maxRetries)
			}
		})
	}
}

// resentWrites are the writes that set a session's TTL, each as a func that
// writes the session on st to expire at exp, on a server where it is
// stored as stored (what a swap expects). A session stored with a TTL
// reports ok with its version; one whose expiry has passed, ok and none
// (a swap, a create) or found false (a touch, a load).
var resentWrites = map[string]func(ctx context.Context, st *redisstore.Store, stored []byte, exp time.Time) (ok bool, err error){
	"set": func(ctx context.Context, st *redisstore.Store, _ []byte, exp time.Time) (bool, error) {
		return true, st.Set(ctx, "id", []byte(`{"n":2}`), exp)
	},
	"touch": func(ctx context.Context, st *redisstore.Store, _ []byte, exp time.Time) (bool, error) {
		return st.Touch(ctx, "id", exp)
	},
	"get-and-touch": func(ctx context.Context, st *redisstore.Store, _ []byte, exp time.Time) (bool, error) {
		_, _, found, err := st.GetAndTouch(ctx, "id", exp)
		return found, err
	},
	"create": func(ctx context.Context, st *redisstore.Store, _ []byte, exp time.Time) (bool, error) {
		_, ok, err := st.CompareAndSwap(ctx, "id", "", []byte(`{"n":2}`), exp)
		return ok, err
	},
	"swap": func(ctx context.Context, st *redisstore.Store, stored []byte, exp time.Time) (bool, error) {
		_, ok, err := st.CompareAndSwap(ctx, "id", string(stored), []byte(`{"n":2}`), exp)
		return ok, err
	},
}

// checkTTLAfterResend checks the session key after a write that was sent
// again once the store's clock had moved by moved towards exp, an hour
// after the first send: the key lives the time left at the second send
// (the first one's TTL less moved), and is gone once moved passes exp.
func checkTTLAfterResend(t *testing.T, direct *redis.Client, key string, moved time.Duration, ok bool, err error) {
	t.Helper()
	if err != nil || !ok && moved < time.Hour {
		t.Fatalf("the write sent again: %v, %v", ok, err)
	}
	ttl, err := direct.PTTL(t.Context(), key).Result()
	if err != nil {
		t.Fatal(err)
	}
	if moved >= time.Hour {
		if ttl != -2*time.Nanosecond && ttl != -2*time.Millisecond { // no such key
			t.Errorf("PTTL %v after a write sent again once its expiry had passed; want the session deleted", ttl)
		}
		return
	}
	if left := time.Hour - moved; ttl > left || ttl < left-time.Minute {
		t.Errorf("PTTL %v after a write sent again %v after its first send, which had an hour left; want the %v left then", ttl, moved, left)
	}
}

// A write that the store (or go-redis) sends again after its answer was
// lost carries the TTL left at that second send, on the store's clock: it
// carried the TTL computed before the first send, so that the session
// outlived its expiry by as long as the first try took (up to the
// client's ReadTimeout, 3 s by default), and a write whose expiry passed
// meanwhile stored the session for its whole first TTL instead of
// deleting it. (A create and a swap are not sent again after a lost
// answer: the first try may have run.)
func TestAWriteSentAgainAfterALostReplyCarriesTheTTLLeftAtThatSend(t *testing.T) {
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			for _, name := range []string{"set", "touch", "get-and-touch"} {
				for _, moved := range []time.Duration{30 * time.Minute, 2 * time.Hour} {
					t.Run(name+"/"+moved.String(), func(t *testing.T) {
						ctx := t.Context()
						direct := srv.client(t)
						p := testserver.StartProxy(t, direct.Options().Addr)
						viaProxy := redis.NewClient(&redis.Options{Addr: p.Addr, MinRetryBackoff: time.Millisecond, MaxRetryBackoff: time.Millisecond})
						t.Cleanup(func() { viaProxy.Close() })
						st := newStore(viaProxy)
						clock := testclock.New(time.Now())
						redisstore.SetClock(st, clock.Now)
						stored := []byte(`{"n":1}`)
						if err := direct.Set(ctx, st.Prefix()+"id", stored, 2*time.Hour).Err(); err != nil {
							t.Fatal(err)
						}
						command := map[string]string{"set": "set", "touch": "pexpire", "get-and-touch": "getex"}[name]
						p.LoseReply("\r\n"+command+"\r\n", func() { clock.Advance(moved) })
						ok, err := resentWrites[name](ctx, st, stored, clock.Now().Add(time.Hour))
						if p.LostReplies() != 1 {
							t.Fatalf("%d answers lost; want the first %s's", p.LostReplies(), command)
						}
						checkTTLAfterResend(t, direct, st.Prefix()+"id", moved, ok, err)
					})
				}
			}
		})
	}
}

// A write whose first connection was refused is sent again (by the store
// or by go-redis) with the TTL left at that second send, on the store's
// clock: it carried the TTL computed before the first try, which may have
// waited out the client's DialTimeout (5 s by default, times its
// DialerRetries) before it failed, and the session outlived its expiry by
// as much.
func TestAWriteSentAgainAfterARefusedConnectionCarriesTheTTLLeftAtThatSend(t *testing.T) {
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			for name, write := range resentWrites {
				for _, moved := range []time.Duration{30 * time.Minute, 2 * time.Hour} {
					t.Run(name+"/"+moved.String(), func(t *testing.T) {
						ctx := t.Context()
						direct := srv.client(t)
						clock := testclock.New(time.Now())
						var dials atomic.Int32
						st := newStore(refusingClientThen(t, direct.Options().Addr, 2, 1, &dials, func() { clock.Advance(moved) }))
						redisstore.SetClock(st, clock.Now)
						stored := []byte(`{"n":1}`)
						if name != "create" {
							if err := direct.Set(ctx, st.Prefix()+"id", stored, 2*time.Hour).Err(); err != nil {
								t.Fatal(err)
							}
						}
						ok, err := write(ctx, st, stored, clock.Now().Add(time.Hour))
						if dials.Load() < 2 {
							t.Fatalf("%d dials; want the first refused and another", dials.Load())
						}
						checkTTLAfterResend(t, direct, st.Prefix()+"id", moved, ok, err)
						if v, _ := direct.Get(ctx, st.Prefix()+"id").Bytes(); moved < time.Hour && !bytes.Equal(v, map[bool][]byte{true: stored, false: []byte(`{"n":2}`)}[name == "touch" || name == "get-and-touch"]) {
							t.Errorf("stored %s after the write", v)
						}
					})
				}
			}
		})
	}
}

// GetAndTouch on a server without GETEX (before Redis 6.2) is MGET and
// PEXPIRE in one pipeline, which the store sends again after a lost
// answer as it does GETEX: the session's value comes back, and the key
// lives the time left at that second send, or is gone once the expiry
// has passed meanwhile.
func TestGetAndTouchWithoutGetExSentAgainAfterALostReplyCarriesTheTTLLeftThen(t *testing.T) {
	srv := testserver.StartRedis(t, "--rename-command", "GETEX", "", "--rename-command", "GETDEL", "")
	direct := clientOf(t, srv)
	for _, moved := range []time.Duration{30 * time.Minute, 2 * time.Hour} {
		t.Run(moved.String(), func(t *testing.T) {
			ctx := t.Context()
			p := testserver.StartProxy(t, srv.Addr)
			viaProxy := redis.NewClient(&redis.Options{Addr: p.Addr, MinRetryBackoff: time.Millisecond, MaxRetryBackoff: time.Millisecond})
			t.Cleanup(func() { viaProxy.Close() })
			st := newStore(viaProxy)
			clock := testclock.New(time.Now())
			redisstore.SetClock(st, clock.Now)
			stored := []byte(`{"n":1}`)
			if err := direct.Set(ctx, st.Prefix()+"id", stored, 2*time.Hour).Err(); err != nil {
				t.Fatal(err)
			}
			// The first call finds GETEX missing; the pipeline is its second try.
			if _, _, found, err := st.GetAndTouch(ctx, "id", clock.Now().Add(time.Hour)); err != nil || !found {
				t.Fatalf("GetAndTouch: found %v, %v", found, err)
			}
			p.LoseReply("\r\npexpire\r\n", func() { clock.Advance(moved) })
			b, _, found, err := st.GetAndTouch(ctx, "id", clock.Now().Add(time.Hour))
			if p.LostReplies() != 1 {
				t.Fatalf("%d answers lost; want the first pipeline's", p.LostReplies())
			}
			if found && !bytes.Equal(b, stored) {
				t.Errorf("GetAndTouch sent again = %s; want %s", b, stored)
			}
			checkTTLAfterResend(t, direct, st.Prefix()+"id", moved, found, err)
		})
	}
}
