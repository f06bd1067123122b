// Package pgstore keeps sessions in PostgreSQL, through pgx v5's
// [pgxpool.Pool].
//
// The table is connect-pg-simple's, so that an Express app and a Go app can
// share sessions during a migration:
//
//	CREATE TABLE "session" (
//	  "sid"    varchar NOT NULL COLLATE "default" PRIMARY KEY,
//	  "sess"   json NOT NULL,
//	  "expire" timestamp(6) NOT NULL
//	);
//	CREATE INDEX "IDX_session_expire" ON "session" ("expire");
//
// sess holds the encoded session document as given, expire the session's
// expiry. sess is json, so the manager's Codec must write JSON text, as the
// default JSONCodec does: PostgreSQL keeps it as written, byte for byte
// (escapes such as \u0000 and lone surrogates included, which a jsonb
// column would refuse or rewrite). A document that is not JSON text, such as
// a binary Codec's (gob, msgpack, protobuf: bytes that are not UTF-8, NUL
// bytes), cannot be stored there: Set and CompareAndSwap refuse it with an
// error wrapping [ErrNotJSON] and write nothing, so every save of such a
// session fails (the manager's ErrorHandler answers, 500 by default) and
// the session stored before is kept. Such a Codec needs a store that keeps
// any bytes (redisstore, memcachedstore, mongostore, boltstore, memstore),
// or must wrap its bytes in JSON (a base64 string); the table's schema is
// connect-pg-simple's and stays json. [WithTable] and [WithSchema] choose another table; [WithCreateTable]
// creates it (and the schema) when missing, as connect-pg-simple's
// createTableIfMissing does.
//
// # Time zones
//
// expire is a timestamp without time zone, as connect-pg-simple made it: it
// holds the wall-clock time of the expiry in the TimeZone setting of the
// connection that wrote it. connect-pg-simple writes to_timestamp(seconds),
// which PostgreSQL converts to that TimeZone; this store likewise passes
// every instant as a timestamptz and compares with the database's clock in
// SQL (clock_timestamp(), or now(): see Expiry), never interpreting expire
// itself. Go and Node agree on every instant as long as
// their connections use the same TimeZone, which they do by default (the
// server's or the database's setting; node-postgres never sets one, pgx only
// from a PGTZ variable, a TimeZone parameter (in any letter case) or a
// "-c timezone=" in its options parameter, all of which New logs a warning
// about). Do not set a TimeZone on only one side. A server in UTC (or a zone
// without daylight saving time) avoids the hour of the year in which a local
// wall-clock time is ambiguous; that hour affects connect-pg-simple as much.
//
// # Expiry
//
// Reads filter on expire > clock_timestamp(): an expired row is never
// returned, even before it is deleted. Every statement on one session's row
// (a read, a touch, a compare-and-swap, UserSessions' join) compares its
// expiry with the database's clock when PostgreSQL evaluates the row, not
// with now(), when the statement's transaction began: a session that
// expires while a read waits behind a table lock (an ALTER TABLE, a VACUUM
// FULL), or while a touch waits for a transaction that rewrote the row (a
// migration of the sessions' data in one transaction), is expired for it.
// PostgreSQL evaluates a touch's WHERE before it waits for the row, and
// again after only if the other transaction changed the row: a touch that
// waited for a transaction that held the row without changing it (a SELECT
// ... FOR UPDATE) or rolled back can still push forward the expiry of a
// session that expired during that wait. IDs and Count compare every row
// with one now(), which the expire index ranges over, as connect-pg-simple's
// pruning compares with one time; the cleanup does too, in batches of up to
// 1,000 rows, each a statement with its own now(). A cleanup goroutine
// deletes expired rows every 15 minutes (as connect-pg-simple prunes);
// [WithCleanupInterval] changes or disables it, and [Store.Close] stops it:
// a store dropped without Close has its cleanup stopped only once the
// garbage collector finds it unreachable.
// [Store.PurgeExpired] does the same on demand; a batch skips the rows
// another transaction holds, which a later run deletes. The store's
// expiries keep PostgreSQL's microseconds; connect-pg-simple's are rounded
// up to the second.
//
// # Sessions of a user
//
// The store is a [session.UserIndex]: a table beside the session table,
// <table>_users, holds an entry (user_id, sid, used, expire) per session
// of a user, created by [WithCreateTable] or [CreateTableSQL] (the SQL is
// in users.go and the README). An index write is one upsert that also
// prunes the user's expired entries that no other transaction holds (it
// waits for none, so it cannot deadlock with [Store.Clear]);
// [Store.PurgeExpired] prunes them all,
// and [Store.Clear] deletes them all with the sessions. As a
// [session.UserIndexRemover] it deletes one entry with one DELETE.
//
// # Compare-and-swap
//
// The version of a session is its row's xmin, the id of the transaction that
// last wrote the row, which PostgreSQL changes on every update whoever makes
// it. A compare-and-swap is an UPDATE ... WHERE xmin = version, so it also
// notices a write by connect-pg-simple, which knows nothing of versions.
// Creating a session is an INSERT ... ON CONFLICT that replaces only an
// expired row.
//
// # Round trips
//
// Each operation a request makes is one statement, so one network round
// trip (once pgx has prepared it on the connection):
//
//	Get, GetVersion   SELECT sess, xmin WHERE sid = $1 AND expire > clock_timestamp()
//	Set               INSERT ... ON CONFLICT (sid) DO UPDATE (DELETE when the expiry has passed)
//	Touch             UPDATE ... SET expire (the document is not rewritten)
//	GetAndTouch       UPDATE ... SET expire RETURNING sess, xmin
//	Destroy           DELETE
//	CompareAndSwap    UPDATE ... WHERE xmin = $version; INSERT ... ON CONFLICT to create
//
// So a request that reads its session costs one round trip, one that
// modifies it two (read, compare-and-swap), and one whose only store work is
// a touch one as well: the middleware reads and touches it with GetAndTouch
// (session.GetToucher).
//
// # Connection poolers
//
// pgx prepares each statement once per connection (its default query exec
// mode, cache_statement), which a pooler that hands a client another server
// connection per transaction (PgBouncer's pool_mode=transaction, before
// PgBouncer 1.21's max_prepared_statements) breaks. Configure the pool with
// DefaultQueryExecMode set to [pgx.QueryExecModeExec] (or
// [pgx.QueryExecModeSimpleProtocol]), default_query_exec_mode=exec in its
// URL: the store works in every mode, each statement still one round trip,
// with the document sent hex-encoded (twice its size) in those two.
package pgstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/pause"
	"github.com/sessionkit/session/internal/periodic"
	"github.com/sessionkit/session/internal/shortid"
)

