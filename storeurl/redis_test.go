package storeurl_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/redisstore"
	"github.com/sessionkit/session/storeurl"
)

// openNetStore opens rawURL and closes it with the test.
func openNetStore(t *testing.T, rawURL string) session.Store {
	t.Helper()
	st, closer, err := storeurl.Open(t.Context(), rawURL)
	if err != nil {
		t.Fatalf("Open(%q): %v", rawURL, err)
	}
	t.Cleanup(func() {
		if err := closer.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return st
}

// netRoundTrip stores and reads back a session through st.
func netRoundTrip(t *testing.T, st session.Store, id string) {
	t.Helper()
	ctx := t.Context()
	data := []byte(`{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"n":1}`)
	if err := st.Set(ctx, id, data, time.Time{}); err != nil {
		t.Fatalf("Set: %v", err)
	}
	got, _, err := st.Get(ctx, id)
	if err != nil || string(got) != string(data) {
		t.Fatalf("Get = %s, %v", got, err)
	}
}

func TestRedisURLOpensStoreWithPrefixDBAndTTL(t *testing.T) {
	srv := testserver.StartRedis(t)
	st := openNetStore(t, fmt.Sprintf("redis://%s/2?prefix=app:&default_ttl=1h&dial_timeout=1s&read_timeout=2s&write_timeout=2s&pool_size=4&max_retries=1", srv.Addr))
	if _, ok := st.(*redisstore.Store); !ok {
		t.Fatalf("Open gave a %T, want a *redisstore.Store", st)
	}
	netRoundTrip(t, st, "abc")
	raw := redis.NewClient(&redis.Options{Addr: srv.Addr, DB: 2})
	defer raw.Close()
	if ttl := raw.TTL(t.Context(), "app:abc").Val(); ttl <= 59*time.Minute || ttl > time.Hour {
		t.Fatalf("TTL of app:abc in db 2 = %v, want 1h (prefix, db and default_ttl from the URL)", ttl)
	}
}

func TestRedisURLWithEmptyPrefixStoresButDoesNotClear(t *testing.T) {
	srv := testserver.StartRedis(t)
	st := openNetStore(t, "redis://"+srv.Addr+"?prefix=")
	netRoundTrip(t, st, "bare")
	raw := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer raw.Close()
	if n := raw.Exists(t.Context(), "bare").Val(); n != 1 {
		t.Fatal("the session is not under its bare id: the empty prefix was not taken")
	}
	if err := st.(*redisstore.Store).Clear(t.Context()); !errors.Is(err, redisstore.ErrNoPrefix) {
		t.Fatalf("Clear with ?prefix=: %v, want redisstore.ErrNoPrefix", err)
	}
}

// user_index_prefix puts the user index where the application's store keeps
// it (WithUserIndexPrefix), so that a tool opened from the URL finds it;
// the session prefix itself keeps the layout of earlier versions, and a
// session prefix with a hash tag takes an index prefix with the same tag.
func TestRedisURLPutsTheUserIndexUnderUserIndexPrefix(t *testing.T) {
	srv := testserver.StartRedis(t)
	raw := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer raw.Close()
	for _, c := range []struct{ query, user, wantKey string }{
		{"?prefix=app:sess:&user_index_prefix=app:users:", "dana", "app:users:{user:dana}"},
		{"?prefix=app:sess:", "erin", "app:sessuser:{user:erin}"}, // redisstore's default
		{"?user_index_prefix=sess:", "fred", "sess:{user:fred}"},  // the earlier layout
		// A session prefix with a hash tag: an index prefix with the same one.
		{"?prefix=%7Bapp%7D:sess:&user_index_prefix=%7Bapp%7D:users:", "gina", "{app}:users:{user:gina}"},
	} {
		st := openNetStore(t, "redis://"+srv.Addr+c.query)
		exp := time.Now().Add(time.Hour)
		if err := st.(session.UserIndex).IndexUserSession(t.Context(), c.user, c.user+"1", time.Now(), exp); err != nil {
			t.Fatal(err)
		}
		if n := raw.Exists(t.Context(), c.wantKey).Val(); n != 1 {
			keys, _ := raw.Keys(t.Context(), "*"+c.user+"*").Result()
			t.Errorf("%s: the index of %s is under %q, want %q", c.query, c.user, keys, c.wantKey)
		}
	}
}

func TestRedissURLVerifiesTheServerUnlessTold(t *testing.T) {
	srv := testserver.StartRedisTLS(t)
	// The test server's certificate is self-signed: verification fails...
	_, _, err := storeurl.Open(t.Context(), "rediss://"+srv.Addr+"?dial_timeout=2s")
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("Open of a self-signed TLS server: %v, want a certificate error", err)
	}
	// ...unless asked not to verify.
	netRoundTrip(t, openNetStore(t, "rediss://"+srv.Addr+"?skip_verify=true"), "tls")
}

func TestRedisSentinelURLFollowsTheMaster(t *testing.T) {
	s := testserver.StartRedisSentinel(t)
	for _, u := range []string{
		fmt.Sprintf("redis+sentinel://%s/%s", s.Sentinel.Addr, s.MasterName),
		fmt.Sprintf("redis+sentinel://%s,127.0.0.1:1/?master_name=%s&prefix=s:", s.Sentinel.Addr, s.MasterName),
	} {
		t.Run(u, func(t *testing.T) {
			netRoundTrip(t, openNetStore(t, u), "viasentinel")
		})
	}
	raw := redis.NewClient(&redis.Options{Addr: s.Master.Addr})
	defer raw.Close()
	if n := raw.Exists(t.Context(), "sess:viasentinel", "s:viasentinel").Val(); n != 2 {
		t.Fatalf("the master holds %d of the 2 sessions written through the sentinel", n)
	}
}

// TestRedisSentinelURLOfAMasterNoSentinelKnowsSaysSo: a master name that
// the sentinels do not know (a typo) fails Open with an error saying so,
// where it said "all sentinels specified in configuration are unreachable:
// redis: nil" of a sentinel that answered.
func TestRedisSentinelURLOfAMasterNoSentinelKnowsSaysSo(t *testing.T) {
	s := testserver.StartRedisSentinel(t)
	_, _, err := storeurl.Open(t.Context(), fmt.Sprintf("redis+sentinel://%s/no-such-master", s.Sentinel.Addr))
	if err == nil || !strings.Contains(err.Error(), `no sentinel knows a master named "no-such-master"`) || strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("Open naming a master the sentinel does not know: %v, want an error saying no sentinel knows it", err)
	}
}

