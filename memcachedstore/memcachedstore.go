// Package memcachedstore keeps sessions in Memcached, on one server or
// spread over several (through gomemcache's server selection), with
// github.com/bradfitz/gomemcache.
//
// The data is the same as connect-memcached writes, so that an Express app
// and a Go app can share sessions: the key is "sessions:" + id (the prefix is
// configurable) and the value is the encoded session document as given.
// Sessions without an expiry (browser-session cookies) live for a default of
// one day.
//
// Memcached expires items to the second at best, and its clock ticks once a
// second, so the store keeps each session's exact expiry in the item's
// flags (in quarter seconds since 2024, rounded down) and checks it on every
// read: a session is never returned after its expiry (it may go up to a
// quarter second early). Memcached's own expiry is set a second later, to
// reclaim the memory. Items written by someone else (flags 0, as
// connect-memcached writes them) rely on Memcached's expiry alone.
// Expiries more than 30 days away are sent as absolute Unix times, as
// Memcached requires, and Memcached reads them as 32-bit numbers: a later
// expiry than 2038-01-19 03:14:07 UTC (year 9999 for "never") is sent as
// that time, when Memcached drops the session. The flags hold expiries up to
// 2058; a later one leaves them 0, and Memcached's expiry alone applies.
//
// Compare-and-swap uses gets/cas: a version is the item's CAS id (with its
// expiry). Creating a session uses add. Touch is a gets followed by a cas
// with the same value, since memcached's touch command cannot update the
// flags that hold the exact expiry: two round trips, unlike the other
// operations' one. The middleware's touch at the end of a read-only request
// is the cas alone ([Store.TouchVersion]): it sends back the bytes and the
// CAS id the request's load read, so such a request costs two round trips in
// all (gets, cas), as a modifying one does.
//
// A session larger than the server's item size limit (memcached -I, 1 MiB by
// default) fails with an error wrapping [ErrTooLarge]; nothing is silently
// dropped, and the session stored before is kept. For that, Set is a replace,
// then a set when there was nothing to replace: memcached's set of a
// too-large item drops the stored one.
//
// The store has no listing (session.Lister): Memcached cannot enumerate its
// keys. Gomemcache takes no context: the store checks the context before
// each operation, and the client's Timeout bounds each network call.
package memcachedstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/shortid"
)

// DefaultPrefix is the key prefix connect-memcached uses.
const DefaultPrefix = "sessions:"

// DefaultTTL is how long a session without an expiry (a browser-session
// cookie) is kept.
const DefaultTTL = 24 * time.Hour

// ErrTooLarge reports a session larger than the server's item size limit.
// Nothing was written: a session stored under that id before is kept.
var ErrTooLarge = errors.New("memcachedstore: session larger than the server's item size limit (memcached -I)")

// maxRelative is the longest expiry Memcached takes as relative seconds;
// beyond it, an expiry is an absolute Unix time.
const maxRelative = 30 * 24 * time.Hour

// touchAttempts bounds Touch's gets/cas loop under concurrent writes.
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
	_ session.Store          = (*Store)(nil)
	_ session.Toucher        = (*Store)(nil)
	_ session.VersionedStore = (*Store)(nil)
	_ session.VersionToucher = (*Store)(nil)
)

// Option configures a [Store].
type Option func(*config)

type config struct {
	prefix     string
	defaultTTL time.Duration
}

// WithPrefix sets the key prefix (default "sessions:"). The prefix and the
// id together must stay within Memcached's 250 bytes, without spaces or
// control characters.
func WithPrefix(prefix string) Option { return func(c *config) { c.prefix = prefix } }

// WithDefaultTTL sets how long a session without an expiry is kept (default
// one day). A zero or negative d keeps the default.
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

// epoch is the origin of the expiry kept in the flags.
var epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// flagUnit is the resolution of the expiry kept in the flags; 2^32 units
// reach into 2058.
const flagUnit = time.Second / 4

// expiryFlags encodes t for the item's flags, rounded down to flagUnit; 0
// (out of range) means "no exact expiry".
func expiryFlags(t time.Time) uint32 {
	d := t.Sub(epoch)
	if d < flagUnit || d/flagUnit > 1<<32-1 {
		return 0
	}
	return uint32(d / flagUnit)
}

// flagsExpired reports whether the exact expiry in flags has passed at now.
func flagsExpired(flags uint32, now time.Time) bool {
	return flags != 0 && !now.Before(epoch.Add(time.Duration(flags)*flagUnit))
}

// expiry resolves the zero time to the default lifetime.
func (s *Store) expiry(expires time.Time, now time.Time) time.Time {
	if expires.IsZero() {
		return now.Add(s.defaultTTL)
	}
	return expires
}

// item builds the item for data expiring at expires, or reports false when
// that expiry has passed.
func (s *Store) item(id string, data []byte, expires time.Time) (*memcache.Item, bool) {
	now := time.Now()
	expires = s.expiry(expires, now)
	left := expires.Sub(now)
	if left <= 0 {
		return nil, false
	}
	flags := expiryFlags(expires)
	if flags != 0 && flagsExpired(flags, now) {
		return nil, false // gone within the flags' rounding
	}
	return &memcache.Item{Key: s.key(id), Value: data, Flags: flags, Expiration: expiration(expires, left)}, true
}

// maxExpiration is the latest absolute expiration Memcached takes, since it
// reads the field as a 32-bit number: 2038-01-19 03:14:07 UTC.
const maxExpiration = 1<<31 - 1