// DefaultTable is the table connect-pg-simple uses.
const DefaultTable = "session"

// DefaultTTL is how long a session without an expiry (a browser-session
// cookie) is kept, as in connect-pg-simple.
const DefaultTTL = 24 * time.Hour

// DefaultCleanupInterval is how often expired rows are deleted, as
// connect-pg-simple's pruneSessionInterval.
const DefaultCleanupInterval = 15 * time.Minute

// ErrNotJSON reports a session document that is not JSON text, which the
// sess column, json in connect-pg-simple's table, cannot hold: the
// document of a binary Codec (see the package documentation). Nothing was
// written: the session stored before under that id is kept.
var ErrNotJSON = errors.New("pgstore: the session document is not JSON text, and the sess column is json (connect-pg-simple's table): " +
	"a Codec that is not JSON (gob, msgpack, protobuf) needs a store that keeps any bytes, or must wrap its bytes in JSON (a base64 string)")

// notText describes why data cannot be the text of a json value: a NUL
// byte, or bytes that are not UTF-8, which no PostgreSQL text holds. It
// returns "" for any other data (whose JSON syntax PostgreSQL checks).
func notText(data []byte) string {
	if bytes.IndexByte(data, 0) < 0 && utf8.Valid(data) {
		return ""
	}
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		switch {
		case r == 0:
			return fmt.Sprintf("a NUL byte at offset %d", i)
		case r == utf8.RuneError && n == 1:
			return fmt.Sprintf("byte 0x%02x at offset %d is not UTF-8", data[i], i)
		}
		i += n
	}
	return "" // not reached
}

// checkDocument returns an error wrapping ErrNotJSON if data cannot be
// stored, before a round trip PostgreSQL would refuse it in.
func checkDocument(data []byte) error {
	if why := notText(data); why != "" {
		return fmt.Errorf("%w (%s)", ErrNotJSON, why)
	}
	return nil
}

// idProblem says why no sid can hold id, "" if one can: a NUL byte, or
// bytes that are not UTF-8, which no PostgreSQL text holds. The manager
// takes any UTF-8 id (a custom GenerateID may make one with a NUL byte),
// and a cookie may carry one that an earlier store, which keeps any id,
// issued. No session has such an id: reads, touches and destroys of one
// find nothing, and writes fail with badID, before a round trip.
func idProblem(id string) string {
	if strings.IndexByte(id, 0) < 0 && utf8.ValidString(id) {
		return ""
	}
	return notText([]byte(id))
}

// badID is the error of a write (op) of a session whose id no sid can
// hold, for the reason why (idProblem's).
func badID(op, id, why string) error {
	return fmt.Errorf("pgstore: %s %s: the session id holds %s, which the sid column (PostgreSQL text) cannot hold", op, shortid.Of(id), why)
}

// notJSON adds ErrNotJSON to err, an error of a statement that writes a
// document, if PostgreSQL refused the document as json (invalid text
// representation, 22P02). The statement's other conversions cannot raise
// it: the expiry's to timestamptz fails with 22007 or 22008, and a version
// reaches its xid cast only once isXID accepted it.
func notJSON(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "22P02" {
		return fmt.Errorf("%w: %w", ErrNotJSON, err)
	}
	return err
}

// Store is a session store in a PostgreSQL table. It is safe for concurrent
// use. Create it with [New]; [Store.Close] stops its cleanup.
type Store struct {
	pool       *pgxpool.Pool
	table      string // quoted, schema-qualified when a schema is given
	defaultTTL time.Duration
	logger     *slog.Logger
	q          queries
	usersTable string      // the user index table (users.go), quoted
	uq         userQueries // its statements

	// stopper stops the cleanup goroutine, which refers to the Store only
	// through a weak pointer (and during a run), so that a Store dropped
	// without Close is collected, and its cleanup stopped (runtime.AddCleanup).
	stopper *periodic.Stopper
}

// Compile-time checks of the capabilities the manager looks for.
var (
	_ session.Store            = (*Store)(nil)
	_ session.Toucher          = (*Store)(nil)
	_ session.VersionedStore   = (*Store)(nil)
	_ session.GetToucher       = (*Store)(nil)
	_ session.Lister           = (*Store)(nil)
	_ session.Purger           = (*Store)(nil)
	_ session.UserIndex        = (*Store)(nil)
	_ session.UserIndexRemover = (*Store)(nil)
)

// Option configures a [Store].
type Option func(*config)

type config struct {
	table, schema   string
	createTable     bool
	defaultTTL      time.Duration
	cleanupInterval time.Duration
	logger          *slog.Logger
}

// WithTable sets the table name (default "session"), as connect-pg-simple's
// tableName. PostgreSQL truncates identifiers to 63 bytes, so [New] refuses a
// name longer than 57 bytes, whose <name>_users would be truncated.
func WithTable(name string) Option { return func(c *config) { c.table = name } }

// WithSchema sets the table's schema (default: none, so the connection's
// search_path decides, usually "public"), as connect-pg-simple's schemaName.
func WithSchema(name string) Option { return func(c *config) { c.schema = name } }

// WithCreateTable makes [New] create the table, its expire index, the user
// index table and the schema if they are missing, as connect-pg-simple's
// createTableIfMissing. It looks for each in the catalog first (any index
// whose first column is expire is an expire index) and creates only the
// missing ones, so a role that may only use tables made by a migration
// under another role needs no privilege to create, and opening a store on
// existing tables takes no lock on them. An expire index it creates is
// named IDX_<table>_expire, as connect-pg-simple names it, or IDX1_...
// (up to IDX9_) if another relation of the schema has that name, as
// connect-pg-simple's index of a table with another tableName does
// ("IDX_session_expire"). A missing user index table goes beside the
// session table, in its schema, also when [WithSchema] is not given and
// the search_path found the session table in a schema other than the one
// an unqualified CREATE TABLE uses (a role's own schema, first in the
// default search_path), unless the role may not create there. Without it
// the table must exist
// (see the package documentation for its SQL), and the user index table
// too if sessions are bound to users (session.Session.SetUser).
func WithCreateTable() Option { return func(c *config) { c.createTable = true } }

