// Package storeurl opens any sessionkit store from a URL, so that programs
// (the demo, sessionctl, your own) can pick their store from a flag or an
// environment variable:
//
//	mem://                               memstore
//	bolt:///path/to/file.db              boltstore
//	redis://host:port/db, rediss://...   redisstore (also redis+sentinel://, redis+cluster://)
//	memcached://h1:11211,h2:11211        memcachedstore
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
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var opts []O
	for _, k := range keys {
		parse, ok := params[k]
		if !ok {
			known := make([]string, 0, len(params))
			for n := range params {
				known = append(known, n)
			}
			sort.Strings(known)
			return nil, fmt.Errorf("unknown parameter %q (known: %s)", k, strings.Join(known, ", "))
		}
		if len(q[k]) > 1 {
			return nil, fmt.Errorf("parameter %q given %d times", k, len(q[k]))
		}
		o, err := parse(q.Get(k))
		if err != nil {
			return nil, fmt.Errorf("parameter %s=%q: %w", k, q.Get(k), err)
		}
		opts = append(opts, o)
	}
	return opts, nil
}
