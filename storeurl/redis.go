package storeurl

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/redisnode"
	"github.com/sessionkit/session/redisstore"
)

// The redis schemes open a redisstore on a go-redis client:
//
//	redis://[user:password@]host[:port][/db]              one server (port 6379, db 0 by default)
//	rediss://...                                          the same over TLS
//	redis+sentinel://[user:password@]h1:26379,h2:26379/master[/db]
//	                                                      Sentinel: the sentinels, then the master's
//	                                                      name (or master_name=... in the query)
//	redis+cluster://[user:password@]h1:7000,h2:7001,h3:7002   Redis Cluster: some of its nodes
//	rediss+sentinel://..., rediss+cluster://...           the same over TLS
//
// Give every host of a list its port: "h1:7000,h2:7000" (Go's URL parser
// refuses some lists without, such as "h1:7000,h2"). The query parameters,
// all optional, are those of redisCommonParams, plus redisSentinelParams for
// Sentinel and redisTLSParams over TLS.
//
// Over TLS the client verifies the server's certificate against the
// system's authorities, or those of the tls_ca file, for the URL's host
// (for Sentinel and Cluster, the host of each address it dials), or for
// tls_server_name (on Sentinel, the sentinels' and the master's alike,
// which the authorities of tls_ca must all verify); tls_cert and tls_key present a client certificate, to
// a server that requires one (redis-server's tls-auth-clients). Open
// reads the files once: a renewed certificate takes effect at the next
// Open. (go-redis's own redis.ParseURL has only skip_verify of these.)
//
// go-redis also retries a failed dial (5 times, 100 ms apart, by default),
// so a command to a server that is down fails after up to about
// (max_retries+1) x 5 x (dial_timeout + 100ms); on redis+cluster://, 4
// times that (the Cluster's MaxRedirects 3, plus 1), max_retries 0 and -1
// counting as 0 there.
//
// Open pings the server (every node of a Cluster) with its context, so a wrong
// address or password fails at once (a user whose ACL forbids PING gets
// NOPERM for an answer, which proves them right), and so does a database number the server does not
// have, its error naming the URL's part that gave it and how many databases
// the server has (its databases setting, if the user may read it), or one
// other than 0 that the user's ACL does not let it select (the client
// sends SELECT on each new connection: the user needs +select, which is in
// @connection, for a database other than 0). A redis:// or rediss:// URL
// of a Redis Cluster's node fails too, saying to use redis+cluster://:
// after the ping Open asks the server whether it is one (CLUSTER INFO, or
// for a user whose ACL forbids it, a bare HELLO's mode; one round trip
// more), since through a client of that one node the sessions of other
// masters' slots fail with MOVED and a listing sees that node's only; a
// server that does not say (a proxy that knows no CLUSTER) is taken for
// one server. On Sentinel it first asks every sentinel for the
// master's address, one try each, so that a master name no sentinel knows,
// or sentinels that all refuse the connection, fail at once with what each
// answered. Every command of the client, Open's ping included,
// ends at its context's deadline if that comes before read_timeout or
// write_timeout. The returned closer closes the client.
func init() {
	for _, scheme := range []string{"redis", "rediss", "redis+sentinel", "rediss+sentinel", "redis+cluster", "rediss+cluster"} {
		register(scheme, openRedis, redisParamsFor(redisScheme(scheme)))
	}
}

// redisScheme splits a redis URL scheme into its kind ("", "sentinel" or
// "cluster") and whether it uses TLS (rediss).
func redisScheme(scheme string) (kind string, tls bool) {
	base, kind, _ := strings.Cut(strings.ToLower(scheme), "+")
	return kind, base == "rediss"
}

// redisParamsFor returns the query parameters of a redis scheme.
func redisParamsFor(kind string, tls bool) redisParams {
	table := redisCommonParams
	if kind == "sentinel" {
		table = slices.Concat(table, redisSentinelParams)
	}
	if tls {
		table = slices.Concat(table, redisTLSParams)
	}
	return table
}

// redisParams is a table of redis URL query parameters.
type redisParams = paramTable[redisURL]

