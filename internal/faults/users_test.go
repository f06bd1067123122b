package faults_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/faults"
	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/redisstore"
)

// Fault 9: sessions that belong to users, under faults on the store's
// connection. Devices of a few accounts log in (RenewID and SetUser, under
// MaxSessionsPerUser), write, read and log out, and a client logs each
// account out everywhere in turn (DestroyUserSessions), while the proxy in
// front of the store stalls all traffic, then resets every connection,
// then loses the answers and the requests of store commands that carry a
// user id (session documents of a user, index writes, listings, index
// removals), then of every command, then slows every round trip (see
// usersUnderFaults; bbolt, in the app's process, has its app killed and
// restarted instead). At the end (see internal/faults/users.go) every
// cookie ever held is presented again and every account's sessions
// listed: no session logged in before a log-out-everywhere that succeeded
// still works, no account has more working sessions than the cap,
// UserSessions lists every working session, and no login that failed
// closed set or cleared a cookie; no request took longer than userBound.

const (
	// userDevices devices of userAccounts accounts, under a cap of
	// userCap sessions each: four devices per account, two sessions.
	userDevices, userAccounts, userCap = 24, 6, 2
	// userBefore and userAfter are the acknowledged requests before the
	// faults and after they healed; userStall and userDrop the requests
	// answered while the network is stalled and while it resets
	// connections; userLost those while it loses answers and requests.
	userBefore, userAfter           = 120, 120
	userStall, userDrop, userLost   = userDevices, userDevices, 100
	lostUserEvery, droppedUserEvery = 5, 8
	// lostAnyEvery, droppedAnyEvery: the same for every store command
	// (the fourth phase's).
	lostAnyEvery, droppedAnyEvery = 7, 11
	// userSlow requests answered while every round trip to the store
	// takes userDelay more each way.
	userSlow  = userDevices
	userDelay = 20 * time.Millisecond
)

// userBound is the most a request of the user load may take: a login
// makes up to three store calls in a row that can each run out of the
// store timeout (its load, its write or its trim, and the removal of a
// login whose trim failed, which gets a StoreTimeout of its own), a "log
// out everywhere" runs under faults.LogoutAllTimeout; with the harness's
// margin for a loaded machine.
const userBound = max(3*storeTimeout, faults.LogoutAllTimeout) + 2*time.Second

// userConfig is the run of fault 9 on urls.
func userConfig(urls []string) faults.Config {
	return faults.Config{URLs: urls, Users: userDevices, Before: userBefore, After: userAfter,
		Accounts: userAccounts, MaxSessionsPerUser: userCap}
}

// userApps starts the two app instances of fault 9 on stores, with
// MaxSessionsPerUser and the store timeout.
func userApps(t *testing.T, timeout time.Duration, stores ...session.Store) []string {
	t.Helper()
	return twoAppsWith(t, func(o *session.Options) {
		o.StoreTimeout = timeout
		o.MaxSessionsPerUser = userCap
		o.ErrorHandler = errorInAnswer
	}, stores...)
}

// errorInAnswer is the ErrorHandler of fault 9's apps: the error in the
// answer, so that the harness tells a login that failed closed
// (MaxSessionsPerUser) from other failures.
func errorInAnswer(w http.ResponseWriter, _ *http.Request, err error) {
	http.Error(w, err.Error(), http.StatusInternalServerError)
}

