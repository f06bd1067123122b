// Package memcachedstore keeps sessions in Memcached, on one server or
// spread over several (through gomemcache's server selection), with
// github.com/bradfitz/gomemcache.
//
// The items are the ones connect-memcached writes, so that an Express app
// and a Go app can share sessions: the key is the id itself, as with
// connect-memcached's default (no prefix; WithPrefix sets one, such as
// "sessions:", the default of earlier versions of this store), the value is
// the encoded session document as given, and the flags are 2, with which
// the Node memcached client marks a value it stored as JSON and parses it
// back (with any other flags connect-memcached would hand express-session a
// string, which it cannot use). Items with flags 0 (a document stored as a
// string) are read as sessions too; items with flags 4 or 8 (a Buffer, a
// number) are not sessions, and read as none. Sessions without an expiry
// (browser-session cookies) live for a default of one day.
//
// Memcached's own expiry is the only one: it counts whole seconds, on a
// clock that moves once a second, so an item stored for E seconds lives
// between E-1 and E. The store sends the whole seconds left less one, so
// that a session is never returned after its expiry: it ends between 1 and
// 3 seconds early (that second of margin also absorbs the write's way to
// the server and the lateness of Memcached's timer), and a write with less
// than 2 seconds left deletes the session. Expiries more than 30 days away
// are sent as absolute Unix times, as Memcached requires, less 3 seconds
// (Memcached compares them with a clock of its own, rounded down twice; and
// with the server's wall clock, so a server clock behind the app's keeps
// such a session longer). Memcached reads them as 32-bit numbers: a later
// expiry than 2038-01-19 03:14:07 UTC (year 9999 for "never") is sent as
// that time, when Memcached drops the session.
//
// Earlier versions of this store kept each session's exact expiry in the
// flags (quarter seconds since 2024) and wrote the value with them. Such
// items are still read, and their exact expiry checked, so that an upgrade
// neither serves an expired session nor loses a live one: one ends a second
// before that expiry, as an item of the current format has by then. The
// next write or touch of one rewrites it in the current format. The earlier
// versions read the current format's flags 2 as an expiry in 2024, a
// session gone: upgrade every instance that shares a Memcached at once.
//
// Compare-and-swap uses gets/cas: a version is the item's CAS id (with its
// flags). Creating a session uses add. Touch is one round trip: gat,
// memcached's touch that also answers the item, whose flags tell an item of
// an earlier version, which it then rewrites (gets, cas). The middleware's
// touch at the end of a read-only request is memcached's touch command
// alone ([Store.TouchVersion]), since the version its load read tells the
// format: such a request costs two round trips in all (gets, touch), as a
// modifying one does (gets, cas). A touch to an expiry less than 2 seconds
// away ends the session instead, and only a session: Touch reads the item
// and ends it by a cas (gets, cas), TouchVersion by one cas from the
// version it was given (on a server without CAS ids, a delete after a
// read). The store cannot carry the touch on the
// load (session.GetToucher): that needs gats, which returns the CAS id as
// well, and gomemcache only has gat.
//
// Compare-and-swap needs the server's CAS ids: a server that keeps none
// (memcached -C, ElastiCache's cas_disabled) answers gets with 0 and fails
// every cas, so a save of a stored session there fails at once with an
// error wrapping [ErrNoCAS] (creating, reading, touching and deleting
// sessions still work).
//
// A session larger than the server's item size limit (memcached -I, 1 MiB by
// default) fails with an error wrapping [ErrTooLarge]; nothing is silently
// dropped, and the session stored before is kept. For that, Set is a replace,
// then a set when there was nothing to replace: memcached's set of a
// too-large item drops the stored one.
//
// A Memcached key is at most 250 bytes, without spaces or control
// characters. An id that makes no such key after the prefix (a custom
// GenerateID may make one: the manager takes ids of up to 978 bytes, of any
// bytes) names no session: a read, touch or destroy of it answers "no
// session", so that a cookie of such an id gets a new session, and a write
// of it fails with an error wrapping memcache.ErrMalformedKey that says
// what is wrong with the id.
//
// The store has no listing (session.Lister): Memcached cannot enumerate its
// keys. Gomemcache takes no context: the store checks the context before
// each command it sends, a try again included, and the client's Timeout
// bounds each network call, so that a call goes on for at most one try (a
// dial and a command) after its context is done (the manager's
// StoreTimeout).
//
// Gomemcache keeps idle connections (MaxIdleConns per server) without
// noticing that the server closed them: a restart of memcached, its -o
// idle_timeout, a proxy or firewall that ends idle connections. A command
// that fails on such a connection (EOF, reset, broken pipe) is sent again
// on another, up to once per idle connection and once on a new one, so the
// first requests after a restart work, and a server that is down fails with
// the dial's error ("connection refused"), not an EOF. A command sent
// again carries the whole seconds left as it goes out again, not the first
// try's, which the network may have held a while before the connection
// broke, so that a try again never keeps a session past its expiry. Once
// the context is done, nothing is sent again: the call fails with the
// context's error, which wraps the connection's. A
// compare-and-swap or a create sent again that finds the value and flags
// it sent, its own write whose answer was lost, succeeds; other bytes are
// a parallel request's write, and a conflict.
package memcachedstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/shortid"
)