// TestRedisSentinelURLWhoseSentinelsRefuseFailsAtOnce: sentinels that all
// refuse the connection fail Open at once, saying so, as a redis:// server
// that refuses does, where go-redis tried them again for about 37 s, past
// sessionctl's -timeout (10 s), whose error then said only "context
// deadline exceeded".
func TestRedisSentinelURLWhoseSentinelsRefuseFailsAtOnce(t *testing.T) {
	addrs := []string{testserver.RefusingAddr(t), testserver.RefusingAddr(t)}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	start := time.Now()
	_, _, err := storeurl.Open(ctx, "redis+sentinel://"+strings.Join(addrs, ",")+"/mymaster")
	took := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("Open of sentinels where nothing listens: %v, want an error saying the connection was refused", err)
	}
	if took > 5*time.Second {
		t.Fatalf("Open of sentinels where nothing listens took %v, want it at once", took)
	}
}

func TestRedisClusterURLUsesEveryNode(t *testing.T) {
	c := testserver.StartRedisCluster(t)
	st := openNetStore(t, "redis+cluster://"+strings.Join(c.Addrs(), ",")+"?pool_size=2")
	for i := range 20 {
		netRoundTrip(t, st, fmt.Sprint("c", i))
	}
	ids, err := st.(session.Lister).IDs(t.Context())
	if err != nil || len(ids) != 20 {
		t.Fatalf("IDs = %d ids, %v; want 20", len(ids), err)
	}
	// One node is enough to find the others.
	netRoundTrip(t, openNetStore(t, "redis+cluster://"+c.Addrs()[1]), "fromone")
}

