package redisstore_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/redisstore"
)

// embedsClient is a user's client type that embeds *redis.Client, say to
// add a method or two, or to instrument some of its commands.
type embedsClient struct{ *redis.Client }

// wrapsClient is a user's client type that wraps any UniversalClient, say
// for instrumentation, without saying what client it holds.
type wrapsClient struct{ redis.UniversalClient }

// noopHook is a hook that passes every command on, as an instrumentation
// hook does.
type noopHook struct{}

func (noopHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (noopHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { return next(ctx, cmd) }
}
func (noopHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { return next(ctx, cmds) }
}

// clientKinds are the kinds of client of one server a user can give New,
// each made from opt, with the number of times the store must send a
// write again after a lost answer: the client's MaxRetries, or go-redis's
// default (3) for a client that does not say what it holds.
var clientKinds = []struct {
	name    string
	make    func(opt *redis.Options) redis.UniversalClient
	retries func(opt *redis.Options) int
}{
	{"NewClient", func(opt *redis.Options) redis.UniversalClient { return redis.NewClient(opt) }, maxRetriesOf},
	{"NewUniversalClient", func(opt *redis.Options) redis.UniversalClient {
		return redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{opt.Addr},
			MaxRetries: opt.MaxRetries, MinRetryBackoff: opt.MinRetryBackoff, MaxRetryBackoff: opt.MaxRetryBackoff})
	}, maxRetriesOf},
	{"NewClient with a hook", func(opt *redis.Options) redis.UniversalClient {
		c := redis.NewClient(opt)
		c.AddHook(noopHook{})
		return c
	}, maxRetriesOf},
	{"a type embedding *redis.Client", func(opt *redis.Options) redis.UniversalClient {
		return embedsClient{redis.NewClient(opt)}
	}, maxRetriesOf},
	{"a type wrapping a UniversalClient", func(opt *redis.Options) redis.UniversalClient {
		return wrapsClient{redis.NewClient(opt)}
	}, func(*redis.Options) int { return redisstore.DefaultMaxRetries }},
}

func maxRetriesOf(opt *redis.Options) int { return opt.MaxRetries }

// lostReplyWrites are the writes the store sends again after a lost
// answer, with the command each sends, on a session stored as `{"n":1}`
// (but for a create, which finds none).
var lostReplyWrites = []struct{ name, command string }{
	{"set", "set"}, {"touch", "pexpire"}, {"get-and-touch", "getex"}, {"create", "nx"},
}

// A write whose answer was lost (Set, Touch, GetAndTouch, a create) is
// sent again, with any kind of client: go-redis sent it again before the
// store sent them as commands it must not resend and took over sending
// them again, which it did only for a client of go-redis's own types, so
// that through a user's type that embeds *redis.Client or wraps a
// UniversalClient (for instrumentation, say) each such write failed on
// the first lost answer: the save or load answered 500, where go-redis had
// sent it again.
func TestAWriteWhoseReplyWasLostIsSentAgainThroughEveryKindOfClient(t *testing.T) {
	direct := standalone(t)
	for _, kind := range clientKinds {
		for _, w := range lostReplyWrites {
			t.Run(kind.name+"/"+w.name, func(t *testing.T) {
				ctx := t.Context()
				p := testserver.StartProxy(t, direct.Options().Addr)
				client := kind.make(&redis.Options{Addr: p.Addr, MinRetryBackoff: time.Millisecond, MaxRetryBackoff: time.Millisecond})
				t.Cleanup(func() { client.Close() })
				st := newStore(client)
				stored := []byte(`{"n":1}`)
				if w.name != "create" {
					if err := direct.Set(ctx, st.Prefix()+"id", stored, time.Hour).Err(); err != nil {
						t.Fatal(err)
					}
				}
				p.LoseReply("\r\n"+w.command+"\r\n", nil)
				ok, err := resentWrites[w.name](ctx, st, stored, time.Now().Add(time.Hour))
				if p.LostReplies() != 1 {
					t.Fatalf("%d answers lost; want the first %s's", p.LostReplies(), w.command)
				}
				if err != nil || !ok {
					t.Errorf("%s whose first answer was lost: %v, %v; want it sent again and done", w.name, ok, err)
				}
			})
		}
	}
}

// A write whose every answer is lost is tried once and then as many times
// more as the client's MaxRetries says (go-redis's default, 3, for a
// client whose options the store cannot read), as go-redis tried it
// before the store sent it again itself; a swap, which may have run, is
// tried once. Through a user's type embedding *redis.Client or wrapping a
// UniversalClient each was tried once.
func TestAWriteWhoseRepliesAreAlwaysLostIsTriedAsTheClientsMaxRetriesSay(t *testing.T) {
	direct := standalone(t)
	for _, kind := range clientKinds {
		for _, w := range lostReplyWritesAndSwap() {
			t.Run(kind.name+"/"+w.name, func(t *testing.T) {
				p := testserver.StartProxy(t, direct.Options().Addr)
				opt := &redis.Options{Addr: p.Addr, MaxRetries: 1, MinRetryBackoff: time.Millisecond, MaxRetryBackoff: time.Millisecond}
				client := kind.make(opt)
				t.Cleanup(func() { client.Close() })
				n := triesWithEveryAnswerLost(t, direct, p, newStore(client), w)
				want := kind.retries(opt) + 1
				if w.name == "swap" {
					want = 1
				}
				if n != want {
					t.Errorf("%s tried %d times; want %d", w.name, n, want)
				}
			})
		}
	}
}

