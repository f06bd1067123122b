// Package boltstore is a session store in one local file, built on bbolt
// (go.etcd.io/bbolt). It needs no server, survives restarts, and is safe for
// the many goroutines of one process. bbolt locks the file, so only one
// process opens it at a time (sessionctl cannot open the file of a running
// application; Open gives up with a clear error after WithOpenTimeout).
// The file is created with mode 0600: session data is private. It is the
// demo's default store.
//
// A write returns only once its bbolt transaction is committed and fsynced:
// a session the store acknowledged survives a crash of the process. Writes
// from parallel requests are committed together (group commit): those that
// arrive while one transaction is being synced share the next one, so many
// goroutines are not limited to one fsync each, and a lone writer waits for
// nobody. A transaction that panics (bbolt does on some corrupt pages)
// panics in the goroutine of the call it ran for, logged with its stack,
// also when the store ran it in a goroutine of its own; the writes
// committed with it are run again without it. The background sweeper,
// whose own goroutine nothing would recover, logs it as a failed sweep
// and sweeps again at its next tick.
// Expired sessions are never returned, and a background sweeper deletes them
// in small batches so that no sweep holds the write lock for long. A call
// reads the clock in the transaction that reads or changes the session:
// a read once its read transaction has begun (which can wait behind a commit
// that grows the file, itself waiting for a long read transaction such as a
// backup), a write when the committer runs it, not when it was queued. So a
// session that expires while a call waits is expired for that call: it is
// not returned, a Touch or GetAndTouch does not revive it, and a CompareAndSwap from its
// earlier version does not swap. A call whose context is done while it
// waits returns the context's error then, a read waiting for its read
// transaction as a write waiting in the commit queue, or Clear and
// PurgeExpired for bbolt's writer lock (the manager's StoreTimeout); the
// transaction may still run, and a write still commit.
//
// The store implements session.Store, session.Toucher, session.VersionedStore
// (compare-and-swap in one transaction), session.GetToucher and
// session.DurableGetToucher (read and touch in one write transaction, used
// for the touch of a user's session, never on the load), session.Lister, session.Purger,
// session.UserIndex and session.UserIndexRemover (see Layout).
//
// # Transactions per request
//
// A read (Get, GetVersion, UserSessions) is a read transaction, which
// writes nothing; every other call is a write: it goes through the commit
// queue and returns once its transaction is committed and fsynced (bbolt
// syncs the pages, then the meta page). A write that finds nothing to
// change (a Touch or GetAndTouch of a missing or expired session, a
// compare-and-swap that loses) is rolled back instead, unless it shares
// its transaction with one that changes something. Through the manager
// (BenchmarkRequest counts them), a request costs
//
//	read, no touch due (TouchAfter)      1 read transaction
//	read whose touch is due              1 read transaction, 1 write (the touch)
//	  with Rolling, or a "remember me"   the same
//	change                               1 read transaction, 1 write (the compare-and-swap)
//	cookie of a missing session          1 read transaction
//
// and a session with a user 1 write more for each touch or save (its
// index entry). The store is a session.DurableGetToucher: the manager
// carries no touch on its load, which would make a request that then
// changes the session commit twice, and uses GetAndTouch only for the
// touch of a session with a user, in place of Touch, at the same cost.
//
// # Layout
//
// All sessions live in one bucket (default "sessions", see WithBucket).
// The key is the session id; the value is
//
//	bytes 0..8    expiry, Unix nanoseconds, big-endian int64. Never 0: a zero
//	              expires gets the default lifetime (WithDefaultTTL) at write.
//	bytes 8..16   version, big-endian uint64: the bucket's sequence number when
//	              the value was written. It grows with every Set and
//	              compare-and-swap, survives restarts and Clear, so a destroyed
//	              and re-created session never reuses a version.
//	bytes 16..    the encoded session document, as the manager gave it.
//
// Touch rewrites the expiry only and keeps the version, so a touch does not
// make a parallel compare-and-swap fail.
//
// The user index (session.UserIndex) lives in a second bucket, named after
// the sessions' bucket plus a NUL byte and "users" ([Store.UsersBucket]),
// with a nested bucket per user, whose bbolt sequence number holds when the
// next of the user's entries may be pruned (an index write, and the
// sweep, walk the user's entries only then; 0, as earlier versions left
// it, for unknown). The sweep reads the users in batches too, each batch's
// dues in a read-only transaction, and prunes the users who are due in a
// short write transaction per batch.
// Earlier versions named the bucket "<bucket>.users", which another store's
// WithBucket could name too; New moves the user buckets of such an index
// into the new one, in a file that holds the store's bucket already (in a
// file without it, a "<bucket>.users" is another program's, left alone).
package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/shortid"
)