func TestRedisURLOfServerThatIsDownFailsAtOpen(t *testing.T) {
	down := testserver.RefusingAddr(t) // a server that is down: refused, whoever else starts meanwhile
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	start := time.Now()
	_, _, err := storeurl.Open(ctx, "redis://"+down+"?dial_timeout=200ms&max_retries=-1")
	if err == nil || !strings.Contains(err.Error(), "ping") {
		t.Fatalf("Open of a stopped server: %v, want a ping error", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("Open took %v with dial_timeout=200ms", took)
	}
}

func TestRedisURLErrorsSayWhatIsWrong(t *testing.T) {
	for _, c := range []struct{ url, want string }{
		{"redis://localhost?pool=3", `unknown parameter "pool"`},
		{"redis://localhost?read_timeout=fast", "parameter read_timeout"},
		{"redis://localhost?pool_size=0", "parameter pool_size"},
		{"redis://localhost?prefix=a&prefix=b", `"prefix" given 2 times`},
		{"redis://localhost?user_index_prefix=", `parameter user_index_prefix="": empty`},
		{"redis://localhost?user_index_prefix=%7Bapp%7Dusers:", `user index prefix "{app}users:" puts a user's index keys in another Cluster slot than session prefix "sess:"`},
		{"redis://localhost?prefix=%7Bapp%7D:sess:&user_index_prefix=appuser:", `user index prefix "appuser:" puts a user's index keys in another Cluster slot than session prefix "{app}:sess:"`},
		{"redis://localhost?user_index_prefix=sess:users:", `starts with the session prefix "sess:"`},
		{"redis://localhost?user_index_prefix=app:sess:idx:&prefix=app:sess:", `starts with the session prefix "app:sess:"`},
		{"redis://localhost?user_index_prefix=a&user_index_prefix=b", `"user_index_prefix" given 2 times`},
		{"redis://localhost?prefix=sessuser:", `parameter prefix="sessuser:": redisstore: session prefix "sessuser:" is the default user index prefix of session prefix "sess:"`},
		{"redis://localhost/x", `bad database number "x"`},
		{"redis://localhost/1/2", "unexpected path"},
		{"redis://h1:6379,h2:6379", "use redis+cluster://"},
		{"redis://localhost?master_name=m", `unknown parameter "master_name"`},
		{"redis://localhost?skip_verify=true", `unknown parameter "skip_verify"`},
		{"redis+sentinel://h1:26379", "no master name"},
		{"redis+sentinel://h1:26379/a?master_name=b", "already names master"},
		{"redis+cluster://h1:7000/1", "only database 0"},
		{"redis+cluster://h1:7000?db=1", "only database 0"},
		{"redis+cluster://", "no hosts"},
		{"redis://:secret@localhost?bogus=1", "xxxxx"}, // the password is redacted
	} {
		t.Run(c.url, func(t *testing.T) {
			_, _, err := storeurl.Open(t.Context(), c.url)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Open(%q) = %v, want an error containing %q", c.url, err, c.want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Fatalf("the error shows the password: %v", err)
			}
		})
	}
}

func TestRedisURLHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, _, err := storeurl.Open(ctx, "redis://127.0.0.1:1")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Open with a cancelled context: %v, want context.Canceled", err)
	}
}

// A database number in both the path and the db parameter must be the
// same: the query's used to win in silence, so that redis://host/2?db=3
// wrote the sessions to database 3 while the path said 2, as master_name
// may not contradict the path's master either.
func TestRedisURLRefusesTwoDifferentDatabaseNumbers(t *testing.T) {
	srv := testserver.StartRedis(t)
	_, closer, err := storeurl.Open(t.Context(), "redis://"+srv.Addr+"/2?db=3")
	if err == nil {
		closer.Close()
		t.Fatal("Open of /2?db=3 succeeded, want an error: which database is meant?")
	}
	if !strings.Contains(err.Error(), "parameter db=\"3\": the path already names database 2") {
		t.Fatalf("Open of /2?db=3: %v, want an error naming both numbers", err)
	}
	// The same number twice is no contradiction.
	st := openNetStore(t, "redis://"+srv.Addr+"/2?db=2")
	netRoundTrip(t, st, "twice")
	raw := redis.NewClient(&redis.Options{Addr: srv.Addr, DB: 2})
	defer raw.Close()
	if n := raw.Exists(t.Context(), "sess:twice").Val(); n != 1 {
		t.Fatal("the session of /2?db=2 is not in database 2")
	}
}