// DefaultPrefix is the key prefix connect-memcached uses by default: none.
// (Earlier versions of this store used "sessions:"; a deployment that keeps
// those keys sets WithPrefix("sessions:").) The store never lists or clears
// keys, so sharing the key space with other data is safe.
const DefaultPrefix = ""

// DefaultTTL is how long a session without an expiry (a browser-session
// cookie) is kept.
const DefaultTTL = 24 * time.Hour

// ErrTooLarge reports a session larger than the server's item size limit.
// Nothing was written: a session stored under that id before is kept. It
// is also a session.ErrTooLarge (errors.Is), so that an ErrorHandler that
// answers that one (with a 413, say) answers this one too.
var ErrTooLarge error = tooLarge{}

type tooLarge struct{}

func (tooLarge) Error() string {
	return "memcachedstore: session larger than the server's item size limit (memcached -I)"
}

func (tooLarge) Is(target error) bool { return target == session.ErrTooLarge }

// ErrNoCAS reports a server that keeps no CAS ids (memcached -C, or
// ElastiCache's cas_disabled): it answers gets with the CAS id 0 and fails
// every cas, so the store cannot compare-and-swap. Nothing was written.
var ErrNoCAS = errors.New("memcachedstore: the server keeps no CAS ids (memcached -C): compare-and-swap cannot work; enable CAS")

// maxRelative is the longest expiry Memcached takes as relative seconds;
// beyond it, an expiry is an absolute Unix time.
const maxRelative = 30 * 24 * time.Hour

// touchAttempts bounds the gets/cas loop that rewrites a legacy item on a
// touch, under concurrent writes.
const touchAttempts = 5

// Store is a session store in Memcached. It is safe for concurrent use.
// Create it with [New].
type Store struct {
	client     *memcache.Client
	prefix     string
	defaultTTL time.Duration
}

// Compile-time checks of the capabilities the manager looks for.
var (
	_ session.Store             = (*Store)(nil)
	_ session.Toucher           = (*Store)(nil)
	_ session.VersionedStore    = (*Store)(nil)
	_ session.VersionToucher    = (*Store)(nil)
	_ session.VersionGetToucher = (*Store)(nil)
)

// Option configures a [Store].
type Option func(*config)

type config struct {
	prefix     string
	defaultTTL time.Duration
}

// WithPrefix sets the key prefix (default none, as connect-memcached's,
// whose prefix option it must equal to share sessions). The prefix and the
// id together must stay within Memcached's 250 bytes, without spaces or
// control characters.
func WithPrefix(prefix string) Option { return func(c *config) { c.prefix = prefix } }

// WithDefaultTTL sets how long a session without an expiry is kept (default
// one day), less the 1 to 3 s Memcached's whole seconds take (see the package
// doc): a d under 2 s keeps no such session. A zero or negative d keeps the
// default.
func WithDefaultTTL(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.defaultTTL = d
		}
	}
}

// New returns a store on client, which may spread keys over several servers
// (memcache.New("h1:11211", "h2:11211")). The store does not close the client.
// New panics on a prefix that [CheckPrefix] refuses.
func New(client *memcache.Client, opts ...Option) *Store {
	c := config{prefix: DefaultPrefix, defaultTTL: DefaultTTL}
	for _, o := range opts {
		o(&c)
	}
	if err := CheckPrefix(c.prefix); err != nil {
		panic(err)
	}
	return &Store{client: client, prefix: c.prefix, defaultTTL: c.defaultTTL}
}

// Prefix returns the key prefix of the store.
func (s *Store) Prefix() string { return s.prefix }

func (s *Store) key(id string) string { return s.prefix + id }