// redisCommonParams lists the query parameters every redis scheme
// understands; redisSentinelParams and redisTLSParams are the extra ones of
// redis+sentinel and of the TLS schemes.
var (
	redisCommonParams = redisParams{
		stringParam("prefix", "key prefix (connect-redis's by default; empty: no IDs, Count or Clear)", func(p *redisURL, v string) error {
			p.prefix = &v
			p.storeOpts = append(p.storeOpts, redisstore.WithPrefix(v))
			return nil
		}),
		stringParam("user_index_prefix", "key prefix of the user index (by default prefix without its final colon, then user:)", func(p *redisURL, v string) error {
			if v == "" {
				return fmt.Errorf("empty (leave the parameter out for the default)")
			}
			p.userIndexPrefix = v
			p.storeOpts = append(p.storeOpts, redisstore.WithUserIndexPrefix(v))
			return nil
		}),
		durationParam("default_ttl", positive, "lifetime of a session without expiry", func(p *redisURL, d time.Duration) error {
			p.storeOpts = append(p.storeOpts, redisstore.WithDefaultTTL(d))
			return nil
		}),
		durationParam("dial_timeout", positive, "connecting", func(p *redisURL, d time.Duration) error {
			p.timeouts.dial = d
			return nil
		}),
		durationParam("read_timeout", zeroOrMinus1, "waiting for an answer (0 for go-redis's default, -1 for none)", func(p *redisURL, d time.Duration) error {
			p.timeouts.read = d
			return nil
		}),
		durationParam("write_timeout", zeroOrMinus1, "sending a command (0 for go-redis's default, -1 for none)", func(p *redisURL, d time.Duration) error {
			p.timeouts.write = d
			return nil
		}),
		intParam("pool_size", 1, "connections per node (go-redis's default: 10 per CPU)", func(p *redisURL, n int) error {
			p.poolSize = n
			return nil
		}),
		intParam("max_retries", -1, "retries of a failed command (-1: none; 0: go-redis's default, 3); on redis+cluster:// the retries of each of the Cluster's 4 tries (MaxRedirects 3 + 1), where 0 and -1 both mean none", func(p *redisURL, n int) error {
			p.maxRetries = n
			return nil
		}),
		intParam("db", 0, "database number, instead of the path (not with Cluster)", func(p *redisURL, n int) error {
			if p.kind == "cluster" {
				return fmt.Errorf("Redis Cluster has only database 0")
			}
			if p.dbInPath && n != p.db {
				return fmt.Errorf("the path already names database %d", p.db)
			}
			p.db = n
			return nil
		}),
	}
	redisSentinelParams = redisParams{
		stringParam("master_name", "the master's name, instead of the path", func(p *redisURL, v string) error {
			if p.master != "" && p.master != v {
				return fmt.Errorf("the path already names master %q", hideCredentials(p.master))
			}
			p.master = v
			return nil
		}),
		stringParam("sentinel_password", "the sentinels' own password", func(p *redisURL, v string) error {
			p.sentinelPassword = v
			return nil
		}),
	}
	redisTLSParams = redisParams{
		boolParam("skip_verify", "do not verify the server's certificate (tests only)", func(p *redisURL, b bool) error {
			p.skipVerify = b
			return nil
		}),
		fileParam("tls_ca", "PEM file of the authorities that sign the server's certificate (default: the system's)", func(p *redisURL, v string) error {
			p.tlsFiles.ca = v
			return nil
		}),
		fileParam("tls_cert", "PEM file of a client certificate to present, with tls_key", func(p *redisURL, v string) error {
			p.tlsFiles.cert = v
			return nil
		}),
		fileParam("tls_key", "PEM file of the client certificate's unencrypted key, with tls_cert", func(p *redisURL, v string) error {
			p.tlsFiles.key = v
			return nil
		}),
		stringParam("tls_server_name", "the name the server's certificate must be for (default: the host of the URL, or of each node)", func(p *redisURL, v string) error {
			if v == "" {
				return fmt.Errorf("empty (leave the parameter out for the host's name)")
			}
			p.tlsServerName = v
			return nil
		}),
	}
)