// usersUnderFaults runs cfg with the faults of fault 9 on proxies (the
// stall on the first, the resets on the second, the lost answers on the
// third, in turn: with one proxy, all on it), and asserts the promises.
// The lost answers are those of the commands that carry a user id (every
// lostUserEvery-th of them; every droppedUserEvery-th lost before the
// server) for lost requests, then, for lostAny requests, of every command
// that holds any, a match that every command of the store holds (its key prefix,
// collection or statement name): loads, destroys and the removals too.
// Last, for slow requests, every proxy delays its traffic by userDelay
// each way.
func usersUnderFaults(t *testing.T, row, store string, proxies []*testserver.Proxy, any string, cfg faults.Config, stall, drop, lost, lostAny, slow int) faults.Report {
	t.Helper()
	cfg.NotApp = func() int {
		n := 0
		for _, p := range proxies {
			n += p.Goroutines()
		}
		return n
	}
	pick := func(i int) *testserver.Proxy { return proxies[i%len(proxies)] }
	var what []string
	for _, f := range []struct {
		n    int
		what string
	}{{stall, "stalls"}, {drop, "resets"}, {lost + lostAny, "loses answers"}, {slow, "slows"}} {
		if f.n > 0 {
			what = append(what, f.what)
		}
	}
	name := fmt.Sprintf("9%s. %s: users log in and out (everywhere) while the network %s", row, store, strings.Join(what, ", "))
	rep, err := faults.Run(t.Context(), cfg, func(l *faults.Live) error {
		for i, phase := range []struct {
			start    func(*testserver.Proxy)
			requests int
			all      bool // on every proxy
		}{
			{(*testserver.Proxy).Stall, stall, false},
			{(*testserver.Proxy).Drop, drop, false},
			{func(p *testserver.Proxy) {
				p.LoseReplies(faults.UserMatch, lostUserEvery)
				p.LoseRequests(faults.UserMatch, droppedUserEvery)
			}, lost, false},
			{func(p *testserver.Proxy) {
				p.LoseReplies(any, lostAnyEvery)
				p.LoseRequests(any, droppedAnyEvery)
			}, lostAny, false},
			// Slow: every round trip of the logins takes longer, so
			// more of them interleave (their trims, the log-outs
			// everywhere).
			{func(p *testserver.Proxy) { p.Delay(userDelay) }, slow, true},
		} {
			if phase.requests == 0 {
				continue
			}
			on := []*testserver.Proxy{pick(i)}
			if phase.all {
				on = proxies
			}
			began := time.Now()
			for _, p := range on {
				phase.start(p)
			}
			err := l.WaitRequests(phase.requests)
			for _, p := range on {
				p.Heal()
			}
			t.Logf("fault phase %d: %d requests in %v", i, phase.requests, time.Since(began).Round(time.Millisecond))
			if err != nil {
				return err
			}
		}
		return nil
	})
	rep.Fault, rep.Store = name, store
	for _, p := range proxies {
		rep.RepliesLost += p.LostReplies()
		rep.RequestsLost += p.LostRequests()
	}
	if err != nil {
		t.Fatalf("%s: %v\npartial report: %v", name, err, rep)
	}
	record(t, rep)
	if lost+lostAny > 0 && rep.RepliesLost+rep.RequestsLost == 0 {
		t.Errorf("the proxy lost no answer and no request: the fault was not injected (does %q still match?)", faults.UserMatch)
	}
	checkUserPromises(t, rep)
	return rep
}

// checkUserPromises fails t if rep, a run of fault 9, broke a promise.
func checkUserPromises(t *testing.T, rep faults.Report) {
	t.Helper()
	u := rep.UsersReport
	if u.Logins == 0 || u.LoggedOutEverywhere == 0 || u.Working == 0 {
		t.Errorf("the load did not do what it is for: %d logins, %d of them followed by a successful log-out-everywhere, %d working sessions at the end", u.Logins, u.LoggedOutEverywhere, u.Working)
	}
	if u.SurvivedLogoutAll > 0 || u.OverCap > 0 || u.Unlisted > 0 {
		t.Errorf("%d sessions survived a log-out-everywhere, %d users over the cap of %d, %d working sessions unlisted:\n%s",
			u.SurvivedLogoutAll, u.OverCap, userCap, u.Unlisted, strings.Join(u.Problems, "\n"))
	}
	// A login that failed closed set no cookie, nor cleared one.
	if u.FailedClosedCookies > 0 {
		t.Errorf("%d logins that failed closed set or cleared the session cookie:\n%s", u.FailedClosedCookies, strings.Join(u.Problems, "\n"))
	}
	// Within a session that was not ended, nothing acknowledged is lost.
	if rep.Lost > 0 {
		t.Errorf("%d acknowledged writes lost: %v", rep.Lost, rep.LostBySession)
	}
}

func TestRedisUsersUnderFaultsKeepTheirPromises(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t)
	proxy := testserver.StartProxy(t, srv.Addr)
	var stores []session.Store
	for range 2 {
		c := redis.NewClient(redisOptions(proxy.Addr))
		t.Cleanup(func() { c.Close() })
		stores = append(stores, redisstore.New(c))
	}
	rep := usersUnderFaults(t, "a", "Redis", []*testserver.Proxy{proxy}, "sess", userConfig(userApps(t, storeTimeout, stores...)), userStall, userDrop, userLost, userLost, userSlow)
	checkBounded(t, rep, userBound)
}