// WithDefaultTTL sets how long a session without an expiry is kept (default
// one day). A zero or negative d keeps the default.
func WithDefaultTTL(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.defaultTTL = d
		}
	}
}

// WithCleanupInterval sets how often expired rows are deleted (default 15
// minutes); zero or negative turns the cleanup off (another process, such as
// connect-pg-simple, may do it). Expired rows are never returned either way.
func WithCleanupInterval(d time.Duration) Option {
	return func(c *config) { c.cleanupInterval = max(d, 0) }
}

// WithLogger sets where the cleanup reports its errors (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.logger = l
		}
	}
}

// queries are the statements of one table.
type queries struct {
	get, getVersion, upsert, delete, touch, touchDelete, getTouch string
	swap, swapDelete, create, live                                string
	ids, count, clear, purge                                      string
}

func newQueries(t string) queries {
	// The statements on one session's row compare its expiry with
	// clock_timestamp(), the time when PostgreSQL evaluates the condition,
	// not now(), when the statement's transaction began: a statement can
	// wait, a SELECT for a table lock (an ALTER TABLE, a VACUUM FULL), an
	// UPDATE or DELETE for a row another transaction wrote (PostgreSQL then
	// re-evaluates its WHERE on the new row, with the same now()), and a
	// session that expired meanwhile must not be returned or touched back
	// to life. An INSERT ... ON CONFLICT evaluates its WHERE once it holds
	// the row, so create replaces a row that expired while it waited. The
	// row is found by its primary key either way (the condition is a
	// filter on it). The statements over many rows keep now(), one time for
	// all of them, which the expire index can range over.
	const clock = `clock_timestamp()`
	// The document is sent as bytes (bytea) and converted to json in SQL:
	// a []byte argument is bytea to pgx in the query modes that do not
	// prepare statements (QueryExecModeExec, QueryExecModeSimpleProtocol,
	// what a pool behind PgBouncer's transaction pooling uses), which
	// PostgreSQL refused for a json column. Prepared, it is sent as the
	// same bytes as before, without a copy into a string.
	doc := func(n int) string { return `convert_from($` + strconv.Itoa(n) + `::bytea, 'UTF8')::json` }
	return queries{
		get:         `SELECT sess::text FROM ` + t + ` WHERE sid = $1 AND expire > ` + clock,
		getVersion:  `SELECT sess::text, xmin::text FROM ` + t + ` WHERE sid = $1 AND expire > ` + clock,
		upsert:      `INSERT INTO ` + t + ` (sid, sess, expire) VALUES ($1, ` + doc(2) + `, $3::timestamptz) ON CONFLICT (sid) DO UPDATE SET sess = EXCLUDED.sess, expire = EXCLUDED.expire`,
		delete:      `DELETE FROM ` + t + ` WHERE sid = $1`,
		touch:       `UPDATE ` + t + ` SET expire = $2::timestamptz WHERE sid = $1 AND expire > ` + clock,
		touchDelete: `DELETE FROM ` + t + ` WHERE sid = $1 AND expire > ` + clock,
		getTouch:    `UPDATE ` + t + ` SET expire = $2::timestamptz WHERE sid = $1 AND expire > ` + clock + ` RETURNING sess::text, xmin::text`,
		swap:        `UPDATE ` + t + ` SET sess = ` + doc(3) + `, expire = $4::timestamptz WHERE sid = $1 AND xmin = $2::text::xid AND expire > ` + clock + ` RETURNING xmin::text`,
		swapDelete:  `DELETE FROM ` + t + ` WHERE sid = $1 AND xmin = $2::text::xid AND expire > ` + clock,
		// The alias names the existing row in the DO UPDATE ... WHERE.
		create: `INSERT INTO ` + t + ` AS cur (sid, sess, expire) VALUES ($1, ` + doc(2) + `, $3::timestamptz) ON CONFLICT (sid) DO UPDATE SET sess = EXCLUDED.sess, expire = EXCLUDED.expire WHERE cur.expire <= ` + clock + ` RETURNING xmin::text`,
		live:   `SELECT EXISTS (SELECT 1 FROM ` + t + ` WHERE sid = $1 AND expire > ` + clock + `)`,
		ids:    `SELECT sid FROM ` + t + ` WHERE expire > now()`,
		count:  `SELECT count(*) FROM ` + t + ` WHERE expire > now()`,
		clear:  `DELETE FROM ` + t,
		purge:  purgeSQL(t, `expire <= now()`),
	}
}

// New returns a store on pool, in connect-pg-simple's table unless told
// otherwise, and starts its cleanup. With [WithCreateTable] it creates the
// table first, and returns the error if it cannot. The store does not close
// the pool.
//
// New waits for the server at most 30 seconds, as mongostore's does: it
// is [NewContext] with a context that ends then, so that an app whose
// database accepts the connection and never answers fails to start rather
// than hang. Use NewContext to bound [WithCreateTable]'s statements by your
// own context (a start-up deadline, a signal).
func New(pool *pgxpool.Pool, opts ...Option) (*Store, error) {
	ctx, cancel := context.WithTimeout(context.Background(), newTimeout)
	defer cancel()
	return NewContext(ctx, pool, opts...)
}

// newTimeout bounds the work New does on the server (a variable for tests).
var newTimeout = 30 * time.Second

