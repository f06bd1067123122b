package storeurl

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/boltstore"
)

// The bolt scheme names a local file, never a host:
//
//	bolt:///var/lib/app/sessions.db   absolute path (like file:///)
//	bolt://./sessions.db              relative to the working directory
//	bolt:sessions.db                  relative too (the opaque form)
//
// The query parameters, all optional, are those of boltParams. The returned closer stops the sweeper and closes the file.
func init() { register("bolt", openBolt, boltParams) }

func openBolt(_ context.Context, u *url.URL) (session.Store, io.Closer, error) {
	path, err := boltPath(u)
	if err != nil {
		return nil, nil, err
	}
	var opts []boltstore.Option
	if err := applyParams(&opts, u, boltParams); err != nil {
		return nil, nil, err
	}
	st, err := boltstore.Open(path, opts...)
	if err != nil {
		return nil, nil, err
	}
	return st, st, nil
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
var boltParams = paramTable[[]boltstore.Option]{
	stringParam("bucket", "the bbolt bucket that holds the sessions", func(opts *[]boltstore.Option, v string) error {
		if v == "" {
			return fmt.Errorf("empty bucket name")
		}
		return option(boltstore.WithBucket)(opts, v)
	}),
	durationParam("sweep_interval", zeroAllowed, "how often expired sessions are deleted; 0 turns it off", option(boltstore.WithSweepInterval)),
	durationParam("default_ttl", positive, "lifetime of a session saved without expiry", option(boltstore.WithDefaultTTL)),
	durationParam("open_timeout", zeroAllowed, "how long to wait for another process's file lock", option(boltstore.WithOpenTimeout)),
}
