package testserver

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func TestRedisKeepsDataUntilKilledAndRestartsOnSamePort(t *testing.T) {
	s := StartRedis(t)
	if _, err := redisCommand(s.Addr, "SET", "k", "v"); err != nil {
		t.Fatal(err)
	}
	if got, err := redisCommand(s.Addr, "GET", "k"); err != nil || got != "v" {
		t.Fatalf("GET k = %q, %v; want v", got, err)
	}
	addr := s.Addr
	s.Kill()
	if s.Running() {
		t.Fatal("Running after Kill")
	}
	if err := redisReady(addr); err == nil {
		t.Fatal("killed server still answers PING")
	}
	s.Restart(t)
	if s.Addr != addr || !s.Running() {
		t.Fatalf("restarted on %s (running %v), want %s", s.Addr, s.Running(), addr)
	}
	// Without persistence the restarted server is empty.
	if got, err := redisCommand(s.Addr, "EXISTS", "k"); err != nil || got != "0" {
		t.Fatalf("EXISTS k after restart = %q, %v; want 0", got, err)
	}
}

func TestRedisDoesNotPersist(t *testing.T) {
	s := StartRedis(t)
	for _, c := range []struct{ param, want string }{{"save", ""}, {"appendonly", "no"}, {"dir", s.Dir}} {
		c2, err := redisConfigGet(s.Addr, c.param)
		if err != nil || c2 != c.want {
			t.Errorf("CONFIG GET %s = %q, %v; want %q", c.param, c2, err, c.want)
		}
	}
}

// redisConfigGet reads one config value with an inline command (the reply is
// a two-element array: name, value).
func redisConfigGet(addr, param string) (string, error) {
	c, err := roundTripAll(addr, fmt.Sprintf("CONFIG GET %s\r\n", param), 5)
	if err != nil {
		return "", err
	}
	if len(c) < 5 {
		return "", fmt.Errorf("short reply %q", c)
	}
	return c[4], nil
}

func TestRedisClusterServesEverySlot(t *testing.T) {
	t.Parallel()
	c := StartRedisCluster(t)
	if len(c.Addrs()) != 3 {
		t.Fatalf("%d nodes, want 3", len(c.Addrs()))
	}
	for _, n := range c.Nodes {
		info, err := redisCommand(n.Addr, "CLUSTER", "INFO")
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"cluster_state:ok", "cluster_slots_assigned:16384", "cluster_known_nodes:3", "cluster_size:3"} {
			if !strings.Contains(info, want) {
				t.Errorf("node %s: CLUSTER INFO lacks %q:\n%s", n.Addr, want, info)
			}
		}
	}
}

func TestSentinelWatchesMasterWithReplica(t *testing.T) {
	t.Parallel()
	t.Run("redis", func(t *testing.T) { t.Parallel(); testSentinel(t, StartRedisSentinel(t)) })
	t.Run("valkey", func(t *testing.T) { t.Parallel(); testSentinel(t, StartValkeySentinel(t)) })
}

// testSentinel checks that the sentinel of s sees the master and its
// replica, and that the replica gets the master's writes.
func testSentinel(t *testing.T, s *RedisSentinel) {
	info, err := redisCommand(s.Sentinel.Addr, "INFO", "sentinel")
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("name=%s,status=ok,address=%s,slaves=1,sentinels=1", s.MasterName, s.Master.Addr)
	if !strings.Contains(info, want) {
		t.Fatalf("INFO sentinel lacks %q:\n%s", want, info)
	}
	// WAIT counts the writes of its own connection: one round trip for both.
	lines, err := roundTripAll(s.Master.Addr, "SET k v\r\nWAIT 1 5000\r\n", 2)
	if err != nil || lines[1] != ":1" {
		t.Fatalf("SET, WAIT 1 = %q, %v; want 1 replica", lines, err)
	}
	if got, err := redisCommand(s.Replica.Addr, "GET", "k"); err != nil || got != "v" {
		t.Fatalf("replica GET k = %q, %v; want v", got, err)
	}
}