// Defaults for the options.
const (
	// DefaultBucket is the bucket that holds the sessions (WithBucket).
	DefaultBucket = "sessions"
	// DefaultTTL is how long a session saved without expiry lives (WithDefaultTTL).
	DefaultTTL = 24 * time.Hour
	// DefaultSweepInterval is how often expired sessions are deleted (WithSweepInterval).
	DefaultSweepInterval = time.Minute
	// DefaultSweepBatchSize is how many keys one sweep transaction examines (WithSweepBatchSize).
	DefaultSweepBatchSize = 1000
	// DefaultOpenTimeout is how long Open waits for a locked file (WithOpenTimeout).
	DefaultOpenTimeout = time.Second
)

const (
	headerLen   = 16    // expiry + version
	fileMode    = 0o600 // sessions are secrets: owner only
	maxUnixNano = math.MaxInt64
)

// Store keeps sessions in a bbolt database. Create it with New or Open and
// call Close when done, which stops the background sweeper.
type Store struct {
	db              *bbolt.DB
	path            string // db's, for messages: bbolt's Path reads a field its Close clears
	ownsDB          bool
	bucket          []byte
	defaultLifetime time.Duration
	sweepBatch      int
	logger          *slog.Logger
	now             func() time.Time

	// sweepHook, if set (tests only), runs in PurgeExpired after each
	// batch of users is read and before it is pruned.
	sweepHook func()

	sweepCancel context.CancelFunc
	sweepDone   chan struct{}
	closeOnce   sync.Once
	closeErr    error

	// The group committer (commit.go).
	writes        chan *writeOp
	writeMu       sync.RWMutex // held by senders on writes; Close takes it to stop them
	writeClosed   bool
	committerDone chan struct{}
	pending       atomic.Int64 // writes sent to the committer and not yet answered
}

// Interfaces the store implements.
var (
	_ session.Store             = (*Store)(nil)
	_ session.Toucher           = (*Store)(nil)
	_ session.VersionedStore    = (*Store)(nil)
	_ session.GetToucher        = (*Store)(nil)
	_ session.DurableGetToucher = (*Store)(nil)
	_ session.Lister            = (*Store)(nil)
	_ session.Purger            = (*Store)(nil)
)

type config struct {
	bucket          string
	defaultLifetime time.Duration
	sweepInterval   time.Duration
	sweepBatch      int
	openTimeout     time.Duration
	logger          *slog.Logger
	now             func() time.Time // the clock; tests replace it
}

// An Option changes a setting of New or Open.
type Option func(*config)

// WithBucket names the bbolt bucket that holds the sessions (default
// "sessions"). Use different buckets to keep several stores in one file.
// The store keeps its user index in a bucket named after it, a NUL byte and
// "users" (Store.UsersBucket), so New and Open refuse a name that ends so.
func WithBucket(name string) Option { return func(c *config) { c.bucket = name } }

// WithDefaultTTL sets how long a session saved with a zero expires (a
// browser-session cookie) is kept (default 24h), so that it is swept
// eventually. A d <= 0 keeps the default.
func WithDefaultTTL(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.defaultLifetime = d
		}
	}
}

// WithSweepInterval sets how often expired sessions are deleted in the
// background (default one minute). Zero or negative turns the sweeper off;
// expired sessions are still never returned, and PurgeExpired still works.
func WithSweepInterval(d time.Duration) Option {
	return func(c *config) { c.sweepInterval = d }
}

// WithSweepBatchSize sets how many keys one sweep transaction examines
// (default 1000): sessions, and users of the user index. Smaller batches
// hold the write lock for less time.
func WithSweepBatchSize(n int) Option { return func(c *config) { c.sweepBatch = n } }

// WithOpenTimeout sets how long Open waits for another process to release the
// file lock before it fails (default one second). Zero or negative waits forever.
// New ignores it: the caller opened the database.
func WithOpenTimeout(d time.Duration) Option { return func(c *config) { c.openTimeout = d } }