// redisURL is a parsed redis URL: what the go-redis client and the store
// are built from.
type redisURL struct {
	kind             string // "", "sentinel" or "cluster"
	tls              bool
	addrs            []string
	user, pass       string
	db               int
	dbInPath         bool // the path gave db
	master           string
	sentinelPassword string
	skipVerify       bool
	tlsFiles         struct{ ca, cert, key string } // the tls_ca, tls_cert and tls_key parameters
	tlsServerName    string
	rootCAs          *x509.CertPool    // from tls_ca; nil: the system's
	clientCerts      []tls.Certificate // from tls_cert and tls_key
	timeouts         struct{ dial, read, write time.Duration }
	poolSize         int
	maxRetries       int
	prefix           *string // the prefix parameter, if given
	userIndexPrefix  string  // the user_index_prefix parameter, if given
	storeOpts        []redisstore.Option
}

func openRedis(ctx context.Context, u *url.URL) (session.Store, io.Closer, error) {
	p, err := parseRedisURL(u)
	if err != nil {
		return nil, nil, err
	}
	if p.kind == "sentinel" {
		if err := p.checkSentinels(ctx); err != nil {
			return nil, nil, withTLSHint(err)
		}
	}
	client := p.client()
	if err := pingRedis(ctx, client); err != nil {
		client.Close()
		switch {
		case isDBOutOfRange(err):
			return nil, nil, p.noSuchDatabase(ctx, err)
		case p.db != 0 && isNoPermFor(err, "select"):
			return nil, nil, p.selectRefused(err)
		case p.db != 0 && isSelectInCluster(err):
			return nil, nil, fmt.Errorf("%s: the server is a node of a Redis Cluster, which has database 0 only: use %s, without a database: %w", p.dbPart(), p.clusterURL(), err)
		}
		return nil, nil, withTLSHint(err)
	}
	if p.kind == "" {
		// A server that does not say (an error, a proxy that knows no
		// CLUSTER) is taken for one, as it was before Open asked.
		if cluster, _ := redisnode.IsCluster(ctx, client); cluster {
			client.Close()
			return nil, nil, fmt.Errorf("the server is a node of a Redis Cluster (it answers CLUSTER INFO, or HELLO with mode cluster): through a client of this one node, the sessions of the slots other masters serve would fail with MOVED, and IDs, Count and Clear would see this node's sessions only (of a Cluster of one master, until it grows); use %s, whose client follows the Cluster's layout", p.clusterURL())
		}
	}
	return redisstore.New(client, p.storeOpts...), client, nil
}

// isSelectInCluster reports the answer of a node of a Redis Cluster to
// SELECT (Redis, Valkey before 9.0), which go-redis sends as a
// connection's first command for a database other than 0.
func isSelectInCluster(err error) bool {
	var answer redis.Error
	return errors.As(err, &answer) && strings.Contains(answer.Error(), "SELECT is not allowed in cluster mode")
}

// clusterURL is the redis+cluster:// URL (rediss+cluster:// over TLS) of
// the server of a one-server URL, for an error to suggest: its host and
// port, without credentials or parameters (an error never shows them),
// and a reminder to keep them.
func (p *redisURL) clusterURL() string {
	scheme := "redis+cluster"
	if p.tls {
		scheme = "rediss+cluster"
	}
	return scheme + "://" + p.addrs[0] + " (this URL under that scheme, keeping its user, password and parameters)"
}