// A database number the server does not have (beyond its databases
// setting) fails Open with an error naming the URL's part that gave it and
// the databases the server has, where it said only the server's "ping: ERR
// DB index is out of range", on Redis and Valkey, one server and Sentinel.
// A user who may not read the setting (CONFIG GET) is told the number is
// too high, and why the store cannot say more.
func TestRedisURLOfADatabaseTheServerLacksSaysWhichItHas(t *testing.T) {
	for _, s := range []struct {
		name  string
		start func(testing.TB, ...string) *testserver.Server
	}{{"redis", testserver.StartRedis}, {"valkey", testserver.StartValkey}} {
		t.Run(s.name, func(t *testing.T) {
			srv := s.start(t, "--databases", "4")
			openFails(t, "redis://"+srv.Addr+"/4", "database 4 in the path: the server has 4 databases, 0 to 3 (its databases setting)", "DB index is out of range")
			openFails(t, "redis://"+srv.Addr+"?db=9", `parameter db="9": the server has 4 databases, 0 to 3 (its databases setting)`)
			if _, err := testserver.RedisCommand(srv.Addr, "ACL", "SETUSER", "app", "on", ">secret", "~*", "+@all", "-config"); err != nil {
				t.Fatal(err)
			}
			openFails(t, "redis://app:secret@"+srv.Addr+"/5", "database 5 in the path: the server has fewer databases (5 at most, 0 to 4; CONFIG GET databases, which would say how many, failed: NOPERM")
			// The last database is there.
			netRoundTrip(t, openNetStore(t, "redis://"+srv.Addr+"/3"), "last")

			one := s.start(t, "--databases", "1")
			openFails(t, "redis://"+one.Addr+"/1", "database 1 in the path: the server has only database 0 (its databases setting is 1)")
			if _, err := testserver.RedisCommand(one.Addr, "ACL", "SETUSER", "app", "on", ">secret", "~*", "+@all", "-config"); err != nil {
				t.Fatal(err)
			}
			openFails(t, "redis://app:secret@"+one.Addr+"?db=1", `parameter db="1": the server has only database 0 (CONFIG GET databases, which would say how many, failed: NOPERM`)
		})
	}
	t.Run("sentinel", func(t *testing.T) {
		s := testserver.StartRedisSentinel(t)
		openFails(t, fmt.Sprintf("redis+sentinel://%s/%s/16", s.Sentinel.Addr, s.MasterName), "database 16 in the path: the server has 16 databases, 0 to 15")
	})
}

// A redis URL's client ends a command at its context's deadline, whatever
// its read_timeout: Open's ping, and every call of the store, through a
// network that stalls (a blackhole) fail at the deadline (go-redis says
// i/o timeout).
// go-redis reads the context's deadline only with ContextTimeoutEnabled,
// which the URL's client did not set: Open and the store's calls waited
// for read_timeout (3s by default, for ever with -1), past a manager's
// StoreTimeout and sessionctl's -timeout.
func TestRedisURLCallsEndAtTheirContextsDeadline(t *testing.T) {
	srv := testserver.StartRedis(t)
	proxy := testserver.StartProxy(t, srv.Addr)
	rawURL := "redis://" + proxy.Addr + "?read_timeout=-1&write_timeout=-1&max_retries=-1"
	within := func(what string, call func(ctx context.Context) error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		defer cancel()
		done := make(chan error, 1)
		start := time.Now()
		go func() { done <- call(ctx) }()
		select {
		case err := <-done:
			var netErr net.Error
			if !errors.Is(err, context.DeadlineExceeded) && !(errors.As(err, &netErr) && netErr.Timeout()) {
				t.Errorf("%s through a stalled network: %v, want a timeout", what, err)
			}
			if took := time.Since(start); took > 3*time.Second {
				t.Errorf("%s took %v with a context of 300ms", what, took)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s through a stalled network still waits after 10s with a context of 300ms", what)
		}
	}

	// A store opened while the network works...
	st := openNetStore(t, rawURL)
	netRoundTrip(t, st, "before")
	// ...fails its calls at their deadline once it stalls.
	proxy.Stall()
	within("Get", func(ctx context.Context) error {
		_, _, err := st.Get(ctx, "before")
		return err
	})
	// So does Open.
	within("Open", func(ctx context.Context) error {
		_, closer, err := storeurl.Open(ctx, rawURL)
		if err == nil {
			closer.Close()
		}
		return err
	})
	proxy.Heal()
}

// tlsQuery is a query of TLS parameters, each value escaped; pairs are
// name, value, name, value...
func tlsQuery(pairs ...string) string {
	var parts []string
	for i := 0; i < len(pairs); i += 2 {
		parts = append(parts, pairs[i]+"="+url.QueryEscape(pairs[i+1]))
	}
	return "?" + strings.Join(parts, "&")
}

// A Redis whose certificate a private authority signed is verified with
// that authority's certificate in tls_ca, for the URL's host or for
// tls_server_name; without tls_ca the error says to give it. rediss://
// used to know only skip_verify, so that such a server could not be
// verified at all.
func TestRedissURLVerifiesTheServerWithTLSCA(t *testing.T) {
	srv, pki := testserver.StartRedisTLSPKI(t, false)

	_, _, err := storeurl.Open(t.Context(), "rediss://"+srv.Addr+"?dial_timeout=2s&max_retries=-1")
	if err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") || !strings.Contains(err.Error(), "tls_ca=") {
		t.Fatalf("Open of a server signed by a private authority, without tls_ca: %v, want an unknown-authority error pointing to tls_ca", err)
	}

	netRoundTrip(t, openNetStore(t, "rediss://"+srv.Addr+tlsQuery("tls_ca", pki.CAFile)), "withca")
	netRoundTrip(t, openNetStore(t, "rediss://"+srv.Addr+tlsQuery("tls_ca", pki.CAFile, "tls_server_name", testserver.PKIServerName)), "byname")

	_, _, err = storeurl.Open(t.Context(), "rediss://"+srv.Addr+tlsQuery("tls_ca", pki.CAFile, "tls_server_name", "other.sessionkit.test", "max_retries", "-1"))
	if err == nil || !strings.Contains(err.Error(), "other.sessionkit.test") || !strings.Contains(err.Error(), "tls_server_name=") {
		t.Fatalf("Open verifying a name the certificate is not for: %v, want a hostname error naming it and tls_server_name", err)
	}
}

