package session

import (
	"context"
	"time"

	"github.com/sessionkit/session/internal/storecontract"
)

// ErrNotFound reports a session that is not in the store, or has expired.
// Stores return it (possibly wrapped) from Get, GetVersion and Touch.
var ErrNotFound = storecontract.ErrNotFound

// ErrConflict reports a CompareAndSwap that found a version other than the
// expected one: another request wrote, destroyed or created the session meanwhile.
var ErrConflict = storecontract.ErrConflict

// Store keeps encoded sessions: bytes under an id, until an expiry.
//
// A Store must never return a session whose expiry has passed. An expires of
// the zero time means "no expiry from the cookie" (a browser-session cookie):
// the store applies its own default lifetime. An expires in the past deletes.
// The manager owns ids, cookies, encoding and merging; a store only keeps bytes.
type Store interface {
	// Get returns the stored bytes, or an error wrapping ErrNotFound.
	Get(ctx context.Context, id string) ([]byte, error)
	// Set stores data under id until expires, replacing what was there.
	Set(ctx context.Context, id string, data []byte, expires time.Time) error
	// Destroy deletes the session. Deleting a missing session is not an error.
	Destroy(ctx context.Context, id string) error
}

// Toucher is a Store that can push a session's expiry forward without
// rewriting it. Touching a missing session returns ErrNotFound and creates nothing.
type Toucher interface {
	Touch(ctx context.Context, id string, expires time.Time) error
}

// Version identifies one stored state of a session, for CompareAndSwap.
// It is opaque to the manager: a counter, a hash of the value, a CAS token.
// The empty Version means "absent".
type Version = storecontract.Version

// VersionedStore is a Store that can compare-and-swap. The manager uses it to
// save without losing the changes of parallel requests and without writing
// back a session that was destroyed meanwhile.
type VersionedStore interface {
	Store
	// GetVersion is Get that also returns the current version.
	GetVersion(ctx context.Context, id string) ([]byte, Version, error)
	// CompareAndSwap stores data only if the session's current version is old.
	// With old == "" it stores only if no unexpired session with that id exists
	// (create-if-absent). Otherwise it returns an error wrapping ErrConflict,
	// also when the session was deleted or expired. On success it returns the new
	// version, or "" if the store cannot tell it without another round trip.
	CompareAndSwap(ctx context.Context, id string, old Version, data []byte, expires time.Time) (Version, error)
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
	PurgeExpired(ctx context.Context) (int, error)
}