// WithLogger sets the logger for background sweep errors and warnings
// (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

func newConfig(opts []Option) (config, error) {
	c := config{
		bucket:          DefaultBucket,
		defaultLifetime: DefaultTTL,
		sweepInterval:   DefaultSweepInterval,
		sweepBatch:      DefaultSweepBatchSize,
		openTimeout:     DefaultOpenTimeout,
		now:             time.Now,
	}
	for _, o := range opts {
		o(&c)
	}
	if c.bucket == "" {
		return c, errors.New("boltstore: empty bucket name")
	}
	if strings.HasSuffix(c.bucket, usersSuffix) {
		return c, fmt.Errorf("boltstore: bucket name %q ends in a NUL byte and \"users\", which names the user index bucket of the store in bucket %q", c.bucket, strings.TrimSuffix(c.bucket, usersSuffix))
	}
	if c.sweepBatch <= 0 {
		return c, fmt.Errorf("boltstore: sweep batch size must be positive, got %d", c.sweepBatch)
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	return c, nil
}

// New returns a store over an open bbolt database, creating its bucket if
// needed. Close stops the sweeper but leaves db open: the caller owns it.
// Open db with a Timeout and without NoSync (see Open for why). Over a
// database opened with bbolt's ReadOnly (an inspection of a copy, a file
// on a read-only mount), the bucket must be there: the store reads, runs
// no sweeper, and its writes fail with bbolt's ErrDatabaseReadOnly. A
// database whose file is shorter than the pages its last commit uses fails
// with ErrTruncated, and one whose root page bbolt cannot read with
// ErrCorruptFile.
func New(db *bbolt.DB, opts ...Option) (*Store, error) {
	if db == nil {
		return nil, errors.New("boltstore: nil *bbolt.DB")
	}
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	if db.NoSync {
		c.logger.Warn("boltstore: the bbolt database has NoSync set; acknowledged sessions can be lost in a crash", "path", db.Path())
	}
	return newStore(db, false, c)
}

// Open opens (or creates) the bbolt file at path and returns a store over it.
// The store owns the file: Close stops the sweeper and closes it.
// Writes are fsynced before they return. If another process holds the file,
// or another Open in this one that is not closed yet (a second Manager, or a
// test that did not Close the first store), Open fails after the open
// timeout (WithOpenTimeout) with an error saying so, instead of hanging.
// A file shorter than the pages its last commit uses fails with
// ErrTruncated, and one whose pages bbolt cannot read as it opens the file
// with ErrCorruptFile; either is left as it is, and not locked. (A
// corrupt freelist makes bbolt's Open itself panic, which leaves the file
// mapped, read-only, until the process ends, and, on Windows and the other
// platforms without flock, locked.) A file whose last commit wrote no
// freelist (a program that opened it with bbolt's NoFreelistSync) is read
// in full first, read-only, as bbolt's Open reads it to find its free
// pages, but in a goroutine of its own, where a corrupt page would end the
// process; New cannot do that for a database the caller opened.
func Open(path string, opts ...Option) (*Store, error) {
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	timeout := c.openTimeout
	if timeout < 0 {
		timeout = 0
	}
	noFreelist, err := checkLength(path) // files.go
	if err != nil {
		return nil, err
	}
	// The file bbolt opens, to close it if bbolt.Open panics on a corrupt
	// page (its freelist): bbolt then closes nothing. bbolt's memory map of
	// the file stays, which nothing can unmap, and holds the file open, and
	// with it bbolt's lock, until the process ends: the lock is released
	// first (lock_*.go; not on Windows and the other platforms without
	// flock), so that the file, once restored in place, opens again.
	var file *os.File
	openFile := func(name string, flag int, perm os.FileMode) (*os.File, error) {
		f, err := os.OpenFile(name, flag, perm)
		file = f
		return f, err
	}
	var db *bbolt.DB
	err = opening(path, func() (err error) {
		if noFreelist {
			// bbolt.Open reads every page in use in a goroutine of its
			// own, where a corrupt one ends the process: read them here
			// first (files.go).
			if err := readPages(path, timeout); err != nil {
				return err
			}
		}
		db, err = bbolt.Open(path, fileMode, &bbolt.Options{Timeout: timeout, NoSync: false, OpenFile: openFile})
		return err
	})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("boltstore: open %s: the file is locked by another process, or by another Open of it in this one (gave up after %v): %w", path, c.openTimeout, err)
		}
		if errors.Is(err, ErrCorruptFile) {
			if file != nil {
				unlock(file)
				file.Close()
			}
			return nil, err
		}
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	s, err := newStore(db, true, c)
	if err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func newStore(db *bbolt.DB, owns bool, c config) (*Store, error) {
	s := &Store{
		db:              db,
		path:            db.Path(),
		ownsDB:          owns,
		bucket:          []byte(c.bucket),
		defaultLifetime: c.defaultLifetime,
		sweepBatch:      c.sweepBatch,
		logger:          c.logger,
		now:             c.now,
	}
	// The first reads of the file: bbolt panics on a corrupt page. Only
	// they run in opening: a panic of the logger is no corrupt file.
	var moved int
	if err := opening(db.Path(), func() (err error) { moved, err = s.prepare(db, &c); return err }); err != nil { // files.go
		return nil, err
	}
	if moved > 0 {
		s.logger.Info("boltstore: moved the user index to its new bucket",
			"path", db.Path(), "from", c.bucket+legacyUsersSuffix, "to", s.UsersBucket(), "users", moved)
	}
	s.writes = make(chan *writeOp, maxGroup)
	s.committerDone = make(chan struct{})
	go s.committer()
	if c.sweepInterval > 0 {
		ctx, cancel := context.WithCancel(context.Background())
		s.sweepCancel = cancel
		s.sweepDone = make(chan struct{})
		go s.sweepLoop(ctx, c.sweepInterval)
	}
	return s, nil
}

// prepare checks the file's length, and creates the store's bucket (or,
// over a database opened read-only, checks that it is there, and turns
// the sweeper off). It returns the number of users whose index it moved.
func (s *Store) prepare(db *bbolt.DB, c *config) (int, error) {
	if err := checkDB(db); err != nil { // files.go
		return 0, err
	}
	if db.IsReadOnly() {
		// Nothing can be created, moved or swept: reads work, writes fail
		// with bbolt's ErrDatabaseReadOnly.
		err := db.View(func(tx *bbolt.Tx) error {
			if tx.Bucket(s.bucket) == nil {
				return errors.New("no such bucket, and a database opened read-only cannot have one created")
			}
			return nil
		})
		if err != nil {
			return 0, fmt.Errorf("boltstore: bucket %q in %s: %w", c.bucket, db.Path(), err)
		}
		c.sweepInterval = 0
		return 0, nil
	}
	return s.createBucket(db, *c)
}

// createBucket creates the store's bucket in db if it is not there, and
// otherwise moves the user index of an earlier version (migrateUsers),
// returning the number of users moved.
func (s *Store) createBucket(db *bbolt.DB, c config) (int, error) {
	var moved int
	err := db.Update(func(tx *bbolt.Tx) error {
		if tx.Bucket(s.bucket) == nil {
			// A store that never ran on this file has no earlier index to
			// move: a "<bucket>.users" there is another program's.
			_, err := tx.CreateBucket(s.bucket)
			return err
		}
		var err error
		if moved, err = s.migrateUsers(tx); err != nil { // users.go
			return fmt.Errorf("move the user index from %q: %w", c.bucket+legacyUsersSuffix, err)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("boltstore: create bucket %q in %s: %w", c.bucket, db.Path(), err)
	}
	return moved, nil
}

// Close stops the background sweeper, waiting for a sweep in progress to
// stop, finishes the writes already under way, and closes the file if the
// store opened it (Open). Later writes (Set, Destroy, Touch, GetAndTouch,
// CompareAndSwap, Clear, PurgeExpired, IndexUserSession,
// UnindexUserSession) fail with ErrClosed, also over a database the caller
// keeps open (New). Later reads fail over the file Open opened, which is
// closed, and still read a database the caller keeps open. It is safe to
// call more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if s.sweepCancel != nil {
			s.sweepCancel()
			<-s.sweepDone
		}
		s.stopCommitter()
		if s.ownsDB {
			if err := s.db.Close(); err != nil {
				s.closeErr = fmt.Errorf("boltstore: close %s: %w", s.path, err)
			}
		}
	})
	return s.closeErr
}