// A Redis that requires a client certificate (tls-auth-clients yes) takes
// the one of tls_cert and tls_key; without them the error says so.
func TestRedissURLPresentsTheClientCertificateOfTLSCertAndKey(t *testing.T) {
	srv, pki := testserver.StartRedisTLSPKI(t, true)

	_, _, err := storeurl.Open(t.Context(), "rediss://"+srv.Addr+tlsQuery("tls_ca", pki.CAFile, "max_retries", "-1"))
	if err == nil || !strings.Contains(err.Error(), "certificate required") || !strings.Contains(err.Error(), "tls_cert=") {
		t.Fatalf("Open of a server that requires a client certificate, without one: %v, want a certificate-required error pointing to tls_cert", err)
	}

	st := openNetStore(t, "rediss://"+srv.Addr+tlsQuery("tls_ca", pki.CAFile, "tls_cert", pki.ClientCertFile, "tls_key", pki.ClientKeyFile))
	netRoundTrip(t, st, "mutual")
}

// The files of tls_ca, tls_cert and tls_key are read by Open: one that
// cannot be read or holds the wrong thing is an error naming its
// parameter, which never shows what a file holds, nor tls_key's path.
func TestRedissURLTLSFileErrorsNameTheParameter(t *testing.T) {
	dir := t.TempDir()
	pki, err := testserver.NewPKI(dir)
	if err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing-secretpath.pem")
	keyPEM, err := os.ReadFile(pki.ClientKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	keyBody := strings.Split(string(keyPEM), "\n")[1] // a line of the key's base64

	// A long value (a temporary directory's path) is named, not repeated,
	// in the parameter's label: the URL in the error shows it.
	for _, c := range []struct {
		name  string
		query string
		want  []string
	}{
		{"missing CA", tlsQuery("tls_ca", missing), []string{"parameter tls_ca", "cannot read the file: no such file or directory"}},
		{"CA of garbage", tlsQuery("tls_ca", garbage), []string{"parameter tls_ca", "no PEM certificate"}},
		{"CA that is a key", tlsQuery("tls_ca", pki.ClientKeyFile), []string{"parameter tls_ca", "holds a private key and no certificate"}},
		{"short missing CA", "?tls_ca=nosuch.pem", []string{`parameter tls_ca="nosuch.pem": cannot read the file: no such file or directory`}},
		{"empty CA", "?tls_ca=", []string{`parameter tls_ca="": empty`}},
		{"CA and skip_verify", tlsQuery("tls_ca", pki.CAFile, "skip_verify", "true"), []string{"parameter tls_ca", "skip_verify=true verifies nothing"}},
		{"cert without key", tlsQuery("tls_cert", pki.ClientCertFile), []string{"parameter tls_cert", "a client certificate needs its key too"}},
		{"key without cert", tlsQuery("tls_key", pki.ClientKeyFile), []string{"parameter tls_key=xxxxx: a key needs its client certificate too"}},
		{"missing cert", tlsQuery("tls_cert", missing, "tls_key", pki.ClientKeyFile), []string{"parameter tls_cert", "cannot read the file: no such file or directory"}},
		{"missing key", tlsQuery("tls_cert", pki.ClientCertFile, "tls_key", missing), []string{"parameter tls_key=xxxxx: cannot read the file: no such file or directory"}},
		{"key of another certificate", tlsQuery("tls_cert", pki.ClientCertFile, "tls_key", pki.ServerKeyFile), []string{"parameters tls_cert and tls_key=xxxxx: tls: private key does not match public key"}},
		{"swapped", tlsQuery("tls_cert", pki.ClientKeyFile, "tls_key", pki.ClientCertFile), []string{"parameters tls_cert and tls_key=xxxxx: tls: failed to find certificate PEM data"}},
		{"empty server name", "?tls_server_name=", []string{`parameter tls_server_name="": empty`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, closer, err := storeurl.Open(t.Context(), "rediss://127.0.0.1:1"+c.query)
			if err == nil {
				closer.Close()
				t.Fatal("no error")
			}
			for _, want := range c.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q, want one containing %q", err, want)
				}
			}
			if strings.Contains(err.Error(), keyBody) {
				t.Fatalf("the error shows the key: %v", err)
			}
			if strings.Contains(c.query, "tls_key="+url.QueryEscape(missing)) && strings.Contains(err.Error(), "secretpath") {
				t.Fatalf("the error shows tls_key's path: %v", err)
			}
		})
	}

	// The TLS parameters are for TLS schemes only.
	_, _, err = storeurl.Open(t.Context(), "redis://127.0.0.1:1"+tlsQuery("tls_ca", pki.CAFile))
	if err == nil || !strings.Contains(err.Error(), `unknown parameter "tls_ca"`) {
		t.Fatalf("redis:// with tls_ca: %v, want an unknown parameter", err)
	}
}

