// Package mongostore keeps sessions in a MongoDB collection through the
// official driver (go.mongodb.org/mongo-driver/v2).
//
// The documents are the ones connect-mongo writes, so that an Express app and
// a Go app can share sessions:
//
//	{_id: "<session id>", session: "<the encoded session, a JSON string>", expires: ISODate(...)}
//
// plus lastModified: ISODate(...) with [WithLastModified], as connect-mongo
// writes it when its touchAfter is set. connect-mongo with stringify: false
// stores session as an embedded document instead; such documents are read
// (and converted to JSON), and [WithStringify](false) writes them. A
// session that is not UTF-8 is stored as binary data, BinData(0, ...),
// since a BSON string must be UTF-8: a custom [session.Codec] with a binary
// format (gob, msgpack, protobuf) writes such sessions, and so does the
// JSON codec for a session whose values hold bytes that are not UTF-8 (kept
// as they came, from json.RawMessage or from another app), which
// connect-mongo cannot read in either form; with WithStringify(false), so
// is a session that is not a JSON object, which no document holds. A
// session of binary data (of any subtype) is read as its bytes. A document the store cannot read (no
// date in expires, a session that is neither a string, binary data nor a
// document, or one nested deeper than the manager's codec reads) counts as
// missing: Get logs it, and Touch and GetAndTouch leave it alone (their
// filters skip it, so they cannot tell it from a missing one without
// another round trip, and do not log it), and IDs and Count leave it out.
//
// An expired document is never returned, even before it is removed: Get
// and GetVersion find the document by _id alone and check expires
// themselves (FerretDB v1 scans the whole collection for a filter with
// anything more in it), and the other operations filter on expires > now.
// The store removes them itself: a cleanup in the background deletes the
// expired documents every 15 minutes ([DefaultCleanupInterval], as pgstore),
// with [Store.PurgeExpired], until [Store.Close]. [WithCleanupInterval]
// changes the interval, and zero turns the cleanup off (when an Express
// app's TTL index or another process removes them). With [WithTTLIndex] the
// server removes them (MongoDB's TTL monitor, about every minute), and the
// interval cleanup is off unless WithCleanupInterval asks for it too.
// FerretDB v1 has no TTL indexes: the default cleanup works there. Call
// Close when done with a store: a store dropped without it has its cleanup
// stopped only once the garbage collector finds it unreachable.
//
// The store is a [session.UserIndex]: a second collection, <collection>_users,
// holds one document per session of a user (see [Store.IndexUserSession]);
// as a [session.UserIndexRemover] it deletes one with one deleteOne.
//
// Every store operation is one round trip:
//
//	Get, GetVersion   find {_id}, then expires > now checked here
//	Set               update {_id} $set {session, expires}, upsert (delete when expired)
//	Touch             update {_id, expires > now, session readable} $set {expires}
//	GetAndTouch       findAndModify {_id, expires > now, session readable} $set {expires}, returning the document
//	Destroy           delete {_id}
//	CompareAndSwap    update {_id, session: <the value read>, expires > now} $set {...};
//	                  creating: insert, which fails on a duplicate _id (a second
//	                  round trip replaces a document only if Get reports it missing)
//
// A version is the session value that was read ("s:" + the string, "b:" +
// the subtype's byte + the binary data, "o:" + the document's BSON), and a
// compare-and-swap filters its update on it. connect-mongo knows nothing of
// versions, but any write it makes changes the session value (its JSON holds
// the cookie's expiry), so such a write between a Go request's load and save
// makes the save a conflict, not a lost update. A hash of the value would not
// do: the filter has to match the value as stored, and MongoDB cannot hash
// in a query. Keeping the value costs the manager a copy of the session.
//
// MongoDB applies a filtered update to one document atomically. FerretDB v1
// does not (it reads, then writes by _id), so the store also serializes its
// own writes of one id (Set, CompareAndSwap, Touch, GetAndTouch): on FerretDB,
// compare-and-swap holds within one process, not between two. On FerretDB,
// [Store.PurgeExpired] deletes in batches, and while a batch runs, holds
// back the saves of the sessions it is deleting (see there). The store
// tells FerretDB by its answer to buildInfo, asked at the first purge; a
// server that refuses buildInfo is treated as FerretDB, and asked again an
// hour later.
package mongostore

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/jsondepth"
	"github.com/sessionkit/session/internal/periodic"
	"github.com/sessionkit/session/internal/shortid"
)

// DefaultTTL is how long a session without an expiry (a browser-session
// cookie) is kept: 14 days, connect-mongo's default ttl, so that such a
// session lives as long whether Express or Go wrote or touched it last.
const DefaultTTL = 14 * 24 * time.Hour

// The field names of connect-mongo's documents.
const (
	fieldID           = "_id"
	fieldSession      = "session"
	fieldExpires      = "expires"
	fieldLastModified = "lastModified"
)

// Version prefixes: the kind of session value a version holds.
const (
	versionString = "s:"
	versionObject = "o:"
	versionBinary = "b:" // then the subtype's byte, then the data
)

// Store is a session store in a MongoDB collection. It is safe for
// concurrent use. Create it with [New]; Close stops its cleanup.
type Store struct {
	coll *mongo.Collection
	cfg  config

	// casLocks serialize the sets, compare-and-swaps and touches of one id
	// within this store (striped by a hash of the id; see lock). MongoDB
	// applies a filtered update atomically and needs none of this; FerretDB
	// v1 reads, then writes by _id, so two parallel swaps from one version
	// would both succeed there. Each is a channel of one slot, so that a
	// caller whose context ends stops waiting (a server that went away must
	// not queue requests).
	casLocks [64]chan struct{}

	// batch is the batch of PurgeExpired's deleteMany in flight on
	// FerretDB, if any (nil otherwise): the writes it would race wait for
	// it (see holdsBack). batchSlot, a channel of one slot, lets one batch
	// run at a time.
	batch     atomic.Pointer[purgeBatchState]
	batchSlot chan struct{}

	deletes atomic.Int32 // how the server runs a deleteMany: see batchedPurge
	// askAgain is when (s.cfg.now, in Unix nanoseconds) batchedPurge asks
	// again a server that refused buildInfo (deletesRefused), or sooner if
	// the clock goes back before the refusal.
	askAgain atomic.Int64

	userIndexes userIndexState // users.go
	// usersRefused is set while the server refuses PurgeExpired's pruning
	// of the user index (unauthorized), once the refusal has been logged.
	usersRefused atomic.Bool

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

type config struct {
	defaultTTL      time.Duration
	cleanupInterval time.Duration
	cleanupSet      bool // WithCleanupInterval was given
	ttlIndex        bool
	lastModified    bool
	stringify       bool
	logger          *slog.Logger
	now             func() time.Time // the clock; tests replace it
}

// Option configures a [Store].
type Option func(*config)

// WithDefaultTTL sets how long a session without an expiry is kept (default
// 14 days, as connect-mongo). Zero or negative keeps the default.
func WithDefaultTTL(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.defaultTTL = d
		}
	}
}

// WithLogger sets the logger for cleanup errors and for stored documents
// that cannot be read (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// DefaultCleanupInterval is how often a store deletes the expired documents
// unless told otherwise ([WithCleanupInterval], [WithTTLIndex]), as pgstore
// deletes its expired rows.
const DefaultCleanupInterval = 15 * time.Minute

// WithCleanupInterval deletes the expired documents every d in the
// background, with [Store.PurgeExpired] (deleteMany({expires: {$lt: now}}),
// as connect-mongo's autoRemove: 'interval'), until Close. The default is
// [DefaultCleanupInterval], 15 minutes, or none with [WithTTLIndex]. Zero
// or negative turns the cleanup off: an Express app's TTL index on the
// collection, or another process, removes them. Expired documents are never
// returned either way. Each run is bounded by the interval (at least 10
// seconds); a run that fails is logged (see [WithLogger]).
func WithCleanupInterval(d time.Duration) Option {
	return func(c *config) { c.cleanupInterval, c.cleanupSet = max(d, 0), true }
}

// WithTTLIndex makes New create a TTL index on expires (expireAfterSeconds:
// 0), so that the server deletes expired documents itself (as connect-mongo's
// autoRemove: 'native'), and one on the user index collection's expires
// (expireAfterSeconds: session.IndexGrace). The interval cleanup is then
// off, unless [WithCleanupInterval] also asks for it. New fails if the
// server refuses the index, as FerretDB v1 does; leave WithTTLIndex out
// there, and the interval cleanup removes them. MongoDB refuses it too where an index
// on expires exists with other options; the error names the collection and
// says how to drop it.
func WithTTLIndex() Option { return func(c *config) { c.ttlIndex = true } }

