package storeurl

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/pgstore"
)

// The postgres scheme opens a pgstore on a pgx pool; the URL is PostgreSQL's
// own (libpq's, as pgx reads it), plus the store's parameters:
//
//	postgres://[user[:password]@]host[:port]/db   postgresql:// too
//
// The store's query parameters, all optional:
//
//	table=session            the table (connect-pg-simple's by default)
//	schema=public            its schema (default: the search_path's first)
//	create_table=true        create the table and index if missing
//	default_ttl=24h          lifetime of a session without expiry
//	cleanup_interval=15m     how often expired rows are deleted; 0 turns it off
//
// Every other parameter goes to pgx: sslmode, connect_timeout,
// pool_max_conns, application_name and the rest (see pgxpool.ParseConfig).
// Open pings the server with its context, so a wrong address fails at once.
// The returned closer stops the cleanup and closes the pool.
func init() {
	register("postgres", openPostgres)
	register("postgresql", openPostgres)
}

var postgresParams = map[string]func(v string) (pgstore.Option, error){
	"table": func(v string) (pgstore.Option, error) {
		if v == "" {
			return nil, fmt.Errorf("empty table name")
		}
		return pgstore.WithTable(v), nil
	},
	"schema": func(v string) (pgstore.Option, error) {
		if v == "" {
			return nil, fmt.Errorf("empty schema name")
		}
		return pgstore.WithSchema(v), nil
	},
	"create_table": func(v string) (pgstore.Option, error) {
		create, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("want true or false")
		}
		if !create {
			return nil, nil // no option; parsePostgresURL drops it
		}
		return pgstore.WithCreateTable(), nil
	},
	"default_ttl": func(v string) (pgstore.Option, error) {
		d, err := parseDuration(v, false)
		if err != nil {
			return nil, err
		}
		return pgstore.WithDefaultTTL(d), nil
	},
	"cleanup_interval": func(v string) (pgstore.Option, error) {
		d, err := parseDuration(v, true)
		if err != nil {
			return nil, err
		}
		return pgstore.WithCleanupInterval(d), nil
	},
}

func openPostgres(ctx context.Context, u *url.URL) (session.Store, io.Closer, error) {
	cfg, opts, err := parsePostgresURL(u)
	if err != nil {
		return nil, nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, nil, fmt.Errorf("ping: %w", err)
	}
	st, err := pgstore.New(pool, opts...)
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	return st, closerFunc(func() error {
		err := st.Close()
		pool.Close()
		return err
	}), nil
}

// parsePostgresURL splits u into pgx's configuration (u without the store's
// parameters) and the store's options.
func parsePostgresURL(u *url.URL) (*pgxpool.Config, []pgstore.Option, error) {
	if u.Opaque != "" {
		return nil, nil, fmt.Errorf("want %s://user@host:port/db, not %s:%s", u.Scheme, u.Scheme, u.Opaque)
	}
	q := u.Query()
	ours, theirs := url.Values{}, url.Values{}
	for k, v := range q {
		if _, ok := postgresParams[k]; ok {
			ours[k] = v
		} else {
			theirs[k] = v
		}
	}
	opts, err := parseParams(ours, postgresParams)
	if err != nil {
		return nil, nil, err
	}
	opts = slices.DeleteFunc(opts, func(o pgstore.Option) bool { return o == nil })
	pgURL := *u
	pgURL.RawQuery = theirs.Encode()
	cfg, err := pgxpool.ParseConfig(pgURL.String())
	if err != nil {
		return nil, nil, err // pgx's message hides the password
	}
	return cfg, opts, nil
}