// NewContext is [New] with a context for the work it does on the server:
// with [WithCreateTable], acquiring a connection and creating the tables
// stop when ctx ends, and NewContext returns an error wrapping ctx's. ctx
// bounds nothing after NewContext returns; [Store.Close] stops the cleanup.
// Without WithCreateTable, NewContext does nothing on the server.
func NewContext(ctx context.Context, pool *pgxpool.Pool, opts ...Option) (*Store, error) {
	if pool == nil {
		return nil, errors.New("pgstore: nil pool")
	}
	c := config{
		table:           DefaultTable,
		defaultTTL:      DefaultTTL,
		cleanupInterval: DefaultCleanupInterval,
		logger:          slog.Default(),
	}
	for _, o := range opts {
		o(&c)
	}
	if c.table == "" {
		return nil, errors.New("pgstore: empty table name")
	}
	if err := checkIdentifiers(c.table); err != nil {
		return nil, err
	}
	if tz := connTimeZone(pool.Config().ConnConfig.RuntimeParams); tz != "" {
		// PGTZ, or a timezone parameter in the URL: connect-pg-simple's
		// connections keep the server's zone (see the package doc).
		c.logger.Warn("pgstore: the pool's connections set TimeZone; expire is wall-clock time in the writer's TimeZone, so an Express app on the same table (which keeps the server's) reads expiries shifted unless the server's TimeZone is the same",
			"timezone", tz)
	}
	ident := pgx.Identifier{c.table}
	if c.schema != "" {
		ident = pgx.Identifier{c.schema, c.table}
	}
	users := usersIdent(c.schema, c.table).Sanitize()
	s := &Store{
		pool:       pool,
		table:      ident.Sanitize(),
		defaultTTL: c.defaultTTL,
		logger:     c.logger,
		q:          newQueries(ident.Sanitize()),
		usersTable: users,
		uq:         newUserQueries(ident.Sanitize(), users),
	}
	if c.createTable {
		if err := s.createTable(ctx, c.schema, c.table); err != nil {
			return nil, err
		}
	}
	s.stopper = periodic.Start(s, c.cleanupInterval, (*Store).cleanupRun)
	return s, nil
}

// connTimeZone returns the TimeZone that a pool's connections set, "" when
// they keep the server's: a startup parameter named timezone in any letter
// case (PGTZ, or a URL parameter; PostgreSQL takes TimeZone, TIMEZONE and
// timezone alike), or a "-c timezone=..." or "--timezone=..." in the
// options parameter.
func connTimeZone(params map[string]string) string {
	for k, v := range params {
		if strings.EqualFold(k, "timezone") && v != "" {
			return v
		}
	}
	const option = "timezone="
	opts := params["options"]
	for i := 0; i+len(option) <= len(opts); i++ {
		if strings.EqualFold(opts[i:i+len(option)], option) {
			zone, _, _ := strings.Cut(opts[i+len(option):], " ")
			return zone
		}
	}
	return ""
}

// CreateTableSQL returns the statements that create the table, its user
// index table (<table>_users, see [Store.IndexUserSession]) and the schema,
// if given, as [WithCreateTable] runs them, for a migration tool. It does not
// check the names' lengths, which [New] does (see [WithTable]).
func CreateTableSQL(schema, table string) string {
	var sql string
	if schema != "" {
		sql = createSchemaSQL(schema)
	}
	return sql + createSessionTableSQL(schema, table) + createIndexSQL(schema, table, expireIndex(table)) +
		createUsersTableSQL(schema, table) + createIndexSQL(schema, table+usersSuffix, expireIndex(table+usersSuffix))
}

// createSchemaSQL returns the statement that creates a schema.
func createSchemaSQL(schema string) string {
	return `CREATE SCHEMA IF NOT EXISTS ` + pgx.Identifier{schema}.Sanitize() + ";\n"
}

// tableIdent returns the identifier of a table, schema-qualified if a schema
// is given.
func tableIdent(schema, table string) pgx.Identifier {
	if schema != "" {
		return pgx.Identifier{schema, table}
	}
	return pgx.Identifier{table}
}

// createSessionTableSQL returns the statement that creates the session table.
func createSessionTableSQL(schema, table string) string {
	return `CREATE TABLE IF NOT EXISTS ` + tableIdent(schema, table).Sanitize() + ` (
  "sid" varchar NOT NULL COLLATE "default" PRIMARY KEY,
  "sess" json NOT NULL,
  "expire" timestamp(6) NOT NULL
);
`
}

// createIndexSQL returns the statement that creates a table's expire index,
// named name.
func createIndexSQL(schema, table, name string) string {
	return `CREATE INDEX IF NOT EXISTS ` + pgx.Identifier{name}.Sanitize() + ` ON ` + tableIdent(schema, table).Sanitize() + ` ("expire");
`
}

// expireIndex names the expire index of a table as connect-pg-simple names
// it for its default table; the name carries the table's so that two tables
// of one schema do not clash.
func expireIndex(table string) string { return "IDX_" + table + "_expire" }

// maxIdentifier is PostgreSQL's identifier limit in bytes (NAMEDATALEN - 1):
// it silently truncates longer ones.
const maxIdentifier = 63

// checkIdentifiers fails if PostgreSQL would truncate the table's name or
// its user index table's, and so name another object (a long table's
// <table>_users is the table itself) or none. Index names may be truncated:
// they still differ, and only CREATE INDEX IF NOT EXISTS uses them. The limit
// is per part of a qualified name; the schema, derived from nothing and
// truncated alike everywhere, is left as given.
func checkIdentifiers(table string) error {
	for _, n := range [][2]string{{"the table", table}, {"its user index table", table + usersSuffix}} {
		// pgx.Identifier.Sanitize drops NUL bytes; the quotes it doubles
		// are one byte each in the identifier.
		if size := len(withoutNUL(n[1])); size > maxIdentifier {
			return fmt.Errorf("pgstore: table name %q: %s %q is %d bytes, and PostgreSQL truncates identifiers to %d bytes: choose a shorter table name", table, n[0], n[1], size, maxIdentifier)
		}
	}
	return nil
}

