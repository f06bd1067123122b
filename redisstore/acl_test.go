package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/redisstore"
	"github.com/sessionkit/session/storetest"
)

// leastPrivilege is the ACL that the README gives an application's user
// of a store with session prefix prefix and user index prefix userPrefix
// ("sess:" and "sessuser:" by default): its keys, and the commands the
// store sends, each needed by some operation on Redis 7.0 and on Valkey
// 8.1 (TestLeastPrivilegeACLNeedsEachOfItsPermissions), which a Cluster's
// client adds +cluster|slots to, and a database other than 0 +select.
func leastPrivilege(prefix, userPrefix string) []string {
	return []string{
		"~" + prefix + "*", "~" + userPrefix + "*",
		// Sessions.
		"+get", "+set", "+del", "+pexpire", "+exists", "+getex", "+getdel",
		// Compare-and-swap without SET IFEQ, and one that deletes; the
		// user index.
		"+evalsha", "+eval",
		// IDs, Count, Clear.
		"+scan",
		// The user index: its scripts, and UnindexUserSession's
		// MULTI/EXEC.
		"+zadd", "+zrange", "+zrangebyscore", "+zrem", "+hset", "+hget", "+hdel", "+multi", "+exec",
		// The move of an earlier version's index keys, and an entry
		// whose expiry is +inf.
		"+rename", "+zunionstore", "+hgetall", "+persist",
	}
}

var aclUsers atomic.Int64

// aclUser creates on every server of addrs a user of its own whose ACL is
// exactly perms (after resetting its channels and commands), and returns
// its name; its password is "pw".
func aclUser(t testing.TB, addrs []string, perms []string) string {
	t.Helper()
	name := "app" + strconv.FormatInt(aclUsers.Add(1), 10)
	for _, addr := range addrs {
		args := append([]string{"ACL", "SETUSER", name, "reset", "on", ">pw", "resetchannels", "-@all"}, perms...)
		if _, err := testserver.RedisCommand(addr, args...); err != nil {
			t.Fatal(err)
		}
	}
	return name
}

// aclServers are the servers of the ACL tests: Redis 7.0, whose
// compare-and-swap runs a script, and Valkey 8.1, where it is SET IFEQ.
var aclServers = []struct {
	name  string
	start func(testing.TB, ...string) *testserver.Server
}{{"redis", testserver.StartRedis}, {"valkey", testserver.StartValkey}}

// A user whose ACL is exactly leastPrivilege of the store's prefixes gets
// through the whole conformance suite, on Redis and Valkey, one server
// and a Cluster (with clusterACL).
func TestLeastPrivilegeACLRunsTheConformanceSuite(t *testing.T) {
	for _, k := range aclServers {
		t.Run(k.name, func(t *testing.T) {
			srv := k.start(t) // its ACL changes
			storetest.Run(t, func(t *testing.T) session.Store {
				prefix := testserver.UniquePrefix() + "sess:"
				user := aclUser(t, []string{srv.Addr}, leastPrivilege(prefix, strings.TrimSuffix(prefix, "sess:")+"sessuser:"))
				c := redis.NewClient(&redis.Options{Addr: srv.Addr, Username: user, Password: "pw"})
				t.Cleanup(func() { c.Close() })
				return redisstore.New(c, redisstore.WithPrefix(prefix))
			})
		})
	}
	t.Run("cluster", func(t *testing.T) {
		cl := testserver.StartRedisCluster(t) // its ACL changes
		storetest.Run(t, func(t *testing.T) session.Store {
			prefix := testserver.UniquePrefix() + "sess:"
			user := aclUser(t, cl.Addrs(), append(leastPrivilege(prefix, strings.TrimSuffix(prefix, "sess:")+"sessuser:"), clusterACL...))
			c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs(), Username: user, Password: "pw"})
			t.Cleanup(func() { c.Close() })
			return redisstore.New(c, redisstore.WithPrefix(prefix))
		})
	})
}

