// Package storeurl opens any sessionkit store from a URL, so that programs
// (the demo, sessionctl, your own) can pick their store from a flag or an
// environment variable. Open returns the store and a closer that releases
// what it opened (client, file, sweeper). Network stores are pinged with
// Open's context, so a wrong address fails in Open, not at the first
// request: at once when the connection is refused; when nothing answers,
// at the context's deadline, or after the driver's own dial timeouts and
// retries (give Open a context with a deadline).
//
// Every scheme reads its query parameters the same way: unknown or repeated
// parameters and malformed values are errors that name the parameter, all
// of them reported in the order they appear in the URL (mongodb and
// postgres hand the parameters they do not know to their driver instead,
// but for one that spells a store parameter another way, such as
// cleanupInterval, an error naming the store's spelling); a semicolon in
// the query is an error. Errors never show a secret: the user-info password and
// the value of every parameter whose name contains "password", "secret",
// "token" or "key" are replaced by "xxxxx" (Redact does the same for your
// logs), so is the value of every KEY:value piece of a comma-separated
// value whose KEY is so named (mongodb's
// authMechanismProperties=AWS_SESSION_TOKEN:...), and so is everything
// before an "@" that is not at the end of the user info, where a password
// with an unescaped "/", "?" or "#" leaves its pieces. A URL that does not
// parse is described, not quoted, and so is a key=value connection string
// ("host=db password=..."), which is refused. Percent-escape a password's
// reserved characters: "p@ss/w#rd" is "p%40ss%2Fw%23rd".
//
//	mem://                                  memstore (one process only)
//	    ?max_sessions=100000                cap; evicts the sessions closest to expiry
//	    &sweep_interval=1m                  0 turns the background sweep off
//	    &default_ttl=24h                    lifetime of a browser-session session
//
//	bolt:///var/lib/app/sessions.db         boltstore, absolute path
//	bolt://./sessions.db, bolt:sessions.db  relative to the working directory
//	    ?bucket=sessions&sweep_interval=1m&default_ttl=24h
//	    &open_timeout=1s                    wait for another process's file lock
//	                                        (0: for ever), never past Open's deadline
//	    &create=false                       refuse a file that does not exist
//
//	redis://[user:pass@]host:6379[/db]      redisstore on one server
//	redis+sentinel://h1:26379,h2:26379/mymaster[/db]   Sentinel (or ?master_name=)
//	redis+cluster://h1:7000,h2:7001         Redis Cluster (any of its nodes)
//	rediss://, rediss+sentinel://, rediss+cluster://   the same over TLS
//	    ?prefix=sess:&default_ttl=24h&dial_timeout=5s&read_timeout=3s
//	    &write_timeout=3s&pool_size=10&max_retries=3&db=0
//	    &user_index_prefix=sessuser:        the user index's keys (by default prefix
//	                                        without its final colon, then user:)
//	    &sentinel_password=...              Sentinel only
//	    &tls_ca=/etc/ssl/redis-ca.pem       TLS only: the authorities that sign the
//	                                        server's certificate (default: the system's)
//	    &tls_cert=client.pem&tls_key=client-key.pem   a client certificate and its key
//	    &tls_server_name=redis.internal     verify this name, not the URL's host
//	    &skip_verify=true                   TLS only, for tests
//
//	memcached://h1:11211,h2:11211           memcachedstore on several servers
//	    ?prefix=sessions:&default_ttl=24h&dial_timeout=1s&timeout=500ms&pool_size=2
//
//	mongodb://[user:pass@]host:27017/db     mongostore (also mongodb+srv://)
//	    ?collection=sessions&default_ttl=24h
//	    &cleanup_interval=15m               the default; 0 turns the cleanup off
//	    &ttl_index=true                     the server deletes expired sessions (then
//	                                        no cleanup unless cleanup_interval is given)
//	    &last_modified=true&stringify=false
//	    &<any of the driver's connection string options>
//
//	postgres://user[:pass]@host:5432/db     pgstore on a pgx pool; postgresql:// too
//	    ?table=session&schema=public&create_table=true&default_ttl=24h
//	    &cleanup_interval=15m               other parameters (sslmode, ...) go to pgx
//
// Give every host of a list its port ("h1:7000,h2:7000"): Go's URL parser
// refuses some lists without, such as "h1:7000,h2". A host without a port
// gets the scheme's default.
package storeurl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/sessionkit/session"
)

// opener opens the store for one URL scheme. The returned closer releases
// everything the opener created (clients, files, sweepers).
type opener func(ctx context.Context, u *url.URL) (session.Store, io.Closer, error)

// scheme is what a registered URL scheme brings: its opener, and the query
// parameters it understands (for the test that the package doc lists them).
type scheme struct {
	open   opener
	params []paramInfo
}