// createTable runs the statements of CreateTableSQL whose objects are
// missing: each CREATE ... IF NOT EXISTS checks the role's privileges before
// it looks for its object (CREATE on the database for a schema, on the
// schema for a table, ownership of the table for an index), so a role that
// may only use tables made by a migration under another role would fail
// on objects that all exist. connect-pg-simple's createTableIfMissing
// likewise looks for its table first. Two processes creating the same
// objects at once can collide in the catalog even with IF NOT EXISTS; the
// loser tries again, and then finds the object it collided on.
//
// A process can also see the other's objects half committed: PostgreSQL
// makes a transaction visible to queries a moment before it tells other
// sessions' catalog caches, so the check can find a new schema that the
// CREATE TABLE after it then misses ("schema does not exist", 3F000), seen
// on a loaded machine with two instances of ten failing in one start, and
// a CREATE SCHEMA collides (23505) with a schema its cache does not show
// yet. The window is microseconds, but a creator descheduled in it (a
// throttled container) keeps it open for as long as it waits for a CPU.
// So a lost race is tried again after a pause that doubles from 5 ms up to
// 100 ms, until the pauses add up to 2 s (about twenty tries) or ctx ends.
func (s *Store) createTable(ctx context.Context, schema, table string) error {
	var err error
	var paused time.Duration
	for try := 0; ; try++ {
		if try > 0 {
			if paused >= createRetryBudget {
				break
			}
			d := min(createRetryPause<<min(try-1, 8), createRetryMaxPause)
			if cerr := pause.For(ctx, d); cerr != nil {
				return fmt.Errorf("pgstore: create table %s: %w (the last try: %w)", s.table, cerr, err)
			}
			paused += d
		}
		var sql string
		if sql, err = s.missingObjectsSQL(ctx, schema, table); err == nil {
			if sql == "" {
				return nil
			}
			if beforeCreate != nil {
				beforeCreate(try)
			}
			// Without arguments pgx sends the statements in one simple
			// query, which PostgreSQL runs as one transaction.
			if _, err = s.pool.Exec(ctx, sql); err == nil {
				return nil
			}
		}
		if !createRace(err, schema) {
			break
		}
	}
	return fmt.Errorf("pgstore: create table %s: %w", s.table, err)
}

// beforeCreate, if set (by tests), runs between createTable's check of the
// catalog and its statements, with the number of the try.
var beforeCreate func(try int)

// createTable's pauses between tries: the first, the longest, and how
// long they may add up to.
const (
	createRetryPause    = 5 * time.Millisecond
	createRetryMaxPause = 100 * time.Millisecond
	createRetryBudget   = 2 * time.Second
)

// createRace reports whether err is how a CREATE ... IF NOT EXISTS fails
// when another transaction created the object meanwhile: it missed the
// object, then met it, committed, further on (a table's row type, 42710; a
// relation, 42P07; a schema, 42P06), or waited for it in a catalog index
// (23505); or, with a schema given, how a CREATE TABLE fails that missed a
// schema the check found (3F000). Without a schema, 3F000 is a search_path
// with no schema to create in, which no retry mends.
func createRace(err error, schema string) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	switch pgErr.Code {
	case "23505", "42P07", "42P06", "42710":
		return true
	case "3F000":
		return schema != ""
	}
	return false
}

// existsSQL reports which of a store's objects exist: its schema ($1, a
// name), its table ($2, quoted as in a statement, so found as a statement
// finds it, in the search_path if not qualified) and an index of the table
// on expire, the user index table ($3) and an index of it on expire. An
// index on expire counts whatever its name: connect-pg-simple names the
// index of every table it creates "IDX_session_expire", and another one
// would be a second index, written on every touch, or for a role that does
// not own the table an error. The last column is the schema of the table,
// where a missing user index table goes: NULL if the table is missing or
// temporary, or if the role may not create in its schema. Any role may
// read the catalog.
const existsSQL = `SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = $1::text::name),
  to_regclass($2::text) IS NOT NULL,
  EXISTS (SELECT FROM pg_index x JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = x.indkey[0] WHERE x.indrelid = to_regclass($2::text) AND a.attname = 'expire'),
  to_regclass($3::text) IS NOT NULL,
  EXISTS (SELECT FROM pg_index x JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = x.indkey[0] WHERE x.indrelid = to_regclass($3::text) AND a.attname = 'expire'),
  (SELECT n.nspname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass($2::text) AND c.relpersistence <> 't' AND has_schema_privilege(n.oid, 'CREATE'))`

// missingObjectsSQL returns the statements of CreateTableSQL that create
// the objects missing from the database, "" if none is.
func (s *Store) missingObjectsSQL(ctx context.Context, schema, table string) (string, error) {
	var (
		hasSchema, hasTable, hasIndex, hasUsers, hasUsersIndex bool
		tableSchema                                            *string
	)
	err := s.pool.QueryRow(ctx, existsSQL, withoutNUL(schema), s.table, s.usersTable).
		Scan(&hasSchema, &hasTable, &hasIndex, &hasUsers, &hasUsersIndex, &tableSchema)
	if err != nil {
		return "", err
	}
	var sql string
	if schema != "" && !hasSchema {
		sql += createSchemaSQL(schema)
	}
	if !hasTable {
		sql += createSessionTableSQL(schema, table)
	}
	if !hasIndex {
		name, err := s.freeIndexName(ctx, s.table, schema, expireIndex(table))
		if err != nil {
			return "", err
		}
		sql += createIndexSQL(schema, table, name)
	}
	// A missing user index table goes beside the session table, which the
	// search_path found (connect-pg-simple's, in public, made by a
	// migration), not in the schema an unqualified CREATE TABLE creates
	// in: with the default search_path, "$user", public, that is the
	// role's own schema if it has one, where another role finds no index.
	// The store's statements still find it through the search_path, which
	// has no <table>_users before that schema (or to_regclass would have
	// found it). A role that may not create there creates it where it
	// can, as before, rather than fail in New when it may never bind a
	// session to a user. An existing table's index goes in its schema.
	users := schema
	if !hasUsers && users == "" && tableSchema != nil {
		users = *tableSchema
	}
	if !hasUsers {
		sql += createUsersTableSQL(users, table)
	}
	if !hasUsersIndex {
		name, err := s.freeIndexName(ctx, s.usersTable, users, expireIndex(table+usersSuffix))
		if err != nil {
			return "", err
		}
		sql += createIndexSQL(users, table+usersSuffix, name)
	}
	return sql, nil
}

