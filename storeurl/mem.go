package storeurl

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strconv"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/memstore"
)

// The mem scheme opens an in-process memstore. It names nothing, so the URL
// is just mem:// (or mem:), with optional query parameters:
//
//	max_sessions=100000      cap on the number of sessions; 0 (default) is no cap
//	sweep_interval=1m        how often expired sessions are removed; 0 turns it off
//	default_lifetime=24h     lifetime of a session saved without expiry
//
// The returned closer stops the sweeper.
func init() { register("mem", openMem) }

func openMem(_ context.Context, u *url.URL) (session.Store, io.Closer, error) {
	if u.User != nil || u.Host != "" || (u.Path != "" && u.Path != "/") || u.Opaque != "" {
		return nil, nil, fmt.Errorf("mem URLs take no host, user or path, only query parameters (e.g. mem://?max_sessions=100000)")
	}
	opts, err := memOptions(u.Query())
	if err != nil {
		return nil, nil, err
	}
	st := memstore.New(opts...)
	return st, st, nil
}

// memParams lists the query parameters a mem URL understands.
var memParams = map[string]func(v string) (memstore.Option, error){
	"max_sessions": func(v string) (memstore.Option, error) {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("not a count (want 0 for no cap, or a positive whole number)")
		}
		return memstore.WithMaxSessions(n), nil
	},
	"sweep_interval": func(v string) (memstore.Option, error) {
		d, err := parseDuration(v, true)
		if err != nil {
			return nil, err
		}
		return memstore.WithSweepInterval(d), nil
	},
	"default_lifetime": func(v string) (memstore.Option, error) {
		d, err := parseDuration(v, false)
		if err != nil {
			return nil, err
		}
		return memstore.WithDefaultTTL(d), nil
	},
}

func memOptions(q url.Values) ([]memstore.Option, error) { return parseParams(q, memParams) }