// openFails opens rawURL, which must fail with an error containing every
// one of want and not the password "secret".
func openFails(t *testing.T, rawURL string, want ...string) {
	t.Helper()
	_, closer, err := storeurl.Open(t.Context(), rawURL)
	if err == nil {
		closer.Close()
		t.Fatalf("Open(%q) succeeded, want an error", rawURL)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("Open(%q): %v, want an error containing %q", rawURL, err, w)
		}
	}
	if strings.Contains(err.Error(), "secret") {
		t.Errorf("the error shows the password: %v", err)
	}
}

// A user whose ACL allows the store's commands but not SELECT (+@read
// +@write +@keyspace: SELECT is in @connection) cannot use a database
// other than 0, which go-redis selects with SELECT on each new connection.
// Open fails naming the URL's part that gave the database and what cures
// it (+select, or database 0), on Redis and Valkey, where it said only
// "ping: NOPERM this user has no permissions to run the 'select' command".
func TestRedisURLOfADatabaseTheUserMayNotSelectSaysWhatToAllow(t *testing.T) {
	for _, s := range []struct {
		name  string
		start func(testing.TB, ...string) *testserver.Server
	}{{"redis", testserver.StartRedis}, {"valkey", testserver.StartValkey}} {
		t.Run(s.name, func(t *testing.T) {
			srv := s.start(t) // its ACL changes
			if _, err := testserver.RedisCommand(srv.Addr, "ACL", "SETUSER", "app", "on", ">secret", "~*", "resetchannels", "-@all", "+@read", "+@write", "+@keyspace", "+ping"); err != nil {
				t.Fatal(err)
			}
			openFails(t, "redis://app:secret@"+srv.Addr+"/2",
				"database 2 in the path", "user \"app\" may not run SELECT", "ACL SETUSER app +select", "or use database 0", "NOPERM")
			openFails(t, "redis://app:secret@"+srv.Addr+"?db=3",
				`parameter db="3"`, "may not run SELECT", "+select", "NOPERM")
			// Database 0 needs no SELECT; and with +select, database 2 works.
			netRoundTrip(t, openNetStore(t, "redis://app:secret@"+srv.Addr), "zero")
			if _, err := testserver.RedisCommand(srv.Addr, "ACL", "SETUSER", "app", "+select"); err != nil {
				t.Fatal(err)
			}
			netRoundTrip(t, openNetStore(t, "redis://app:secret@"+srv.Addr+"/2"), "two")
		})
	}
}