// freeIndexNameSQL returns the first of the names $3, IDX1_..., IDX9_...
// (its "IDX_" prefix numbered) that no relation has in the schema where an
// index of table $1 (quoted, as in a statement) goes: the table's, or if
// the table is still to be created the schema $2 (a name), or the one an
// unqualified CREATE TABLE creates in, current_schema(). No row if all are
// taken.
const freeIndexNameSQL = `SELECT c.name FROM generate_series(0, 9) AS n,
  LATERAL (SELECT CASE WHEN n = 0 THEN $3::text ELSE 'IDX' || n || substr($3::text, 4) END) AS c(name)
WHERE to_regclass(quote_ident(coalesce(
    (SELECT s.nspname FROM pg_class r JOIN pg_namespace s ON s.oid = r.relnamespace WHERE r.oid = to_regclass($1::text)),
    nullif($2::text, ''), current_schema())) || '.' || quote_ident(c.name)) IS NULL
ORDER BY n LIMIT 1`

// freeIndexName returns the name to create a table's missing expire index
// under: name unless another relation of the table's schema has it, which
// CREATE INDEX IF NOT EXISTS would take for the index and skip, leaving the
// table without one. connect-pg-simple names the index of every table it
// creates "IDX_session_expire", the name of the index of a table named
// session beside it. The choice depends on the catalog alone, so instances
// starting at once choose the same name, and IF NOT EXISTS (or a retry)
// makes one index of their CREATEs.
func (s *Store) freeIndexName(ctx context.Context, table, schema, name string) (string, error) {
	var free string
	err := s.pool.QueryRow(ctx, freeIndexNameSQL, table, withoutNUL(schema), withoutNUL(name)).Scan(&free)
	if errors.Is(err, pgx.ErrNoRows) {
		return name, nil // all taken: as before, no index
	}
	return free, err
}

// withoutNUL is a name as pgx.Identifier.Sanitize quotes it, without its
// NUL bytes, which a text argument cannot hold either.
func withoutNUL(name string) string { return strings.ReplaceAll(name, "\x00", "") }

// Table returns the quoted (and schema-qualified, if a schema was given) name
// of the store's table.
func (s *Store) Table() string { return s.table }

// Close stops the cleanup and waits for a running one to end: a statement
// of it that the server was running or had been sent has been cancelled
// there, or has ended, when Close returns (on a server that does not
// answer, Close gives up with pgx, after 15 seconds). It does not close
// the pool. Calling it again does nothing.
func (s *Store) Close() error {
	s.stopper.Stop()
	return nil
}

// cleanupRun runs PurgeExpired once (periodic.Start calls it every
// cleanup interval) with a context that only stop (Close) cancels, not
// New's bound, which would end every purge after it at once, and logs a
// failure, unless Close ended it.
func (s *Store) cleanupRun(stop <-chan struct{}) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-stop:
		case <-ctx.Done():
		}
		cancel() // end a purge in progress
	}()
	n, err := s.PurgeExpired(ctx)
	switch {
	case err != nil && ctx.Err() == nil:
		s.logger.Error("pgstore: cleanup of expired sessions failed", "table", s.table, "err", err)
	case n > 0:
		s.logger.Debug("pgstore: deleted expired sessions", "table", s.table, "count", n)
	}
}

// wrap adds the operation and the start of the id to an error. Errors end up
// in logs, and a whole session id in a log is a session anyone who reads the
// log can take over.
func (s *Store) wrap(op, id string, err error) error {
	return s.fail(op+" "+shortid.Of(id), err)
}

// fail adds the operation to an error of a statement on the session table,
// and, when PostgreSQL has no table of that name (undefined_table), which
// table is missing and how to create it: a store opened without
// WithCreateTable on a database that no migration (nor connect-pg-simple)
// has set up yet fails every request so.
func (s *Store) fail(op string, err error) error {
	if undefinedTable(err) {
		return fmt.Errorf("pgstore: %s: no session table %s (create it with WithCreateTable or CreateTableSQL): %w", op, s.table, err)
	}
	return fmt.Errorf("pgstore: %s: %w", op, err)
}

// expiry returns when a session expiring at expires (zero: the default TTL)
// is to be deleted, and whether that is still in the future.
func (s *Store) expiry(expires time.Time) (time.Time, bool) {
	if expires.IsZero() {
		return time.Now().Add(s.defaultTTL), true
	}
	return expires, time.Until(expires) > 0
}

// Get returns the document stored under id; found is false when there is
// none or it has expired.
func (s *Store) Get(ctx context.Context, id string) ([]byte, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, s.wrap("get", id, err)
	}
	if idProblem(id) != "" {
		return nil, false, nil // no sid holds it
	}
	var data []byte
	err := s.pool.QueryRow(ctx, s.q.get, id).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, s.wrap("get", id, err)
	}
	return data, true, nil
}

// GetVersion is Get that also returns the row's version (its xmin).
func (s *Store) GetVersion(ctx context.Context, id string) ([]byte, string, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", false, s.wrap("get", id, err)
	}
	if idProblem(id) != "" {
		return nil, "", false, nil // no sid holds it
	}
	var (
		data    []byte
		version string
	)
	err := s.pool.QueryRow(ctx, s.q.getVersion, id).Scan(&data, &version)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, "", false, nil
	}
	if err != nil {
		return nil, "", false, s.wrap("get", id, err)
	}
	return data, version, true, nil
}

// Set stores data under id until expires (the default TTL for the zero
// time), replacing what was there. An expiry in the past deletes the session.
func (s *Store) Set(ctx context.Context, id string, data []byte, expires time.Time) error {
	if err := ctx.Err(); err != nil {
		return s.wrap("set", id, err)
	}
	at, live := s.expiry(expires)
	if why := idProblem(id); why != "" {
		if live {
			return badID("set", id, why)
		}
		return nil // a delete of what no sid holds
	}
	var err error
	if live {
		if err = checkDocument(data); err == nil {
			_, err = s.pool.Exec(ctx, s.q.upsert, id, data, at)
			err = notJSON(err)
		}
	} else {
		_, err = s.pool.Exec(ctx, s.q.delete, id)
	}
	if err != nil {
		return s.wrap("set", id, err)
	}
	return nil
}

// Touch sets the expiry of an unexpired session without rewriting its
// document; found is false (and nothing is created) when there is none. An
// expiry in the past deletes the session.
func (s *Store) Touch(ctx context.Context, id string, expires time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, s.wrap("touch", id, err)
	}
	if idProblem(id) != "" {
		return false, nil // no sid holds it
	}
	var (
		tag pgconn.CommandTag
		err error
	)
	if at, live := s.expiry(expires); live {
		tag, err = s.pool.Exec(ctx, s.q.touch, id, at)
	} else {
		tag, err = s.pool.Exec(ctx, s.q.touchDelete, id)
	}
	if err != nil {
		return false, s.wrap("touch", id, err)
	}
	return tag.RowsAffected() > 0, nil
}

