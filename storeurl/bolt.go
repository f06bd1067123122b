package storeurl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	berrors "go.etcd.io/bbolt/errors"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/boltstore"
)

// The bolt scheme names a local file, never a host:
//
//	bolt:///var/lib/app/sessions.db   absolute path (like file:///)
//	bolt://./sessions.db              relative to the working directory
//	bolt:sessions.db                  relative too (the opaque form)
//
// The query parameters, all optional, are those of boltParams. Open creates
// a file that does not exist, unless create=false, with which a missing
// file is an error (fs.ErrNotExist) and nothing is created: what a tool
// that only inspects sessions wants of a mistyped path. The returned
// closer stops the sweeper and closes the file.
//
// bbolt cannot be interrupted while it waits for another process's lock on
// the file, so Open's context bounds that wait by its deadline: Open gives
// up at the deadline, or after open_timeout (default one second; 0 waits
// forever) if that comes first. A context cancelled without a deadline is
// noticed only before the wait.
func init() { register("bolt", openBolt, boltParams) }

// boltURL is a parsed bolt URL's options; openTimeout is set when the URL
// gives open_timeout, which openBolt weighs against the context's deadline.
type boltURL struct {
	opts        []boltstore.Option
	openTimeout *time.Duration
	noCreate    bool // create=false
}

func openBolt(ctx context.Context, u *url.URL) (session.Store, io.Closer, error) {
	path, err := boltPath(u)
	if err != nil {
		return nil, nil, err
	}
	var p boltURL
	if err := applyParams(&p, u, boltParams); err != nil {
		return nil, nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if p.noCreate {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("file %q does not exist (create=false): %w", hideCredentials(path), fs.ErrNotExist)
		}
	}
	opts := p.opts
	wait, byDeadline := p.lockWait(ctx)
	if wait != nil {
		opts = append(opts, boltstore.WithOpenTimeout(*wait))
	}
	st, err := boltstore.Open(path, opts...)
	if err != nil {
		if byDeadline && errors.Is(err, berrors.ErrTimeout) {
			// bbolt gives up a little before the deadline: say why it did.
			return nil, nil, fmt.Errorf("%w (at the deadline of Open's context: %w)", err, context.DeadlineExceeded)
		}
		return nil, nil, err
	}
	return st, st, nil
}

// lockWait is how long Open may wait for the file lock: open_timeout if
// given (0 for ever), else boltstore's default, cut to the time left before
// ctx's deadline; nil leaves boltstore's default. byDeadline reports that
// the deadline is what limits the wait.
func (p *boltURL) lockWait(ctx context.Context) (wait *time.Duration, byDeadline bool) {
	limit := boltstore.DefaultOpenTimeout
	if p.openTimeout != nil {
		limit = *p.openTimeout
	}
	if deadline, ok := ctx.Deadline(); ok {
		// At least a millisecond: boltstore reads zero as "wait for ever".
		left := max(time.Until(deadline).Round(time.Millisecond), time.Millisecond)
		if limit <= 0 || left < limit {
			return &left, true
		}
	}
	return p.openTimeout, false
}

// boltPath returns the file a bolt URL names.
func boltPath(u *url.URL) (string, error) {
	const forms = "use bolt:///absolute/path.db, bolt://./relative/path.db or bolt:relative/path.db"
	if u.User != nil {
		return "", fmt.Errorf("bolt URLs take no user or password (%s)", forms)
	}
	if u.Opaque != "" { // bolt:relative.db
		p, err := url.PathUnescape(u.Opaque)
		if err != nil {
			return "", fmt.Errorf("bad path %q: %w", hideCredentials(u.Opaque), err)
		}
		return filepath.FromSlash(p), nil
	}
	var p string
	switch u.Host {
	case "", "localhost": // bolt:///abs/path.db
		p = u.Path
	case ".": // bolt://./rel/path.db
		p = strings.TrimPrefix(u.Path, "/")
	default:
		return "", fmt.Errorf("bolt URLs name a local file, not a host (got host %q; %s)", u.Host, forms)
	}
	if p == "" || strings.HasSuffix(p, "/") {
		return "", fmt.Errorf("no file name in bolt URL (%s)", forms)
	}
	return filepath.FromSlash(p), nil
}

// boltParams lists the query parameters a bolt URL understands.
var boltParams = paramTable[boltURL]{
	stringParam("bucket", "the bbolt bucket that holds the sessions", func(p *boltURL, v string) error {
		if v == "" {
			return fmt.Errorf("empty bucket name")
		}
		return option(boltstore.WithBucket)(&p.opts, v)
	}),
	durationParam("sweep_interval", zeroAllowed, "how often expired sessions are deleted; 0 turns it off", func(p *boltURL, d time.Duration) error {
		return option(boltstore.WithSweepInterval)(&p.opts, d)
	}),
	durationParam("default_ttl", positive, "lifetime of a session saved without expiry", func(p *boltURL, d time.Duration) error {
		return option(boltstore.WithDefaultTTL)(&p.opts, d)
	}),
	boolParam("create", "create the file if it does not exist (the default); false refuses a missing file", func(p *boltURL, on bool) error {
		p.noCreate = !on
		return nil
	}),
	durationParam("open_timeout", zeroAllowed, "how long to wait for another process's file lock (0: for ever; never past Open's deadline)", func(p *boltURL, d time.Duration) error {
		p.openTimeout = &d
		return nil
	}),
}