// checkSentinels asks every sentinel of the URL at once for the master's
// address, with one try each, and returns nil as soon as one gives it.
// Otherwise it says what each sentinel answered: that it knows no master of
// that name (a typo in the URL), or its error, such as a refused
// connection. The failover client's ping told neither: for a master name
// the sentinels do not know, "all sentinels specified in configuration are
// unreachable: redis: nil", and for sentinels that refuse the connection
// nothing until Open's deadline, as it tried them again for over 30 s.
func (p *redisURL) checkSentinels(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type answer struct {
		i   int
		err error
	}
	answers := make(chan answer, len(p.addrs))
	for i, addr := range p.addrs {
		go func() {
			c := redis.NewSentinelClient(&redis.Options{
				Addr: addr, Password: p.sentinelPassword, TLSConfig: p.tlsConfig(),
				DialTimeout: p.timeouts.dial, ReadTimeout: p.timeouts.read, WriteTimeout: p.timeouts.write,
				MaxRetries: -1, DialerRetries: 1, ContextTimeoutEnabled: true,
			})
			defer c.Close()
			err := c.GetMasterAddrByName(ctx, p.master).Err()
			if err != nil && !errors.Is(err, redis.Nil) {
				err = fmt.Errorf("sentinel %s: %w", addr, err)
			}
			answers <- answer{i, err}
		}()
	}
	failed := make([]error, len(p.addrs))
	for range p.addrs {
		a := <-answers
		if a.err == nil {
			return nil
		}
		failed[a.i] = a.err
	}
	var causes []any // in the URL's order; one line, each cause wrapped
	unknown := false
	for _, err := range failed {
		if errors.Is(err, redis.Nil) {
			unknown = true
		} else {
			causes = append(causes, err)
		}
	}
	if unknown {
		noun := "no sentinel"
		if len(causes) > 0 {
			noun = "no sentinel that answered"
		}
		causes = append([]any{fmt.Errorf("%s knows a master named %q (the path, or master_name=)", noun, p.master)}, causes...)
	}
	return fmt.Errorf(strings.TrimSuffix(strings.Repeat("%w; ", len(causes)), "; "), causes...)
}

// pingRedis checks that the server, or every Cluster node, answers, and
// lets in the URL's user (go-redis authenticates, and selects the
// database, on each new connection before its first command). A user
// whose ACL forbids PING (it is in @connection, which an application's
// user need not have) passed those once the server answers NOPERM to the
// PING itself.
func pingRedis(ctx context.Context, c redis.UniversalClient) error {
	ping := func(ctx context.Context, c redis.Cmdable) error {
		if err := c.Ping(ctx).Err(); err != nil && !isNoPermFor(err, "ping") {
			return err
		}
		return nil
	}
	if cc, ok := c.(*redis.ClusterClient); ok {
		return cc.ForEachShard(ctx, func(ctx context.Context, n *redis.Client) error {
			if err := ping(ctx, n); err != nil {
				return fmt.Errorf("ping %s: %w", n.Options().Addr, err)
			}
			return nil
		})
	}
	if err := ping(ctx, c); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	return nil
}

// isDBOutOfRange reports the answer of a server (Redis, Valkey) to the
// SELECT of a database number beyond its databases setting, which go-redis
// sends as the connection's first command: the error of Open's ping.
func isDBOutOfRange(err error) bool {
	var answer redis.Error
	return errors.As(err, &answer) && strings.Contains(answer.Error(), "DB index is out of range")
}

// noSuchDatabase returns the error of Open for a database number the
// server does not have (isDBOutOfRange: err, the ping's): it names the
// URL's part that gave the number (the path, or the db parameter) and how
// many databases the server has, which it asks the server (CONFIG GET
// databases, through database 0, which every server has). A server that
// does not say (a user whose ACL forbids CONFIG, a renamed CONFIG) leaves
// what the refusal itself proves: fewer databases than the number.
func (p *redisURL) noSuchDatabase(ctx context.Context, err error) error {
	part := p.dbPart()
	q := *p
	q.db = 0
	c := q.client()
	defer c.Close()
	var n int
	v, cerr := c.ConfigGet(ctx, "databases").Result()
	if cerr == nil {
		if n, cerr = strconv.Atoi(v["databases"]); cerr == nil && (n < 1 || n > p.db) {
			cerr = fmt.Errorf("the server's answer %q does not explain the refusal", v["databases"])
		}
	}
	switch {
	case cerr != nil && p.db == 1:
		return fmt.Errorf("%s: the server has only database 0 (CONFIG GET databases, which would say how many, failed: %v): %w", part, cerr, err)
	case cerr != nil:
		return fmt.Errorf("%s: the server has fewer databases (%d at most, 0 to %d; CONFIG GET databases, which would say how many, failed: %v): %w", part, p.db, p.db-1, cerr, err)
	case n == 1:
		return fmt.Errorf("%s: the server has only database 0 (its databases setting is 1): %w", part, err)
	}
	return fmt.Errorf("%s: the server has %d databases, 0 to %d (its databases setting): %w", part, n, n-1, err)
}