// keyError returns nil if id, after the store's prefix, makes a key that
// Memcached takes, and otherwise an error wrapping memcache.ErrMalformedKey
// that says why not: the manager takes ids that no key can carry (a custom
// GenerateID's: up to 978 bytes, any byte). No session has such an id, so
// reads, touches and destroys of one answer "no session", as any store's
// of an id it does not hold; a write of one fails with this error.
func (s *Store) keyError(id string) error {
	if n := len(s.prefix) + len(id); n > maxKeyLen {
		return fmt.Errorf("%w: the key (the prefix and the session id) is %d bytes, over Memcached's %d", memcache.ErrMalformedKey, n, maxKeyLen)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c == 0x7f {
			return fmt.Errorf("%w: the session id holds a space or control character at byte %d, which Memcached keys cannot", memcache.ErrMalformedKey, i)
		}
	}
	return nil
}

// The item flags the Node memcached client (under connect-memcached) gives a
// value: a string is stored with 0, an object as JSON with flagJSON, and it
// parses a value back only for exactly these flags. connect-memcached hands
// it the session object, so its items carry flagJSON, and so do the store's:
// with any other flags, connect-memcached would give express-session a string.
const (
	flagJSON    = 1 << 1
	flagBinary  = 1 << 2 // a Buffer: not a session
	flagNumeric = 1 << 3 // a number: not a session
)

// Earlier versions of this store kept each session's exact expiry in the
// flags instead, in quarter seconds since legacyEpoch, rounded down (0: none).
// The items they wrote are still read, their exact expiry checked. Such
// flags are never 2, 4 or 8, which are instants in the first two seconds of
// 2024.
var legacyEpoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// legacyUnit is the resolution of the expiry in legacy flags.
const legacyUnit = time.Second / 4

// legacyMargin is how long before its exact expiry a legacy item ends: an
// item of the current format has ended by then, whenever it was written
// (Memcached keeps it at most the whole seconds left at its write less
// one), so a session ends at least a second early in both formats, and
// an app instance whose clock is behind the writer's by less than that
// does not serve it past its expiry.
const legacyMargin = time.Second

// itemKind is what an item's flags say it is.
type itemKind int

const (
	// plain: written by connect-memcached or by this store (flags 2), or
	// as a string (flags 0); Memcached's own expiry alone applies.
	plain itemKind = iota
	// legacy: written by an earlier version of this store, whose flags hold
	// the exact expiry, more than legacyMargin away.
	legacy
	// gone: a legacy item within legacyMargin of its exact expiry or past
	// it, or a value that is not a session (flags 4 or 8): read as no
	// session.
	gone
)

// kindAt classifies an item with flags at now.
func kindAt(flags uint32, now time.Time) itemKind {
	switch flags {
	case 0, flagJSON:
		return plain
	case flagBinary, flagNumeric:
		return gone
	}
	if !now.Add(legacyMargin).Before(legacyEpoch.Add(time.Duration(flags) * legacyUnit)) {
		return gone
	}
	return legacy
}

// expiry resolves the zero time to the default lifetime.
func (s *Store) expiry(expires time.Time, now time.Time) time.Time {
	if expires.IsZero() {
		return now.Add(s.defaultTTL)
	}
	return expires
}

// item builds the item for data expiring at expires, or reports false when
// Memcached could not keep it without returning it after that expiry (less
// than 2 s left): the caller deletes instead.
func (s *Store) item(id string, data []byte, expires time.Time) (*memcache.Item, bool) {
	exp, ok := s.expiration(expires, time.Now())
	if !ok {
		return nil, false
	}
	return &memcache.Item{Key: s.key(id), Value: data, Flags: flagJSON, Expiration: exp}, true
}

// refresh sets it's Expiration to Memcached's expiration for expires
// (resolved: not the zero time) at this moment, as each try of a command
// that stores it goes out, so that a try sent again (the first was lost
// with a connection the server closed, maybe after the network held it a
// while) carries the whole seconds left then, not those left when the
// first went out, which would keep the session past expires: -1, already
// expired, when less than 2 s are left (the command then ends the
// session, as a write with so little left does). An item with a negative
// Expiration, one that ends the session, is left as it is.
func (s *Store) refresh(it *memcache.Item, expires time.Time) {
	if it.Expiration < 0 {
		return
	}
	exp, ok := s.expiration(expires, time.Now())
	if !ok {
		exp = -1
	}
	it.Expiration = exp
}

// expiration is Memcached's expiration for expires at now (the default
// lifetime for the zero time), or false if there is none that ends the item
// by expires.
func (s *Store) expiration(expires, now time.Time) (int32, bool) {
	expires = s.expiry(expires, now)
	return expiration(expires, expires.Sub(now))
}

// maxExpiration is the latest absolute expiration Memcached takes, since it
// reads the field as a 32-bit number: 2038-01-19 03:14:07 UTC.
const maxExpiration = 1<<31 - 1

