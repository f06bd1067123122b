package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/shortid"
)

// The user index (session.UserIndex, issue #14) is a second table beside
// the session table, named after it plus "_users" (in the same schema):
//
//	CREATE TABLE "session_users" (
//	  "user_id" bytea NOT NULL,
//	  "sid"     varchar NOT NULL,
//	  "used"    timestamptz NOT NULL,
//	  "expire"  timestamptz NOT NULL,
//	  PRIMARY KEY ("user_id", "sid")
//	);
//	CREATE INDEX "IDX_session_users_expire" ON "session_users" ("expire");
//
// The table is this store's own (connect-pg-simple knows nothing of it), so
// its times are timestamptz: instants, whatever the connection's TimeZone.
// The user id is kept as bytes (bytea), because a user id is any string and
// text cannot hold a NUL byte; compare it with a text literal as usual
// (WHERE user_id = 'alice'), or read it with convert_from(user_id, 'UTF8').
// The column is user_id, not user, which PostgreSQL reserves (an unquoted
// SELECT user reads the connection's role).
//
// An index write is one statement: an upsert of the entry that also deletes
// the user's other entries more than session.IndexGrace past their expiry
// (those that no other transaction holds: it waits for none of them).
// A listing is one statement too: the user's entries joined with their
// unexpired sessions. PurgeExpired (and so the interval cleanup) prunes
// every user's entries. The manager deletes the entry of a session it
// destroyed, or unbound from its user, with one DELETE by primary key
// (session.UserIndexRemover). Clear deletes every entry with the
// sessions, in one statement.

var _ session.UserIndex = (*Store)(nil)

// usersSuffix names the index table after the session table.
const usersSuffix = "_users"

// graceSQL is session.IndexGrace as a PostgreSQL interval.
var graceSQL = `interval '` + strconv.FormatInt(session.IndexGrace.Microseconds(), 10) + ` microseconds'`

// userQueries are the statements of the index table u of session table t.
type userQueries struct {
	index, unindex, list, purge, clear string
}

func newUserQueries(t, u string) userQueries {
	return userQueries{
		// The pruning leaves the entry being written alone: one statement
		// must not both delete and upsert a row. It skips the entries
		// another transaction holds (a later index write or PurgeExpired
		// prunes them), so that the statement never waits while it holds
		// a row: PostgreSQL runs the pruning, which the INSERT does not
		// read, after the INSERT, which may wait for its entry holding
		// nothing yet. Pruning entries that Clear holds waited for Clear
		// holding the upserted entry, which Clear was to delete after
		// them: a deadlock, which PostgreSQL broke by failing one of the
		// two.
		index: `WITH pruned AS (DELETE FROM ` + u + ` WHERE ctid = ANY (ARRAY (SELECT ctid FROM ` + u + ` WHERE user_id = $1 AND sid <> $2 AND expire < now() - ` + graceSQL + ` FOR UPDATE SKIP LOCKED)) AND expire < now() - ` + graceSQL + `)
INSERT INTO ` + u + ` (user_id, sid, used, expire) VALUES ($1, $2, $3::timestamptz, $4::timestamptz)
ON CONFLICT (user_id, sid) DO UPDATE SET used = EXCLUDED.used, expire = EXCLUDED.expire`,
		unindex: `DELETE FROM ` + u + ` WHERE user_id = $1 AND sid = $2`,
		// An infinite used or expire (an entry edited by hand) reads as
		// NULL, unknown: no time.Time holds it, and pgx fails the scan.
		// A session's data is joined as Get reads it (clock_timestamp(),
		// see newQueries).
		list: `SELECT u.sid, CASE WHEN isfinite(u.used) THEN u.used END, CASE WHEN isfinite(u.expire) THEN u.expire END, s.sess::text FROM ` + u + ` u
LEFT JOIN ` + t + ` s ON s.sid = u.sid AND s.expire > clock_timestamp()
WHERE u.user_id = $1 AND u.expire >= now() - ` + graceSQL,
		purge: purgeSQL(u, `expire < now() - `+graceSQL),
		// Clear: both tables in one snapshot (see Store.Clear).
		clear: `WITH entries AS (DELETE FROM ` + u + `) DELETE FROM ` + t,
	}
}

// usersIdent returns the index table's identifier for a session table.
func usersIdent(schema, table string) pgx.Identifier { return tableIdent(schema, table+usersSuffix) }