func TestMemcachedAcceptsTwoMegabyteItemsUnlessTold(t *testing.T) {
	big := strings.Repeat("x", 1<<20+1000)
	s := StartMemcached(t)
	if line, err := roundTrip(s.Addr, fmt.Sprintf("set big 0 0 %d\r\n%s\r\n", len(big), big)); err != nil || line != "STORED" {
		t.Fatalf("set of %d bytes: %q, %v; want STORED", len(big), line, err)
	}
	small := StartMemcached(t, "-I", "1m")
	line, err := roundTrip(small.Addr, fmt.Sprintf("set big 0 0 %d\r\n%s\r\n", len(big), big))
	if err != nil || !strings.HasPrefix(line, "SERVER_ERROR") {
		t.Fatalf("set of %d bytes with -I 1m: %q, %v; want SERVER_ERROR", len(big), line, err)
	}
}

func TestMemcachedRestartsOnSamePort(t *testing.T) {
	s := StartMemcached(t)
	addr := s.Addr
	s.Kill()
	if err := memcachedReady(addr); err == nil {
		t.Fatal("killed memcached still answers")
	}
	s.Restart(t)
	if err := memcachedReady(addr); err != nil {
		t.Fatalf("restarted memcached: %v", err)
	}
}

func TestSharedServersAreStartedOnce(t *testing.T) {
	a, b := SharedRedis(t), SharedRedis(t)
	if a != b {
		t.Fatal("SharedRedis started two servers")
	}
	m := SharedMemcacheds(t)
	if len(m) != 2 || m[0].Addr == m[1].Addr {
		t.Fatalf("SharedMemcacheds = %v, want two servers", Addrs(m))
	}
	if p, q := UniquePrefix(), UniquePrefix(); p == q {
		t.Fatalf("UniquePrefix returned %q twice", p)
	}
}

// recorder is a testing.TB that records how check ended the test.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper() {}
func (r *recorder) Skipf(format string, args ...any) {
	r.skipped = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (r *recorder) Fatal(args ...any) {
	r.failed = fmt.Sprint(args...)
	runtime.Goexit()
}

func runCheck(err error) *recorder {
	r := &recorder{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		check(r, err)
	}()
	<-done
	return r
}

func TestMissingBinarySkipsWithInstallHintOrFailsWhenRequired(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := newRedis(t.TempDir(), "redis", nil)
	if err == nil {
		t.Fatal("redis-server found in an empty PATH")
	}

	t.Setenv(RequireEnv, "")
	r := runCheck(err)
	if r.failed != "" || !strings.Contains(r.skipped, "apt-get install -y redis-server") {
		t.Fatalf("without %s: skipped %q, failed %q; want a skip naming the package", RequireEnv, r.skipped, r.failed)
	}

	t.Setenv(RequireEnv, "1")
	r = runCheck(err)
	if r.skipped != "" || !strings.Contains(r.failed, "apt-get install -y redis-server") {
		t.Fatalf("with %s=1: skipped %q, failed %q; want a failure naming the package", RequireEnv, r.skipped, r.failed)
	}

	_, err = newMemcached(t.TempDir())
	if r := runCheck(err); !strings.Contains(r.failed, "apt-get install -y memcached") {
		t.Fatalf("memcached: failed %q; want a failure naming the package", r.failed)
	}

	defer func(lib string) { postgresLib = lib }(postgresLib)
	postgresLib = t.TempDir()
	_, err = postgresBinDir()
	if r := runCheck(err); !strings.Contains(r.failed, "apt-get install -y postgresql") {
		t.Fatalf("postgres: failed %q; want a failure naming the package", r.failed)
	}
}

// PostgresAvailable tells a benchmark beforehand that StartPostgres would
// skip, and why, so that it can leave out only its PostgreSQL parts: a
// missing PostgreSQL made StartPostgres skip the whole test it was called
// in.
func TestPostgresAvailableGivesTheReasonStartPostgresWouldSkipFor(t *testing.T) {
	if err := PostgresAvailable(); err != nil {
		t.Logf("PostgreSQL is not installed here: %v", err)
	}
	defer func(lib string) { postgresLib = lib }(postgresLib)
	postgresLib = t.TempDir()
	t.Setenv("PATH", t.TempDir())
	t.Setenv(RequireEnv, "")
	err := PostgresAvailable()
	if err == nil {
		t.Fatal("PostgreSQL available without its binaries")
	}
	if r := runCheck(err); r.failed != "" || !strings.Contains(r.skipped, "apt-get install -y postgresql") {
		t.Fatalf("skipped %q, failed %q; want the skip StartPostgres gives, naming the package", r.skipped, r.failed)
	}
}

// RedisAvailable and MemcachedAvailable tell a benchmark beforehand that
// StartRedis and StartMemcached would skip, and why, so that it can leave
// out only its parts on that server.
func TestRedisAndMemcachedAvailableGiveTheReasonStartWouldSkipFor(t *testing.T) {
	for name, available := range map[string]func() error{"redis-server": RedisAvailable, "memcached": MemcachedAvailable} {
		if err := available(); err != nil {
			t.Logf("%s is not installed here: %v", name, err)
		}
	}
	t.Setenv("PATH", t.TempDir())
	t.Setenv(RequireEnv, "")
	for name, available := range map[string]func() error{"redis-server": RedisAvailable, "memcached": MemcachedAvailable} {
		err := available()
		if err == nil {
			t.Fatalf("%s available without its binary", name)
		}
		if r := runCheck(err); r.failed != "" || !strings.Contains(r.skipped, "apt-get install -y "+name) {
			t.Errorf("%s: skipped %q, failed %q; want the skip its Start gives, naming the package", name, r.skipped, r.failed)
		}
	}
}

// roundTripAll sends req and returns the first n lines of the answer.
func roundTripAll(addr, req string, n int) ([]string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte(req)); err != nil {
		return nil, err
	}
	r := bufio.NewReader(c)
	var lines []string
	for range n {
		line, err := r.ReadString('\n')
		if err != nil {
			return lines, err
		}
		lines = append(lines, strings.TrimRight(line, "\r\n"))
	}
	return lines, nil
}

