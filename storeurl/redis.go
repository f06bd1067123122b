package storeurl

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/session"
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
// refuses some lists without, such as "h1:7000,h2"). Query parameters, all
// optional:
//
//	prefix=sess:              key prefix (connect-redis's by default)
//	default_ttl=24h           lifetime of a session without expiry
//	dial_timeout=5s           connecting
//	read_timeout=3s           waiting for an answer (0 for go-redis's default, -1 for none)
//	write_timeout=3s          sending a command
//	pool_size=10              connections per node (go-redis's default: 10 per CPU)
//	max_retries=3             retries of a failed command (-1: none; 0: go-redis's default, 3)
//	db=0                      database number (not with Cluster)
//	master_name=mymaster      Sentinel only: the master's name, instead of the path
//	sentinel_password=...     Sentinel only: the sentinels' own password
//	skip_verify=true          TLS only: do not verify the server's certificate (tests)
//
// go-redis also retries a failed dial (5 times, 100 ms apart, by default),
// so a command to a server that is down fails after up to about
// (max_retries+1) x 5 x (dial_timeout + 100ms).
//
// Open pings the server (every node of a Cluster) with its context, so a wrong
// address fails at once. The returned closer closes the client.
func init() {
	for _, s := range []string{"redis", "rediss", "redis+sentinel", "rediss+sentinel", "redis+cluster", "rediss+cluster"} {
		register(s, openRedis)
	}
}

// redisParams lists the query parameters every redis scheme understands;
// redisSentinelParams and redisTLSParams are the extra ones.
var (
	redisParams         = []string{"prefix", "default_ttl", "dial_timeout", "read_timeout", "write_timeout", "pool_size", "max_retries", "db"}
	redisSentinelParams = []string{"master_name", "sentinel_password"}
	redisTLSParams      = []string{"skip_verify"}
)

// redisURL is a parsed redis URL.
type redisURL struct {
	kind       string // "", "sentinel" or "cluster"
	tls        bool
	addrs      []string
	user, pass string
	db         int
	master     string
	sentPass   string
	skipVerify bool
	timeouts   struct{ dial, read, write time.Duration }
	poolSize   int
	maxRetries int
	storeOpts  []redisstore.Option
}

func openRedis(ctx context.Context, u *url.URL) (session.Store, io.Closer, error) {
	p, err := parseRedisURL(u)
	if err != nil {
		return nil, nil, err
	}
	client := p.client()
	if err := pingRedis(ctx, client); err != nil {
		client.Close()
		return nil, nil, err
	}
	return redisstore.New(client, p.storeOpts...), client, nil
}

// pingRedis checks that the server, or every Cluster node, answers.
func pingRedis(ctx context.Context, c redis.UniversalClient) error {
	if cc, ok := c.(*redis.ClusterClient); ok {
		return cc.ForEachShard(ctx, func(ctx context.Context, n *redis.Client) error {
			if err := n.Ping(ctx).Err(); err != nil {
				return fmt.Errorf("ping %s: %w", n.Options().Addr, err)
			}
			return nil
		})
	}
	if err := c.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	return nil
}