// dbPart names the URL's part that gave the database number: the path,
// or the db parameter.
func (p *redisURL) dbPart() string {
	if p.dbInPath {
		return fmt.Sprintf("database %d in the path", p.db)
	}
	return "parameter " + paramLabel("db", strconv.Itoa(p.db))
}

// isNoPermFor reports the answer of a server (Redis, Valkey) to a command
// the user's ACL does not allow, for command (lower case, as the servers
// quote it: "... no permissions to run the 'select' command").
func isNoPermFor(err error, command string) bool {
	var answer redis.Error
	return errors.As(err, &answer) && strings.HasPrefix(answer.Error(), "NOPERM") &&
		strings.Contains(answer.Error(), "'"+command+"'")
}

// selectRefused returns the error of Open for a database other than 0 that
// the user may not select: go-redis sends SELECT on each new connection,
// before any command, and SELECT is in the @connection category, which an
// application's ACL (+@read +@write +@keyspace) leaves out. err is the
// ping's, the server's NOPERM.
func (p *redisURL) selectRefused(err error) error {
	user := p.user
	if user == "" {
		user = "default"
	}
	return fmt.Errorf("%s: user %q may not run SELECT, which the client sends on each new connection to use a database other than 0: allow it (ACL SETUSER %s +select, or +@connection), or use database 0: %w",
		p.dbPart(), user, user, err)
}

// withTLSHint adds to an error of Open's ping the parameter that most
// likely cures it, when it is a TLS failure a parameter cures: a server
// certificate that no trusted authority signed (tls_ca), or one for
// another name (tls_server_name), or a server that requires a client
// certificate (tls_cert and tls_key). It wraps err.
func withTLSHint(err error) error {
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
	)
	switch {
	case errors.As(err, &unknown):
		return fmt.Errorf("%w (no authority this client trusts signed the server's certificate: give the file of the one that did in tls_ca=/path/ca.pem)", err)
	case errors.As(err, &hostname):
		return fmt.Errorf("%w (tls_server_name=... names the host the certificate is for)", err)
	case strings.Contains(err.Error(), "tls: certificate required"):
		// The TLS 1.3 alert of a server that wants a client certificate
		// and got none (RFC 8446, section 6); crypto/tls's type for a
		// received alert is not exported, only its text says which.
		return fmt.Errorf("%w (the server requires a client certificate: tls_cert=/path/cert.pem&tls_key=/path/key.pem)", err)
	}
	return err
}

func parseRedisURL(u *url.URL) (*redisURL, error) {
	scheme := strings.ToLower(u.Scheme)
	kind, tls := redisScheme(scheme)
	p := &redisURL{kind: kind, tls: tls}
	if u.Opaque != "" {
		return nil, fmt.Errorf("want %s://host:port, not %s:%s", scheme, scheme, hideCredentials(u.Opaque))
	}
	if u.User != nil {
		p.user = u.User.Username()
		p.pass, _ = u.User.Password()
	}
	defaultPort := map[string]string{"": "6379", "sentinel": "26379", "cluster": "7000"}[kind]
	var err error
	if p.addrs, err = splitHosts(u.Host, defaultPort); err != nil {
		return nil, err
	}
	if len(p.addrs) == 0 {
		if kind != "" {
			return nil, fmt.Errorf("no hosts in %s URL (want %s://h1:port,h2:port...)", scheme, scheme)
		}
		p.addrs = []string{"localhost:6379"}
	}
	if kind == "" && len(p.addrs) > 1 {
		return nil, fmt.Errorf("%s URLs name one server; use redis+cluster:// or redis+sentinel:// for several", scheme)
	}

	var path []string
	for s := range strings.SplitSeq(strings.Trim(u.Path, "/"), "/") {
		if s != "" {
			path = append(path, s)
		}
	}
	if kind == "sentinel" && len(path) > 0 {
		p.master, path = path[0], path[1:]
	}
	switch {
	case len(path) == 1 && kind != "cluster":
		db, err := strconv.Atoi(path[0])
		if err != nil || db < 0 {
			return nil, fmt.Errorf("bad database number %q in the path", hideCredentials(path[0]))
		}
		p.db, p.dbInPath = db, true
	case len(path) > 0:
		return nil, fmt.Errorf("unexpected path %q (want %s)", hideCredentials(u.Path), redisPathForm(kind))
	}

	if err := applyParams(p, u, redisParamsFor(kind, tls)); err != nil {
		return nil, err
	}
	if kind == "sentinel" && p.master == "" {
		return nil, fmt.Errorf("no master name (want %s)", redisPathForm(kind))
	}
	if err := p.loadTLSFiles(); err != nil {
		return nil, err
	}
	if err := p.checkPrefixes(); err != nil {
		return nil, err
	}
	return p, nil
}