func TestRedisTLSSpeaksOnlyTLS(t *testing.T) {
	s := StartRedisTLS(t)
	if err := redisTLSReady(s.Addr); err != nil {
		t.Fatalf("PING over TLS: %v", err)
	}
	if line, err := roundTrip(s.Addr, "PING\r\n"); err == nil && line == "+PONG" {
		t.Fatal("the TLS port answered a plain-text PING")
	}
	if len(s.CertPEM) == 0 {
		t.Fatal("no certificate")
	}
}

// StartRedisTLSPKI's server has a certificate its PKI's authority signed,
// for 127.0.0.1 and PKIServerName, which a client that trusts the authority
// verifies; with clientCerts it refuses a client without a certificate.
func TestRedisTLSPKIServerIsVerifiedByItsCAAndChecksClients(t *testing.T) {
	for _, clientCerts := range []bool{false, true} {
		t.Run(fmt.Sprint("clientCerts=", clientCerts), func(t *testing.T) {
			s, pki := StartRedisTLSPKI(t, clientCerts)
			full, err := pki.clientTLS()
			if err != nil {
				t.Fatal(err)
			}
			if err := redisPingTLS(s.Addr, full); err != nil {
				t.Fatalf("PING with the CA and the client certificate: %v", err)
			}
			byName := full.Clone()
			byName.ServerName = PKIServerName
			if err := redisPingTLS(s.Addr, byName); err != nil {
				t.Fatalf("PING verifying %s: %v", PKIServerName, err)
			}
			if err := redisPingTLS(s.Addr, &tls.Config{ServerName: "127.0.0.1", Certificates: full.Certificates}); err == nil {
				t.Fatal("the server's certificate verified without the PKI's CA")
			}
			noCert := &tls.Config{RootCAs: full.RootCAs, ServerName: "127.0.0.1"}
			err = redisPingTLS(s.Addr, noCert)
			if clientCerts && err == nil {
				t.Fatal("the server answered a client without a certificate")
			}
			if !clientCerts && err != nil {
				t.Fatalf("PING without a client certificate, which the server does not ask for: %v", err)
			}
		})
	}
}

func TestMongoKeepsDataAcrossKillAndRestartOnSamePort(t *testing.T) {
	m := StartMongo(t)
	ctx := context.Background()
	client := mongoClient(t, m.URI())
	coll := client.Database("keep").Collection("c")
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "a"}, {Key: "v", Value: 1}}); err != nil {
		t.Fatal(err)
	}
	addr := m.Addr
	m.Kill()
	if m.Running() {
		t.Fatal("Running after Kill")
	}
	if err := mongoReady(addr); err == nil {
		t.Fatal("killed server still accepts connections")
	}
	m.Restart(t)
	if m.Addr != addr || !m.Running() {
		t.Fatalf("restarted on %s (running %v), want %s", m.Addr, m.Running(), addr)
	}
	// The same client reconnects; the SQLite files survived the kill.
	var doc struct {
		V int `bson:"v"`
	}
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "a"}}).Decode(&doc); err != nil || doc.V != 1 {
		t.Fatalf("after restart: %+v, %v; want v=1", doc, err)
	}
}