// DB returns the underlying bbolt database, for backups (tx.WriteTo) and stats.
func (s *Store) DB() *bbolt.DB { return s.db }

// record is a decoded value. data points into bbolt's memory and is only
// valid inside the transaction that read it.
type record struct {
	expires int64 // Unix nanoseconds
	version uint64
	data    []byte
}

var errCorrupt = errors.New("corrupt record")

func decode(v []byte) (record, error) {
	if len(v) < headerLen {
		return record{}, fmt.Errorf("%w: %d bytes, want at least %d", errCorrupt, len(v), headerLen)
	}
	return record{
		expires: int64(binary.BigEndian.Uint64(v[0:8])),
		version: binary.BigEndian.Uint64(v[8:16]),
		data:    v[headerLen:],
	}, nil
}

// encode returns a fresh buffer: bbolt needs the value to stay untouched until
// the transaction commits, and it must never alias bbolt's own memory.
func encode(expires int64, version uint64, data []byte) []byte {
	v := newValue(data)
	setHeader(v, expires, version)
	return v
}

// newValue returns a fresh value holding a copy of data after room for the
// header. Set and CompareAndSwap make it before they queue their write, so
// the write never reads the caller's buffer: a caller that gave up at its
// deadline may reuse the buffer while its write is still queued.
func newValue(data []byte) []byte {
	v := make([]byte, headerLen+len(data))
	copy(v[headerLen:], data)
	return v
}

