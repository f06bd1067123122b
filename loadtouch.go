package session

import (
	"context"
	"time"
)

// GetToucher is a Store that can read a session and set its expiry (earlier
// or later, as Toucher.Touch) in one round trip (Redis: GETEX key PX ttl; PostgreSQL: UPDATE ... SET
// expire RETURNING; MongoDB: findAndModify; memstore: under one lock). The
// middleware uses it to carry the end-of-request touch of a read-only
// request on the load, so that such a request costs one round trip instead
// of two (a read, then a touch).
//
// A store that is also a VersionedStore returns the same version as
// GetVersion would; any other returns "". Like Toucher.Touch, GetAndTouch
// creates nothing when the session is missing (found == false), and an
// expires in the past deletes the session and reports it missing.
type GetToucher interface {
	// GetAndTouch is GetVersion (or Get) and Touch of the same session, in
	// one round trip.
	GetAndTouch(ctx context.Context, id string, expires time.Time) (data []byte, version string, found bool, err error)
}

// DurableGetToucher is a GetToucher whose GetAndTouch is a durable write
// even when only the expiry changes, as costly as a save, where its read is
// not: boltstore's is a bbolt transaction, committed and fsynced. The
// middleware carries no touch on the load of such a store (a request that
// then saves would write twice, and a session with a max age of its own
// would be touched twice), and uses GetAndTouch only for the end-of-request
// touch, in place of Touch, whose answer tells whether another request
// rebound the session or gave it another cookie meanwhile (see the notes on
// users, and Manager.touchStored).
type DurableGetToucher interface {
	GetToucher
	// GetAndTouchWrites marks the store as one; it is never called.
	GetAndTouchWrites()
}

// VersionToucher is a VersionedStore that touches a session more cheaply
// when it is given what the load read: the version and the bytes.
// memcachedstore is one: its Touch is gat, which answers the whole item so
// that an item written by an earlier version of the store (its exact expiry
// in the flags) can be rewritten, while TouchVersion knows the item's format
// from the version and is memcached's touch command alone (a legacy item is
// rewritten from the bytes, by a cas). The middleware uses it for the
// end-of-request touch of a read-only request, unless the store is also a
// VersionGetToucher, whose touch also tells what it touched.
//
// TouchVersion sets the expiry of the session stored as data at version to
// expires. If the session changed since (another request wrote it), it
// touches what is stored now, as Touch does, and never writes data over it;
// but an expires that ends the session (in the past, or too close for the
// store to keep it until then) ends only the copy at version: a session
// written since is left as it is, and reported found. Like Touch, it
// reports found == false and creates nothing when the session is missing.
type VersionToucher interface {
	// TouchVersion is Touch, given the version and bytes the load read.
	TouchVersion(ctx context.Context, id, version string, data []byte, expires time.Time) (found bool, err error)
}

// loadTouch is a store touch carried on a load: at the load's time now, the
// stored expiry was set to expires.
type loadTouch struct {
	now, expires time.Time
}

// touchAtLoad returns the touch that the load of a stored session can carry,
// computed from what is known before reading it: the options' cookie MaxAge
// and IdleTimeout. It returns ok == false when no touch should ride on the
// load: the store cannot, or its GetAndTouch is a durable write
// (DurableGetToucher); the end of the request would not simply touch the
// session (Resave saves it; with TouchAfter, a touch is either not due or
// rewrites the document, which only a save can do); or the touch must tell
// whether the session is still there when the response goes out (with
// Rolling, a read-only request sends the cookie only if no other request
// destroyed or renewed the session meanwhile, which a touch at the load
// cannot know).
func (m *Manager) touchAtLoad() (lt loadTouch, ok bool) {
	if m.getToucher == nil || m.toucher == nil || m.durableGetTouch || m.opts.Resave || m.opts.Rolling || m.opts.TouchAfter > 0 {
		return loadTouch{}, false
	}
	lt.now = m.now()
	var cookieExpires time.Time
	if m.opts.Cookie.MaxAge > 0 {
		cookieExpires = lt.now.Add(m.opts.Cookie.MaxAge)
	}
	lt.expires = m.expiryAt(cookieExpires, time.Time{}, lt.now)
	return lt, true
}

// touchedAtLoad reports whether the touch lt carried on the load of s set
// the stored expiry that the end of the request would set (storeExpiry after
// the cookie's touch), had it happened at the load's time. It does not when
// the document has a cookie of its own (a per-session max age, a "remember
// me") or the AbsoluteTimeout caps the expiry: the end of the request then
// touches the store again, as it would without GetToucher. An
// originalMaxAge less than a second short of Cookie.MaxAge counts as it:
// express-session stores the cookie's expiry less a later clock read, now
// and then a millisecond short, and a second round trip on every read of
// such a session would move its stored expiry by that millisecond.
func (m *Manager) touchedAtLoad(s *Session, lt *loadTouch) bool {
	cookieExpires := s.cookie.expires
	if age := s.cookie.originalMaxAge; age > 0 {
		if short := m.opts.Cookie.MaxAge - age; short >= 0 && short < time.Second {
			age = m.opts.Cookie.MaxAge
		}
		cookieExpires = lt.now.Add(age) // what touchCookie will make it
	}
	return m.expiryAt(cookieExpires, s.created, lt.now).Equal(lt.expires)
}