// GetAndTouch is GetVersion that also sets the session's expiry to expires,
// in one statement (an UPDATE ... RETURNING). The version it returns is the
// row's new xmin. Like Touch, it creates nothing, and an expires in the past
// deletes the session and reports it missing.
func (s *Store) GetAndTouch(ctx context.Context, id string, expires time.Time) ([]byte, string, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", false, s.wrap("get and touch", id, err)
	}
	if idProblem(id) != "" {
		return nil, "", false, nil // no sid holds it
	}
	at, live := s.expiry(expires)
	if !live {
		_, err := s.Touch(ctx, id, expires)
		return nil, "", false, err
	}
	var (
		data    []byte
		version string
	)
	err := s.pool.QueryRow(ctx, s.q.getTouch, id, at).Scan(&data, &version)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, "", false, nil
	}
	if err != nil {
		return nil, "", false, s.wrap("get and touch", id, err)
	}
	return data, version, true, nil
}

// Destroy deletes the session. Deleting a missing session is not an error.
func (s *Store) Destroy(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return s.wrap("destroy", id, err)
	}
	if idProblem(id) != "" {
		return nil // no sid holds it
	}
	if _, err := s.pool.Exec(ctx, s.q.delete, id); err != nil {
		return s.wrap("destroy", id, err)
	}
	return nil
}

// CompareAndSwap stores data under id only if the row's xmin is still old
// (an UPDATE ... WHERE xmin = old on an unexpired row), so any write in
// between, by this store or by connect-pg-simple, makes it fail with
// swapped false. With old == "" it creates the session if no unexpired one
// exists (INSERT ... ON CONFLICT replacing only an expired row). On success
// it returns the new version ("" when the expiry had passed and the session
// was deleted instead).
func (s *Store) CompareAndSwap(ctx context.Context, id, old string, data []byte, expires time.Time) (string, bool, error) {
	if err := ctx.Err(); err != nil {
		return "", false, s.wrap("compare-and-swap", id, err)
	}
	at, live := s.expiry(expires)
	if why := idProblem(id); why != "" {
		switch {
		case old != "":
			return "", false, nil // no sid holds it: not at that version
		case live:
			return "", false, badID("compare-and-swap", id, why)
		}
		return "", true, nil // nothing to create, and nothing there
	}
	if live {
		if err := checkDocument(data); err != nil {
			return "", false, s.wrap("compare-and-swap", id, err)
		}
	}
	var (
		version string
		err     error
	)
	switch {
	case old == "" && live:
		err = s.pool.QueryRow(ctx, s.q.create, id, data, at).Scan(&version)
	case old == "":
		// Nothing to create: the swap succeeds if nothing is there.
		var exists bool
		if err = s.pool.QueryRow(ctx, s.q.live, id).Scan(&exists); err == nil {
			return "", !exists, nil
		}
	case !isXID(old):
		return "", false, nil // not a version of this store: it cannot be current
	case live:
		err = s.pool.QueryRow(ctx, s.q.swap, id, old, data, at).Scan(&version)
	default:
		var tag pgconn.CommandTag
		if tag, err = s.pool.Exec(ctx, s.q.swapDelete, id, old); err == nil {
			return "", tag.RowsAffected() > 0, nil
		}
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, s.wrap("compare-and-swap", id, notJSON(err))
	}
	return version, true, nil
}

// isXID reports whether v can be a transaction id (an unsigned 32-bit number).
func isXID(v string) bool {
	_, err := strconv.ParseUint(v, 10, 32)
	return err == nil
}

// IDs returns the ids of the unexpired sessions.
func (s *Store) IDs(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, s.fail("ids", err)
	}
	rows, err := s.pool.Query(ctx, s.q.ids)
	if err == nil {
		var ids []string
		if ids, err = pgx.CollectRows(rows, pgx.RowTo[string]); err == nil {
			return ids, nil
		}
	}
	return nil, s.fail("ids", err)
}

// Count returns the number of unexpired sessions.
func (s *Store) Count(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, s.fail("count", err)
	}
	var n int
	if err := s.pool.QueryRow(ctx, s.q.count).Scan(&n); err != nil {
		return 0, s.fail("count", err)
	}
	return n, nil
}

// Clear deletes every session of the table and every entry of its user
// index table, in one statement (DELETE, not TRUNCATE, which would lock out
// the requests meanwhile). A store without a user index table (opened
// without WithCreateTable on connect-pg-simple's table) deletes the
// sessions alone.
//
// One statement reads both tables in one snapshot: a login that creates
// its session after that snapshot also records its entry after it (the
// manager records a new session's entry once it is stored), so both stay,
// and no session that outlives Clear loses the entry through which
// DestroyUserSessions finds it. The statement holds the rows it deleted
// until it commits: a touch or save of one of them waits for it, and then
// finds its session gone. On the test server (fsync off) it deleted
// 100,000 sessions and as many entries in 0.25 s, writing 10 MB of WAL, and
// a million of each in 1.9 s, 107 MB; ctx must leave it that long, or
// nothing is deleted.
//
// Clears of one table, from any process, run one after the other: the
// statement runs in a transaction that first takes an advisory lock on
// the table (pg_advisory_xact_lock, keyed by clearLockKey and the table's
// oid), sent with it in one round trip. PostgreSQL may start a scan of a
// big table where another scan of it is (synchronize_seqscans), so two
// Clears at once deleted the same rows in different orders, and each
// waited for rows the other held: a deadlock, which PostgreSQL broke by
// failing one of them.
func (s *Store) Clear(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return s.fail("clear", err)
	}
	err := s.clear(ctx, s.uq.clear)
	if undefinedTable(err) { // no user index table
		err = s.clear(ctx, s.q.clear)
	}
	if err != nil {
		return s.fail("clear", err)
	}
	return nil
}