// setHeader writes the expiry and the version into v's header.
func setHeader(v []byte, expires int64, version uint64) {
	binary.BigEndian.PutUint64(v[0:8], uint64(expires))
	binary.BigEndian.PutUint64(v[8:16], version)
}

// live reports whether r is unexpired at now.
func (r record) live(now int64) bool { return r.expires > now }

// expiry turns the manager's expires into stored Unix nanoseconds: the zero
// time gets the default lifetime, and far-future times are clamped to what
// int64 nanoseconds can hold. A result <= now means "delete".
func (s *Store) expiry(now time.Time, expires time.Time) int64 {
	if expires.IsZero() {
		expires = now.Add(s.defaultLifetime)
	}
	if expires.After(time.Unix(0, maxUnixNano)) {
		return maxUnixNano
	}
	if expires.Before(time.Unix(0, 0)) {
		return 0
	}
	return expires.UnixNano()
}

func formatVersion(v uint64) string { return strconv.FormatUint(v, 10) }

// Answers of a write transaction that leave it usable (see writeOp); the
// exported methods turn them into found == false and swapped == false.
var (
	errMissing  = errors.New("boltstore: no such session")
	errConflict = errors.New("boltstore: version conflict")
)

func (s *Store) bucketOf(tx *bbolt.Tx) (*bbolt.Bucket, error) {
	b := tx.Bucket(s.bucket)
	if b == nil {
		return nil, fmt.Errorf("boltstore: bucket %q is missing from %s", s.bucket, s.path)
	}
	return b, nil
}

// Get returns the session's bytes; found is false if it is missing or
// expired. A corrupt record also counts as missing.
func (s *Store) Get(ctx context.Context, id string) ([]byte, bool, error) {
	data, _, found, err := s.GetVersion(ctx, id)
	return data, found, err
}

// GetVersion is Get that also returns the version for CompareAndSwap.
func (s *Store) GetVersion(ctx context.Context, id string) ([]byte, string, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", false, err
	}
	var (
		data    []byte
		version uint64
	)
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		// The clock is read in the transaction: beginning it can wait
		// (behind a commit that remaps the file, itself waiting for a long
		// read transaction), and a session that expired meanwhile is gone.
		now := s.now().UnixNano()
		b, err := s.bucketOf(tx)
		if err != nil {
			return err
		}
		v := b.Get([]byte(id))
		if v == nil {
			return nil
		}
		r, err := decode(v)
		if err != nil {
			s.logger.Warn("boltstore: ignoring a corrupt record", "id", shortid.Of(id), "err", err)
			return nil
		}
		if !r.live(now) {
			return nil
		}
		data = bytes.Clone(r.data)
		if data == nil {
			data = []byte{}
		}
		version = r.version
		return nil
	})
	if err != nil {
		return nil, "", false, fmt.Errorf("boltstore: get %s: %w", shortid.Of(id), err)
	}
	if data == nil {
		return nil, "", false, nil
	}
	return data, formatVersion(version), true, nil
}

