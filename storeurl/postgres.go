package storeurl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
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
// Open pings the server with its context, so a wrong address fails at once,
// then reads no row of the session table, so that a table that is missing
// (without create_table=true) or that the role may not read fails at once
// too. The returned closer stops the cleanup and closes the pool. The
// cleanup's Close waits for a purge in progress to be cancelled on the
// server (15 seconds at most), and pgx's pool for its connections in use
// to come back: the closer waits at most 5 seconds for both, then returns
// an error wrapping context.DeadlineExceeded and lets them end in the
// background (a store call without a deadline, on a server that stopped
// answering, can hold its connection until TCP gives up on the server,
// many minutes).
func init() {
	register("postgres", openPostgres, postgresParams)
	register("postgresql", openPostgres, postgresParams)
}

// postgresParams lists the store's query parameters, taken out of the URL
// before pgx parses it.
var postgresParams = paramTable[[]pgstore.Option]{
	stringParam("table", "the table (connect-pg-simple's default: session)", func(o *[]pgstore.Option, v string) error {
		if v == "" {
			return fmt.Errorf("empty table name")
		}
		*o = append(*o, pgstore.WithTable(v))
		return nil
	}),
	stringParam("schema", "its schema (default: the search_path's first)", func(o *[]pgstore.Option, v string) error {
		if v == "" {
			return fmt.Errorf("empty schema name")
		}
		*o = append(*o, pgstore.WithSchema(v))
		return nil
	}),
	boolParam("create_table", "create the table and its index if missing", func(o *[]pgstore.Option, on bool) error {
		if on {
			*o = append(*o, pgstore.WithCreateTable())
		}
		return nil
	}),
	durationParam("default_ttl", positive, "lifetime of a session without expiry", option(pgstore.WithDefaultTTL)),
	durationParam("cleanup_interval", zeroAllowed, "delete expired rows this often (0 turns it off)", option(pgstore.WithCleanupInterval)),
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
	st, err := pgstore.NewContext(ctx, pool, opts...)
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	if err := checkTable(ctx, pool, st); err != nil {
		_ = st.Close()
		pool.Close()
		return nil, nil, err
	}
	return st, closerFunc(func() error {
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		var err error
		if werr := within(ctx, "the closing", func() error { err = st.Close(); pool.Close(); return nil }); werr != nil {
			return fmt.Errorf("storeurl: stop the cleanup and close the postgres pool, which wait for a purge in progress and the connections in use, within %v: %w", closeTimeout, werr)
		}
		return err
	}), nil
}

// checkTable reads no row of the session table, so that a table that is
// missing (a database no migration has set up, a URL without
// create_table=true), or that the role may not read, fails Open, where the
// store opened and then failed every request. Its statement is none of the
// store's, so the store's own statements still go to the server as text
// the first time they run on a connection.
func checkTable(ctx context.Context, pool *pgxpool.Pool, st *pgstore.Store) error {
	_, err := pool.Exec(ctx, "SELECT FROM "+st.Table()+" LIMIT 0")
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P01" { // undefined_table
		return fmt.Errorf("no session table %s: add create_table=true to the URL, or create it (pgstore.CreateTableSQL): %w", st.Table(), err)
	}
	if err != nil {
		return fmt.Errorf("session table %s: %w", st.Table(), err)
	}
	return nil
}

// parsePostgresURL splits u into pgx's configuration (u without the store's
// parameters) and the store's options.
func parsePostgresURL(u *url.URL) (*pgxpool.Config, []pgstore.Option, error) {
	if u.Opaque != "" {
		return nil, nil, fmt.Errorf("want %s://user@host:port/db, not %s:%s", u.Scheme, u.Scheme, hideCredentials(u.Opaque))
	}
	var opts []pgstore.Option
	driverQuery, err := applyOwnParams(&opts, u, postgresParams)
	if err != nil {
		return nil, nil, err
	}
	pgURL := *u
	pgURL.RawQuery = driverQuery
	cfg, err := pgxpool.ParseConfig(pgURL.String())
	if err != nil {
		return nil, nil, pgxParseError(err)
	}
	return cfg, opts, nil
}

// pgxParseError is pgx's error about the URL without the URL, which pgx
// quotes with only the secrets it knows of hidden (Open's error shows the
// URL redacted already). It wraps err.
func pgxParseError(err error) error {
	var pce *pgconn.ParseConfigError
	if !errors.As(err, &pce) {
		return &hiddenError{msg: "pgx cannot read the URL (" + escapeHint + ")", err: err}
	}
	c := *pce
	c.ConnString = ""
	msg := strings.TrimPrefix(c.Error(), "cannot parse ``: ")
	return &hiddenError{msg: "pgx cannot read the URL: " + msg, err: err}
}