// createUsersTableSQL returns the statement that creates the index table of
// a session table.
func createUsersTableSQL(schema, table string) string {
	return `CREATE TABLE IF NOT EXISTS ` + usersIdent(schema, table).Sanitize() + ` (
  "user_id" bytea NOT NULL,
  "sid" varchar NOT NULL,
  "used" timestamptz NOT NULL,
  "expire" timestamptz NOT NULL,
  PRIMARY KEY ("user_id", "sid")
);
`
}

// UsersTable returns the quoted (and schema-qualified, if a schema was
// given) name of the store's user index table.
func (s *Store) UsersTable() string { return s.usersTable }

// usersErr wraps an error of the index table, with a hint when the table
// is missing: a store opened without WithCreateTable on a table made for
// connect-pg-simple has none until a migration adds it.
func (s *Store) usersErr(op string, err error) error {
	if undefinedTable(err) {
		return fmt.Errorf("pgstore: %s: no user index table %s (create it with WithCreateTable or CreateTableSQL): %w", op, s.usersTable, err)
	}
	return fmt.Errorf("pgstore: %s: %w", op, err)
}

// undefinedTable reports whether err is PostgreSQL's undefined_table
// (42P01): here, a store without its user index table.
func undefinedTable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "42P01"
}

// IndexUserSession records that session id belongs to user, used at used,
// until expires (zero: the default TTL from now), and prunes the user's
// entries past their expiry plus session.IndexGrace that no other
// transaction holds, in one statement.
func (s *Store) IndexUserSession(ctx context.Context, user, id string, used, expires time.Time) error {
	if err := ctx.Err(); err != nil {
		return s.wrap("index user session", id, err)
	}
	if why := idProblem(id); why != "" {
		return badID("index user session", id, why)
	}
	if expires.IsZero() {
		expires = time.Now().Add(s.defaultTTL)
	}
	if _, err := s.pool.Exec(ctx, s.uq.index, []byte(user), id, used, expires); err != nil {
		return s.usersErr("index user session "+shortid.Of(id), err)
	}
	return nil
}

// UnindexUserSession deletes user's entry for session id, one statement
// (session.UserIndexRemover). Deleting a missing entry is not an error.
func (s *Store) UnindexUserSession(ctx context.Context, user, id string) error {
	if err := ctx.Err(); err != nil {
		return s.wrap("unindex user session", id, err)
	}
	if idProblem(id) != "" {
		return nil // no entry's sid holds it
	}
	if _, err := s.pool.Exec(ctx, s.uq.unindex, []byte(user), id); err != nil {
		return s.usersErr("unindex user session "+shortid.Of(id), err)
	}
	return nil
}

// UserSessions calls yield with the user's entries that are not past their
// expiry plus session.IndexGrace, each with its session's document, nil
// for a session that is gone or expired: one statement. An infinite used or
// expire (edited by hand) is yielded as the zero time, so that the entry is
// still listed and its session can be destroyed.
func (s *Store) UserSessions(ctx context.Context, user string, yield func(id string, used, expires time.Time, data []byte)) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pgstore: user sessions: %w", err)
	}
	type entry struct {
		id            string
		used, expires time.Time
		data          []byte
	}
	rows, err := s.pool.Query(ctx, s.uq.list, []byte(user))
	if err != nil {
		return s.usersErr("user sessions", err)
	}
	entries, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (entry, error) {
		var (
			e             entry
			used, expires *time.Time
		)
		err := r.Scan(&e.id, &used, &expires, &e.data)
		if used != nil {
			e.used = *used
		}
		if expires != nil {
			e.expires = *expires
		}
		return e, err
	})
	if err != nil {
		return s.usersErr("user sessions", err)
	}
	for _, e := range entries {
		yield(e.id, e.used, e.expires, e.data)
	}
	return nil
}

// purgeUsers deletes every user's entries past their expiry plus
// session.IndexGrace, in batches as PurgeExpired deletes sessions. A
// missing index table (a store that never indexed a user, on a table made
// without WithCreateTable) has nothing to prune.
func (s *Store) purgeUsers(ctx context.Context) error {
	_, err := purgeBatches(ctx, s.pool, s.uq.purge)
	if undefinedTable(err) {
		return nil
	}
	if err != nil {
		return s.usersErr("purge the user index", err)
	}
	return nil
}