// expiration returns Memcached's expiration for an item expiring at
// expires, left from now, such that Memcached never returns the item after
// expires; ok is false when no expiration does (less than 2 s left).
//
// Memcached counts whole seconds on a clock that its timer moves once a
// second: an item stored with E relative seconds lives more than E-1 and at
// most E seconds (plus the lateness of that timer, a few milliseconds). So
// E is the whole seconds left less one, and the item ends between 1 and 3 s
// before expires. Beyond 30 days Memcached takes an absolute Unix time,
// compared with a clock of its own rounded down twice (its start time and
// its running time, each to the second): the item lives until at most 2 s
// after the time sent, which is therefore expires less 3 s (rounded down),
// at most maxExpiration.
func expiration(expires time.Time, left time.Duration) (int32, bool) {
	if left <= maxRelative { // left may be time.Duration's saturated maximum: no sum before this
		secs := int64(left/time.Second) - 1
		return int32(secs), secs >= 1
	}
	return int32(min(expires.Unix()-3, maxExpiration)), true
}

// wrap adds the operation and the start of the id to an error (a whole
// session id in a log would let its readers take the session over), and
// turns Memcached's "object too large" answer into ErrTooLarge.
func wrap(op, id string, err error) error {
	id = shortid.Of(id)
	if err != nil && strings.Contains(err.Error(), "too large") {
		return fmt.Errorf("memcachedstore: %s %s: %w: %w", op, id, ErrTooLarge, err)
	}
	return fmt.Errorf("memcachedstore: %s %s: %w", op, id, err)
}

// retry runs call, one command on a connection of the client's pool, and
// runs it again, on another connection, while it failed because the server
// had closed the connection (EOF, reset, broken pipe): gomemcache keeps
// idle connections without noticing that a server restarted, or closed
// them (memcached -o idle_timeout, a proxy or firewall ending idle
// connections), and fails the next command on each with that error. It
// tries once per connection the pool keeps idle (MaxIdleConns) and once
// more, so that the last try is on a connection dialled afresh: a server
// that is down then answers with the dial's error. A command the server ran
// before the connection broke (a crash after it, a reset on the way back)
// may run twice: gets, gat, touch, delete, set and replace end as after
// one; a cas or an add sent again finds its own write, which resend's
// callers tell from another request's by its bytes (ownWrite).
//
// Gomemcache takes no context, so retry checks ctx before each try: a
// done ctx (the manager's StoreTimeout ran out) sends nothing more, and
// retry returns its error, wrapped with the last try's when there was one
// (that command may have run: a write is in doubt). Each try is bounded by
// the client's Timeout alone, so a call goes on for at most one try after
// ctx is done, not one per connection of the pool.
func (s *Store) retry(ctx context.Context, call func() error) error {
	_, err := s.resend(ctx, call)
	return err
}

// retryExpiring is retry for a command that carries Memcached's
// expiration for expires (resolved: not the zero time): call gets the
// whole seconds left as each try goes out (see refresh). near reports that
// less than 2 s were left as a try was to go out; nothing was sent then,
// and the caller ends the session instead.
func (s *Store) retryExpiring(ctx context.Context, expires time.Time, call func(exp int32) error) (near bool, err error) {
	err = s.retry(ctx, func() error {
		exp, ok := s.expiration(expires, time.Now())
		if near = !ok; near {
			return nil
		}
		return call(exp)
	})
	return near, err
}

// resend is retry, and reports whether call ran more than once.
func (s *Store) resend(ctx context.Context, call func() error) (again bool, err error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	err = call()
	for range s.idleConns() {
		if !closedByServer(err) {
			break
		}
		if cerr := ctx.Err(); cerr != nil {
			return again, fmt.Errorf("%w, not sent again after: %w", cerr, err)
		}
		again = true
		err = call()
	}
	return again, err
}

// ownWrite reports whether the server holds it, a write of this store whose
// first try's answer was lost and whose try again failed (a cas finding
// another CAS id, an add finding the key taken): the item's value and
// flags (the kind and the exact expiry) are it's, so the first try ran. A
// parallel request's write of other bytes over it, or in its place, is
// not: the conflict stands.
func ownWrite(cur, it *memcache.Item) bool {
	return cur != nil && cur.Flags == it.Flags && bytes.Equal(cur.Value, it.Value)
}

// idleConns is how many idle connections to a server gomemcache keeps.
func (s *Store) idleConns() int {
	if n := s.client.MaxIdleConns; n > 0 {
		return n
	}
	return memcache.DefaultMaxIdleConns
}

// closedByServer reports whether err says that the server closed the
// connection, before or while answering.
func closedByServer(err error) bool {
	return err != nil && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE))
}