// WithLastModified writes lastModified (the time of the write) on every
// write, as connect-mongo does when its touchAfter is set: an Express app
// with touchAfter sharing the collection then skips touching a session Go
// wrote recently, as it does for its own.
func WithLastModified() Option { return func(c *config) { c.lastModified = true } }

// WithStringify(false) stores the session as an embedded document rather
// than a JSON string, as connect-mongo with stringify: false does (the
// default, true, stores the string). Either form is read whatever the option.
// A document keeps the JSON's value, not its bytes: numbers come back as
// JavaScript writes them (1.0 as 1), strings with Go's escapes, and Set and
// CompareAndSwap refuse, storing nothing, a session with a key that starts
// with $, holds a dot or a NUL, or comes twice in one object, a number
// that neither an int64 nor a double holds, or nesting deeper than the
// manager reads back. A session that is not UTF-8 is stored as binary
// data whatever the option (see the package doc), and so, with
// WithStringify(false), is one that is not a JSON object (a Codec with a
// text format, or a binary Codec's bytes that happen to be UTF-8, as a
// small protobuf message's can).
func WithStringify(stringify bool) Option { return func(c *config) { c.stringify = stringify } }

// WithClock makes the store read the time from now instead of time.Now, for
// tests that drive a manager and its store with one clock. The cleanup still
// wakes on real time.
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// New returns a store on coll, which holds nothing but sessions, and starts
// its cleanup, which deletes the expired documents every 15 minutes
// ([DefaultCleanupInterval]; see [WithCleanupInterval]) until [Store.Close].
// Call Close when done with the store; it does not disconnect the client.
// With [WithTTLIndex] New creates the TTL indexes (two round trips), and
// starts no cleanup unless WithCleanupInterval asks for one.
//
// New waits for the server at most 30 seconds: it is [NewContext] with a
// context that ends then. Use NewContext to bound [WithTTLIndex]'s index
// creation by your own context (a start-up deadline, a signal).
func New(coll *mongo.Collection, opts ...Option) (*Store, error) {
	ctx, cancel := context.WithTimeout(context.Background(), newTimeout)
	defer cancel()
	return NewContext(ctx, coll, opts...)
}

// newTimeout bounds the work New does on the server.
const newTimeout = 30 * time.Second

// defaultCleanupInterval is the cleanup interval of a store made without
// WithCleanupInterval nor WithTTLIndex, and minCleanupRun the least time a
// cleanup run has before it is ended (variables for tests).
var (
	defaultCleanupInterval = DefaultCleanupInterval
	minCleanupRun          = 10 * time.Second
)