// exercise runs every operation of st, through each path that sends
// commands of its own: a write whose expiry has passed (DEL, GETDEL, an
// EXISTS for a create, the script for a swap), a compare-and-swap, the
// user index with an expired entry to prune, with an earlier version's
// index keys to move (renamed, then merged) and with an entry that never
// expires; admin, a client of the default user, writes those keys.
func exercise(ctx context.Context, st *redisstore.Store, admin *redis.Client) error {
	doc := []byte(`{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"n":1}`)
	now := time.Now()
	later, past := now.Add(time.Hour), now.Add(-time.Hour)
	dead := now.Add(-session.IndexGrace - time.Hour) // an index entry to prune
	oldLayout := func(user, id string) error {
		// An earlier version's index keys, under the session prefix.
		k := st.Prefix() + "{user:" + user + "}"
		if err := admin.ZAdd(ctx, k, redis.Z{Score: float64(later.UnixMilli()), Member: id}).Err(); err != nil {
			return err
		}
		return admin.HSet(ctx, k+"used", id, now.UnixMilli()).Err()
	}
	var version string
	steps := []struct {
		name string
		do   func() error
	}{
		{"Set", func() error { return st.Set(ctx, "a", doc, later) }},
		{"Set of a passed expiry", func() error { return st.Set(ctx, "a2", doc, past) }},
		{"Get", func() error { _, _, err := st.Get(ctx, "a"); return err }},
		{"GetAndTouch", func() error { _, _, _, err := st.GetAndTouch(ctx, "a", later); return err }},
		{"GetAndTouch of a passed expiry", func() error { _, _, _, err := st.GetAndTouch(ctx, "a", past); return err }},
		{"Touch", func() error { _, err := st.Touch(ctx, "a", later); return err }},
		{"CompareAndSwap create", func() (err error) { version, _, err = st.CompareAndSwap(ctx, "c", "", doc, later); return err }},
		{"CompareAndSwap create of a passed expiry", func() error { _, _, err := st.CompareAndSwap(ctx, "c2", "", doc, past); return err }},
		{"CompareAndSwap", func() (err error) {
			var ok bool
			if version, ok, err = st.CompareAndSwap(ctx, "c", version, append(doc, ' '), later); err == nil && !ok {
				err = fmt.Errorf("no swap")
			}
			return err
		}},
		{"CompareAndSwap of a passed expiry", func() error {
			_, ok, err := st.CompareAndSwap(ctx, "c", version, doc, past)
			if err == nil && !ok {
				err = fmt.Errorf("no swap")
			}
			return err
		}},
		{"Destroy", func() error { return st.Destroy(ctx, "c") }},
		{"IDs", func() error { _, err := st.IDs(ctx); return err }},
		{"IndexUserSession", func() error { return st.IndexUserSession(ctx, "ann", "s1", now, later) }},
		{"IndexUserSession of an expired entry", func() error { return st.IndexUserSession(ctx, "ann", "s0", now, dead) }},
		{"IndexUserSession that prunes", func() error { return st.IndexUserSession(ctx, "ann", "s2", now, later) }},
		{"UserSessions", func() error { return st.UserSessions(ctx, "ann", func(string, time.Time, time.Time, []byte) {}) }},
		{"UnindexUserSession", func() error { return st.UnindexUserSession(ctx, "ann", "s1") }},
		{"earlier index keys", func() error { return oldLayout("bob", "s3") }},
		{"IndexUserSession that moves the earlier keys", func() error { return st.IndexUserSession(ctx, "bob", "s4", now, later) }},
		{"earlier index keys again", func() error { return oldLayout("bob", "s5") }},
		{"IndexUserSession that merges the earlier keys", func() error { return st.IndexUserSession(ctx, "bob", "s6", now, later) }},
		{"an entry that never expires", func() error {
			return admin.ZAdd(ctx, st.UserIndexPrefix()+"{user:cid}", redis.Z{Score: math.Inf(1), Member: "s7"}).Err()
		}},
		{"IndexUserSession beside it", func() error { return st.IndexUserSession(ctx, "cid", "s8", now, later) }},
		{"Clear", func() error { return st.Clear(ctx) }},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return nil
}

// Each permission of leastPrivilege is needed: with the whole list every
// operation works (exercise), and without any one of them some operation
// fails with the server's refusal, on Redis and on Valkey (from an empty
// script cache, as after a restart or a failover). A database other than
// 0 needs +select, WithReplicas +wait; a Cluster's client needs
// clusterACL (without +command it works, at the cost of a refused COMMAND
// to every node before each command), and one that reads from replicas
// +readonly too.
func TestLeastPrivilegeACLNeedsEachOfItsPermissions(t *testing.T) {
	for _, k := range aclServers {
		t.Run(k.name, func(t *testing.T) {
			srv := k.start(t) // its ACL and script cache change
			admin := clientOf(t, srv)
			run := func(t *testing.T, perms []string, db int) error {
				prefix := testserver.UniquePrefix() + "sess:"
				all := leastPrivilege(prefix, strings.TrimSuffix(prefix, "sess:")+"sessuser:")
				if perms == nil {
					perms = all
				}
				perms = slices.Clone(perms)
				for i, p := range perms { // the key patterns given as ~sess:* and ~sessuser:*
					perms[i] = strings.NewReplacer("~sess:", "~"+prefix, "~sessuser:", "~"+strings.TrimSuffix(prefix, "sess:")+"sessuser:").Replace(p)
				}
				user := aclUser(t, []string{srv.Addr}, perms)
				if err := admin.ScriptFlush(t.Context()).Err(); err != nil {
					t.Fatal(err)
				}
				c := redis.NewClient(&redis.Options{Addr: srv.Addr, Username: user, Password: "pw", DB: db, MaxRetries: -1})
				t.Cleanup(func() { c.Close() })
				dbAdmin := redis.NewClient(&redis.Options{Addr: srv.Addr, DB: db})
				t.Cleanup(func() { dbAdmin.Close() })
				return exercise(t.Context(), redisstore.New(c, redisstore.WithPrefix(prefix)), dbAdmin)
			}
			if err := run(t, nil, 0); err != nil {
				t.Fatalf("with the whole ACL: %v", err)
			}
			full := leastPrivilege("sess:", "sessuser:")
			for i, p := range full {
				without := slices.Delete(slices.Clone(full), i, i+1)
				err := run(t, without, 0)
				switch {
				case err == nil:
					t.Errorf("without %s every operation worked: the ACL need not list it", p)
				case !isRefusal(err):
					t.Errorf("without %s: %v, want the server's refusal", p, err)
				default:
					t.Logf("without %s: %v", p, err)
				}
			}
			if err := run(t, append(slices.Clone(full), "+select"), 2); err != nil {
				t.Errorf("database 2 with +select: %v", err)
			}
			if err := run(t, full, 2); err == nil || !strings.Contains(err.Error(), "'select'") {
				t.Errorf("database 2 without +select: %v, want the server's refusal of SELECT", err)
			}
			// WithReplicas: WAIT, which a server without replicas answers
			// with none (ErrNotReplicated), or refuses.
			for _, extra := range [][]string{{"+wait"}, nil} {
				prefix := testserver.UniquePrefix() + "sess:"
				user := aclUser(t, []string{srv.Addr}, append(leastPrivilege(prefix, strings.TrimSuffix(prefix, "sess:")+"sessuser:"), extra...))
				c := redis.NewClient(&redis.Options{Addr: srv.Addr, Username: user, Password: "pw", MaxRetries: -1})
				t.Cleanup(func() { c.Close() })
				st := redisstore.New(c, redisstore.WithPrefix(prefix), redisstore.WithReplicas(1, 10*time.Millisecond))
				err := st.Set(t.Context(), "a", []byte(`{}`), time.Now().Add(time.Hour))
				switch {
				case extra != nil && !errors.Is(err, redisstore.ErrNotReplicated):
					t.Errorf("Set WithReplicas with +wait on a server without replicas: %v, want ErrNotReplicated", err)
				case extra == nil && (err == nil || !strings.Contains(err.Error(), "'wait'")):
					t.Errorf("Set WithReplicas without +wait: %v, want the server's refusal of WAIT", err)
				}
			}
		})
	}
	t.Run("cluster", func(t *testing.T) {
		ctx := t.Context()
		cl := testserver.StartRedisCluster(t) // its ACL changes
		type client struct {
			perms    []string
			readOnly bool
		}
		set := func(t *testing.T, c client) (rejectedCommand int, err error) {
			prefix := testserver.UniquePrefix() + "sess:"
			user := aclUser(t, cl.Addrs(), append(leastPrivilege(prefix, strings.TrimSuffix(prefix, "sess:")+"sessuser:"), c.perms...))
			rc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs(), Username: user, Password: "pw", ReadOnly: c.readOnly})
			t.Cleanup(func() { rc.Close() })
			st := redisstore.New(rc, redisstore.WithPrefix(prefix))
			before := rejectedCalls(t, cl.Addrs(), "command")
			for i := range 10 {
				if err = st.Set(ctx, strconv.Itoa(i), []byte(`{}`), time.Now().Add(time.Hour)); err != nil {
					break
				}
			}
			return rejectedCalls(t, cl.Addrs(), "command") - before, err
		}
		if rejected, err := set(t, client{perms: clusterACL}); err != nil || rejected != 0 {
			t.Errorf("10 Sets through a Cluster client with %v: %v, %d COMMAND refused; want no error, none refused", clusterACL, err, rejected)
		}
		if _, err := set(t, client{perms: []string{"+command"}}); err == nil || !strings.Contains(err.Error(), "cluster|slots") {
			t.Errorf("Set through a Cluster client without +cluster|slots: %v, want the server's refusal of CLUSTER SLOTS", err)
		}
		// Without COMMAND, which the client asks before each command
		// (for its routing) until it has an answer, every command costs
		// a round trip to each node more, and a log line.
		if rejected, err := set(t, client{perms: []string{"+cluster|slots"}}); err != nil || rejected < 10 {
			t.Errorf("10 Sets through a Cluster client without +command: %v, %d COMMAND refused; want no error and at least one COMMAND refused per Set", err, rejected)
		}
		// A client that reads from replicas sends READONLY on each new
		// connection.
		if _, err := set(t, client{perms: append(slices.Clone(clusterACL), "+readonly"), readOnly: true}); err != nil {
			t.Errorf("Set through a ReadOnly Cluster client with +readonly: %v", err)
		}
		if _, err := set(t, client{perms: clusterACL, readOnly: true}); err == nil || !strings.Contains(err.Error(), "'readonly'") {
			t.Errorf("Set through a ReadOnly Cluster client without +readonly: %v, want the server's refusal of READONLY", err)
		}
	})
}

