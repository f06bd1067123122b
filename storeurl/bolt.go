package storeurl

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/boltstore"
)

// The bolt scheme names a local file, never a host:
//
//	bolt:///var/lib/app/sessions.db   absolute path (like file:///)
//	bolt://./sessions.db              relative to the working directory
//	bolt:sessions.db                  relative too (the opaque form)
//
// Query parameters, all optional:
//
//	bucket=sessions            the bbolt bucket that holds the sessions
//	sweep_interval=1m          how often expired sessions are deleted; 0 turns it off
//	default_lifetime=24h       lifetime of a session saved without expiry
//	open_timeout=1s            how long to wait for another process's file lock
//
// The returned closer stops the sweeper and closes the file.
func init() { register("bolt", openBolt) }

func openBolt(_ context.Context, u *url.URL) (session.Store, io.Closer, error) {
	path, err := boltPath(u)
	if err != nil {
		return nil, nil, err
	}
	opts, err := boltOptions(u.Query())
	if err != nil {
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
			return "", fmt.Errorf("bad path %q: %w", u.Opaque, err)
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
var boltParams = map[string]func(v string) (boltstore.Option, error){
	"bucket": func(v string) (boltstore.Option, error) {
		if v == "" {
			return nil, fmt.Errorf("empty bucket name")
		}
		return boltstore.WithBucket(v), nil
	},
	"sweep_interval": func(v string) (boltstore.Option, error) {
		d, err := parseDuration(v, true)
		if err != nil {
			return nil, err
		}
		return boltstore.WithSweepInterval(d), nil
	},
	"default_lifetime": func(v string) (boltstore.Option, error) {
		d, err := parseDuration(v, false)
		if err != nil {
			return nil, err
		}
		return boltstore.WithDefaultTTL(d), nil
	},
	"open_timeout": func(v string) (boltstore.Option, error) {
		d, err := parseDuration(v, true)
		if err != nil {
			return nil, err
		}
		return boltstore.WithOpenTimeout(d), nil
	},
}

func boltOptions(q url.Values) ([]boltstore.Option, error) { return parseParams(q, boltParams) }

// parseDuration parses a Go duration ("90s", "1h30m"); a bare "0" is zero.
// Negative durations are refused, and zero too unless allowZero.
func parseDuration(v string, allowZero bool) (time.Duration, error) {
	if v == "" {
		return 0, fmt.Errorf("empty duration")
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("not a duration (want e.g. 30s, 10m, 24h)")
	}
	if d < 0 || (d == 0 && !allowZero) {
		if allowZero {
			return 0, fmt.Errorf("must not be negative")
		}
		return 0, fmt.Errorf("must be positive")
	}
	return d, nil
}
