package pgstore_test

import (
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/pgstore"
	"github.com/sessionkit/session/storetest"
)

// A pool behind PgBouncer's transaction pooling cannot use pgx's prepared
// statements and is configured with default_query_exec_mode=exec or
// simple_protocol, in which pgx sends a []byte as bytea: every write of a
// session document failed ("invalid input syntax for type json"). The store
// passes the conformance suite in every mode pgx has besides the default
// (TestConformance).
func TestStorePassesConformanceInEveryQueryExecMode(t *testing.T) {
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheDescribe, pgx.QueryExecModeDescribeExec, pgx.QueryExecModeExec, pgx.QueryExecModeSimpleProtocol} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			pool := poolOn(t, testserver.SharedPostgres(t).NewDatabase(t), func(cfg *pgxpool.Config) {
				cfg.ConnConfig.DefaultQueryExecMode = mode
			})
			storetest.Run(t, func(t *testing.T) session.Store { return newStore(t, pool) }, storetest.KeepsOnlyJSON(pgstore.ErrNotJSON))
		})
	}
}