func TestSharedMongoGivesEachTestItsOwnDatabase(t *testing.T) {
	a, b := SharedMongo(t), SharedMongo(t)
	if a != b {
		t.Fatal("SharedMongo started two servers")
	}
	uri, db1 := a.NewDatabase(t)
	_, db2 := a.NewDatabase(t)
	if db1 == db2 {
		t.Fatalf("NewDatabase returned %q twice", db1)
	}
	ctx := context.Background()
	client := mongoClient(t, uri)
	if _, err := client.Database(db1).Collection("c").InsertOne(ctx, bson.D{{Key: "_id", Value: "x"}}); err != nil {
		t.Fatal(err)
	}
	if n, err := client.Database(db2).Collection("c").CountDocuments(ctx, bson.D{}); err != nil || n != 0 {
		t.Fatalf("other database holds %d documents, %v; want 0", n, err)
	}
}

// The reason mongostore must work without a TTL index: FerretDB v1 refuses
// one. Should a FerretDB upgrade accept it, this test says so.
func TestFerretDBRejectsTTLIndex(t *testing.T) {
	m := SharedMongo(t)
	uri, db := m.NewDatabase(t)
	coll := mongoClient(t, uri).Database(db).Collection("c")
	_, err := coll.Indexes().CreateOne(context.Background(), mongo.IndexModel{
		Keys:    bson.D{{Key: "expires", Value: 1}},
		Options: options.Index().SetExpireAfterSeconds(0),
	})
	if err == nil {
		t.Fatal("FerretDB accepted a TTL index; mongostore's WithTTLIndex can now be tested against it")
	}
	t.Logf("TTL index refused as expected: %v", err)
}

