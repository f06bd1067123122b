package faults_test

import (
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/faults"
	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/redisstore"
)

// The size of every run: 200 users; the fault comes after before
// acknowledged writes and the run ends after more after it healed.
const (
	users  = 200
	before = 1000
	after  = 1000
)

// Driver timeouts of the Redis clients: every command gives up after at most
// (maxRetries+1) attempts of redisTimeout each, plus the retry backoffs.
const (
	redisTimeout = 200 * time.Millisecond
	maxRetries   = 1
)

// storeBound is the most a request may take while the store fails: the
// driver's limits for the two store calls of a write (read, then write),
// each (maxRetries+1) attempts of pool wait + dial + read, with the backoff,
// and a margin for a loaded machine.
const storeBound = 2*(maxRetries+1)*(3*redisTimeout+512*time.Millisecond) + 2*time.Second

var table struct {
	mu   sync.Mutex
	rows []faults.Report
}

// record logs rep and keeps it for the table TestMain prints.
func record(t *testing.T, rep faults.Report) {
	t.Helper()
	t.Log(rep)
	table.mu.Lock()
	table.rows = append(table.rows, rep)
	table.mu.Unlock()
}

func TestMain(m *testing.M) {
	if os.Getenv(boltChildEnv) != "" {
		os.Exit(boltChild())
	}
	code := m.Run()
	testserver.StopShared()
	if testing.Verbose() && len(table.rows) > 0 {
		fmt.Println(faults.TableHeader)
		for _, r := range table.rows {
			fmt.Println(r.Row())
		}
	}
	os.Exit(code)
}

// twoApps starts two app instances (two managers, two HTTP servers) on
// stores, one each (instances of one application share the data, not the
// connection pool), and returns their URLs.
func twoApps(t *testing.T, stores ...session.Store) []string {
	t.Helper()
	var urls []string
	for _, st := range stores {
		m, err := session.New(session.Options{
			Secrets: []string{faults.Secret},
			Store:   st,
			// Store errors are expected: keep them out of the test log.
			Logger: slog.New(slog.DiscardHandler),
		})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(faults.App(m))
		t.Cleanup(srv.Close)
		urls = append(urls, srv.URL)
	}
	return urls
}

// config is the run of every test, on urls.
func config(urls []string) faults.Config {
	return faults.Config{URLs: urls, Users: users, Before: before, After: after}
}

// redisOptions are the client settings every Redis client here uses.
func redisOptions(addr string) *redis.Options {
	return &redis.Options{
		Addr:        addr,
		DialTimeout: redisTimeout, ReadTimeout: redisTimeout, WriteTimeout: redisTimeout,
		PoolTimeout: redisTimeout, MaxRetries: maxRetries,
	}
}

// run runs cfg with inject and records the report, failing t on an error of the run.
func run(t *testing.T, name, store string, cfg faults.Config, inject func() error) faults.Report {
	t.Helper()
	rep, err := faults.Run(t.Context(), cfg, inject)
	rep.Fault, rep.Store = name, store
	if err != nil {
		t.Fatalf("%s: %v\npartial report: %v", name, err, rep)
	}
	record(t, rep)
	return rep
}

// checkNothingLost fails t if rep lost an acknowledged write.
func checkNothingLost(t *testing.T, rep faults.Report) {
	t.Helper()
	if rep.Lost > 0 || rep.Resets > 0 {
		t.Errorf("%d acknowledged writes lost, %d sessions gone: %v", rep.Lost, rep.Resets, rep.LostBySession)
	}
}

// checkBounded fails t if a request took longer than bound.
func checkBounded(t *testing.T, rep faults.Report, bound time.Duration) {
	t.Helper()
	if rep.Slowest > bound {
		t.Errorf("the slowest request took %v, more than %v", rep.Slowest, bound)
	}
}

func TestRedisKilledAndRestartedWithAppendFsyncAlwaysLosesNothing(t *testing.T) {
	srv := testserver.StartRedis(t, "--appendonly", "yes", "--appendfsync", "always")
	var stores []session.Store
	for range 2 {
		c := redis.NewClient(redisOptions(srv.Addr))
		t.Cleanup(func() { c.Close() })
		stores = append(stores, redisstore.New(c))
	}
	rep := run(t, "1. Redis killed (SIGKILL) and restarted, appendfsync always", "Redis", config(twoApps(t, stores...)), func() error {
		srv.Kill()
		time.Sleep(300 * time.Millisecond) // a down time the users notice
		srv.Restart(t)
		return nil
	})
	checkNothingLost(t, rep)
	checkBounded(t, rep, storeBound)
	if rep.Errors == 0 {
		t.Error("no request failed while Redis was down")
	}
}