// Set stores data under id until expires (zero: the default lifetime),
// replacing what was there; an expires in the past deletes the session.
// It returns once the write is on disk.
func (s *Store) Set(ctx context.Context, id string, data []byte, expires time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	v := newValue(data)
	err := s.write(ctx, func(b *bbolt.Bucket) error {
		_, err := s.put(b, id, v, expires)
		return err
	})
	if err != nil {
		return fmt.Errorf("boltstore: set %s: %w", shortid.Of(id), err)
	}
	return nil
}

// put writes v (from newValue) under id with a new version, or deletes id if
// expires has passed (and then returns version 0). It fills in v's header;
// v is the op's own, so a retry of the op may fill it in again.
func (s *Store) put(b *bbolt.Bucket, id string, v []byte, expires time.Time) (uint64, error) {
	now := s.now()
	exp := s.expiry(now, expires)
	if exp <= now.UnixNano() {
		return 0, b.Delete([]byte(id))
	}
	seq, err := b.NextSequence()
	if err != nil {
		return 0, err
	}
	setHeader(v, exp, seq)
	return seq, b.Put([]byte(id), v)
}

// Destroy deletes the session; deleting a missing session is not an error.
func (s *Store) Destroy(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := s.write(ctx, func(b *bbolt.Bucket) error {
		return b.Delete([]byte(id))
	})
	if err != nil {
		return fmt.Errorf("boltstore: destroy %s: %w", shortid.Of(id), err)
	}
	return nil
}

// Touch moves the session's expiry to expires without changing its data or
// version. A missing or expired session reports found == false; an expires
// in the past deletes the session.
func (s *Store) Touch(ctx context.Context, id string, expires time.Time) (found bool, err error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	err = s.write(ctx, func(b *bbolt.Bucket) error {
		_, _, err := s.touch(b, id, expires)
		return err
	})
	switch {
	case errors.Is(err, errMissing):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("boltstore: touch %s: %w", shortid.Of(id), err)
	}
	return true, nil
}

// GetAndTouchWrites marks the store as a session.DurableGetToucher: its
// GetAndTouch is a committed, fsynced write transaction.
func (s *Store) GetAndTouchWrites() {}

// GetAndTouch is GetVersion and Touch in one write transaction, through the
// commit queue like every write (session.GetToucher). The manager uses it
// for the end-of-request touch of a session with a user, which reads what it
// touched (to learn whether another request rebound the session), and,
// since the store is a session.DurableGetToucher, never on the load: there a
// write transaction, committed and fsynced, would make a request that then
// saves commit twice, where a read transaction costs no fsync. It returns the session's bytes and its
// version, which the touch keeps. A missing, expired or corrupt session
// reports found == false and writes nothing (its transaction is rolled
// back, see commit); an expires in the past deletes the session and
// reports it missing. It returns once the touch is on disk.
func (s *Store) GetAndTouch(ctx context.Context, id string, expires time.Time) ([]byte, string, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", false, err
	}
	var (
		data    []byte
		version uint64
	)
	// data and version are read only once the write answered (err == nil):
	// a caller whose ctx is done first returns while the op may still run.
	err := s.write(ctx, func(b *bbolt.Bucket) error {
		data = nil // the op may run again (commit.go)
		v, r, err := s.touch(b, id, expires)
		if err != nil || v == nil { // v == nil: an expires in the past deleted it
			return err
		}
		// v is the value the touch put, a buffer of this call's own: bbolt
		// copies it into the file at the commit, and keeps no reference to
		// it after, so its data is the caller's to keep.
		data, version = v[headerLen:], r.version
		return nil
	})
	switch {
	case errors.Is(err, errCorrupt): // errMissing too: nothing was written
		s.logger.Warn("boltstore: ignoring a corrupt record", "id", shortid.Of(id), "err", err)
		return nil, "", false, nil
	case errors.Is(err, errMissing):
		return nil, "", false, nil
	case err != nil:
		return nil, "", false, fmt.Errorf("boltstore: get and touch %s: %w", shortid.Of(id), err)
	case data == nil:
		return nil, "", false, nil
	}
	return data, formatVersion(version), true, nil
}