// newConfig returns the configuration that opts make.
func newConfig(opts []Option) config {
	c := config{defaultTTL: DefaultTTL, stringify: true, now: time.Now}
	for _, o := range opts {
		o(&c)
	}
	if !c.cleanupSet && !c.ttlIndex {
		c.cleanupInterval = defaultCleanupInterval
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c
}

// NewContext is [New] with a context for the work it does on the server:
// with [WithTTLIndex], creating the TTL indexes stops when ctx ends, and
// NewContext returns an error wrapping ctx's. ctx bounds nothing after
// NewContext returns; [Store.Close] stops the cleanup. Without
// WithTTLIndex, NewContext does nothing on the server.
func NewContext(ctx context.Context, coll *mongo.Collection, opts ...Option) (*Store, error) {
	if coll == nil {
		return nil, errors.New("mongostore: nil collection")
	}
	c := newConfig(opts)
	s := &Store{coll: coll, cfg: c}
	for i := range s.casLocks {
		s.casLocks[i] = make(chan struct{}, 1)
	}
	s.batchSlot = make(chan struct{}, 1)
	s.userIndexes.lock = make(chan struct{}, 1)
	if c.ttlIndex {
		_, err := coll.Indexes().CreateOne(ctx, mongo.IndexModel{
			Keys:    bson.D{{Key: fieldExpires, Value: 1}},
			Options: options.Index().SetExpireAfterSeconds(0),
		})
		if err != nil {
			return nil, ttlIndexError(ctx, coll.Name(), true, err)
		}
		if err := s.createUsersTTLIndex(ctx); err != nil {
			return nil, err
		}
	}
	s.stopper = periodic.Start(s, c.cleanupInterval, (*Store).cleanupRun)
	return s, nil
}

// ttlIndexError is New's error when the server refused WithTTLIndex's
// index on the expires of collection coll (first: the session collection,
// the first index New asks for, which a server without TTL indexes refuses).
// MongoDB refuses it when the collection has an index on expires with other
// options (IndexOptionsConflict: a TTL index with another
// expireAfterSeconds, or a plain one), or an index of its name, expires_1,
// on other keys (IndexKeySpecsConflict); the error says which to drop.
// When ctx, New's, failed it (see endedByContext), the error says nothing
// of the server and wraps ctx's error.
func ttlIndexError(ctx context.Context, coll string, first bool, err error) error {
	const indexKeySpecsConflict = 86 // indexOptionsConflict is users.go's
	if err := endedByContext(ctx, err); err != nil {
		// The caller's context ended (or its deadline was too near to
		// send the command): no advice about the server.
		return fmt.Errorf("mongostore: create the TTL index on %s.%s: %w", coll, fieldExpires, err)
	}
	var se mongo.ServerError
	errors.As(err, &se)
	switch {
	case se != nil && se.HasErrorCode(indexOptionsConflict):
		return fmt.Errorf("mongostore: create the TTL index on %s.%s: the collection already has an index on %s with other options; drop it (db.%s.dropIndex({%s: 1})) and New creates its own, or leave out WithTTLIndex and keep it: %w", coll, fieldExpires, fieldExpires, coll, fieldExpires, err)
	case se != nil && se.HasErrorCode(indexKeySpecsConflict):
		return fmt.Errorf("mongostore: create the TTL index on %s.%s: the collection already has an index named \"%s_1\" on other keys; drop it (db.%s.dropIndex(\"%s_1\")) and New creates its own, or leave out WithTTLIndex and keep it: %w", coll, fieldExpires, fieldExpires, coll, fieldExpires, err)
	case first:
		return fmt.Errorf("mongostore: create the TTL index on %s.%s (if the server has no TTL indexes, leave out WithTTLIndex and let the interval cleanup, WithCleanupInterval, delete expired sessions): %w", coll, fieldExpires, err)
	}
	return fmt.Errorf("mongostore: create the TTL index on %s.%s: %w", coll, fieldExpires, err)
}

// endedByContext returns err, the driver's answer to a command run with
// ctx, wrapping ctx's error (errors.Is finds it, whether the driver's error
// wraps it or not) when err is ctx's doing, not the server's, else nil: ctx
// has ended (contextEnded), or the driver did not send the command because
// ctx's deadline was too near (driver.ErrDeadlineWouldBeExceeded: less time
// left than the fastest round trip it has seen, or none for the server's
// maxTimeMS), which it says before the deadline passes. With a deadline on
// ctx the driver keeps to it and ignores the client's Timeout, so that
// error is ctx's; without one it is the client's Timeout's, a slow server's.
func endedByContext(ctx context.Context, err error) error {
	ctxErr := contextEnded(ctx)
	if _, ok := ctx.Deadline(); ctxErr == nil && ok && errors.Is(err, driver.ErrDeadlineWouldBeExceeded) {
		ctxErr = context.DeadlineExceeded
	}
	switch {
	case ctxErr == nil:
		return nil
	case errors.Is(err, ctxErr):
		return err
	}
	return fmt.Errorf("%w (%w)", ctxErr, err)
}

// contextEnded returns ctx's error once ctx has ended, and
// context.DeadlineExceeded once its deadline has passed, which the driver
// may notice first (its socket's deadline is ctx's), before ctx's timer
// fires and ctx.Err says so; else nil.
func contextEnded(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	return nil
}

// Close stops the interval cleanup, if any, and waits for a running one to
// end (Close cancels it); on FerretDB, a deleteMany that run had sent
// goes on until the server answers it (see [Store.PurgeExpired]). It does
// not disconnect the client. Calling it again does nothing.
func (s *Store) Close() error {
	s.stopper.Stop()
	return nil
}

// CleanupInterval returns how often the store deletes the expired
// documents: [DefaultCleanupInterval] unless [WithCleanupInterval] or
// [WithTTLIndex] said otherwise, 0 when it does not (with WithTTLIndex
// alone, or WithCleanupInterval(0)). It does not change after Close.
func (s *Store) CleanupInterval() time.Duration { return s.cfg.cleanupInterval }

// cleanupRun runs PurgeExpired once (periodic.Start calls it every
// cleanup interval), with a context of its own that ends after the
// interval (at least minCleanupRun) or when stop closes (Close), not New's,
// and logs a failure, unless Close ended it.
func (s *Store) cleanupRun(stop <-chan struct{}) {
	ctx, cancel := context.WithTimeout(context.Background(), max(s.cfg.cleanupInterval, minCleanupRun))
	defer cancel()
	go func() { // Close cancels a run that waits on the server
		select {
		case <-stop:
		case <-ctx.Done():
		}
		cancel()
	}()
	n, err := s.PurgeExpired(ctx)
	switch {
	case err != nil && !closed(stop):
		// A run that outlasted its bound is logged too: a purge that
		// never ends in time must not go unnoticed.
		s.cfg.logger.Warn("mongostore: cleanup of expired sessions failed", "collection", s.coll.Name(), "err", err)
	case n > 0:
		s.cfg.logger.Debug("mongostore: removed expired sessions", "collection", s.coll.Name(), "count", n)
	}
}

// closed reports whether c is closed.
func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// expiry returns when a session saved with expires ends: the default TTL
// from now for the zero time.
func (s *Store) expiry(expires time.Time, now time.Time) time.Time {
	if expires.IsZero() {
		return now.Add(s.cfg.defaultTTL)
	}
	return expires
}

// wrap adds the operation and the start of the id to an error: a whole
// session id in a log is a session anyone reading the log can take over.
func wrap(op, id string, err error) error {
	return fmt.Errorf("mongostore: %s %s: %w", op, shortid.Of(id), err)
}

// live is the filter of an unexpired session with this id. BSON dates have
// millisecond precision and are stored truncated, so that a stored expiry is
// never later than the one asked for.
func live(id string, now time.Time) bson.D {
	return bson.D{{Key: fieldID, Value: id}, {Key: fieldExpires, Value: liveExpires(now)}}
}

// liveExpires matches an expires that is a date after now. $gt compares a
// date with dates only, but matches an array by its elements, as $type does.
func liveExpires(now time.Time) bson.D {
	return bson.D{{Key: "$gt", Value: now}, {Key: "$not", Value: bson.D{{Key: "$type", Value: "array"}}}}
}

// readableSession matches a session field that decode reads: a string,
// binary data or a document (not an array of them, which $type alone would
// match).
func readableSession() bson.D {
	return bson.D{{Key: "$type", Value: bson.A{"string", "binData", "object"}}, {Key: "$not", Value: bson.D{{Key: "$type", Value: "array"}}}}
}

// readable is the filter of the document under id that Get returns: live,
// with a session of a type decode reads. Touch and GetAndTouch write through
// it, so that they never revive, or report found, a document Get reports
// missing. Only a session nested deeper than maxNesting passes it and is
// still unreadable.
func readable(id string, now time.Time) bson.D {
	return append(live(id, now), bson.E{Key: fieldSession, Value: readableSession()})
}

// sessionValue returns the value of the session field for data: binary
// data if data is not UTF-8, which a BSON string must be (and which a
// document would keep only with each such byte replaced by U+FFFD), or,
// with WithStringify(false), if it is not a JSON object, which no document
// holds (a Codec with another format); else the string or, with
// WithStringify(false), the document the JSON decodes to.
func (s *Store) sessionValue(data []byte) (any, string, error) {
	return s.sessionValueKeeping(data, nil)
}

// sessionValueKeeping is sessionValue for a write over prev, the session
// stored as an object (nil for none): with WithStringify(false), every value
// of data that reads as it did in prev keeps prev's BSON value (keepTypes).
func (s *Store) sessionValueKeeping(data []byte, prev bson.Raw) (any, string, error) {
	if !utf8.Valid(data) || (!s.cfg.stringify && !isJSONObject(data)) {
		return bson.Binary{Subtype: bson.TypeBinaryGeneric, Data: data}, binaryVersion(bson.TypeBinaryGeneric, data), nil
	}
	if s.cfg.stringify {
		v := string(data)
		return v, versionString + v, nil
	}
	doc, err := jsonDocument(data)
	if err != nil {
		return nil, "", fmt.Errorf("the session cannot be stored as a document: %w", err)
	}
	if prev != nil {
		keepTypes(doc, data, prev, 1)
	}
	raw, err := bson.Marshal(doc)
	if err != nil {
		return nil, "", fmt.Errorf("the session cannot be stored as a document: %w", err)
	}
	return bson.Raw(raw), versionObject + string(raw), nil
}

// keepTypesDepth bounds how deep keepTypes looks into objects and arrays:
// each level parses its object's or array's JSON again.
const keepTypesDepth = 16

// keepTypes puts back into doc, the BSON that the JSON object data converts
// to, prev's value of each key whose JSON, as Get reads prev, is the one
// data holds: so a value that a Go request left as it was keeps the type
// the Node driver stored (a Date, an ObjectId, a Long, a double holding an
// integer), which the conversion from JSON cannot tell from a string or a
// number, and an Express app reads back what it stored. Inside an object
// that changed, it does the same for the object's own keys, and inside an
// array that changed for each element at the same index (an element pushed
// or changed leaves the others theirs; one removed or inserted before them
// does not), depth levels down. depth is doc's values' nesting level, as
// writeJSON counts it.
func keepTypes(doc bson.D, data []byte, prev bson.Raw, depth int) {
	var raws map[string]json.RawMessage
	if json.Unmarshal(data, &raws) != nil {
		return
	}
	lookup := func(key string) (bson.RawValue, bool) {
		v, err := prev.LookupErr(key)
		return v, err == nil
	}
	if len(doc) > keepTypesScan {
		// One pass over prev, not one per key (which costs the square of
		// their number): the manager writes the keys sorted, not in the
		// order Express stored them, so that the two cannot be walked
		// side by side.
		elems, err := prev.Elements()
		if err != nil {
			return
		}
		byKey := make(map[string]bson.RawValue, len(elems))
		for _, e := range elems {
			if _, dup := byKey[e.Key()]; !dup { // the first, as LookupErr
				byKey[e.Key()] = e.Value()
			}
		}
		lookup = func(key string) (bson.RawValue, bool) {
			v, ok := byKey[key]
			return v, ok
		}
	}
	var b bytes.Buffer
	for i, e := range doc {
		if pv, ok := lookup(e.Key); ok {
			doc[i].Value = keepValue(&b, e.Value, raws[e.Key], pv, depth)
		}
	}
}

// keepTypesScan is the number of keys up to which keepTypes looks each up
// by a scan of the stored object; past it, a map of the stored keys costs
// less.
const keepTypesScan = 16

// keepTypesArray is keepTypes for the array a that the JSON array data
// converts to, over prev's elements at the same indexes.
func keepTypesArray(a bson.A, data []byte, prev bson.RawArray, depth int) {
	var raws []json.RawMessage
	if json.Unmarshal(data, &raws) != nil || len(raws) != len(a) {
		return
	}
	pvs, err := prev.Values()
	if err != nil {
		return
	}
	var b bytes.Buffer
	for i := range min(len(a), len(pvs)) {
		a[i] = keepValue(&b, a[i], raws[i], pvs[i], depth)
	}
}

// keepValue returns pv if its JSON, as Get reads it at nesting level depth,
// is raw, the JSON that v was converted from; else v, with prev's values
// kept inside it (keepTypes, keepTypesArray) if both are objects or both
// arrays. b is a buffer to write pv's JSON in.
func keepValue(b *bytes.Buffer, v any, raw []byte, pv bson.RawValue, depth int) any {
	b.Reset()
	if writeJSON(b, pv, depth) == nil && bytes.Equal(b.Bytes(), raw) {
		return pv
	}
	if depth >= keepTypesDepth {
		return v
	}
	switch v := v.(type) {
	case bson.D:
		if doc, ok := pv.DocumentOK(); ok {
			keepTypes(v, raw, doc, depth+1)
		}
	case bson.A:
		if arr, ok := pv.ArrayOK(); ok {
			keepTypesArray(v, raw, arr, depth+1)
		}
	}
	return v
}

// setFields returns the $set of a write.
func (s *Store) setFields(value any, expires, now time.Time) bson.D {
	set := bson.D{{Key: fieldSession, Value: value}, {Key: fieldExpires, Value: expires}}
	if s.cfg.lastModified {
		set = append(set, bson.E{Key: fieldLastModified, Value: now})
	}
	return set
}

// Get returns the session stored under id; found is false for a missing or
// expired session, and for a document that cannot be read (logged).
func (s *Store) Get(ctx context.Context, id string) ([]byte, bool, error) {
	data, _, found, err := s.get(ctx, "get", id)
	return data, found, err
}

// GetVersion is Get plus the version of what was read: the session value.
func (s *Store) GetVersion(ctx context.Context, id string) ([]byte, string, bool, error) {
	return s.get(ctx, "get", id)
}

// get finds the session.
func (s *Store) get(ctx context.Context, op, id string) ([]byte, string, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", false, wrap(op, id, err)
	}
	// By _id alone, and the expiry checked here: FerretDB scans the
	// whole collection for a filter with anything more in it.
	now := s.cfg.now()
	return s.read(ctx, op, id, now, s.coll.FindOne(ctx, bson.D{{Key: fieldID, Value: id}}))
}

