package storeurl

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/memcachedstore"
)

// The memcached scheme opens a memcachedstore on one or several servers
// (keys are spread over them by gomemcache):
//
//	memcached://h1:11211,h2:11211      the servers (port 11211 by default)
//
// Query parameters, all optional:
//
//	prefix=sessions:        key prefix (connect-memcached's by default)
//	default_ttl=24h         lifetime of a session without expiry
//	dial_timeout=1s         connecting, if shorter than timeout (default: timeout)
//	timeout=500ms           each read or write on a connection (gomemcache's default: 500ms)
//	pool_size=2             idle connections kept per server (gomemcache's default: 2);
//	                        set it near your peak of parallel requests
//
// Open pings every server with "version", so a wrong address fails at once.
// The returned closer closes the client's connections.
func init() { register("memcached", openMemcached) }

var memcachedParams = []string{"prefix", "default_ttl", "dial_timeout", "timeout", "pool_size"}

func openMemcached(ctx context.Context, u *url.URL) (session.Store, io.Closer, error) {
	client, opts, err := parseMemcachedURL(u)
	if err != nil {
		return nil, nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if err := client.Ping(); err != nil {
		client.Close()
		return nil, nil, fmt.Errorf("ping: %w", err)
	}
	return memcachedstore.New(client, opts...), closerFunc(client.Close), nil
}

func parseMemcachedURL(u *url.URL) (*memcache.Client, []memcachedstore.Option, error) {
	const form = "memcached://host:port,host:port"
	if u.Opaque != "" || u.User != nil {
		return nil, nil, fmt.Errorf("memcached URLs take servers and query parameters only (%s)", form)
	}
	if p := strings.Trim(u.Path, "/"); p != "" {
		return nil, nil, fmt.Errorf("unexpected path %q (%s)", u.Path, form)
	}
	var addrs []string
	for h := range strings.SplitSeq(u.Host, ",") {
		if h == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(h); err != nil {
			h = net.JoinHostPort(strings.Trim(h, "[]"), "11211")
		}
		addrs = append(addrs, h)
	}
	if len(addrs) == 0 {
		return nil, nil, fmt.Errorf("no servers (%s)", form)
	}
	q, err := netStoreParams(u.Query(), memcachedParams)
	if err != nil {
		return nil, nil, err
	}
	var (
		opts                 []memcachedstore.Option
		timeout, dialTimeout time.Duration
		poolSize             int
	)
	for name, v := range q {
		var err error
		switch name {
		case "prefix":
			if err = memcachedstore.CheckPrefix(v); err == nil { // New would panic
				opts = append(opts, memcachedstore.WithPrefix(v))
			}
		case "default_ttl":
			var d time.Duration
			if d, err = parseDuration(v, false); err == nil {
				opts = append(opts, memcachedstore.WithDefaultTTL(d))
			}
		case "timeout":
			timeout, err = parseDuration(v, false)
		case "dial_timeout":
			dialTimeout, err = parseDuration(v, false)
		case "pool_size":
			poolSize, err = parseMinInt(v, 1)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("parameter %s: %w", name, err)
		}
	}
	ss := new(memcache.ServerList)
	if err := ss.SetServers(addrs...); err != nil {
		return nil, nil, fmt.Errorf("servers %s: %w", strings.Join(addrs, ","), err)
	}
	client := memcache.NewFromSelector(ss)
	client.Timeout = timeout
	client.MaxIdleConns = poolSize
	if dialTimeout > 0 {
		d := &net.Dialer{Timeout: dialTimeout}
		client.DialContext = d.DialContext
	}
	return client, opts, nil
}