// loadTLSFiles reads the files of the tls_ca, tls_cert and tls_key
// parameters into the client's TLS configuration. Its errors name the
// parameter (a tls_key's path is hidden, as every value of a parameter
// named so) and say what is wrong with the file, never what it holds.
func (p *redisURL) loadTLSFiles() error {
	f := &p.tlsFiles
	label := func(name, value string) string { return "parameter " + paramLabel(name, value) }
	if f.ca != "" {
		if p.skipVerify {
			return fmt.Errorf("%s: skip_verify=true verifies nothing, so no authority is needed; leave out one or the other", label("tls_ca", f.ca))
		}
		pool, err := readCAFile(f.ca)
		if err != nil {
			return fmt.Errorf("%s: %w", label("tls_ca", f.ca), err)
		}
		p.rootCAs = pool
	}
	switch {
	case f.cert != "" && f.key == "":
		return fmt.Errorf("%s: a client certificate needs its key too (tls_key=/path/key.pem)", label("tls_cert", f.cert))
	case f.key != "" && f.cert == "":
		return fmt.Errorf("%s: a key needs its client certificate too (tls_cert=/path/cert.pem)", label("tls_key", f.key))
	case f.cert == "":
		return nil
	}
	certPEM, err := readTLSFile(f.cert)
	if err != nil {
		return fmt.Errorf("%s: %w", label("tls_cert", f.cert), err)
	}
	keyPEM, err := readTLSFile(f.key)
	if err != nil {
		return fmt.Errorf("%s: %w", label("tls_key", f.key), err)
	}
	// X509KeyPair's errors say which input is wrong ("certificate
	// input", "key input") and never quote either.
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return fmt.Errorf("parameters %s and %s: %w", paramLabel("tls_cert", f.cert), paramLabel("tls_key", f.key), err)
	}
	p.clientCerts = []tls.Certificate{cert}
	return nil
}

// readTLSFile reads a file of a TLS parameter. Its error is the system's
// reason without the path, which the caller's label shows (or hides).
func readTLSFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	var pe *os.PathError
	if errors.As(err, &pe) {
		return nil, fmt.Errorf("cannot read the file: %w", pe.Err)
	}
	return b, err
}

// readCAFile reads the PEM certificates of a tls_ca file. A file without
// any, or with one that does not parse, is an error (x509.CertPool's
// AppendCertsFromPEM skips those in silence, and every server would then
// fail to verify with a message that says nothing of the file).
func readCAFile(path string) (*x509.CertPool, error) {
	b, err := readTLSFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	n, sawKey := 0, false
	for rest := b; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		switch {
		case block.Type == "CERTIFICATE":
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("certificate %d of the file does not parse: %w", n+1, err)
			}
			pool.AddCert(c)
			n++
		case strings.HasSuffix(block.Type, "PRIVATE KEY"):
			sawKey = true
		}
	}
	switch {
	case n == 0 && sawKey:
		return nil, fmt.Errorf("the file holds a private key and no certificate; tls_ca wants the certificate of the authority that signed the server's")
	case n == 0:
		return nil, fmt.Errorf("no PEM certificate (-----BEGIN CERTIFICATE-----) in the file")
	}
	return pool, nil
}