// clearLockKey is the first key of Clear's advisory lock (the second is
// the table's oid): "pgsc", to keep clear of the keys an application may
// use.
const clearLockKey = 0x70677363

// clearLockSQL takes Clear's advisory lock on the table $1 (a quoted name)
// until its transaction ends.
var clearLockSQL = `SELECT pg_advisory_xact_lock(` + strconv.Itoa(clearLockKey) + `, $1::regclass::oid::int4)`

// clear runs sql, a statement of Clear, after Clear's advisory lock, in one
// batch (one implicit transaction, one round trip).
func (s *Store) clear(ctx context.Context, sql string) error {
	var b pgx.Batch
	b.Queue(clearLockSQL, s.table)
	b.Queue(sql)
	return s.pool.SendBatch(ctx, &b).Close()
}

// purgeBatch is how many rows one statement of PurgeExpired deletes at
// most.
const purgeBatch = 1000

// purgeSQL returns the statement that deletes a batch of rows of table t
// that cond (on expire) selects, from expire $1 on, in expire order,
// skipping the rows another transaction holds, and returns how many it
// deleted and the last expire among them, where the next batch starts.
// The rows are picked by the expire index, locked FOR UPDATE SKIP LOCKED
// and deleted by their ctid; the DELETE checks cond again on each (a row
// rewritten by a transaction that committed after the statement began is
// not seen there, and is left for a later call). Starting from the last
// batch's expire, a batch does not walk again the index entries (or heap
// pages) of the rows the batches before it deleted, which stay until a
// VACUUM: in a table of a million expired rows, a batch from the start
// after 900,000 deleted took 100 to 660 ms, one from the last expire 1 to
// 2 ms. Rows sharing the last expire are walked again, which is quick
// unless very many rows share one expiry.
func purgeSQL(t, cond string) string {
	return `WITH batch AS (DELETE FROM ` + t + ` WHERE ctid = ANY (ARRAY (SELECT ctid FROM ` + t + ` WHERE expire >= $1 AND ` + cond +
		` ORDER BY expire LIMIT ` + strconv.Itoa(purgeBatch) + ` FOR UPDATE SKIP LOCKED)) AND ` + cond + ` RETURNING expire)
SELECT count(*), max(expire) FROM batch`
}

// purgeBatches runs sql, a statement of purgeSQL, from the earliest expire
// on, until a batch deletes fewer than purgeBatch rows, and returns how many
// rows the batches deleted. Each batch is a transaction of its own, so
// none holds more than a batch of rows, and it stops, with ctx's error,
// when ctx ends between batches.
func purgeBatches(ctx context.Context, pool *pgxpool.Pool, sql string) (int, error) {
	total := 0
	// -infinity, which PostgreSQL takes for a timestamp and a timestamptz
	// alike, in every query mode.
	var from any = pgtype.Timestamptz{InfinityModifier: pgtype.NegativeInfinity, Valid: true}
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		n, err := purgeBatchOn(ctx, pool, sql, &from)
		if err != nil {
			return total, err
		}
		total += n
		if n < purgeBatch {
			return total, nil
		}
	}
}

// purgeBatchOn runs one batch of sql from *from on a connection of pool,
// sets *from to the batch's last expire and returns the rows it deleted.
//
// The last expire is read as pgx decodes the column's own type, a
// time.Time that holds a timestamp's wall-clock time in UTC, or a
// timestamptz's instant, and goes back as that: PostgreSQL takes it for
// the column's type, in every query mode, as it was read. Read into a
// pgtype.Timestamp from a timestamptz column (a table made by hand), it
// was the instant's wall-clock time in the Go process's zone, which the
// query modes that send arguments as text (exec, simple_protocol, behind
// PgBouncer) sent back to be read in the connection's TimeZone: hours off
// when the two differ, and when later than the rows left, the next batch
// found none of them.
//
// When ctx ends while the statement is on its way or running, pgx returns
// at once and closes the connection in the background: it asks the server
// to cancel the statement, then ends the connection and reads what the
// server still sends until the server closes it. A statement the cancel
// misses (one the server had not started yet when the cancel came, which
// a loaded server may run well after) runs to its end and commits: it
// deleted rows written after the caller was told the purge had stopped
// (TestCleanupDeletesExpiredRowsAndStopsOnClose, once in a few hundred
// runs under -race, where a row written after Close was deleted). So
// purgeBatchOn waits for that close (pgx gives up on a server that does
// not answer after 15 s): the statement has then been cancelled or has
// ended on the server, and no batch deletes a row after PurgeExpired, or
// Close, returned.
func purgeBatchOn(ctx context.Context, pool *pgxpool.Pool, sql string, from *any) (int, error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Release()
	var (
		n    int
		last any
	)
	err = conn.QueryRow(ctx, sql, *from).Scan(&n, &last)
	if pc := conn.Conn().PgConn(); err != nil && pc.IsClosed() {
		<-pc.CleanupDone()
	}
	// A batch of rows that all expire at -infinity (written by hand) ends
	// there: the next starts where this one did.
	if t, ok := last.(time.Time); ok && err == nil {
		*from = t
	}
	return n, err
}

// PurgeExpired deletes the expired rows and returns how many it deleted,
// then the user index entries more than session.IndexGrace past their
// expiry (not counted). The cleanup calls it; an admin tool may too.
//
// It deletes in batches of up to 1,000 rows, one statement (and
// transaction) each, until a batch finds fewer, so that it never holds more
// than a batch of rows locked, nor writes one long transaction. A batch
// skips the rows another transaction holds (FOR UPDATE SKIP LOCKED) instead
// of waiting for it: a later call deletes them. When ctx ends it stops
// between batches and returns the number deleted so far with ctx's error;
// a statement in progress is cancelled on the server, and PurgeExpired
// returns once the server has cancelled it (or ended it, if the cancel came
// too late: those rows are not counted), so that it deletes nothing after
// PurgeExpired returned. On a
// server that does not answer, that wait ends after 15 seconds, pgx's
// bound on closing a connection.
func (s *Store) PurgeExpired(ctx context.Context) (int, error) {
	n, err := purgeBatches(ctx, s.pool, s.q.purge)
	if err != nil {
		return n, s.fail("purge expired", err)
	}
	return n, s.purgeUsers(ctx)
}
