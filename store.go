package session

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound reports a session that is not in the store, or has expired, or
// could not be decoded: Session.Reload returns it (wrapped) for a session
// that is gone. Stores report a missing session with found == false instead.
var ErrNotFound = errors.New("session: not found")

// ErrTooLarge reports a session whose encoded document is over
// Options.MaxDocumentBytes, or over a store's own size limit (a store's
// error for that, such as memcachedstore.ErrTooLarge, matches it with
// errors.Is); nothing was written.
var ErrTooLarge = errors.New("session: document too large")

// ErrConflict reports a save that gave up after too many parallel writes to
// the same session changed it between this request's read and write, or a
// new session that found each id Options.GenerateID gave it taken by
// another stored session.
var ErrConflict = errors.New("session: version conflict")

// Store keeps encoded sessions: bytes under an id, until an expiry.
//
// A Store must never return a session whose expiry has passed. An expires of
// the zero time means "no expiry from the cookie" (a browser-session cookie):
// the store applies its own default lifetime. An expires in the past deletes.
// The manager owns ids, cookies, encoding and merging; a store only keeps bytes.
type Store interface {
	// Get returns the stored bytes. found is false, with a nil error, when no
	// unexpired session has that id.
	Get(ctx context.Context, id string) (data []byte, found bool, err error)
	// Set stores data under id until expires, replacing what was there.
	Set(ctx context.Context, id string, data []byte, expires time.Time) error
	// Destroy deletes the session. Deleting a missing session is not an error.
	Destroy(ctx context.Context, id string) error
}

// Toucher is a Store that can move a session's expiry without rewriting
// it. Touch sets the expiry to expires, later or earlier than the stored one;
// an expires in the past deletes the session. Touching a missing session
// (never stored, destroyed or expired) reports found == false and creates
// nothing.
//
// The touches and writes of one session take effect in the order they reach
// the store, each setting the expiry it carries: the last one wins. A store
// must not keep the later of the stored and the given expiry (GREATEST in
// SQL, PEXPIRE ... GT in Redis, $max in MongoDB), in Touch or in
// GetToucher.GetAndTouch: the manager shortens stored expiries with them.
// After the touch carried on a load, which sets the options' expiry
// (Cookie.MaxAge, IdleTimeout), the end of the request touches the session
// to its own when that is earlier (a shorter cookie of its own, or its
// AbsoluteTimeout); after a load whose user index write failed, it sets the
// stored expiry back to what the index entry covers. storetest pins it
// (EarlierExpiryIsKept).
//
// So when touches of one session from overlapping requests (other app
// instances, a command a driver sent again) reach the store out of order,
// the one that arrives last sets its expiry. Each is its request's clock
// plus the same lifetime: with a store that sends an absolute expiry
// (pgstore, mongostore) the session is short by at most that touch's time in
// flight (and any difference between the instances' clocks); a store that
// sends the time left as the command goes out (redisstore; memcachedstore
// up to 30 days ahead, beyond which Memcached takes an absolute time) loses
// nothing. A touch that arrives after a
// destroy finds nothing and brings nothing back.
type Toucher interface {
	// Touch sets the expiry of the stored session id to expires.
	Touch(ctx context.Context, id string, expires time.Time) (found bool, err error)
}

// VersionedStore is a Store that can compare-and-swap. The manager uses it to
// save without losing the changes of parallel requests and without writing
// back a session that was destroyed meanwhile.
type VersionedStore interface {
	Store
	// GetVersion is Get that also returns a version of what it read: an
	// opaque, non-empty string (a counter, a hash of the value, a CAS token)
	// that changes whenever the stored session does.
	GetVersion(ctx context.Context, id string) (data []byte, version string, found bool, err error)
	// CompareAndSwap stores data only if the session's current version is old.
	// With old == "" it stores only if no unexpired session with that id
	// exists (create-if-absent): the manager relies on it so that a new
	// session never joins a stored one whose id GenerateID repeated. When
	// another write, a delete or the expiry got there first it stores
	// nothing and reports swapped == false with a nil error. On success it
	// returns the new version, or "" if the store cannot tell it without
	// another round trip.
	CompareAndSwap(ctx context.Context, id, old string, data []byte, expires time.Time) (version string, swapped bool, err error)
}

// Lister is a Store that can enumerate its sessions (for admin tools).
type Lister interface {
	// IDs returns the ids of the stored, unexpired sessions, in no given order.
	IDs(ctx context.Context) ([]string, error)
	// Count returns the number of stored, unexpired sessions.
	Count(ctx context.Context) (int, error)
	// Clear deletes every session of this store (and nothing else).
	Clear(ctx context.Context) error
}

// Purger is a Store that removes expired sessions on demand, in addition to
// whatever sweeping it does by itself. It returns how many it removed.
type Purger interface {
	// PurgeExpired deletes the expired sessions and returns how many.
	PurgeExpired(ctx context.Context) (int, error)
}

// VersionGetToucher is a VersionToucher whose touch also answers, in the
// same round trip, what it touched when that is no longer the session the
// caller read (another request wrote it since): memcachedstore's is
// memcached's gat, where its TouchVersion is touch, which answers nothing.
// The middleware uses it, in place of TouchVersion, for the end-of-request
// touch of a read-only request: the touch's expiry comes from the cookie the
// request loaded, and when another request saved the session with a cookie
// of its own meanwhile (a "remember me", a shorter one), the middleware
// touches it again with that cookie's expiry, as a GetToucher's answer lets
// it do.
type VersionGetToucher interface {
	VersionToucher
	// GetAndTouchVersion is TouchVersion that also returns the bytes it
	// touched when they are not data at version; current is nil when they
	// are, and when the session is missing (found == false).
	GetAndTouchVersion(ctx context.Context, id, version string, data []byte, expires time.Time) (current []byte, found bool, err error)
}