// read decodes the document a find returned, if it has not expired at now.
func (s *Store) read(ctx context.Context, op, id string, now time.Time, found *mongo.SingleResult) ([]byte, string, bool, error) {
	raw, err := found.Raw()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, "", false, nil
	}
	if err != nil {
		return nil, "", false, wrap(op, id, err)
	}
	if exp, ok := raw.Lookup(fieldExpires).TimeOK(); ok && !exp.After(now) {
		return nil, "", false, nil // expired, not yet removed
	}
	data, version, err := decode(raw)
	if err != nil {
		s.cfg.logger.WarnContext(ctx, "mongostore: ignoring a stored session that cannot be read", "id", shortid.Of(id), "err", err)
		return nil, "", false, nil
	}
	return data, version, true, nil
}

// GetAndTouch is GetVersion that also sets the session's expiry to expires
// (the default TTL for the zero time), in one findAndModify that returns the
// document as it was before: the same data and version as GetVersion. Like
// Touch, it creates nothing, and an expires in the past deletes the session
// and reports it missing. Its filter skips a document that cannot be read,
// which it reports missing without logging it: telling it from a missing
// one would cost a find on every miss. Like Touch and CompareAndSwap it
// reads the clock once it holds the store's lock of id (see the package
// doc), so that a session that expires while it waits there stays expired.
func (s *Store) GetAndTouch(ctx context.Context, id string, expires time.Time) ([]byte, string, bool, error) {
	const op = "get-and-touch"
	if err := ctx.Err(); err != nil {
		return nil, "", false, wrap(op, id, err)
	}
	unlock, now, err := s.lock(ctx, id, false) // a write like Touch's: see lock
	if err != nil {
		return nil, "", false, wrap(op, id, err)
	}
	defer unlock()
	// The time is read once the lock is held (lock reads it), as for Touch
	// and CompareAndSwap: read before a wait, it would take a session that expired
	// during the wait for live, return it and push its expiry forward.
	exp := s.expiry(expires, now)
	if !exp.After(now) {
		if _, err := s.deleteReadable(ctx, id, now); err != nil {
			return nil, "", false, wrap(op, id, err)
		}
		return nil, "", false, nil
	}
	update := bson.D{{Key: "$set", Value: s.touchSet(exp, now)}}
	before := options.FindOneAndUpdate().SetReturnDocument(options.Before)
	return s.read(ctx, op, id, now, s.coll.FindOneAndUpdate(ctx, readable(id, now), update, before))
}

// decode returns the session of a document as JSON, and its version.
func decode(doc bson.Raw) ([]byte, string, error) {
	exp, err := doc.LookupErr(fieldExpires)
	if err != nil {
		return nil, "", fmt.Errorf("no %s field", fieldExpires)
	}
	if exp.Type != bson.TypeDateTime {
		return nil, "", fmt.Errorf("%s is a %s, not a date", fieldExpires, exp.Type)
	}
	v, err := doc.LookupErr(fieldSession)
	if err != nil {
		return nil, "", fmt.Errorf("no %s field", fieldSession)
	}
	switch v.Type {
	case bson.TypeString:
		str, ok := v.StringValueOK()
		if !ok {
			return nil, "", fmt.Errorf("malformed %s", v.Type)
		}
		return []byte(str), versionString + str, nil
	case bson.TypeBinary:
		subtype, data, ok := v.BinaryOK()
		if !ok {
			return nil, "", fmt.Errorf("malformed %s", v.Type)
		}
		return bytes.Clone(data), binaryVersion(subtype, data), nil
	case bson.TypeEmbeddedDocument:
		var b bytes.Buffer
		if err := writeJSON(&b, v, 0); err != nil {
			return nil, "", err
		}
		return b.Bytes(), versionObject + string(v.Document()), nil
	default:
		return nil, "", fmt.Errorf("%s is a %s, not a string, binary data or a document", fieldSession, v.Type)
	}
}

// binaryVersion is the version of a session stored as binary data: the
// subtype is kept, so that a compare-and-swap's filter matches the value
// as stored whatever wrote it.
func binaryVersion(subtype byte, data []byte) string {
	return versionBinary + string([]byte{subtype}) + string(data)
}

// Set stores data under id until expires (the default TTL for the zero
// time) with an upsert, as connect-mongo does. An expiry in the past deletes
// the session. It holds the store's lock of id (see the package doc), and
// waits for a batch of PurgeExpired on FerretDB that is deleting the
// session, so that the purge never deletes a session it has just renewed.
func (s *Store) Set(ctx context.Context, id string, data []byte, expires time.Time) error {
	if err := ctx.Err(); err != nil {
		return wrap("set", id, err)
	}
	unlock, now, err := s.lock(ctx, id, true) // FerretDB's purge: see PurgeExpired
	if err != nil {
		return wrap("set", id, err)
	}
	defer unlock()
	exp := s.expiry(expires, now)
	if !exp.After(now) {
		if _, err := s.coll.DeleteOne(ctx, bson.D{{Key: fieldID, Value: id}}); err != nil {
			return wrap("set", id, err)
		}
		return nil
	}
	value, _, err := s.sessionValue(data)
	if err != nil {
		return wrap("set", id, err)
	}
	_, err = s.coll.UpdateOne(ctx, bson.D{{Key: fieldID, Value: id}},
		bson.D{{Key: "$set", Value: s.setFields(value, exp, now)}},
		options.UpdateOne().SetUpsert(true))
	if err != nil {
		return wrap("set", id, err)
	}
	return nil
}

// Touch sets the expiry of an unexpired session to expires without
// rewriting the session (and lastModified, with WithLastModified). found is
// false, and nothing is written, when there is no such session or its
// document cannot be read. An expiry in the past deletes the session.
func (s *Store) Touch(ctx context.Context, id string, expires time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, wrap("touch", id, err)
	}
	unlock, now, err := s.lock(ctx, id, false) // FerretDB rewrites the whole document: see lock
	if err != nil {
		return false, wrap("touch", id, err)
	}
	defer unlock()
	exp := s.expiry(expires, now)
	if !exp.After(now) {
		deleted, err := s.deleteReadable(ctx, id, now)
		if err != nil {
			return false, wrap("touch", id, err)
		}
		return deleted, nil
	}
	r, err := s.coll.UpdateOne(ctx, readable(id, now), bson.D{{Key: "$set", Value: s.touchSet(exp, now)}})
	if err != nil {
		return false, wrap("touch", id, err)
	}
	return r.MatchedCount > 0, nil
}

// deleteReadable deletes the session under id if Get would return it at
// now, the touch to an expiry that has passed, and reports whether it did.
// The caller holds the lock of id.
func (s *Store) deleteReadable(ctx context.Context, id string, now time.Time) (bool, error) {
	r, err := s.coll.DeleteOne(ctx, readable(id, now))
	if err != nil {
		return false, err
	}
	return r.DeletedCount > 0, nil
}

// touchSet is what a touch at now to the expiry exp (resolved by s.expiry)
// sets.
func (s *Store) touchSet(exp, now time.Time) bson.D {
	set := bson.D{{Key: fieldExpires, Value: exp}}
	if s.cfg.lastModified {
		set = append(set, bson.E{Key: fieldLastModified, Value: now})
	}
	return set
}

// Destroy deletes the session. Deleting a missing session is not an error.
func (s *Store) Destroy(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return wrap("destroy", id, err)
	}
	if _, err := s.coll.DeleteOne(ctx, bson.D{{Key: fieldID, Value: id}}); err != nil {
		return wrap("destroy", id, err)
	}
	return nil
}