// clusterACL is what a Cluster's client adds to leastPrivilege: CLUSTER
// SLOTS, which gives it the Cluster's layout, and COMMAND, which gives it
// the commands' routing.
var clusterACL = []string{"+cluster|slots", "+command"}

// isRefusal reports the server's refusal of a command or key to the
// user's ACL: NOPERM, or within a script "ERR ACL failure in script"
// (Valkey) or "ERR The user executing the script can't run this command"
// (Redis 7.0).
func isRefusal(err error) bool {
	m := err.Error()
	return strings.Contains(m, "NOPERM") || strings.Contains(m, "ACL failure in script") ||
		strings.Contains(m, "The user executing the script can't run this command")
}

// rejectedCalls returns how many times the servers of addrs refused
// command (INFO commandstats' rejected_calls).
func rejectedCalls(t *testing.T, addrs []string, command string) int {
	t.Helper()
	n := 0
	for _, addr := range addrs {
		info, err := testserver.RedisCommand(addr, "INFO", "commandstats")
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.SplitSeq(info, "\n") {
			rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_"+command+":")
			if !ok {
				continue
			}
			for field := range strings.SplitSeq(rest, ",") {
				if v, ok := strings.CutPrefix(field, "rejected_calls="); ok {
					r, _ := strconv.Atoi(v)
					n += r
				}
			}
		}
	}
	return n
}