func TestRedisClusterUsersUnderFaultsKeepTheirPromises(t *testing.T) {
	t.Parallel()
	c := testserver.StartRedisCluster(t)
	// A proxy in front of each node: the client dials a node's proxy
	// whatever address the cluster gives it. Sessions and their users'
	// index keys are on different nodes, and each fault hits one node.
	to := map[string]string{}
	var proxies []*testserver.Proxy
	for _, n := range c.Nodes {
		p := testserver.StartProxy(t, n.Addr)
		to[n.Addr] = p.Addr
		proxies = append(proxies, p)
	}
	var stores []session.Store
	for range 2 {
		client := redis.NewClusterClient(&redis.ClusterOptions{
			Addrs:                 c.Addrs(),
			ContextTimeoutEnabled: true,
			Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
				if p, ok := to[addr]; ok {
					addr = p
				}
				var d net.Dialer
				return d.DialContext(ctx, network, addr)
			},
		})
		t.Cleanup(func() { client.Close() })
		stores = append(stores, redisstore.New(client))
	}
	// One node of three misbehaves at a time, so a phase lasts three
	// times as many requests for as many to meet the fault.
	rep := usersUnderFaults(t, "b", "Redis Cluster", proxies, "sess", userConfig(userApps(t, storeTimeout, stores...)), 3*userStall, 3*userDrop, 2*userLost, 2*userLost, userSlow)
	checkBounded(t, rep, userBound)
}

func TestPostgresUsersUnderFaultsKeepTheirPromises(t *testing.T) {
	t.Parallel()
	srv := testserver.SharedPostgres(t)
	dsn := srv.NewDatabase(t)
	proxy := testserver.StartProxy(t, srv.Addr)
	stores := pgStores(t, strings.Replace(dsn, srv.Addr, proxy.Addr, 1))
	rep := usersUnderFaults(t, "c", "PostgreSQL", []*testserver.Proxy{proxy}, "stmtcache_", userConfig(userApps(t, storeTimeout, stores...)), userStall, userDrop, userLost, userLost, userSlow)
	checkBounded(t, rep, userBound)
}

func TestMongoUsersUnderFaultsKeepTheirPromises(t *testing.T) {
	t.Parallel()
	srv := testserver.SharedMongo(t)
	_, db := srv.NewDatabase(t)
	proxy := testserver.StartProxy(t, srv.Addr)
	stores := twoMongoStores(t, "mongodb://"+proxy.Addr+"/?directConnection=true", db)
	// FerretDB's pace (see faults 7a and 8d): few devices, its store
	// timeout, no stall (each stalled request would wait it out), a
	// request budget of its size.
	cfg := userConfig(userApps(t, mongoStoreTimeout, stores...))
	cfg.Users, cfg.Accounts, cfg.Timeout = 8, 2, 6*mongoStoreTimeout
	cfg.Before, cfg.After = 16, 16
	rep := usersUnderFaults(t, "d", "MongoDB (FerretDB)", []*testserver.Proxy{proxy}, "sessions", cfg, 0, 0, 0, 24, 0)
	checkBounded(t, rep, 3*mongoStoreTimeout+2*time.Second)
}

func TestBoltUsersAcrossAnAppKilledKeepTheirPromises(t *testing.T) {
	t.Parallel()
	// bbolt is in the app's process: no connection to misbehave. The
	// fault is the crash of fault 5, the app killed (SIGKILL) during the
	// logins and started again on its file.
	app := &boltApp{db: filepath.Join(t.TempDir(), "sessions.db"), env: []string{boltCapEnv + "=" + strconv.Itoa(userCap)}}
	t.Cleanup(app.kill)
	if err := app.start(""); err != nil {
		t.Fatal(err)
	}
	cfg := userConfig(app.urls)
	rep, err := faults.Run(t.Context(), cfg, func(l *faults.Live) error {
		for range 2 {
			if err := app.killAndRestart(l); err != nil {
				return err
			}
			if err := l.WaitRequests(userDevices); err != nil {
				return err
			}
		}
		return nil
	})
	rep.Fault, rep.Store = "9e. bbolt: users log in and out (everywhere) while the app is killed (SIGKILL) twice and restarted", "bbolt"
	if err != nil {
		t.Fatalf("%s: %v\npartial report: %v", rep.Fault, err, rep)
	}
	record(t, rep)
	checkUserPromises(t, rep)
	if rep.Errors == 0 {
		t.Error("no request failed while the app was down")
	}
}