// getItem is the client's Get (gets), tried again on a closed connection.
func (s *Store) getItem(ctx context.Context, key string) (it *memcache.Item, err error) {
	err = s.retry(ctx, func() error { it, err = s.client.Get(key); return err })
	return it, err
}

// delete deletes the item of id, tried again on a closed connection.
func (s *Store) delete(ctx context.Context, id string) error {
	return s.retry(ctx, func() error { return s.client.Delete(s.key(id)) })
}

// get reads the item under id; it is nil if there is none that holds a
// live session.
func (s *Store) get(ctx context.Context, op, id string) (*memcache.Item, error) {
	if err := ctx.Err(); err != nil {
		return nil, wrap(op, id, err)
	}
	if s.keyError(id) != nil {
		return nil, nil // no session has that id
	}
	it, err := s.getItem(ctx, s.key(id))
	if errors.Is(err, memcache.ErrCacheMiss) {
		return nil, nil
	}
	if err != nil {
		return nil, wrap(op, id, err)
	}
	if kindAt(it.Flags, time.Now()) == gone {
		return nil, nil
	}
	return it, nil
}

// Get returns the session stored under id; found is false if there is none.
func (s *Store) Get(ctx context.Context, id string) ([]byte, bool, error) {
	it, err := s.get(ctx, "get", id)
	if err != nil || it == nil {
		return nil, false, err
	}
	return it.Value, true, nil
}

// version encodes an item's CAS id and flags (which tell a legacy item and
// its exact expiry).
func version(it *memcache.Item) string {
	return strconv.FormatUint(it.CasID, 10) + "." + strconv.FormatUint(uint64(it.Flags), 10)
}

// parseVersion decodes a version made by version.
func parseVersion(v string) (cas uint64, flags uint32, ok bool) {
	c, f, found := strings.Cut(v, ".")
	if !found {
		return 0, 0, false
	}
	cas, err1 := strconv.ParseUint(c, 10, 64)
	fl, err2 := strconv.ParseUint(f, 10, 32)
	return cas, uint32(fl), err1 == nil && err2 == nil
}

// GetVersion is Get that also returns the session's version (its CAS id).
func (s *Store) GetVersion(ctx context.Context, id string) ([]byte, string, bool, error) {
	it, err := s.get(ctx, "get", id)
	if err != nil || it == nil {
		return nil, "", false, err
	}
	return it.Value, version(it), true, nil
}

// Set stores data under id until expires (the default lifetime for the zero
// time). An expiry in the past, or less than 2 s away, deletes the session.
// It sends replace, then set if there was nothing to replace (two round
// trips to create): a too-large set makes memcached drop the stored item, a
// too-large replace keeps it.
func (s *Store) Set(ctx context.Context, id string, data []byte, expires time.Time) error {
	if err := ctx.Err(); err != nil {
		return wrap("set", id, err)
	}
	expires = s.expiry(expires, time.Now())
	it, ok := s.item(id, data, expires)
	if !ok {
		return s.destroy(ctx, "set", id)
	}
	if err := s.keyError(id); err != nil {
		return wrap("set", id, err)
	}
	err := s.retry(ctx, func() error { s.refresh(it, expires); return s.client.Replace(it) })
	if errors.Is(err, memcache.ErrNotStored) {
		// Nothing there, and the item fits: memcached checks the size first.
		err = s.retry(ctx, func() error { s.refresh(it, expires); return s.client.Set(it) })
	}
	if err != nil {
		return wrap("set", id, err)
	}
	return nil
}

// Destroy deletes the session. Deleting a missing session is not an error.
func (s *Store) Destroy(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return wrap("destroy", id, err)
	}
	return s.destroy(ctx, "destroy", id)
}

func (s *Store) destroy(ctx context.Context, op, id string) error {
	if s.keyError(id) != nil {
		return nil // no session has that id
	}
	if err := s.delete(ctx, id); err != nil && !errors.Is(err, memcache.ErrCacheMiss) {
		return wrap(op, id, err)
	}
	return nil
}

// touchGone ends the session for a touch to an expiry too near for
// Memcached to keep it by, and reports whether there was one. It ends only
// what a read returns as a session, and leaves anything else under the key
// (another app's value, a Node Buffer or number, in a key space shared
// without a prefix; a legacy item past its exact expiry), which it reports
// missing: it reads the item (gets), then ends it by a cas, so that it
// never deletes a value written in between either.
func (s *Store) touchGone(ctx context.Context, id string) (found bool, err error) {
	for range touchAttempts {
		it, err := s.get(ctx, "touch", id)
		if err != nil || it == nil {
			return false, err
		}
		if found, done, err := s.end(ctx, id, it.CasID); done {
			return found, err
		}
		// Written meanwhile: look at what is there now.
	}
	return false, wrap("touch", id, errors.New("session keeps changing"))
}

