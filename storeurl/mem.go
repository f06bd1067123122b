package storeurl

import (
	"context"
	"fmt"
	"io"
	"net/url"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/memstore"
)

// The mem scheme opens an in-process memstore. It names nothing, so the URL
// is just mem:// (or mem:), with the optional query parameters of memParams.
// The returned closer stops the sweeper.
func init() { register("mem", openMem, memParams) }

// memParams lists the query parameters a mem URL understands.
var memParams = paramTable[[]memstore.Option]{
	intParam("max_sessions", 0, "cap on the number of sessions; 0 (default) is no cap", option(memstore.WithMaxSessions)),
	durationParam("sweep_interval", zeroAllowed, "how often expired sessions are removed; 0 turns it off", option(memstore.WithSweepInterval)),
	durationParam("default_ttl", positive, "lifetime of a session saved without expiry", option(memstore.WithDefaultTTL)),
}

func openMem(_ context.Context, u *url.URL) (session.Store, io.Closer, error) {
	if u.User != nil || u.Host != "" || (u.Path != "" && u.Path != "/") || u.Opaque != "" {
		return nil, nil, fmt.Errorf("mem URLs take no host, user or path, only query parameters (e.g. mem://?max_sessions=100000)")
	}
	var opts []memstore.Option
	if err := applyParams(&opts, u, memParams); err != nil {
		return nil, nil, err
	}
	st := memstore.New(opts...)
	return st, st, nil
}