// A redis:// URL (one server) of a Redis Cluster's node fails Open, saying
// to use redis+cluster://: through a client of one node, a request for a
// session whose slot another master serves failed with MOVED, once Open
// had succeeded, and IDs, Count and Clear listed that node's sessions
// only. So it does with a Cluster of one master, whose client of one node
// works only until the Cluster grows; and with a database in the URL,
// which a Cluster lacks (the server's "ERR SELECT is not allowed in
// cluster mode"); on Redis and Valkey, and for a user who may not run
// CLUSTER INFO (the store's HELLO fallback tells).
func TestRedisURLOfAClusterNodeSaysToUseRedisCluster(t *testing.T) {
	for _, k := range []struct {
		name  string
		start func(testing.TB) *testserver.RedisCluster
	}{{"redis", testserver.StartRedisCluster}, {"valkey", testserver.StartValkeyCluster}, {"redis-one-master", testserver.StartRedisClusterOneMaster}} {
		t.Run(k.name, func(t *testing.T) {
			c := k.start(t) // its ACL changes
			node := c.Addrs()[0]
			openFails(t, "redis://"+node, "a node of a Redis Cluster", "redis+cluster://"+node+" (this URL under that scheme, keeping its user, password and parameters)")
			openFails(t, "redis://"+node+"/1", "database 1 in the path", "a node of a Redis Cluster, which has database 0 only", "redis+cluster://", "SELECT is not allowed in cluster mode")
			openFails(t, "redis://"+node+"?db=2", `parameter db="2"`, "database 0 only", "redis+cluster://")
			for _, addr := range c.Addrs() {
				if _, err := testserver.RedisCommand(addr, "ACL", "SETUSER", "app", "on", ">secret", "~*", "resetchannels", "-@all", "+@read", "+@write", "+@keyspace", "+ping", "+cluster|slots"); err != nil {
					t.Fatal(err)
				}
			}
			openFails(t, "redis://app:secret@"+node, "a node of a Redis Cluster", "redis+cluster://")
			// What the error says to use works, for that user too.
			netRoundTrip(t, openNetStore(t, "redis+cluster://app:secret@"+node), "cluster")
		})
	}
}

// Open's ping checks the address, TLS and the credentials: a user whose
// ACL forbids PING (an application's +@read +@write +@keyspace, or the
// store's commands only; PING is in @connection) passed them all once the
// server answers NOPERM, so Open succeeds, where it failed with "ping:
// NOPERM this user has no permissions to run the 'ping' command" and the
// store could not be opened at all; on one server and on a Cluster. A
// wrong password still fails.
func TestRedisURLOpensForAUserWhoMayNotPing(t *testing.T) {
	acl := []string{"on", ">secret", "~*", "resetchannels", "-@all", "+@read", "+@write", "+@keyspace", "+cluster|slots"}
	srv := testserver.StartRedis(t) // its ACL changes
	if _, err := testserver.RedisCommand(srv.Addr, append([]string{"ACL", "SETUSER", "app"}, acl...)...); err != nil {
		t.Fatal(err)
	}
	netRoundTrip(t, openNetStore(t, "redis://app:secret@"+srv.Addr), "noping")
	openFails(t, "redis://app:wrong@"+srv.Addr, "WRONGPASS")

	c := testserver.StartRedisCluster(t) // its ACL changes
	for _, addr := range c.Addrs() {
		if _, err := testserver.RedisCommand(addr, append([]string{"ACL", "SETUSER", "app"}, acl...)...); err != nil {
			t.Fatal(err)
		}
	}
	st := openNetStore(t, "redis+cluster://app:secret@"+c.Addrs()[0])
	for i := range 10 {
		netRoundTrip(t, st, fmt.Sprint("noping", i))
	}
}