func TestFerretDBBuildFailureSkipsOrFailsWithBuildOutput(t *testing.T) {
	src, err := ferretdbSourceDir()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	broken := t.TempDir()
	for _, name := range ferretdbSources {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		if name == "main.go" {
			b = append(b, "\nfunc broken( {\n"...)
		}
		if err := os.WriteFile(filepath.Join(broken, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	_, err = buildFerretDB(broken, t.TempDir())
	if err == nil {
		t.Fatal("a broken main.go built")
	}

	t.Setenv(RequireEnv, "")
	r := runCheck(err)
	if r.failed != "" || !strings.Contains(r.skipped, "main.go") {
		t.Fatalf("without %s: skipped %q, failed %q; want a skip with the compiler's output", RequireEnv, r.skipped, r.failed)
	}
	t.Setenv(RequireEnv, "1")
	r = runCheck(err)
	if r.skipped != "" || !strings.Contains(r.failed, "main.go") {
		t.Fatalf("with %s=1: skipped %q, failed %q; want a failure with the compiler's output", RequireEnv, r.skipped, r.failed)
	}
}

func TestFerretDBMissingGoCommandSkips(t *testing.T) {
	src, err := ferretdbSourceDir()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", t.TempDir())
	t.Setenv(RequireEnv, "")
	_, err = buildFerretDB(src, t.TempDir())
	if r := runCheck(err); r.failed != "" || !strings.Contains(r.skipped, "go command") {
		t.Fatalf("skipped %q, failed %q; want a skip naming the go command", r.skipped, r.failed)
	}
}

// mongoClient connects to uri and disconnects in t.Cleanup.
func mongoClient(t *testing.T, uri string) *mongo.Client {
	t.Helper()
	client, err := mongo.Connect(options.Client().ApplyURI(uri).SetTimeout(10 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	return client
}

func TestPostgresDatabasesAreFreshAndDropped(t *testing.T) {
	ctx := t.Context()
	p := SharedPostgres(t)
	if p != SharedPostgres(t) {
		t.Fatal("SharedPostgres started a second server")
	}
	var dsns []string
	for range 2 {
		dsns = append(dsns, p.NewDatabase(t))
	}
	if dsns[0] == dsns[1] {
		t.Fatalf("NewDatabase returned %s twice", dsns[0])
	}
	want := "postgres://postgres@" + p.Addr + "/"
	for _, dsn := range dsns {
		if !strings.HasPrefix(dsn, want) || !strings.HasSuffix(dsn, "?sslmode=disable") {
			t.Fatalf("DSN %q, want %s<db>?sslmode=disable", dsn, want)
		}
	}
	conn, err := pgx.Connect(ctx, dsns[0])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var tables int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&tables); err != nil || tables != 0 {
		t.Fatalf("tables in a new database: %d, %v; want 0", tables, err)
	}
	var tz, fsync string
	if err := conn.QueryRow(ctx, `SELECT current_setting('TimeZone'), current_setting('fsync')`).Scan(&tz, &fsync); err != nil {
		t.Fatal(err)
	}
	if tz != PostgresTimeZone || fsync != "off" {
		t.Fatalf("TimeZone %q, fsync %q; want %q, off", tz, fsync, PostgresTimeZone)
	}
}

func TestPostgresDatabaseIsDroppedAtCleanup(t *testing.T) {
	p := SharedPostgres(t)
	var dsn string
	t.Run("user", func(t *testing.T) { dsn = p.NewDatabase(t) })
	name := dsn[strings.LastIndex(dsn, "/")+1 : strings.Index(dsn, "?")]
	conn, err := pgx.Connect(t.Context(), p.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var n int
	if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_database WHERE datname = $1`, name).Scan(&n); err != nil || n != 0 {
		t.Fatalf("database %s after its test: %d, %v; want dropped", name, n, err)
	}
}

func TestPostgresKeepsDataAcrossKillAndRestartOnSamePort(t *testing.T) {
	ctx := t.Context()
	p := StartPostgres(t)
	if p == SharedPostgres(t) {
		t.Fatal("StartPostgres returned the shared server")
	}
	dsn := p.NewDatabase(t)
	exec := func(sql string) error {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, sql)
		return err
	}
	if err := exec(`CREATE TABLE k (v text); INSERT INTO k VALUES ('kept')`); err != nil {
		t.Fatal(err)
	}
	addr := p.Addr
	p.Kill()
	if p.Running() {
		t.Fatal("Running after Kill")
	}
	if err := postgresReady(addr); err == nil {
		t.Fatal("killed server still accepts connections")
	}
	p.Restart(t)
	if p.Addr != addr || !p.Running() {
		t.Fatalf("restarted on %s (running %v), want %s", p.Addr, p.Running(), addr)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var v string
	if err := conn.QueryRow(ctx, `SELECT v FROM k`).Scan(&v); err != nil || v != "kept" {
		t.Fatalf("after restart: %q, %v; want kept", v, err)
	}
}

func TestPostgresRunsAsPostgresUserWhenRootAndLeavesNothing(t *testing.T) {
	var dir string
	t.Run("server", func(t *testing.T) {
		p := StartPostgres(t)
		dir = p.Dir
		fi, err := os.Stat(p.Dir + "/data")
		if err != nil {
			t.Fatal(err)
		}
		owner := fi.Sys().(*syscall.Stat_t).Uid
		if os.Geteuid() == 0 && owner == 0 {
			t.Fatal("the data directory belongs to root; postgres refuses that")
		}
		if os.Geteuid() != 0 && int(owner) != os.Geteuid() {
			t.Fatalf("data directory owner %d, want this user %d", owner, os.Geteuid())
		}
	})
	if dir == "" {
		return // skipped
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("%s is still there after its test: %v", dir, err)
	}
}

func TestValkeyHasNativeCompareAndSet(t *testing.T) {
	s := StartValkey(t)
	if _, err := redisCommand(s.Addr, "SET", "k", "a"); err != nil {
		t.Fatal(err)
	}
	if got, err := redisCommand(s.Addr, "SET", "k", "b", "IFEQ", "x"); err != nil || got != "" {
		t.Fatalf("SET k b IFEQ x on a = %q, %v; want a nil reply", got, err)
	}
	if got, err := redisCommand(s.Addr, "SET", "k", "b", "PX", "60000", "IFEQ", "a"); err != nil || got != "OK" {
		t.Fatalf("SET k b PX 60000 IFEQ a on a = %q, %v; want OK", got, err)
	}
	if got, err := redisCommand(s.Addr, "GET", "k"); err != nil || got != "b" {
		t.Fatalf("GET k = %q, %v; want b", got, err)
	}
	if got, err := redisCommand(s.Addr, "INFO", "server"); err != nil || !strings.Contains(got, "server_name:valkey") {
		t.Fatalf("INFO server = %q, %v; want server_name:valkey", got, err)
	}
}

func TestValkeyVersionTellsValkeyFromRedis(t *testing.T) {
	dir := t.TempDir()
	fake := func(name, out string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\necho '"+out+"'\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if v, err := valkeyVersion(fake("valkey-8.0", "Valkey server v=8.0.1 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=1")); err != nil || v != [2]int{8, 0} {
		t.Errorf("valkeyVersion of an 8.0.1 = %v, %v; want [8 0]", v, err)
	}
	if v, err := valkeyVersion(fake("valkey-10.2", "Valkey server v=10.2.0 sha=1")); err != nil || v != [2]int{10, 2} {
		t.Errorf("valkeyVersion of a 10.2.0 = %v, %v; want [10 2]", v, err)
	}
	if _, err := valkeyVersion(fake("redis", "Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=1")); err == nil {
		t.Error("valkeyVersion accepted a Redis server")
	}
}

// A proxy's Refuse answers the named command itself, with the error a
// server that refuses it sends, to a real driver in front of a real
// FerretDB: the driver reports the server's code, the server never sees
// the command, and every other command goes through; Heal ends it.
func TestProxyRefusesTheNamedMongoCommandOnly(t *testing.T) {
	m := SharedMongo(t)
	p := StartProxy(t, m.Addr)
	_, db := m.NewDatabase(t)
	client := mongoClient(t, "mongodb://"+p.Addr+"/")
	ctx := t.Context()
	buildInfo := func() error {
		return client.Database(db).RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Err()
	}
	p.Refuse("buildinfo", 13, "Unauthorized")
	for range 2 {
		err := buildInfo()
		var se mongo.ServerError
		if !errors.As(err, &se) || !se.HasErrorCode(13) || mongo.IsNetworkError(err) {
			t.Fatalf("buildInfo through a proxy that refuses it: %v, want the server error 13 (Unauthorized)", err)
		}
	}
	if err := client.Database(db).RunCommand(ctx, bson.D{{Key: "ping", Value: 1}}).Err(); err != nil {
		t.Fatalf("ping through a proxy that refuses buildInfo: %v", err)
	}
	if _, err := client.Database(db).Collection("c").InsertOne(ctx, bson.D{{Key: "_id", Value: "x"}}); err != nil {
		t.Fatalf("insert through a proxy that refuses buildInfo: %v", err)
	}
	if got := p.Refused(); got != 2 {
		t.Fatalf("Refused = %d, want 2", got)
	}
	p.Heal()
	if err := buildInfo(); err != nil {
		t.Fatalf("buildInfo after Heal: %v", err)
	}
	if got := p.Refused(); got != 2 {
		t.Fatalf("Refused after Heal = %d, want still 2", got)
	}
}

// A proxy's RefuseOn refuses the named command on the named collection
// alone, to a real driver in front of a real FerretDB: the same command on
// another collection goes through.
func TestProxyRefusesTheNamedMongoCommandOnTheNamedCollectionOnly(t *testing.T) {
	m := SharedMongo(t)
	p := StartProxy(t, m.Addr)
	_, db := m.NewDatabase(t)
	client := mongoClient(t, "mongodb://"+p.Addr+"/")
	ctx := t.Context()
	find := func(coll string) error {
		err := client.Database(db).Collection(coll).FindOne(ctx, bson.D{}).Err()
		if errors.Is(err, mongo.ErrNoDocuments) {
			return nil
		}
		return err
	}
	p.RefuseOn("find", "refused", 13, "Unauthorized")
	err := find("refused")
	var se mongo.ServerError
	if !errors.As(err, &se) || !se.HasErrorCode(13) {
		t.Fatalf("find on the refused collection: %v, want the server error 13 (Unauthorized)", err)
	}
	for _, coll := range []string{"other", "refused_users", "refuse"} {
		if err := find(coll); err != nil {
			t.Fatalf("find on %s: %v, want it through", coll, err)
		}
	}
	if got := p.Refused(); got != 1 {
		t.Fatalf("Refused = %d, want 1", got)
	}
}