// checkPrefixes refuses a prefix, or a user_index_prefix, on which
// redisstore.New would panic (redisstore.CheckUserIndexPrefix): a session
// prefix that is another's default user index prefix; a user_index_prefix
// that puts a user's
// index keys in another Cluster slot than the session prefix's earlier
// layout, and one that starts with the session prefix without being it,
// whose keys connect-redis would count as sessions. The session prefix
// itself is allowed: it keeps the layout of earlier versions, for a
// rolling upgrade.
func (p *redisURL) checkPrefixes() error {
	sessionPrefix := redisstore.DefaultPrefix
	if p.prefix != nil {
		sessionPrefix = *p.prefix
	}
	// The session prefix alone first, so that an error it causes names it.
	if err := redisstore.CheckUserIndexPrefix(sessionPrefix, ""); err != nil {
		return fmt.Errorf("parameter %s: %w", paramLabel("prefix", sessionPrefix), err)
	}
	if err := redisstore.CheckUserIndexPrefix(sessionPrefix, p.userIndexPrefix); err != nil {
		return fmt.Errorf("parameter %s: %w", paramLabel("user_index_prefix", p.userIndexPrefix), err)
	}
	return nil
}

func redisPathForm(kind string) string {
	switch kind {
	case "sentinel":
		return "/mastername or /mastername/db, or master_name=... in the query"
	case "cluster":
		return "no path: Redis Cluster has only database 0"
	}
	return "/db, a database number"
}

// tlsConfig is the client's TLS configuration: nil for redis://. The
// server's certificate is verified for tls_server_name, or the URL's host
// on one server; without tls_server_name on Sentinel and Cluster,
// crypto/tls takes each node's host from the address it dials.
func (p *redisURL) tlsConfig() *tls.Config {
	if !p.tls {
		return nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: p.skipVerify,
		RootCAs: p.rootCAs, Certificates: p.clientCerts}
	switch {
	case p.tlsServerName != "":
		c.ServerName = p.tlsServerName
	case p.kind == "":
		c.ServerName, _, _ = net.SplitHostPort(p.addrs[0])
	}
	return c
}

// client builds the go-redis client the URL describes. Its commands end at
// their context's deadline (ContextTimeoutEnabled), as Open's ping and a
// manager's StoreTimeout expect; without it go-redis waits for read_timeout
// whatever the context says.
func (p *redisURL) client() redis.UniversalClient {
	tlsConfig := p.tlsConfig()
	switch p.kind {
	case "sentinel":
		return redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName: p.master, SentinelAddrs: p.addrs, SentinelPassword: p.sentinelPassword,
			Username: p.user, Password: p.pass, DB: p.db, TLSConfig: tlsConfig,
			DialTimeout: p.timeouts.dial, ReadTimeout: p.timeouts.read, WriteTimeout: p.timeouts.write,
			PoolSize: p.poolSize, MaxRetries: p.maxRetries, ContextTimeoutEnabled: true,
		})
	case "cluster":
		return redis.NewClusterClient(&redis.ClusterOptions{
			Addrs: p.addrs, Username: p.user, Password: p.pass, TLSConfig: tlsConfig,
			DialTimeout: p.timeouts.dial, ReadTimeout: p.timeouts.read, WriteTimeout: p.timeouts.write,
			PoolSize: p.poolSize, MaxRetries: p.maxRetries, ContextTimeoutEnabled: true,
		})
	default:
		return redis.NewClient(&redis.Options{
			Addr: p.addrs[0], Username: p.user, Password: p.pass, DB: p.db, TLSConfig: tlsConfig,
			DialTimeout: p.timeouts.dial, ReadTimeout: p.timeouts.read, WriteTimeout: p.timeouts.write,
			PoolSize: p.poolSize, MaxRetries: p.maxRetries, ContextTimeoutEnabled: true,
		})
	}
}