// touchGoneFrom is touchGone for a session read at CAS id cas: one cas, if
// nobody wrote it since. A session written since (another request's save,
// which gave it an expiry of its own, such as a "remember me" login's) is
// not the copy the caller meant to end: it is left as it is, and returned
// (a gets after the failed cas), so that the caller can follow its cookie.
func (s *Store) touchGoneFrom(ctx context.Context, id string, cas uint64) (current *memcache.Item, found bool, err error) {
	if cas == 0 {
		found, err := s.touchGone(ctx, id)
		return nil, found, err
	}
	if found, done, err := s.end(ctx, id, cas); done {
		return nil, found, err
	}
	it, err := s.get(ctx, "touch", id)
	if err != nil || it == nil {
		return nil, false, err
	}
	return it, true, nil
}

// end ends the session of id, read with the CAS id cas, if nobody wrote it
// since: a cas with an expiry in the past, as CompareAndSwap deletes. done
// is false when someone did (the caller reads it again). On a server
// without CAS ids (cas 0) it deletes the item, a session when it was read.
func (s *Store) end(ctx context.Context, id string, cas uint64) (found, done bool, err error) {
	if cas == 0 {
		found, err := touched(id, s.delete(ctx, id))
		return found, true, err
	}
	return s.touchCAS(ctx, id, &memcache.Item{Key: s.key(id), Expiration: -1}, cas, time.Time{})
}

// touched turns the answer of a touch's command on the item of id into
// whether the session was there.
func touched(id string, err error) (found bool, _ error) {
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, memcache.ErrCacheMiss):
		return false, nil
	default:
		return false, wrap("touch", id, err)
	}
}

// Touch sets the session's expiry to expires without changing its value, in
// one round trip (gat: memcached's touch that also answers the item, whose
// flags tell whether an earlier version of the store wrote it). It reports
// found == false when the session does not exist. An item an earlier version
// wrote is rewritten in the current format (gets, then cas with the same
// value), since its flags would end it at its old expiry. A touch to an
// expiry less than 2 s away ends the session (gets, then cas; see
// touchGone) and leaves a value under the key that is not one.
func (s *Store) Touch(ctx context.Context, id string, expires time.Time) (found bool, err error) {
	if err := ctx.Err(); err != nil {
		return false, wrap("touch", id, err)
	}
	if s.keyError(id) != nil {
		return false, nil // no session has that id
	}
	expires = s.expiry(expires, time.Now())
	var it *memcache.Item
	near, err := s.retryExpiring(ctx, expires, func(exp int32) (err error) {
		it, err = s.client.GetAndTouch(s.key(id), exp)
		return err
	})
	if near {
		return s.touchGone(ctx, id)
	}
	if found, err := touched(id, err); !found {
		return false, err
	}
	switch kindAt(it.Flags, time.Now()) {
	case plain:
		return true, nil
	case gone:
		return false, nil // not served however long Memcached keeps it
	}
	return s.rewrite(ctx, id, expires)
}

// rewrite touches a legacy item by writing it again in the current format
// (gets, then cas with the same value and the new expiry), and reports
// whether the session was still there.
func (s *Store) rewrite(ctx context.Context, id string, expires time.Time) (found bool, err error) {
	for range touchAttempts {
		it, err := s.get(ctx, "touch", id)
		if err != nil || it == nil {
			return false, err
		}
		next, ok := s.item(id, it.Value, expires)
		if !ok {
			if found, done, err := s.end(ctx, id, it.CasID); done {
				return found, err
			}
			continue
		}
		if found, done, err := s.touchCAS(ctx, id, next, it.CasID, expires); done {
			return found, err
		}
		// Written meanwhile: touch what is there now.
	}
	return false, wrap("touch", id, errors.New("session keeps changing"))
}

