package storeurl

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
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
// The query parameters, all optional, are those of memcachedParams. Set
// pool_size near your peak of parallel requests.
//
// Open pings every server with "version", so a wrong address fails at once,
// and within its context: a server that does not answer fails Open at the
// context's deadline (with its error) if that comes before the timeout.
// The returned closer closes the client's connections.
func init() { register("memcached", openMemcached, memcachedParams) }

// memcachedURL is a parsed memcached URL: what the gomemcache client and
// the store are built from.
type memcachedURL struct {
	addrs                []string
	timeout, dialTimeout time.Duration
	poolSize             int
	storeOpts            []memcachedstore.Option
}

// memcachedParams lists the query parameters a memcached URL understands.
var memcachedParams = paramTable[memcachedURL]{
	stringParam("prefix", "key prefix (connect-memcached's by default)", func(p *memcachedURL, v string) error {
		if err := memcachedstore.CheckPrefix(v); err != nil { // New would panic
			return err
		}
		p.storeOpts = append(p.storeOpts, memcachedstore.WithPrefix(v))
		return nil
	}),
	durationParam("default_ttl", positive, "lifetime of a session without expiry", func(p *memcachedURL, d time.Duration) error {
		p.storeOpts = append(p.storeOpts, memcachedstore.WithDefaultTTL(d))
		return nil
	}),
	durationParam("dial_timeout", positive, "connecting, if shorter than timeout (default: timeout)", func(p *memcachedURL, d time.Duration) error {
		p.dialTimeout = d
		return nil
	}),
	durationParam("timeout", positive, "each read or write on a connection (gomemcache's default: 500ms)", func(p *memcachedURL, d time.Duration) error {
		p.timeout = d
		return nil
	}),
	intParam("pool_size", 1, "idle connections kept per server (gomemcache's default: 2)", func(p *memcachedURL, n int) error {
		p.poolSize = n
		return nil
	}),
}

func openMemcached(ctx context.Context, u *url.URL) (session.Store, io.Closer, error) {
	p, err := parseMemcachedURL(u)
	if err != nil {
		return nil, nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	client, err := p.client()
	if err != nil {
		return nil, nil, err
	}
	if err := pingMemcached(ctx, client); err != nil {
		client.Close()
		return nil, nil, fmt.Errorf("ping: %w", err)
	}
	return memcachedstore.New(client, p.storeOpts...), closerFunc(client.Close), nil
}

// pingMemcached pings every server of client within ctx. gomemcache takes
// no context: its ping of a server that does not answer ends only after
// the client's timeout. So, for the ping, the client dials within ctx too,
// and every connection it opens is closed when ctx is done, which ends a
// ping waiting on it; the error is then ctx's. The connections that
// outlive the ping are the client's again, ctx no longer watching them.
func pingMemcached(ctx context.Context, client *memcache.Client) error {
	own := client.DialContext
	dial := own
	if dial == nil {
		dial = (&net.Dialer{}).DialContext // gomemcache's own ctx bounds it by the timeout
	}
	var (
		mu    sync.Mutex
		stops []func() bool
	)
	client.DialContext = func(dialCtx context.Context, network, addr string) (net.Conn, error) {
		dialCtx, cancel := context.WithCancel(dialCtx)
		defer cancel()
		stopCancel := context.AfterFunc(ctx, cancel)
		defer stopCancel()
		nc, err := dial(dialCtx, network, addr)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		stops = append(stops, context.AfterFunc(ctx, func() { nc.Close() }))
		mu.Unlock()
		return nc, nil
	}
	err := client.Ping()
	// Ping has returned: nothing dials now. The client goes back to its
	// own dialer, its connections to their own deadlines; if ctx closed
	// one of them all the same, ctx ended the ping.
	client.DialContext = own
	mu.Lock()
	defer mu.Unlock()
	closed := false
	for _, stop := range stops {
		closed = !stop() || closed
	}
	if closed || (err != nil && ctx.Err() != nil) {
		return ctx.Err()
	}
	return err
}

func parseMemcachedURL(u *url.URL) (*memcachedURL, error) {
	const form = "memcached://host:port,host:port"
	if u.Opaque != "" || u.User != nil {
		return nil, fmt.Errorf("memcached URLs take servers and query parameters only (%s)", form)
	}
	if p := strings.Trim(u.Path, "/"); p != "" {
		return nil, fmt.Errorf("unexpected path %q (%s)", hideCredentials(u.Path), form)
	}
	addrs, err := splitHosts(u.Host, "11211")
	if err != nil {
		return nil, err
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("no servers (%s)", form)
	}
	p := &memcachedURL{addrs: addrs}
	if err := applyParams(p, u, memcachedParams); err != nil {
		return nil, err
	}
	return p, nil
}

// client builds the gomemcache client the URL describes.
func (p *memcachedURL) client() (*memcache.Client, error) {
	ss := new(memcache.ServerList)
	if err := ss.SetServers(p.addrs...); err != nil {
		return nil, fmt.Errorf("servers %s: %w", strings.Join(p.addrs, ","), err)
	}
	client := memcache.NewFromSelector(ss)
	client.Timeout = p.timeout
	client.MaxIdleConns = p.poolSize
	if p.dialTimeout > 0 {
		d := &net.Dialer{Timeout: p.dialTimeout}
		client.DialContext = d.DialContext
	}
	return client, nil
}