func parseRedisURL(u *url.URL) (*redisURL, error) {
	p := &redisURL{}
	scheme := strings.ToLower(u.Scheme)
	base, kind, _ := strings.Cut(scheme, "+")
	p.kind, p.tls = kind, base == "rediss"
	if u.Opaque != "" {
		return nil, fmt.Errorf("want %s://host:port, not %s:%s", scheme, scheme, u.Opaque)
	}
	if u.User != nil {
		p.user = u.User.Username()
		p.pass, _ = u.User.Password()
	}
	for h := range strings.SplitSeq(u.Host, ",") {
		if h == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(h); err != nil {
			def := "6379"
			switch kind {
			case "sentinel":
				def = "26379"
			case "cluster":
				def = "7000"
			}
			h = net.JoinHostPort(strings.Trim(h, "[]"), def)
		}
		p.addrs = append(p.addrs, h)
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
			return nil, fmt.Errorf("bad database number %q in the path", path[0])
		}
		p.db = db
	case len(path) > 0:
		return nil, fmt.Errorf("unexpected path %q (want %s)", u.Path, redisPathForm(kind))
	}

	known := redisParams
	if kind == "sentinel" {
		known = append(known[:len(known):len(known)], redisSentinelParams...)
	}
	if p.tls {
		known = append(known[:len(known):len(known)], redisTLSParams...)
	}
	q, err := netStoreParams(u.Query(), known)
	if err != nil {
		return nil, err
	}
	for name, v := range q {
		var err error
		switch name {
		case "prefix":
			p.storeOpts = append(p.storeOpts, redisstore.WithPrefix(v))
		case "default_ttl":
			var d time.Duration
			if d, err = parseDuration(v, false); err == nil {
				p.storeOpts = append(p.storeOpts, redisstore.WithDefaultTTL(d))
			}
		case "dial_timeout":
			p.timeouts.dial, err = parseDuration(v, false)
		case "read_timeout":
			p.timeouts.read, err = parseNetTimeout(v)
		case "write_timeout":
			p.timeouts.write, err = parseNetTimeout(v)
		case "pool_size":
			p.poolSize, err = parseMinInt(v, 1)
		case "max_retries":
			if v == "-1" {
				p.maxRetries = -1
			} else {
				p.maxRetries, err = parseMinInt(v, 0)
			}
		case "db":
			if kind == "cluster" {
				err = fmt.Errorf("Redis Cluster has only database 0")
			} else {
				p.db, err = parseMinInt(v, 0)
			}
		case "master_name":
			if p.master != "" && p.master != v {
				err = fmt.Errorf("the path already names master %q", p.master)
			}
			p.master = v
		case "sentinel_password":
			p.sentPass = v
		case "skip_verify":
			p.skipVerify, err = strconv.ParseBool(v)
		}
		if err != nil {
			return nil, fmt.Errorf("parameter %s: %w", name, err)
		}
	}
	if kind == "sentinel" && p.master == "" {
		return nil, fmt.Errorf("no master name (want %s)", redisPathForm(kind))
	}
	return p, nil
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

// client builds the go-redis client the URL describes.
func (p *redisURL) client() redis.UniversalClient {
	var tlsConfig *tls.Config
	if p.tls {
		host, _, _ := net.SplitHostPort(p.addrs[0])
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: p.skipVerify}
		if p.kind == "" {
			tlsConfig.ServerName = host
		}
	}
	switch p.kind {
	case "sentinel":
		return redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName: p.master, SentinelAddrs: p.addrs, SentinelPassword: p.sentPass,
			Username: p.user, Password: p.pass, DB: p.db, TLSConfig: tlsConfig,
			DialTimeout: p.timeouts.dial, ReadTimeout: p.timeouts.read, WriteTimeout: p.timeouts.write,
			PoolSize: p.poolSize, MaxRetries: p.maxRetries,
		})
	case "cluster":
		return redis.NewClusterClient(&redis.ClusterOptions{
			Addrs: p.addrs, Username: p.user, Password: p.pass, TLSConfig: tlsConfig,
			DialTimeout: p.timeouts.dial, ReadTimeout: p.timeouts.read, WriteTimeout: p.timeouts.write,
			PoolSize: p.poolSize, MaxRetries: p.maxRetries,
		})
	default:
		return redis.NewClient(&redis.Options{
			Addr: p.addrs[0], Username: p.user, Password: p.pass, DB: p.db, TLSConfig: tlsConfig,
			DialTimeout: p.timeouts.dial, ReadTimeout: p.timeouts.read, WriteTimeout: p.timeouts.write,
			PoolSize: p.poolSize, MaxRetries: p.maxRetries,
		})
	}
}

// parseNetTimeout parses a read or write timeout: a duration, 0 for the
// client's default, or -1 for none.
func parseNetTimeout(v string) (time.Duration, error) {
	if v == "-1" {
		return -1, nil
	}
	return parseDuration(v, true)
}

// parseMinInt parses a whole number of at least min.
func parseMinInt(v string, min int) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < min {
		return 0, fmt.Errorf("%q is not a whole number of at least %d", v, min)
	}
	return n, nil
}