// lock serializes the writes of one id that leave its session value alone
// (Touch) or depend on it (CompareAndSwap), and Set, within this store.
// FerretDB v1 does a filtered update as a read and then a write of the
// whole document, not atomically: without the lock, a touch that read the
// document before a compare-and-swap wrote it puts the old session back,
// and a swap that read it before a touch wrote it reports a conflict. It
// returns the time read once the lock is held, the write's now. A write
// that a batch of PurgeExpired in flight on FerretDB holds back (see
// holdsBack; revives tells a write that can store over an expired
// document, Set and a CompareAndSwap that creates) waits, without the
// lock, for that batch to end, then takes the lock again. It waits no
// longer than ctx.
func (s *Store) lock(ctx context.Context, id string, revives bool) (unlock func(), now time.Time, err error) {
	l := s.casLocks[maphash.String(casSeed, id)%uint64(len(s.casLocks))]
	for {
		unlock, err := acquire(ctx, l)
		if err != nil {
			return nil, time.Time{}, err
		}
		now := s.cfg.now()
		b := s.batch.Load()
		if b == nil || !b.holdsBack(id, now, revives) {
			return unlock, now, nil
		}
		unlock()
		select {
		case <-b.done:
		case <-ctx.Done():
			return nil, time.Time{}, ctx.Err()
		}
	}
}