// schemes maps a URL scheme to its opener; each store's file registers its
// schemes in an init function.
var schemes = map[string]scheme{}

// paramLister is a paramTable of any configuration type.
type paramLister interface{ infos() []paramInfo }

// register makes Open understand the URL scheme name (lower case), which
// takes the query parameters of tables. Adding a scheme is a new file with
// its parameter table, an opener that calls applyParams, and a register
// call in its init function.
func register(name string, open opener, tables ...paramLister) {
	if _, dup := schemes[name]; dup {
		panic("storeurl: scheme " + name + " registered twice")
	}
	var params []paramInfo
	for _, t := range tables {
		params = append(params, t.infos()...)
	}
	schemes[name] = scheme{open: open, params: params}
}

// Open parses rawURL and opens the store it names. Close the returned closer
// when done with the store. Errors show the URL with its secrets redacted
// (see Redact).
func Open(ctx context.Context, rawURL string) (session.Store, io.Closer, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, nil, fmt.Errorf("storeurl: not a URL: %w", parseError(err))
	}
	shown := shownURL(rawURL, u)
	if isKeyValue(u) {
		return nil, nil, fmt.Errorf("storeurl: %s: a key=value connection string (host=... password=...) is not a URL; write it as one, such as postgres://user:password@host:5432/db?sslmode=require", shown)
	}
	if u.Fragment != "" || strings.HasSuffix(rawURL, "#") {
		// Nothing reads a fragment: the URL was most likely cut at a "#"
		// of the password.
		return nil, nil, fmt.Errorf("storeurl: %s: a store URL has no #fragment (%s)", shown, escapeHint)
	}
	if strings.Contains(u.Path, "@") && !strings.EqualFold(u.Scheme, "bolt") {
		// "redis://user:12/34@host": the user info ends at the "/" of the
		// password, and the port and path are pieces of it.
		return nil, nil, fmt.Errorf("storeurl: %s: an \"@\" in the path, so the user info was cut short (%s)", shown, escapeHint)
	}
	s, ok := schemes[strings.ToLower(u.Scheme)]
	if !ok {
		return nil, nil, fmt.Errorf("storeurl: unknown scheme %q in %q (known: %s)", u.Scheme, shown, strings.Join(Schemes(), ", "))
	}
	store, closer, err := s.open(ctx, u)
	if err != nil {
		return nil, nil, fmt.Errorf("storeurl: open %s: %w", shown, err)
	}
	return store, closer, nil
}

// escapeHint is the advice of the errors of a URL that a password with
// reserved characters may have broken.
const escapeHint = "a password with reserved characters such as @ : / ? # must be percent-escaped: %40 %3A %2F %3F %23"

// parseError describes an error of url.Parse without its text, which
// quotes the URL or a piece of it (`invalid port ":ab" after host`, where
// ":ab" is the start of a password), and says what to check. It wraps err
// for errors.Is and errors.As.
func parseError(err error) error {
	var (
		escape url.EscapeError
		host   url.InvalidHostError
		what   string
	)
	msg := err.Error()
	switch {
	case errors.As(err, &escape):
		what = "a bad percent-escape"
	case errors.As(err, &host):
		what = "a character not allowed in a host name"
	case strings.Contains(msg, "invalid port"):
		what = "a port that is not a number"
	case strings.Contains(msg, "invalid userinfo"):
		what = "a character not allowed in the user info"
	case strings.Contains(msg, "control character"):
		what = "a control character"
	case strings.Contains(msg, "missing protocol scheme"):
		what = "no scheme (want e.g. redis://host:6379)"
	default:
		what = "a syntax error"
	}
	return &hiddenError{msg: what + "; check the host and port, and note that " + escapeHint, err: err}
}

// hiddenError is an error shown by msg, not by the text of the error it
// wraps, which may quote a secret.
type hiddenError struct {
	msg string
	err error
}

func (e *hiddenError) Error() string { return e.msg }
func (e *hiddenError) Unwrap() error { return e.err }

// Schemes lists the URL schemes Open understands, sorted.
func Schemes() []string {
	return slices.Sorted(maps.Keys(schemes))
}

// closeTimeout bounds how long the closer of a network store waits for its
// client (a mongodb client's disconnection, a postgres pool's closing).
const closeTimeout = 5 * time.Second

// within runs fn, what (say "the disconnection"), in a goroutine of its
// own and returns its error, waiting no longer than ctx: once ctx ends
// first, it returns an error wrapping ctx's, and fn goes on in the
// background.
func within(ctx context.Context, what string, fn func() error) error {
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("gave up waiting, %s goes on in the background: %w", what, ctx.Err())
	}
}

// closerFunc adapts a function to io.Closer.
type closerFunc func() error

func (f closerFunc) Close() error { return f() }
