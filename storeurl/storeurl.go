// Package storeurl opens any sessionkit store from a URL, so that programs
// (the demo, sessionctl, your own) can pick their store from a flag or an
// environment variable. Open returns the store and a closer that releases
// what it opened (client, file, sweeper). Unknown or repeated query
// parameters and malformed values are errors that name the parameter, and
// network stores are pinged with Open's context, so a wrong address fails
// at once.
//
//	mem://                                  memstore (one process only)
//	    ?max_sessions=100000                cap; evicts the sessions closest to expiry
//	    &sweep_interval=1m                  0 turns the background sweep off
//	    &default_lifetime=24h               lifetime of a browser-session session
//
//	bolt:///var/lib/app/sessions.db         boltstore, absolute path
//	bolt://./sessions.db, bolt:sessions.db  relative to the working directory
//	    ?bucket=sessions&sweep_interval=1m&default_lifetime=24h
//	    &open_timeout=1s                    wait for another process's file lock
//
//	redis://[user:pass@]host:6379[/db]      redisstore on one server; rediss:// for TLS
//	redis+sentinel://h1:26379,h2:26379/mymaster[/db]   Sentinel (or ?master_name=)
//	redis+cluster://h1:7000,h2:7001         Redis Cluster (any of its nodes)
//	    ?prefix=sess:&default_ttl=24h&dial_timeout=5s&read_timeout=3s
//	    &write_timeout=3s&pool_size=10&max_retries=3&db=0
//	    &sentinel_password=...&skip_verify=true (TLS, tests only)
//
//	memcached://h1:11211,h2:11211           memcachedstore on several servers
//	    ?prefix=sessions:&default_ttl=24h&dial_timeout=1s&timeout=500ms&pool_size=2
//
//	mongodb://[user:pass@]host:27017/db     mongostore (also mongodb+srv://)
//	    ?collection=sessions&default_ttl=24h&cleanup_interval=10m
//	    &ttl_index=true&last_modified=true&stringify=false
//	    &<any of the driver's connection string options>
//
//	postgres://user[:pass]@host:5432/db     pgstore on a pgx pool; postgresql:// too
//	    ?table=session&schema=public&create_table=true&default_ttl=24h
//	    &cleanup_interval=15m               other parameters (sslmode, ...) go to pgx
//
// Give every host of a list its port ("h1:7000,h2:7000"): Go's URL parser
// refuses "h1,h2:7000".
package storeurl

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"

	"github.com/sessionkit/session"
)

// opener opens the store for one URL scheme. The returned closer releases
// everything the opener created (clients, files, sweepers).
type opener func(ctx context.Context, u *url.URL) (session.Store, io.Closer, error)

// openers maps a URL scheme to its opener; each store's file registers its
// schemes in an init function.
var openers = map[string]opener{}

func register(scheme string, open opener) { openers[scheme] = open }

// Open parses rawURL and opens the store it names. Close the returned closer
// when done with the store.
func Open(ctx context.Context, rawURL string) (session.Store, io.Closer, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, nil, fmt.Errorf("storeurl: %w", err)
	}
	open, ok := openers[strings.ToLower(u.Scheme)]
	if !ok {
		return nil, nil, fmt.Errorf("storeurl: unknown scheme %q in %q (known: %s)", u.Scheme, redact(u), strings.Join(Schemes(), ", "))
	}
	store, closer, err := open(ctx, u)
	if err != nil {
		return nil, nil, fmt.Errorf("storeurl: open %s: %w", redact(u), err)
	}
	return store, closer, nil
}

// Schemes lists the URL schemes Open understands, sorted.
func Schemes() []string {
	s := make([]string, 0, len(openers))
	for k := range openers {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}

// redact hides a password in u for error messages.
func redact(u *url.URL) string { return u.Redacted() }

// closerFunc adapts a function to io.Closer.
type closerFunc func() error

func (f closerFunc) Close() error { return f() }

// parseParams turns a URL's query parameters into a store's options, with
// params naming each parameter a scheme understands and how to parse it.
// Unknown, repeated and malformed parameters are errors that name them.
func parseParams[O any](q url.Values, params map[string]func(v string) (O, error)) ([]O, error) {
	known := make([]string, 0, len(params))
	for k := range params {
		known = append(known, k)
	}
	given, err := netStoreParams(q, known)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(given))
	for k := range given {
		names = append(names, k)
	}
	sort.Strings(names)
	opts := make([]O, 0, len(names))
	for _, k := range names {
		o, err := params[k](given[k])
		if err != nil {
			return nil, fmt.Errorf("parameter %s=%q: %w", k, given[k], err)
		}
		opts = append(opts, o)
	}
	return opts, nil
}

// netStoreParams refuses parameters not in known, and parameters given twice.
// It returns the single value of each parameter given.
func netStoreParams(q url.Values, known []string) (map[string]string, error) {
	out := make(map[string]string, len(q))
	names := make([]string, 0, len(q))
	for k := range q {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		found := false
		for _, n := range known {
			if k == n {
				found = true
				break
			}
		}
		if !found {
			sorted := append([]string(nil), known...)
			sort.Strings(sorted)
			return nil, fmt.Errorf("unknown parameter %q (known: %s)", k, strings.Join(sorted, ", "))
		}
		if len(q[k]) > 1 {
			return nil, fmt.Errorf("parameter %q given %d times", k, len(q[k]))
		}
		out[k] = q.Get(k)
	}
	return out, nil
}