// acquire takes l, a lock that is a channel of one slot, unless ctx ends
// first, and returns its release: a caller whose context ends stops
// waiting (a server that went away must not queue requests).
func acquire(ctx context.Context, l chan struct{}) (release func(), err error) {
	select {
	case l <- struct{}{}:
		return func() { <-l }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// CompareAndSwap writes data under id only if the session's value is still
// the one version old stands for, with an update filtered on it (and on
// expires > now). With old == "" it creates the session with an insert,
// which fails on a duplicate _id; a document with that _id that Get reports
// missing (expired, or unreadable) counts as absent and is replaced, in a
// second round trip, only if it still is. swapped is false when another
// write, a destroy or the expiry got there first.
func (s *Store) CompareAndSwap(ctx context.Context, id, old string, data []byte, expires time.Time) (string, bool, error) {
	if err := ctx.Err(); err != nil {
		return "", false, wrap("compare-and-swap", id, err)
	}
	unlock, now, err := s.lock(ctx, id, old == "") // creating, it replaces an expired document
	if err != nil {
		return "", false, wrap("compare-and-swap", id, err)
	}
	defer unlock()
	exp := s.expiry(expires, now)
	if old == "" {
		return s.create(ctx, id, data, exp, now)
	}
	filter := live(id, now)
	switch {
	case strings.HasPrefix(old, versionString): // "s:" alone is the empty string's
		filter = append(filter, bson.E{Key: fieldSession, Value: old[len(versionString):]})
	case len(old) > len(versionObject) && old[:len(versionObject)] == versionObject:
		filter = append(filter, bson.E{Key: fieldSession, Value: bson.Raw(old[len(versionObject):])})
	case len(old) > len(versionBinary) && old[:len(versionBinary)] == versionBinary: // then at least the subtype
		filter = append(filter, bson.E{Key: fieldSession, Value: bson.Binary{Subtype: old[len(versionBinary)], Data: []byte(old[len(versionBinary)+1:])}})
	default:
		return "", false, wrap("compare-and-swap", id, fmt.Errorf("not a version of this store: %.8q", old))
	}
	if !exp.After(now) {
		r, err := s.coll.DeleteOne(ctx, filter)
		if err != nil {
			return "", false, wrap("compare-and-swap", id, err)
		}
		return "", r.DeletedCount > 0, nil
	}
	var prev bson.Raw // the session as an object: what the new one keeps the types of
	if strings.HasPrefix(old, versionObject) {
		prev = bson.Raw(old[len(versionObject):])
	}
	value, version, err := s.sessionValueKeeping(data, prev)
	if err != nil {
		return "", false, wrap("compare-and-swap", id, err)
	}
	r, err := s.coll.UpdateOne(ctx, filter, bson.D{{Key: "$set", Value: s.setFields(value, exp, now)}})
	if err != nil {
		return "", false, wrap("compare-and-swap", id, err)
	}
	if r.MatchedCount == 0 {
		return "", false, nil
	}
	return version, true, nil
}

var casSeed = maphash.MakeSeed()

// create is CompareAndSwap with old == "": create-if-absent.
func (s *Store) create(ctx context.Context, id string, data []byte, exp, now time.Time) (string, bool, error) {
	if !exp.After(now) {
		// Nothing to create; still report a session that exists.
		n, err := s.coll.CountDocuments(ctx, readable(id, now), options.Count().SetLimit(1))
		if err != nil {
			return "", false, wrap("compare-and-swap", id, err)
		}
		return "", n == 0, nil
	}
	value, version, err := s.sessionValue(data)
	if err != nil {
		return "", false, wrap("compare-and-swap", id, err)
	}
	doc := append(bson.D{{Key: fieldID, Value: id}}, s.setFields(value, exp, now)...)
	_, err = s.coll.InsertOne(ctx, doc)
	if err == nil {
		return version, true, nil
	}
	if !mongo.IsDuplicateKeyError(err) {
		return "", false, wrap("compare-and-swap", id, err)
	}
	// An expired document (the cleanup has not removed it yet) or one that
	// cannot be read is absent for this store: replace it, if it still is.
	r, err := s.coll.ReplaceOne(ctx, unreadable(id, now), doc[1:])
	if err != nil {
		return "", false, wrap("compare-and-swap", id, err)
	}
	if r.MatchedCount == 0 {
		return "", false, nil
	}
	return version, true, nil
}

// unreadable is the filter of the document under id that Get reports
// missing: the complement of readable (but for a session nested too deep).
func unreadable(id string, now time.Time) bson.D {
	return bson.D{{Key: fieldID, Value: id}, {Key: "$nor", Value: bson.A{readable(id, now)[1:]}}}
}

// listable matches the documents IDs and Count list: those Get returns,
// unexpired and readable (readable without the _id), but for a session
// nested deeper than maxNesting, which no filter can tell.
func listable(now time.Time) bson.D {
	return bson.D{{Key: fieldExpires, Value: liveExpires(now)}, {Key: fieldSession, Value: readableSession()}}
}

// IDs returns the ids of the unexpired sessions. Documents whose _id is not
// a string (not written by a session store) are left out, and so are those
// Get reports missing because it cannot read them (see listable).
func (s *Store) IDs(ctx context.Context) ([]string, error) {
	cur, err := s.coll.Find(ctx, listable(s.cfg.now()), options.Find().SetProjection(bson.D{{Key: fieldID, Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("mongostore: ids: %w", err)
	}
	defer cur.Close(ctx)
	var ids []string
	for cur.Next(ctx) {
		if id, ok := cur.Current.Lookup(fieldID).StringValueOK(); ok {
			ids = append(ids, id)
		}
	}
	if err := cur.Err(); err != nil {
		return nil, fmt.Errorf("mongostore: ids: %w", err)
	}
	return ids, nil
}

// Count returns the number of unexpired sessions: the documents IDs lists,
// whatever their _id.
func (s *Store) Count(ctx context.Context) (int, error) {
	n, err := s.coll.CountDocuments(ctx, listable(s.cfg.now()))
	if err != nil {
		return 0, fmt.Errorf("mongostore: count: %w", err)
	}
	return int(n), nil
}

// Clear deletes every entry of the user index collection (a document whose
// _id is a document: the sessions of a store on a collection of that name
// have string ids, and stay), then every document of the collection: two
// deleteManys, the index first. A login during Clear stores its session,
// then records its entry: an entry that the first deleteMany removed
// belongs to a session stored before the second began, which removes it
// too. (The other order could remove the entry of a session stored after
// the sessions' deleteMany, which would outlive Clear unlisted, out of
// DestroyUserSessions' reach.) The indexes of both collections stay. On
// FerretDB each deleteMany is one per batch of 25000 documents, as
// PurgeExpired's.
func (s *Store) Clear(ctx context.Context) error {
	batched := s.batchedPurge(ctx) // FerretDB: see PurgeExpired
	entries := bson.D{{Key: fieldID, Value: bson.D{{Key: "$type", Value: "object"}}}}
	if _, err := s.deleteWhere(ctx, batched, s.users(), entries, time.Time{}); err != nil {
		return fmt.Errorf("mongostore: clear the user index: %w", err)
	}
	if _, err := s.deleteWhere(ctx, batched, s.coll, bson.D{}, time.Time{}); err != nil {
		return fmt.Errorf("mongostore: clear: %w", err)
	}
	return nil
}

// PurgeExpired deletes the expired documents, deleteMany({expires: {$lt:
// now}}) as connect-mongo's interval cleanup, and returns how many; then
// the user index entries more than session.IndexGrace past their expiry
// (not counted). When the server refuses the latter as unauthorized (a
// role that covers the session collection, not <collection>_users), the
// purge of sessions stands and PurgeExpired returns no error: the
// refusal is logged at warning level once (again only after a pruning
// that worked), and each purge asks again.
//
// On FerretDB (found once, with buildInfo) it deletes in batches, the
// sessions and then the user index entries: a find of the first 25000
// expired _ids, then a deleteMany of the documents from the first to the
// last of them that are still expired, until a find returns fewer.
// FerretDB deletes what a deleteMany matched with one SQL statement of a
// parameter per document, and fails the whole deleteMany past its
// backend's limit (32766 for SQLite). FerretDB v1 runs a deleteMany as a
// find, then a delete by _id: a write that renewed a session between the
// two would be reported saved, and the session deleted. So, from before
// each batch's find of sessions until the server has answered its
// deleteMany, the store's sets of the sessions the batch deletes, and its
// compare-and-swaps that create one, wait for it (each no longer than its
// own context), and so do its writes that read a time before the purge's
// (a clock that went back); the store's other writes (touches, and
// compare-and-swaps from a version, of the sessions the batch deletes
// too: they write only a session unexpired at their time, and report
// these missing at once), its reads and Destroy go on, whether the batch
// takes the time FerretDB needs to read the whole collection (it filters
// on expires after reading every document) or waits on a connection that
// went silently dead. The server runs a deleteMany to its end whether
// the store still waits for it or not: when ctx ends during a batch's
// deleteMany, PurgeExpired returns ctx's error, and the deleteMany goes
// on in the background, holding back those writes, until the server has
// answered it or its connection has failed (the client's Timeout, if
// set, bounds it; Close does not, Disconnect does). Across processes the
// same caveat applies as for compare-and-swap. MongoDB checks the filter
// of each document as it deletes it: there the purge is one deleteMany of
// each collection, and holds back nothing.
//
// A server that refuses buildInfo (answers it with an error: a proxy that
// does not pass it on, a user without the privilege) is taken for FerretDB,
// whose purge is right on any server (on MongoDB only slower: batches), and asked again an hour later (by the store's clock; at the
// next purge if that clock went back before the refusal), its refusal
// logged at warning level each time; the same goes for Clear. A
// buildInfo whose answer did not come (a network error, a timeout, ctx
// ended), or whose error is of a passing state (a server shutting down or
// stepping down), tells nothing: that purge takes FerretDB's way too, and
// the next one asks again.
func (s *Store) PurgeExpired(ctx context.Context) (int, error) {
	now := s.cfg.now()
	batched := s.batchedPurge(ctx)
	expired := bson.D{{Key: fieldExpires, Value: bson.D{{Key: "$lt", Value: now}}}}
	n, err := s.deleteWhere(ctx, batched, s.coll, expired, now)
	if err != nil {
		return 0, fmt.Errorf("mongostore: purge expired: %w", err)
	}
	if _, err := s.deleteWhere(ctx, batched, s.users(), s.usersExpired(now), time.Time{}); err != nil {
		if !unauthorized(err) || endedByContext(ctx, err) != nil {
			return n, fmt.Errorf("mongostore: purge the user index: %w", err)
		}
		// A role that covers the sessions and not the user index: the
		// purge of sessions worked. Said once, not at every cleanup.
		if s.usersRefused.CompareAndSwap(false, true) {
			s.cfg.logger.WarnContext(ctx, "mongostore: the server refused the pruning of the user index collection (the application's role does not cover it?); expired sessions are purged, the user index's expired entries are not (grant find and remove on it where the application uses the user index); said once", "collection", s.UsersCollection(), "err", err)
		}
		return n, nil
	}
	s.usersRefused.Store(false)
	return n, nil
}

// unauthorized reports whether err is the server's refusal of a command
// to a user without the privilege (Unauthorized, code 13).
func unauthorized(err error) bool {
	const codeUnauthorized = 13
	var se mongo.ServerError
	return errors.As(err, &se) && se.HasErrorCode(codeUnauthorized)
}

// deleteWhere deletes the documents of coll that filter matches, and
// returns how many: with one deleteMany, or, batched (FerretDB: see
// PurgeExpired), in batches; with a purge time (not zero: PurgeExpired's
// sessions, filter the documents that expired before it), each batch holds
// back the store's writes it could race (see purgeBatchState).
func (s *Store) deleteWhere(ctx context.Context, batched bool, coll *mongo.Collection, filter bson.D, purgeAt time.Time) (int, error) {
	if batched {
		return s.deleteInBatches(ctx, coll, filter, purgeAt)
	}
	r, err := coll.DeleteMany(ctx, filter)
	if err != nil {
		return 0, err
	}
	return int(r.DeletedCount), nil
}

// purgeBatch bounds the documents of one deleteMany of PurgeExpired on
// FerretDB, which deletes what a deleteMany matched with one SQL statement
// holding every _id, and fails the whole deleteMany past its backend's
// limit of parameters (32766 for SQLite, 65535 for PostgreSQL).
const purgeBatch = 25000

// deleteInBatches is PurgeExpired's (and Clear's) deleteMany(expired) of
// coll on FerretDB: batches of deleteBatch until one finds fewer than
// purgeBatch documents or deletes none. It returns how many it deleted.
func (s *Store) deleteInBatches(ctx context.Context, coll *mongo.Collection, expired bson.D, purgeAt time.Time) (int, error) {
	deleted := 0
	for {
		n, found, err := s.deleteBatch(ctx, coll, expired, purgeAt)
		deleted += n
		if err != nil || found < purgeBatch || n == 0 {
			return deleted, err
		}
	}
}

// deleteBatch is one batch of deleteInBatches: a find of the first
// purgeBatch _ids (in order) that expired matches, then a deleteMany of
// the documents from the first to the last of them that it still matches.
// The range is a filter FerretDB checks at the cost of two comparisons per
// document, where $in of the _ids costs one per _id; it takes $in only
// for a batch whose _ids are not all strings or all documents (the session
// store and its user index write nothing else). With a purge time (not
// zero) the batch holds back the writes it could race, from before the
// find until the server has answered the deleteMany, which ctx does not
// cancel: once ctx has ended, deleteBatch returns and the deleteMany goes
// on in the background (see purgeBatchState). It returns
// how many documents it deleted and how many the find found.
func (s *Store) deleteBatch(ctx context.Context, coll *mongo.Collection, expired bson.D, purgeAt time.Time) (deleted, found int, err error) {
	end := func() {}
	if !purgeAt.IsZero() {
		if end, err = s.holdBack(ctx, purgeAt); err != nil {
			return 0, 0, err
		}
	}
	ended := false
	defer func() {
		if !ended {
			end()
		}
	}()
	ids, err := expiredIDs(ctx, coll, expired)
	if err != nil || len(ids) == 0 {
		return 0, 0, err
	}
	inRange := bson.D{{Key: "$gte", Value: ids[0]}, {Key: "$lte", Value: ids[len(ids)-1]}}
	for _, id := range ids {
		if id.Type != ids[0].Type || (id.Type != bson.TypeString && id.Type != bson.TypeEmbeddedDocument) {
			inRange = bson.D{{Key: "$in", Value: ids}}
			break
		}
	}
	if !purgeAt.IsZero() {
		if err := s.holdBackIDs(ctx, ids); err != nil {
			return 0, len(ids), err
		}
	}
	del := bson.D{{Key: fieldID, Value: inRange}}
	if len(expired) > 0 { // expired may filter on _id too: not in one document with inRange
		del = bson.D{{Key: "$and", Value: bson.A{del, expired}}}
	}
	if purgeAt.IsZero() {
		r, err := coll.DeleteMany(ctx, del)
		if err != nil {
			return 0, len(ids), err
		}
		return int(r.DeletedCount), len(ids), nil
	}
	// The server runs a deleteMany to its end whether its client waits or
	// not: the batch holds back the writes it could race until the
	// server's answer has come (or the connection has failed), not only
	// until ctx ends. The deleteMany is not cancelled with ctx, and ends
	// the batch itself, in the background once ctx has ended.
	if err := ctx.Err(); err != nil { // sent, it would run to its end
		return 0, len(ids), err
	}
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	ended = true
	go func() {
		defer end()
		r, err := coll.DeleteMany(context.WithoutCancel(ctx), del)
		if err != nil {
			done <- result{0, err}
			return
		}
		done <- result{int(r.DeletedCount), nil}
	}()
	select {
	case r := <-done:
		return r.n, len(ids), r.err
	case <-ctx.Done():
		select {
		case r := <-done: // the answer came as ctx ended
			return r.n, len(ids), r.err
		default:
			return 0, len(ids), ctx.Err()
		}
	}
}

// purgeBatchState is a batch of PurgeExpired's deletion of sessions on
// FerretDB in flight: a find of expired _ids, then a deleteMany of them.
// FerretDB v1 runs a deleteMany as a find, then a delete by _id, so a
// write that renews a session the deleteMany's find matched, before its
// delete, would be reported saved and the session deleted. The batch holds
// back (see holdsBack) the writes of the store that could do that, and
// those alone, until the server has answered its deleteMany (or its
// connection has failed), even after the purge's context has ended, for
// the server runs the deleteMany to its end anyway; the others go on, so
// that a batch that waits on a slow server, or on a connection that went
// silently dead, holds up no write but those.
//
// Only a document whose expires is before at, the purge's time, matches
// the deleteMany. A write of the store reads the time (now) once it holds
// its id's lock, and writes an expires after it (or deletes). So, once
// every write that took its lock before the batch was published has
// ended (holdBack waits for them), a write with now at or after at never
// makes a document match. One that renews a document which matches
// anyway is a write of a session that expired before at: found by the
// find (ids; holdBackIDs publishes them, and waits again for the writes
// that did not see them), or stored since by a write whose now is before
// at (a clock that went back). Those two are held back: an id of the
// batch, and now before at. Of the writes of an id of the batch, only
// those that store over an expired document (Set, a CompareAndSwap that
// creates) are: Touch, GetAndTouch and a CompareAndSwap from a version
// write only a document whose expires is after their now, so, with now
// at or after at, never one that the deleteMany matches (a document
// renewed since the find has stopped matching, and only a write held
// back could renew it).
type purgeBatchState struct {
	at   time.Time           // the purge's time, without a monotonic reading
	ids  map[string]struct{} // the _ids the batch's find found (nil before)
	done chan struct{}       // closed when the batch has ended
}

// holdsBack reports whether b holds back a write of id that read the time
// now, one that can store over an expired document if revives: see
// purgeBatchState.
func (b *purgeBatchState) holdsBack(id string, now time.Time, revives bool) bool {
	if now.Before(b.at) {
		return true
	}
	_, ok := b.ids[id]
	return ok && revives
}

// holdBack starts a batch of the purge at time at: it waits for the batch
// in flight of another purge, if any, publishes this one, and waits until
// every write that took its lock before has ended. end ends the batch. It
// waits no longer than ctx.
func (s *Store) holdBack(ctx context.Context, at time.Time) (end func(), err error) {
	release, err := acquire(ctx, s.batchSlot)
	if err != nil {
		return nil, err
	}
	b := &purgeBatchState{at: at.Round(0), done: make(chan struct{})}
	s.batch.Store(b)
	end = func() {
		s.batch.Store(nil)
		close(b.done)
		release()
	}
	if err := s.awaitWrites(ctx); err != nil {
		end()
		return nil, err
	}
	return end, nil
}

// holdBackIDs adds ids to the batch in flight, and waits until every write
// that took its lock before has ended.
func (s *Store) holdBackIDs(ctx context.Context, ids []bson.RawValue) error {
	set := make(map[string]struct{}, len(ids))
	for _, id := range ids {
		if str, ok := id.StringValueOK(); ok { // the store writes no other _id
			set[str] = struct{}{}
		}
	}
	b := s.batch.Load()
	s.batch.Store(&purgeBatchState{at: b.at, ids: set, done: b.done})
	return s.awaitWrites(ctx)
}

// awaitWrites waits until every write that holds a per-id lock of the
// store now has released it, taking and releasing each in turn (never two
// at once), unless ctx ends first. A write that takes one afterwards sees
// the batch published before.
func (s *Store) awaitWrites(ctx context.Context) error {
	for _, l := range s.casLocks {
		release, err := acquire(ctx, l)
		if err != nil {
			return err
		}
		release()
	}
	return nil
}

// expiredIDs returns the first purgeBatch _ids, in order, of the
// documents of coll that expired matches.
func expiredIDs(ctx context.Context, coll *mongo.Collection, expired bson.D) ([]bson.RawValue, error) {
	cur, err := coll.Find(ctx, expired, options.Find().
		SetProjection(bson.D{{Key: fieldID, Value: 1}}).
		SetSort(bson.D{{Key: fieldID, Value: 1}}).
		SetLimit(purgeBatch))
	if err != nil {
		return nil, err
	}
	defer cur.Close(ctx)
	var ids []bson.RawValue
	for cur.Next(ctx) {
		if id, err := cur.Current.LookupErr(fieldID); err == nil {
			ids = append(ids, id)
		}
	}
	return ids, cur.Err()
}

// Values of Store.deletes: how the server runs a deleteMany, as buildInfo
// tells.
const (
	deletesUnknown     int32 = iota // not asked yet, or no answer came (a network error, a timeout)
	deletesAtomic                   // MongoDB: each document checked as it is deleted
	deletesReadThenAll              // FerretDB: a find, then a delete by _id
	deletesRefused                  // the server refused buildInfo: taken for FerretDB until askAgain
)

// buildInfoRetry is how long a store takes a server that refused buildInfo
// for FerretDB before it asks again.
const buildInfoRetry = time.Hour

// batchedPurge reports whether PurgeExpired deletes in batches, holding
// back the writes each could race (and Clear in batches): on FerretDB, and on a server that buildInfo failed
// to tell, which is safe on any server. A server that refused buildInfo
// (answered it with an error: a proxy that does not pass it on, a user
// without the privilege) is asked again buildInfoRetry later, its refusal
// logged each time; one whose answer did not come (a network error, a
// timeout, ctx ended) or was an error of a passing state (passingState) at
// the next purge.
func (s *Store) batchedPurge(ctx context.Context) bool {
	switch s.deletes.Load() {
	case deletesAtomic:
		return false
	case deletesReadThenAll:
		return true
	case deletesRefused:
		// Until askAgain, unless the clock went back before the refusal
		// (an NTP correction, a VM restored): how long ago that was is
		// unknown then, and waiting for the clock to come back could be
		// days.
		now, again := s.cfg.now().UnixNano(), s.askAgain.Load()
		if now < again && now >= again-int64(buildInfoRetry) {
			return true
		}
	}
	raw, err := s.coll.Database().RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Raw()
	if err != nil {
		var se mongo.ServerError
		if errors.As(err, &se) && !mongo.IsNetworkError(err) && !mongo.IsTimeout(err) && !passingState(se) && endedByContext(ctx, err) == nil {
			s.askAgain.Store(s.cfg.now().Add(buildInfoRetry).UnixNano())
			s.deletes.Store(deletesRefused)
			s.cfg.logger.WarnContext(ctx, "mongostore: the server refused buildInfo; PurgeExpired and Clear delete in batches, holding back the writes they could race, as on FerretDB (right on any server, slower on MongoDB), and ask again in an hour", "err", err)
		}
		return true
	}
	if _, err := raw.LookupErr("ferretdbVersion"); err == nil {
		s.deletes.Store(deletesReadThenAll)
		return true
	}
	s.deletes.Store(deletesAtomic)
	return false
}

// passingStateCodes are the codes of errors a server gives for a state
// that passes (shutting down, stepping down, a node it cannot reach), not
// for the command: those the driver retries a read or write after.
var passingStateCodes = []int{6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436}

// passingState reports whether se is such an error: an answer to buildInfo
// that tells nothing about the server, asked again at the next purge.
func passingState(se mongo.ServerError) bool {
	for _, c := range passingStateCodes {
		if se.HasErrorCode(c) {
			return true
		}
	}
	return false
}

// writeJSON writes a BSON value as the JSON that JSON.stringify gives for
// what the Node driver decodes it to: dates as ISO strings with
// milliseconds, numbers as numbers, ObjectIds as their hex, binary data in
// base64 (a UUID in its canonical form), as their toJSON methods give them.
// Other types that JSON has no form for (regular expressions, timestamps,
// Decimal128, ...) are written as strings of their Extended JSON. depth is
// v's nesting level.
func writeJSON(b *bytes.Buffer, v bson.RawValue, depth int) error {
	switch v.Type {
	case bson.TypeEmbeddedDocument, bson.TypeArray:
		if depth >= maxNesting {
			return fmt.Errorf("session nested deeper than %d levels", maxNesting)
		}
		open, close := byte('{'), byte('}')
		doc, ok := v.DocumentOK()
		if v.Type == bson.TypeArray {
			open, close = '[', ']'
			var a bson.RawArray
			a, ok = v.ArrayOK()
			doc = bson.Raw(a)
		}
		if !ok {
			return fmt.Errorf("malformed %s", v.Type)
		}
		elems, err := doc.Elements()
		if err != nil {
			return err
		}
		b.WriteByte(open)
		for i, e := range elems {
			if i > 0 {
				b.WriteByte(',')
			}
			if v.Type == bson.TypeEmbeddedDocument {
				writeString(b, e.Key())
				b.WriteByte(':')
			}
			if err := writeJSON(b, e.Value(), depth+1); err != nil {
				return err
			}
		}
		b.WriteByte(close)
	case bson.TypeString:
		str, ok := v.StringValueOK()
		if !ok {
			return fmt.Errorf("malformed %s", v.Type)
		}
		writeString(b, str)
	case bson.TypeBoolean:
		b.WriteString(strconv.FormatBool(v.Boolean()))
	case bson.TypeNull, bson.TypeUndefined:
		b.WriteString("null")
	case bson.TypeInt32:
		b.WriteString(strconv.FormatInt(int64(v.Int32()), 10))
	case bson.TypeInt64:
		b.WriteString(strconv.FormatInt(v.Int64(), 10))
	case bson.TypeDouble:
		f := v.Double()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			b.WriteString("null") // as JSON.stringify
			break
		}
		out, _ := json.Marshal(f) // ES6 number formatting
		b.Write(out)
	case bson.TypeDateTime:
		writeString(b, jsISOString(v.Time()))
	case bson.TypeObjectID:
		oid, ok := v.ObjectIDOK()
		if !ok {
			return fmt.Errorf("malformed %s", v.Type)
		}
		writeString(b, oid.Hex()) // ObjectId.toJSON
	case bson.TypeBinary:
		subtype, data, ok := v.BinaryOK()
		if !ok {
			return fmt.Errorf("malformed %s", v.Type)
		}
		if subtype == bson.TypeBinaryUUID && len(data) == 16 {
			h := hex.EncodeToString(data) // Binary.toJSON of a UUID: its canonical form
			writeString(b, h[:8]+"-"+h[8:12]+"-"+h[12:16]+"-"+h[16:20]+"-"+h[20:])
			break
		}
		writeString(b, base64.StdEncoding.EncodeToString(data)) // Binary.toJSON
	default:
		writeString(b, v.String())
	}
	return nil
}

// maxNesting bounds the nesting of an embedded-document session: the
// manager's codec refuses deeper JSON (jsondepth.Max is its bound too, so
// that the two cannot drift: a session the manager reads is one a document
// can hold, and a document decode reads is one the manager can decode), and
// the conversion recurses once per level. A BSON document of 16 MB could
// otherwise nest two million levels.
const maxNesting = jsondepth.Max

func writeString(b *bytes.Buffer, s string) {
	out, _ := json.Marshal(s)
	b.Write(out)
}

// isJSONObject reports whether data is one JSON object, with white space
// around it at most.
func isJSONObject(data []byte) bool {
	t := bytes.TrimLeft(data, " \t\r\n")
	return len(t) > 0 && t[0] == '{' && json.Valid(data)
}

// jsonDocument converts a JSON object to the document the Node driver stores
// for what JSON.parse gives (connect-mongo's stringify: false), interpreting
// nothing: Extended JSON such as {"$numberLong": "5"} would come back as 5.
// Keys keep their order; strings, booleans, null and nesting are kept, and
// numbers are converted by bsonNumber. It refuses what it cannot store as it
// is: a key that starts with $, holds a dot or a NUL (FerretDB, and MongoDB
// before 5.0, refuse the first two), a key twice in one object, and nesting
// deeper than maxNesting, which decode would not read back.
func jsonDocument(data []byte) (bson.D, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if tok != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	doc, err := jsonObject(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("more after the JSON object")
	}
	return doc, nil
}

// jsonValue converts the JSON value that starts with tok, at nesting level
// depth.
func jsonValue(dec *json.Decoder, tok json.Token, depth int) (any, error) {
	switch v := tok.(type) {
	case json.Delim:
		if depth >= maxNesting {
			return nil, fmt.Errorf("session nested deeper than %d levels", maxNesting)
		}
		if v == '{' {
			return jsonObject(dec, depth)
		}
		return jsonArray(dec, depth) // Token returns no '}' or ']' here
	case json.Number:
		return bsonNumber(v)
	default: // string, bool, nil
		return v, nil
	}
}

// jsonObject converts the members of an object whose '{' dec has read.
func jsonObject(dec *json.Decoder, depth int) (bson.D, error) {
	doc := bson.D{}
	var seen map[string]bool // past a few keys; fewer are compared one by one
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		if tok == json.Delim('}') {
			return doc, nil
		}
		key, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("object key %v is not a string", tok)
		}
		if key != "" && (key[0] == '$' || strings.ContainsAny(key, ".\x00")) {
			return nil, fmt.Errorf("key %q starts with $ or holds a dot or NUL, which a stored document cannot have (keep such a session with WithStringify(true))", key)
		}
		if seen == nil && len(doc) >= 8 {
			seen = make(map[string]bool, 2*len(doc))
			for _, e := range doc {
				seen[e.Key] = true
			}
		}
		var twice bool
		if seen != nil {
			twice, seen[key] = seen[key], true
		} else {
			twice = slices.ContainsFunc(doc, func(e bson.E) bool { return e.Key == key })
		}
		if twice {
			return nil, fmt.Errorf("key %q twice in one object", key)
		}
		if tok, err = dec.Token(); err != nil {
			return nil, err
		}
		v, err := jsonValue(dec, tok, depth+1)
		if err != nil {
			return nil, err
		}
		doc = append(doc, bson.E{Key: key, Value: v})
	}
}

// jsonArray converts the elements of an array whose '[' dec has read.
func jsonArray(dec *json.Decoder, depth int) (bson.A, error) {
	a := bson.A{}
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		if tok == json.Delim(']') {
			return a, nil
		}
		v, err := jsonValue(dec, tok, depth+1)
		if err != nil {
			return nil, err
		}
		a = append(a, v)
	}
}

// bsonNumber converts a JSON number as the Node driver stores what JSON.parse
// gives: an integral value that fits in 32 bits (1, 1.0, 1e2, not -0) as an
// int32, others as a double. An integer literal that the double it parses to
// does not write back as it is (9007199254740993, which a double rounds: a Go
// int64 beyond ±2^53, never a number of JavaScript's) is an int64 instead,
// read back exactly; such a literal beyond int64, or a number beyond a
// double, is refused. So every number JavaScript writes stays a double,
// 2^53 + 2 and 1e20 (written 100000000000000000000) included, as the Node
// driver, which reads an int64 beyond ±2^53 as a Long object, stored it.
func bsonNumber(n json.Number) (any, error) {
	str := string(n)
	if !strings.ContainsAny(str, ".eE") {
		i, err := strconv.ParseInt(str, 10, 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return nil, fmt.Errorf("number %s: %w", str, err)
		}
		switch {
		case str == "-0":
			return math.Copysign(0, -1), nil
		case err == nil && i >= math.MinInt32 && i <= math.MaxInt32:
			return int32(i), nil
		}
		if f, ferr := strconv.ParseFloat(str, 64); ferr == nil {
			if js, _ := json.Marshal(f); string(js) == str { // ES6 number formatting, as writeJSON reads it back
				return f, nil
			}
		}
		if err != nil {
			return nil, fmt.Errorf("integer %s is beyond a 64-bit integer", str)
		}
		return i, nil
	}
	f, err := strconv.ParseFloat(str, 64)
	if err != nil {
		return nil, fmt.Errorf("number %s is beyond a double", str)
	}
	if f == math.Trunc(f) && f >= math.MinInt32 && f <= math.MaxInt32 && !(f == 0 && math.Signbit(f)) {
		return int32(f), nil
	}
	return f, nil
}

// jsISOString formats t as JavaScript's Date.prototype.toISOString does,
// which JSON.stringify uses for a Date: a year outside 0 to 9999 has a sign
// and six digits (+010000-01-01T00:00:00.000Z), where Go's layout writes
// 10000-01-01..., which neither JavaScript nor the session manager reads.
func jsISOString(t time.Time) string {
	t = t.UTC()
	const rest = "-01-02T15:04:05.000Z"
	if y := t.Year(); y < 0 || y > 9999 {
		sign := "+"
		if y < 0 {
			sign, y = "-", -y
		}
		return fmt.Sprintf("%s%06d%s", sign, y, t.Format(rest))
	}
	return t.Format("2006" + rest)
}