// TouchVersion is Touch for a session the caller read as data at version:
// memcached's touch command alone (one round trip, nothing sent back), since
// the version tells the item's format. An item an earlier version of the
// store wrote is rewritten in the current format with data, by a cas that
// fails if anyone wrote the session since (Touch then touches what is there
// now), so that data is never written over a newer session. A touch to an
// expiry less than 2 s away ends the session by a cas from version, and
// leaves a session anyone wrote since (another request's save, with an
// expiry of its own), found; see touchGoneFrom.
func (s *Store) TouchVersion(ctx context.Context, id, version string, data []byte, expires time.Time) (found bool, err error) {
	if err := ctx.Err(); err != nil {
		return false, wrap("touch", id, err)
	}
	if s.keyError(id) != nil {
		return false, nil // no session has that id
	}
	cas, flags, ok := parseVersion(version)
	if !ok {
		return s.Touch(ctx, id, expires)
	}
	now := time.Now()
	expires = s.expiry(expires, now)
	switch kindAt(flags, now) {
	case gone:
		return false, nil // expired since the read: Memcached may still hold it, but it is gone
	case legacy:
		next, live := s.item(id, data, expires)
		if !live {
			_, found, err := s.touchGoneFrom(ctx, id, cas)
			return found, err
		}
		if found, done, err := s.touchCAS(ctx, id, next, cas, expires); done {
			return found, err
		}
		return s.Touch(ctx, id, expires)
	}
	near, err := s.retryExpiring(ctx, expires, func(exp int32) error {
		return s.client.Touch(s.key(id), exp)
	})
	if near {
		_, found, err := s.touchGoneFrom(ctx, id, cas)
		return found, err
	}
	return touched(id, err)
}

// GetAndTouchVersion is TouchVersion that also answers what it touched
// when that is not data (session.VersionGetToucher): memcached's gat in
// place of touch, still one round trip, whose answer is compared with data
// and version's flags. The manager uses it for the end-of-request touch, to
// learn that another request saved the session with a cookie of its own
// since the load. An item read as an earlier version of the store wrote it
// is rewritten from data by a cas from version, as TouchVersion does (the
// answer is then nil), or, written since, touched by the gat, which answers
// that write. A touch too near its expiry ends the session as TouchVersion
// does (the answer is nil), and answers a session written since, which it
// leaves as it is. An item an earlier version wrote since the read is
// touched as Touch does, and its bytes are returned.
func (s *Store) GetAndTouchVersion(ctx context.Context, id, version string, data []byte, expires time.Time) (current []byte, found bool, err error) {
	if err := ctx.Err(); err != nil {
		return nil, false, wrap("touch", id, err)
	}
	if s.keyError(id) != nil {
		return nil, false, nil // no session has that id
	}
	cas, flags, ok := parseVersion(version)
	if !ok {
		found, err := s.TouchVersion(ctx, id, version, data, expires)
		return nil, found, err
	}
	now := time.Now()
	expires = s.expiry(expires, now)
	switch kindAt(flags, now) {
	case gone:
		return nil, false, nil // expired since the read, as TouchVersion
	case legacy:
		// Read as an earlier version of the store wrote it: rewritten in
		// the current format from data, by a cas from version, as
		// TouchVersion does. If anyone wrote the session since (another
		// request's save, in the current format), the gat below touches
		// and answers that write, which differs from version's flags.
		next, live := s.item(id, data, expires)
		if !live {
			it, found, err := s.touchGoneFrom(ctx, id, cas)
			return answer(it, flags, data), found, err
		}
		if found, done, err := s.touchCAS(ctx, id, next, cas, expires); done {
			return nil, found, err
		}
	}
	var it *memcache.Item
	near, err := s.retryExpiring(ctx, expires, func(exp int32) (err error) {
		it, err = s.client.GetAndTouch(s.key(id), exp)
		return err
	})
	if near {
		it, found, err := s.touchGoneFrom(ctx, id, cas)
		return answer(it, flags, data), found, err
	}
	if found, err := touched(id, err); !found {
		return nil, false, err
	}
	switch kindAt(it.Flags, time.Now()) {
	case plain:
		return answer(it, flags, data), true, nil
	case gone:
		return nil, false, nil // not served however long Memcached keeps it
	}
	// Written since by an earlier version of the store: rewritten in the
	// current format, as Touch does.
	if found, err := s.rewrite(ctx, id, expires); !found || err != nil {
		return nil, found, err
	}
	return it.Value, true, nil
}

// answer is GetAndTouchVersion's answer when it touched (or left) it, for a
// session read as data with flags: nil for that copy, and for none.
func answer(it *memcache.Item, flags uint32, data []byte) []byte {
	if it == nil || it.Flags == flags && bytes.Equal(it.Value, data) {
		return nil
	}
	return it.Value
}