// expiration returns Memcached's expiration for an item expiring at
// expires, left from now: relative seconds up to 30 days, else an absolute
// Unix time, at most maxExpiration; rounded up, plus a second for
// Memcached's coarse clock (the exact expiry is in the flags).
func expiration(expires time.Time, left time.Duration) int32 {
	if left <= maxRelative { // left may be time.Duration's saturated maximum: no sum before this
		if secs := int64((left+time.Second-1)/time.Second) + 1; time.Duration(secs)*time.Second <= maxRelative {
			return int32(secs)
		}
	}
	return int32(min(expires.Unix()+2, maxExpiration))
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

// get reads the unexpired item under id; it is nil if there is none.
func (s *Store) get(ctx context.Context, op, id string) (*memcache.Item, error) {
	if err := ctx.Err(); err != nil {
		return nil, wrap(op, id, err)
	}
	it, err := s.client.Get(s.key(id))
	if errors.Is(err, memcache.ErrCacheMiss) {
		return nil, nil
	}
	if err != nil {
		return nil, wrap(op, id, err)
	}
	if flagsExpired(it.Flags, time.Now()) {
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

// version encodes an item's CAS id and flags (its exact expiry).
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
// time). An expiry in the past deletes the session. It sends replace, then
// set if there was nothing to replace (two round trips to create): a too-large
// set makes memcached drop the stored item, a too-large replace keeps it.
func (s *Store) Set(ctx context.Context, id string, data []byte, expires time.Time) error {
	if err := ctx.Err(); err != nil {
		return wrap("set", id, err)
	}
	it, ok := s.item(id, data, expires)
	if !ok {
		return s.destroy("set", id)
	}
	err := s.client.Replace(it)
	if errors.Is(err, memcache.ErrNotStored) {
		// Nothing there, and the item fits: memcached checks the size first.
		err = s.client.Set(it)
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
	return s.destroy("destroy", id)
}

func (s *Store) destroy(op, id string) error {
	if err := s.client.Delete(s.key(id)); err != nil && !errors.Is(err, memcache.ErrCacheMiss) {
		return wrap(op, id, err)
	}
	return nil
}

// Touch sets the session's expiry to expires without changing its value
// (gets, then cas with the same value and the new expiry). It reports
// found == false when the session does not exist.
func (s *Store) Touch(ctx context.Context, id string, expires time.Time) (found bool, err error) {
	for range touchAttempts {
		it, err := s.get(ctx, "touch", id)
		if err != nil || it == nil {
			return false, err
		}
		next, ok := s.item(id, it.Value, expires)
		if !ok {
			return true, s.destroy("touch", id)
		}
		if found, done, err := s.touchCAS(id, next, it.CasID); done {
			return found, err
		}
		// Written meanwhile: touch what is there now.
	}
	return false, wrap("touch", id, errors.New("session keeps changing"))
}

// TouchVersion is Touch for a session the caller read as data at version:
// the cas alone, one round trip, when nobody wrote the session since; Touch
// otherwise, so that data is never written over a newer session.
func (s *Store) TouchVersion(ctx context.Context, id, version string, data []byte, expires time.Time) (found bool, err error) {
	if err := ctx.Err(); err != nil {
		return false, wrap("touch", id, err)
	}
	cas, flags, ok := parseVersion(version)
	if ok && flagsExpired(flags, time.Now()) {
		return false, nil // expired since the read: Memcached may still hold it, but it is gone
	}
	next, live := s.item(id, data, expires)
	if !ok || !live {
		return s.Touch(ctx, id, expires)
	}
	if found, done, err := s.touchCAS(id, next, cas); done {
		return found, err
	}
	return s.Touch(ctx, id, expires)
}

// touchCAS stores next, the touched item, if the item still has the CAS id
// cas. done is false when someone wrote it since (the caller reads it again).
func (s *Store) touchCAS(id string, next *memcache.Item, cas uint64) (found, done bool, err error) {
	next.CasID = cas
	err = s.client.CompareAndSwap(next)
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
// returns the version "": Memcached does not tell the new CAS id.
func (s *Store) CompareAndSwap(ctx context.Context, id, old string, data []byte, expires time.Time) (version string, swapped bool, err error) {
	const op = "compare-and-swap"
	if err := ctx.Err(); err != nil {
		return "", false, wrap(op, id, err)
	}
	it, live := s.item(id, data, expires)
	if old == "" {
		swapped, err := s.create(ctx, id, it, live)
		return "", swapped, err
	}
	cas, oldFlags, ok := parseVersion(old)
	if !ok || flagsExpired(oldFlags, time.Now()) {
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
	swapped, err = s.swapped(op, id, s.client.CompareAndSwap(it))
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
func (s *Store) create(ctx context.Context, id string, it *memcache.Item, live bool) (bool, error) {
	const op = "compare-and-swap"
	if !live {
		// Nothing to store; still report a session that exists.
		cur, err := s.get(ctx, op, id)
		return cur == nil && err == nil, err
	}
	for range 2 {
		err := s.client.Add(it)
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, memcache.ErrNotStored) {
			return false, wrap(op, id, err)
		}
		// Something is there; if it has expired by its flags, take its place.
		cur, err := s.client.Get(it.Key)
		if errors.Is(err, memcache.ErrCacheMiss) {
			continue // gone meanwhile: add again
		}
		if err != nil {
			return false, wrap(op, id, err)
		}
		if !flagsExpired(cur.Flags, time.Now()) {
			return false, nil
		}
		next := *it
		next.CasID = cur.CasID
		return s.swapped(op, id, s.client.CompareAndSwap(&next))
	}
	return false, nil
}