// touch sets the expiry of session id in b to expires, keeping its data and
// version, in a write of the commit queue, and returns the value it put and
// the record it read. It returns errMissing for a missing or expired
// session, and one wrapping errCorrupt, as well as errMissing, for a
// corrupt one, before changing anything. An expires in the past deletes
// the session and returns a nil value.
func (s *Store) touch(b *bbolt.Bucket, id string, expires time.Time) ([]byte, record, error) {
	key := []byte(id)
	v := b.Get(key)
	if v == nil {
		return nil, record{}, errMissing
	}
	now := s.now()
	r, err := decode(v)
	if err != nil {
		return nil, record{}, fmt.Errorf("%w: %w", errMissing, err)
	}
	if !r.live(now.UnixNano()) {
		return nil, record{}, errMissing
	}
	exp := s.expiry(now, expires)
	if exp <= now.UnixNano() {
		return nil, r, b.Delete(key)
	}
	nv := encode(exp, r.version, r.data)
	return nv, r, b.Put(key, nv)
}

// CompareAndSwap stores data only if the session's current version is old
// (or, with old == "", only if no unexpired session has that id), all in one
// write transaction. Otherwise it reports swapped == false. It returns the
// new version; an expires in the past deletes the session and returns "".
func (s *Store) CompareAndSwap(ctx context.Context, id, old string, data []byte, expires time.Time) (version string, swapped bool, err error) {
	if err := ctx.Err(); err != nil {
		return "", false, err
	}
	var seq uint64
	v := newValue(data)
	err = s.write(ctx, func(b *bbolt.Bucket) error {
		var (
			cur    uint64
			exists bool
		)
		if v := b.Get([]byte(id)); v != nil {
			if r, err := decode(v); err == nil && r.live(s.now().UnixNano()) {
				cur, exists = r.version, true
			}
		}
		if old == "" {
			if exists {
				return errConflict
			}
		} else if !exists || formatVersion(cur) != old {
			return errConflict
		}
		var err error
		seq, err = s.put(b, id, v, expires)
		return err
	})
	switch {
	case errors.Is(err, errConflict):
		return "", false, nil
	case err != nil:
		return "", false, fmt.Errorf("boltstore: compare-and-swap %s: %w", shortid.Of(id), err)
	case seq == 0:
		return "", true, nil
	}
	return formatVersion(seq), true, nil
}

// IDs returns the ids of the unexpired sessions, in byte order.
func (s *Store) IDs(ctx context.Context) ([]string, error) {
	var ids []string
	err := s.forEachLive(ctx, func(k []byte) { ids = append(ids, string(k)) })
	if err != nil {
		return nil, fmt.Errorf("boltstore: ids: %w", err)
	}
	return ids, nil
}

// Count returns the number of unexpired sessions.
func (s *Store) Count(ctx context.Context) (int, error) {
	n := 0
	err := s.forEachLive(ctx, func([]byte) { n++ })
	if err != nil {
		return 0, fmt.Errorf("boltstore: count: %w", err)
	}
	return n, nil
}

func (s *Store) forEachLive(ctx context.Context, fn func(k []byte)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.view(ctx, func(tx *bbolt.Tx) error {
		now := s.now().UnixNano() // in the transaction, as in GetVersion
		b, err := s.bucketOf(tx)
		if err != nil {
			return err
		}
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if r, err := decode(v); err == nil && r.live(now) {
				fn(k)
			}
		}
		return nil
	})
}

// Clear deletes every session in the store's bucket and the store's user
// index (its bucket, UsersBucket), and nothing else in the file. Versions
// keep growing across a Clear. With ctx done before it commits, it returns
// ctx's error, and the sessions may still be deleted.
func (s *Store) Clear(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		b, err := s.bucketOf(tx)
		if err != nil {
			return err
		}
		seq := b.Sequence()
		if err := tx.DeleteBucket(s.usersBucket()); err != nil && !errors.Is(err, berrors.ErrBucketNotFound) {
			return err
		}
		if err := tx.DeleteBucket(s.bucket); err != nil {
			return err
		}
		nb, err := tx.CreateBucket(s.bucket)
		if err != nil {
			return err
		}
		return nb.SetSequence(seq)
	})
	if err != nil {
		return fmt.Errorf("boltstore: clear: %w", err)
	}
	return nil
}