// cas sends it as a cas command with the CAS id the caller set, and the
// expiration for expires as each try goes out (refresh). A server
// without CAS ids answers gets with 0 and every cas with EXISTS: that is
// ErrNoCAS, not a conflict that a retry could settle.
func (s *Store) cas(ctx context.Context, it *memcache.Item, expires time.Time) error {
	if it.CasID == 0 {
		return ErrNoCAS
	}
	stores := it.Expiration >= 0 // not a cas that ends the session
	again, err := s.resend(ctx, func() error { s.refresh(it, expires); return s.client.CompareAndSwap(it) })
	if again && stores && errors.Is(err, memcache.ErrCASConflict) {
		cur, gerr := s.getItem(ctx, it.Key)
		switch {
		case gerr == nil && ownWrite(cur, it):
			return nil
		case gerr != nil && !errors.Is(gerr, memcache.ErrCacheMiss):
			// Whose write it holds cannot be told: in doubt, not a conflict.
			return fmt.Errorf("reading back a compare-and-swap sent again: %w", gerr)
		}
	}
	return err
}

// touchCAS stores next, the touched item, expiring at expires, if the item
// still has the CAS id cas. done is false when someone wrote it since (the caller reads it again).
func (s *Store) touchCAS(ctx context.Context, id string, next *memcache.Item, cas uint64, expires time.Time) (found, done bool, err error) {
	next.CasID = cas
	err = s.cas(ctx, next, expires)
	switch {
	case err == nil:
		return true, true, nil
	case errors.Is(err, memcache.ErrCASConflict):
		return false, false, nil
	case errors.Is(err, memcache.ErrNotStored), errors.Is(err, memcache.ErrCacheMiss):
		return false, true, nil
	default:
		return false, true, wrap("touch", id, err)
	}
}

// CompareAndSwap stores data under id only if the session still has version
// old (cas). With old == "" it creates the session only if no unexpired one
// exists (add). It reports swapped == false otherwise. On success it
// returns the version "": Memcached does not tell the new CAS id. On a
// server without CAS ids it fails with an error wrapping ErrNoCAS.
func (s *Store) CompareAndSwap(ctx context.Context, id, old string, data []byte, expires time.Time) (version string, swapped bool, err error) {
	const op = "compare-and-swap"
	if err := ctx.Err(); err != nil {
		return "", false, wrap(op, id, err)
	}
	expires = s.expiry(expires, time.Now())
	it, live := s.item(id, data, expires)
	if err := s.keyError(id); err != nil {
		switch {
		case old != "":
			return "", false, nil // no session has that id: a conflict
		case !live:
			return "", true, nil // nothing to create, and no session has that id
		}
		return "", false, wrap(op, id, err)
	}
	if old == "" {
		swapped, err := s.create(ctx, id, it, expires, live)
		return "", swapped, err
	}
	cas, oldFlags, ok := parseVersion(old)
	if !ok || kindAt(oldFlags, time.Now()) == gone {
		// Not a version of this store, or one that has expired: Memcached
		// may still hold such an item for a second, but it is gone all the same.
		return "", false, nil
	}
	if !live {
		// Replace it with an item that is already expired: a delete that
		// only happens if nobody wrote meanwhile.
		it = &memcache.Item{Key: s.key(id), Expiration: -1}
	}
	it.CasID = cas
	swapped, err = s.swapped(op, id, s.cas(ctx, it, expires))
	return "", swapped, err
}

// swapped interprets the answer to a cas command.
func (s *Store) swapped(op, id string, err error) (bool, error) {
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, memcache.ErrCASConflict), errors.Is(err, memcache.ErrNotStored), errors.Is(err, memcache.ErrCacheMiss):
		return false, nil
	default:
		return false, wrap(op, id, err)
	}
}

// create stores it only if no unexpired session exists under id.
func (s *Store) create(ctx context.Context, id string, it *memcache.Item, expires time.Time, live bool) (bool, error) {
	const op = "compare-and-swap"
	if !live {
		// Nothing to store; still report a session that exists.
		cur, err := s.get(ctx, op, id)
		return cur == nil && err == nil, err
	}
	for range 2 {
		again, err := s.resend(ctx, func() error { s.refresh(it, expires); return s.client.Add(it) })
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, memcache.ErrNotStored) {
			return false, wrap(op, id, err)
		}
		// Something is there; if it holds no live session (a legacy item
		// past its exact expiry, a value that is not a session), take its place.
		cur, err := s.getItem(ctx, it.Key)
		if errors.Is(err, memcache.ErrCacheMiss) {
			continue // gone meanwhile: add again
		}
		if err != nil {
			return false, wrap(op, id, err)
		}
		if again && ownWrite(cur, it) {
			return true, nil
		}
		if kindAt(cur.Flags, time.Now()) != gone {
			return false, nil
		}
		next := *it
		next.CasID = cur.CasID
		err = s.cas(ctx, &next, expires)
		if errors.Is(err, memcache.ErrCacheMiss) {
			continue // no item under the id any more (it expired, or was deleted): add again
		}
		return s.swapped(op, id, err)
	}
	return false, nil
}