// The retry settings the store takes for a client whose options it cannot
// read are go-redis's defaults, those of a client (and a Cluster's
// MaxRedirects) given none.
func TestRetrySettingsOfAClientOfUnknownTypeAreGoRedisDefaults(t *testing.T) {
	c := redis.NewClient(&redis.Options{})
	defer c.Close()
	o := c.Options()
	if o.MaxRetries != redisstore.DefaultMaxRetries || o.MinRetryBackoff != redisstore.DefaultMinRetryBackoff || o.MaxRetryBackoff != redisstore.DefaultMaxRetryBackoff {
		t.Errorf("the store's defaults: MaxRetries %d, backoff %v to %v; go-redis's: %d, %v to %v",
			redisstore.DefaultMaxRetries, redisstore.DefaultMinRetryBackoff, redisstore.DefaultMaxRetryBackoff,
			o.MaxRetries, o.MinRetryBackoff, o.MaxRetryBackoff)
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}})
	defer cc.Close()
	if co := cc.Options(); co.MaxRedirects != redisstore.DefaultMaxRetries || co.MinRetryBackoff != redisstore.DefaultMinRetryBackoff || co.MaxRetryBackoff != redisstore.DefaultMaxRetryBackoff {
		t.Errorf("the store's defaults: %d retries, backoff %v to %v; a go-redis Cluster's: MaxRedirects %d, %v to %v",
			redisstore.DefaultMaxRetries, redisstore.DefaultMinRetryBackoff, redisstore.DefaultMaxRetryBackoff,
			co.MaxRedirects, co.MinRetryBackoff, co.MaxRetryBackoff)
	}
}

// embedsCluster is a user's client type that embeds *redis.ClusterClient.
type embedsCluster struct{ *redis.ClusterClient }

// IDs, Count and Clear walk every master of a Cluster also through a
// user's type that embeds *redis.ClusterClient: the store took any client
// but go-redis's own Cluster and Ring types for a single server, and sent
// SCAN through it, which a Cluster client sends to one master: IDs and
// Count missed the sessions of the others, and Clear left them stored.
func TestListingThroughATypeEmbeddingAClusterClientSeesEveryMaster(t *testing.T) {
	ctx := t.Context()
	st := newStore(embedsCluster{cluster(t)})
	for i := range 50 { // 50 keys land on all three masters
		if err := st.Set(ctx, "id"+strconv.Itoa(i), []byte(`{}`), time.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := st.Count(ctx); n != 50 || err != nil {
		t.Errorf("Count = %d, %v; want 50", n, err)
	}
	if err := st.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := redisstore.New(cluster(t), redisstore.WithPrefix(st.Prefix())).Count(ctx); n != 0 || err != nil {
		t.Errorf("Count after Clear = %d, %v; want 0", n, err)
	}
}

// WithReplicas works through a user's type that embeds *redis.Client as it
// does through the client: the store refused every write of any type but
// go-redis's *redis.Client and *redis.ClusterClient.
func TestWithReplicasThroughATypeEmbeddingAClientWaits(t *testing.T) {
	master, _ := replicatedPair(t, testserver.StartRedis)
	st := newStore(embedsClient{clientOf(t, master)}, redisstore.WithReplicas(1, 5*time.Second))
	ctx := t.Context()
	before := receivedCalls(t, master.Addr, "wait")
	if err := st.Set(ctx, "id", []byte(`{"n":1}`), time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("Set with WithReplicas through a type embedding *redis.Client: %v", err)
	}
	if n := receivedCalls(t, master.Addr, "wait") - before; n != 1 {
		t.Errorf("the master received %d WAIT; want 1", n)
	}
}

// lostReplyWritesAndSwap is lostReplyWrites and a compare-and-swap, which
// the store never sends again after a lost answer (it may have run).
func lostReplyWritesAndSwap() []struct{ name, command string } {
	return append(lostReplyWrites[:len(lostReplyWrites):len(lostReplyWrites)], struct{ name, command string }{"swap", "evalsha"})
}

// triesWithEveryAnswerLost sends write w through st, whose client talks to
// direct's server through p, with every answer to w's command lost, and
// returns how many times the command went out. A session is stored first
// for the writes that change one; for a swap, one swap runs first, so that
// a store on Redis 7 has learnt that it lacks SET IFEQ and the swap counted
// is the script.
func triesWithEveryAnswerLost(t *testing.T, direct *redis.Client, p *testserver.Proxy, st *redisstore.Store, w struct{ name, command string }) int {
	t.Helper()
	ctx := t.Context()
	stored := []byte(`{"n":1}`)
	if w.name != "create" {
		if err := direct.Set(ctx, st.Prefix()+"id", stored, time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if w.name == "swap" {
		if _, _, err := st.CompareAndSwap(ctx, "id", string(stored), stored, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	p.LoseReplies("\r\n"+w.command+"\r\n", 1)
	if _, err := resentWrites[w.name](ctx, st, stored, time.Now().Add(time.Hour)); err == nil {
		t.Fatalf("%s whose every answer was lost succeeded", w.name)
	}
	return p.LostReplies()
}