// PurgeExpired deletes expired (and corrupt) sessions now and returns how
// many it deleted. It works in batches (WithSweepBatchSize): each batch is
// read in a read-only transaction, and only its expired keys are deleted in a
// short write transaction, so writers are not held up for long. Then it
// prunes the user index the same way: each batch of users is read in a
// read-only transaction, and the expired entries of the users who are due
// (see the package doc) are deleted in a short write transaction; a user
// none of whose entries may be pruned yet is not walked. It stops early,
// with ctx's error, when ctx is done, also while it waits for a transaction
// (a batch's deletions may still commit then). After Close it fails with
// ErrClosed.
func (s *Store) PurgeExpired(ctx context.Context) (int, error) {
	if s.closed() {
		return 0, fmt.Errorf("boltstore: purge expired: %w", ErrClosed)
	}
	removed := 0
	var after []byte // last key examined; nil before the first batch
	for {
		if err := ctx.Err(); err != nil {
			return removed, err
		}
		now := s.now().UnixNano()
		var expired [][]byte
		more := false
		err := s.view(ctx, func(tx *bbolt.Tx) error {
			b, err := s.bucketOf(tx)
			if err != nil {
				return err
			}
			c := b.Cursor()
			k, v := resume(c, after)
			for n := 0; k != nil && n < s.sweepBatch; n++ {
				if r, err := decode(v); err != nil || !r.live(now) {
					expired = append(expired, bytes.Clone(k))
				}
				after = bytes.Clone(k)
				k, v = c.Next()
			}
			more = k != nil
			return nil
		})
		if err != nil {
			return removed, fmt.Errorf("boltstore: purge expired: %w", err)
		}
		if len(expired) > 0 {
			var n int
			err = s.update(ctx, func(tx *bbolt.Tx) error {
				b, err := s.bucketOf(tx)
				if err != nil {
					return err
				}
				n = 0
				for _, k := range expired {
					// Re-check: the session may have been rewritten since the scan.
					v := b.Get(k)
					if v == nil {
						continue
					}
					if r, err := decode(v); err == nil && r.live(now) {
						continue
					}
					if err := b.Delete(k); err != nil {
						return err
					}
					n++
				}
				return nil
			})
			if err != nil {
				return removed, fmt.Errorf("boltstore: purge expired: %w", err)
			}
			removed += n
		}
		if !more {
			// The user index too (users.go): users who never come back.
			return removed, s.pruneUsers(ctx)
		}
	}
}

// view runs fn in a read transaction, and returns ctx's error once ctx is
// done, without waiting for the transaction to begin or end: beginning one
// waits behind a commit that grows (remaps) the file, which itself waits for
// every read transaction to end, such as a backup's tx.WriteTo over DB().
// The transaction then runs on, in a goroutine of its own, and its results
// are dropped: a caller given ctx's error must not read what fn sets. A
// context that is never done (Background) runs fn in the caller's goroutine.
func (s *Store) view(ctx context.Context, fn func(tx *bbolt.Tx) error) error {
	if ctx.Done() == nil {
		return s.db.View(fn)
	}
	return s.inBackground(ctx, func() error { return s.db.View(fn) }, func() {})
}

// resume places c on the first key after after, the last key a batch
// examined, or on the first key when after is nil (the first batch), and
// returns that key and its value.
func resume(c *bbolt.Cursor, after []byte) (k, v []byte) {
	if after == nil {
		return c.First()
	}
	k, v = c.Seek(after)
	if k != nil && bytes.Equal(k, after) {
		k, v = c.Next()
	}
	return k, v
}

// sweep is PurgeExpired for the sweeper, which turns a panic of a sweep
// transaction (bbolt panics on some corrupt pages) into an error: the
// transaction raises it in the goroutine of the call that ran it, which
// for a request is one that net/http recovers, and for the sweep is the
// sweeper's own, where it ended the process. guard has logged its stack.
func (s *Store) sweep(ctx context.Context) (n int, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &txPanic{value: v}
		}
	}()
	return s.PurgeExpired(ctx)
}

func (s *Store) sweepLoop(ctx context.Context, every time.Duration) {
	defer close(s.sweepDone)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := s.sweep(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			s.logger.Error("boltstore: sweeping expired sessions failed", "path", s.path, "removed", n, "err", err)
		case n > 0:
			s.logger.Debug("boltstore: swept expired sessions", "path", s.path, "removed", n)
		}
	}
}
