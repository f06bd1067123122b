package session

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"math"
	mathrand "math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionkit/session/internal/memshare"
	"github.com/sessionkit/session/internal/pause"
	"github.com/sessionkit/session/internal/shortid"

	"github.com/sessionkit/session/memstore"
)

// maxMergeAttempts bounds the re-read and re-apply loop of a save that keeps
// meeting concurrent writes. Every round lets at least one writer through,
// so this many parallel writers on one session always succeed.
const maxMergeAttempts = 128

// maxFreshIDs bounds the new ids a session that has never been stored takes
// when the store already holds another session under its id (a GenerateID
// that repeats ids, see freshID). The default generator never repeats; a
// custom one that does so this many times in a row will not stop.
const maxFreshIDs = 3

// Manager gives requests their sessions. Create one with New, and wrap your
// handler with Handler. A Manager is safe for concurrent use.
type Manager struct {
	opts      Options
	store     Store
	versioned VersionedStore // nil if the store cannot compare-and-swap
	toucher   Toucher        // nil if the store cannot touch
	// getToucher is nil if the store cannot read and touch in one round trip.
	getToucher GetToucher
	// durableGetTouch: the store's GetAndTouch is a durable write
	// (DurableGetToucher), so no touch rides on the load.
	durableGetTouch bool
	// versionToucher is nil unless the store touches more cheaply with the
	// version and bytes the load read (VersionToucher).
	versionToucher VersionToucher
	users          UserIndex        // nil if the store keeps no user index (users.go)
	unindexer      UserIndexRemover // nil unless the store removes entries and compares and swaps (users.go)
	inMemory       bool             // the store is a memstore, which never waits (withStoreTimeout)
	reuseEncoded   bool             // saves encode into encodeBuffers: a memstore (which copies) with JSONCodec (whose bytes are the manager's)
	deadlines      *storeDeadlines
	codec          Codec
	valueDepth     int // where the codec's loads read a session's values (documentValueDepth for JSONCodec), as deep as a save may nest them
	signer         *signer
	verified       *verifiedCache
	logger         *slog.Logger
	now            func() time.Time
	// warnedLateLoad: the warning about a session loaded after headers
	// that carry no Vary: Cookie was logged (middleware.go, once).
	warnedLateLoad atomic.Bool
	// shared reads a memstore's sessions without copying them, with
	// JSONCodec, which only reads the bytes it decodes (a custom codec
	// might decrypt them in place); nil otherwise.
	shared memshare.Reader
	// beforeRenewLock, if set (tests), runs in Session.RenewID just before
	// it locks the session: a commit of another goroutine of the request
	// (its first write) can get in there.
	beforeRenewLock func()
}

// New validates opts and returns a Manager. It fails on a missing or empty
// secret, an unknown Unset, Secure or SameSite mode, SameSite None or Auto
// or Partitioned with SecureNever (browsers drop such a cookie), a cookie
// name that is not a token or is too long for any cookie, a __Secure- or
// __Host- name the cookie's attributes break, a cookie path or domain that
// browsers ignore or that never matches (see CookieOptions), a Priority
// other than low, medium or high (in any letter case), a negative
// TouchAfter, IdleTimeout, AbsoluteTimeout, Cookie.MaxAge or
// MaxSessionsPerUser (a negative StoreTimeout or MaxDocumentBytes turns that
// limit off), a TouchAfter not shorter than a non-zero IdleTimeout, and a
// MaxSessionsPerUser on a store that is no UserIndex (an
// error wrapping ErrNotSupported), an invalid TrustedProxies prefix,
// TrustedProxies together with TrustProxy, a negative TrustedProxyHops, and
// TrustedProxyHops together with TrustProxy or TrustedProxies. The error
// says which. A short secret
// that does not look generated is accepted with a warning in the log, and
// so is a Cookie.MaxAge under a second (a time.Duration: see CookieOptions).
func New(opts Options) (*Manager, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if opts.Store == nil {
		opts.Store = memstore.New()
	}
	m := &Manager{
		opts:     opts,
		store:    opts.Store,
		codec:    opts.Codec,
		signer:   newSigner(opts.Secrets),
		verified: newVerifiedCache(),
		logger:   opts.Logger,
		now:      time.Now,
	}
	m.valueDepth = customValueDepth
	if _, ok := m.codec.(JSONCodec); ok {
		m.valueDepth = documentValueDepth
	}
	m.versioned, _ = opts.Store.(VersionedStore)
	m.toucher, _ = opts.Store.(Toucher)
	_, m.inMemory = opts.Store.(*memstore.Store)
	// A custom codec may keep the bytes it returns; JSONCodec's are the
	// manager's own.
	_, jsonCodec := m.codec.(JSONCodec)
	m.reuseEncoded = m.inMemory && jsonCodec
	if jsonCodec {
		m.shared = memshare.Of(opts.Store)
	}
	m.deadlines = newStoreDeadlines(opts.StoreTimeout)
	m.getToucher, _ = opts.Store.(GetToucher)
	_, m.durableGetTouch = opts.Store.(DurableGetToucher)
	m.versionToucher, _ = opts.Store.(VersionToucher)
	m.users, _ = opts.Store.(UserIndex)
	if m.versioned != nil {
		m.unindexer, _ = opts.Store.(UserIndexRemover)
	}
	if opts.MaxSessionsPerUser > 0 && m.users == nil {
		return nil, fmt.Errorf("%w: MaxSessionsPerUser needs a store that keeps a user index (session.UserIndex), %T does not: %w", errOptions, opts.Store, ErrNotSupported)
	}
	return m, nil
}

// Store returns the manager's store.
func (m *Manager) Store() Store { return m.store }

// defaultIDLen is the length of the ids newID makes without GenerateID:
// 24 bytes, base64url without padding.
const defaultIDLen = 32

// newID returns a fresh session id.
func (m *Manager) newID(r *http.Request) (string, error) {
	if m.opts.GenerateID != nil {
		id := m.opts.GenerateID(r)
		if id == "" {
			return "", errors.New("session: GenerateID returned an empty id")
		}
		if err := idCookieError(m.opts.Name, id); err != nil {
			return "", fmt.Errorf("session: GenerateID returned an id that cannot make a session cookie: %w", err)
		}
		return id, nil
	}
	var b [24]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// initNew makes s a brand-new session under id, as express's generate does.
func (m *Manager) initNew(s *Session, id string) {
	now := m.now()
	s.sessionState = newState(id, now)
	s.cookie = m.newCookie(now)
}

// newCookie is the cookie of a session made at now, from the options.
func (m *Manager) newCookie(now time.Time) cookieState {
	if m.opts.Cookie.MaxAge <= 0 {
		return cookieState{} // a browser-session cookie
	}
	return cookieState{expires: now.Add(m.opts.Cookie.MaxAge), originalMaxAge: m.opts.Cookie.MaxAge}
}

// loadedDocument is a stored session as a load decodes it: the document,
// with what its cookie points to and its values apart, so that none of it
// needs an allocation of its own.
type loadedDocument struct {
	Document // its cookie's pointer fields unset: see cookie
	cookie   cookieValues
	vals     values
	// spare, if not empty, is where the default JSONCodec puts vals' list
	// when the values fit: a load's is the Session's valueStore.
	spare []keyed[slot]
}

// initLoaded makes s the session loaded from doc, as express's inflate does.
func (m *Manager) initLoaded(s *Session, id string, doc *loadedDocument, ver string, data []byte) {
	s.sessionState = loadedState(id, doc.Created, ver, m.versioned != nil, m.opts.Resave)
	if m.versionToucher != nil {
		s.loadedData = data // for the end-of-request touch
	}
	if s.created.IsZero() {
		// Written by an app that does not record it (express): the absolute
		// timeout counts from now, and this request's save records it. The
		// store does not hold exactly this session then, so it is saved even
		// if nothing else changes: counted afresh from every load, the
		// timeout would never end a session that is only read.
		s.created = m.now()
		if m.opts.AbsoluteTimeout > 0 {
			s.drop(markClean)
		}
	}
	s.values = doc.vals
	s.storedUser = s.userLocked()
	s.cookie = storedCookie(&doc.cookie)
	s.loadedExpires = s.cookie.expires
}

// storedCookie is the cookie a loaded document records.
func storedCookie(cv *cookieValues) cookieState {
	if !cv.hasExpires {
		return cookieState{} // a browser-session cookie
	}
	c := cookieState{expires: cv.expires}
	if cv.hasMaxAge {
		c.originalMaxAge = millisDuration(cv.maxAge)
	}
	return c
}

// millisDuration is ms milliseconds as a Duration, saturated at the longest
// (about 292 years) and the shortest: an Express app's "never expire"
// maxAge (9999999999999 ms is 317 years) must not wrap around to a
// negative lifetime, which the next save would write back.
func millisDuration(ms int64) time.Duration {
	const limit = int64(math.MaxInt64) / int64(time.Millisecond)
	switch {
	case ms > limit:
		return math.MaxInt64
	case ms < -limit:
		return math.MinInt64
	}
	return time.Duration(ms) * time.Millisecond
}

// read loads and decodes a session. A corrupt document is logged and
// reported as ErrNotFound, as is a session past its AbsoluteTimeout. A
// non-nil lt carries a store touch on the read (GetToucher, see loadtouch.go).
func (m *Manager) read(ctx context.Context, id string, lt *loadTouch, doc *loadedDocument) (string, []byte, error) {
	var (
		data  []byte
		ver   string
		found bool
		err   error
	)
	switch {
	case lt != nil && m.shared != nil:
		data, ver, found, err = m.shared.GetAndTouchShared(ctx, id, lt.expires)
	case lt != nil:
		data, ver, found, err = m.getToucher.GetAndTouch(ctx, id, lt.expires)
	case m.shared != nil:
		data, ver, found, err = m.shared.GetVersionShared(ctx, id)
	case m.versioned != nil:
		data, ver, found, err = m.versioned.GetVersion(ctx, id)
	default:
		data, found, err = m.store.Get(ctx, id)
	}
	if err != nil {
		return "", nil, err
	}
	if !found {
		return "", nil, ErrNotFound
	}
	return ver, data, m.decode(ctx, id, data, doc)
}

// decode decodes stored bytes. A corrupt document is logged and reported as
// ErrNotFound, as is a session past its AbsoluteTimeout.
func (m *Manager) decode(ctx context.Context, id string, data []byte, doc *loadedDocument) error {
	if err := m.decodeReadable(ctx, id, data, doc); err != nil {
		return err
	}
	if m.pastAbsoluteTimeout(doc) {
		return errPastAbsolute
	}
	return nil
}

// errPastAbsolute is decode's error for a session past its AbsoluteTimeout.
var errPastAbsolute = fmt.Errorf("%w (past its absolute timeout)", ErrNotFound)

// decodeReadable is decode without the AbsoluteTimeout: a document over
// MaxDocumentBytes, or corrupt (for this manager's Codec), is logged and
// reported as ErrNotFound.
func (m *Manager) decodeReadable(ctx context.Context, id string, data []byte, doc *loadedDocument) error {
	if limit := m.opts.MaxDocumentBytes; limit > 0 && len(data) > limit {
		m.logger.WarnContext(ctx, "session: ignoring a stored session over MaxDocumentBytes", "id", shortid.Of(id), "bytes", len(data), "limit", limit)
		return fmt.Errorf("%w (%d bytes, over MaxDocumentBytes)", ErrNotFound, len(data))
	}
	if err := m.decodeInto(data, doc); err != nil {
		m.logger.WarnContext(ctx, "session: ignoring corrupt stored session", "id", shortid.Of(id), "err", err)
		return fmt.Errorf("%w (corrupt: %w)", ErrNotFound, err)
	}
	return nil
}

// pastAbsoluteTimeout reports whether the session doc records a creation
// time longer than AbsoluteTimeout ago.
func (m *Manager) pastAbsoluteTimeout(doc *loadedDocument) bool {
	return m.opts.AbsoluteTimeout > 0 && !doc.Created.IsZero() && m.now().Sub(doc.Created) >= m.opts.AbsoluteTimeout
}

// decodeInto decodes data with the codec into doc. The default JSONCodec
// decodes into doc itself, which a load keeps on its stack, and the values
// straight into doc.vals; another codec's Document is copied, and its values
// sorted into doc.vals.
func (m *Manager) decodeInto(data []byte, doc *loadedDocument) error {
	if _, ok := m.codec.(JSONCodec); ok {
		doc.vals = values{}
		return decodeJSONDocumentSpare(data, &doc.Document, &doc.cookie, &doc.vals, doc.spare)
	}
	d, err := m.codec.Decode(data) // checkedCodec: a document, or an error
	if err != nil {
		return err
	}
	doc.Document = *d
	doc.cookie = cookieValuesOf(&d.Cookie)
	doc.vals = valuesOf(d.Values)
	return nil
}

// cookieValues holds what a stored document's cookie points to
// (Expires, OriginalMaxAge, Secure, Partitioned), kept apart from the
// Document so that both can live on the stack of a load or a save.
type cookieValues struct {
	expires                                          time.Time
	maxAge                                           int64
	secure, partitioned                              bool
	hasExpires, hasMaxAge, hasSecure, hasPartitioned bool
}

// cookieValuesOf returns what c's pointers point to.
func cookieValuesOf(c *DocumentCookie) cookieValues {
	var cv cookieValues
	if c.Expires != nil {
		cv.expires, cv.hasExpires = *c.Expires, true
	}
	if c.OriginalMaxAge != nil {
		cv.maxAge, cv.hasMaxAge = *c.OriginalMaxAge, true
	}
	if c.Secure != nil {
		cv.secure, cv.hasSecure = *c.Secure, true
	}
	if c.Partitioned != nil {
		cv.partitioned, cv.hasPartitioned = *c.Partitioned, true
	}
	return cv
}

// document fills doc with the stored document of s, and cv with what its
// cookie points to; the caller sets those pointers from cv.pointers. (Were
// document to take the addresses itself, doc and cv could not stay on the
// caller's stack.)
func (m *Manager) document(s *Session, doc *Document, cv *cookieValues) error {
	if err := s.values.encode(m.valueDepth); err != nil {
		return err
	}
	doc.Created = s.created
	c := &doc.Cookie
	*c = DocumentCookie{
		HTTPOnly: !m.opts.Cookie.DisableHTTPOnly,
		Path:     m.opts.Cookie.Path, Domain: m.opts.Cookie.Domain, Priority: m.opts.Cookie.Priority,
	}
	if !s.cookie.expires.IsZero() {
		// An original max age of 0 is one the stored document did not
		// give (null, or no key, beside an expiry): written as null, as
		// read. Express would take a 0 for a max age of 0 ms, and its next
		// touch would expire the session at once.
		cv.expires, cv.maxAge = s.cookie.expires, s.cookie.originalMaxAge.Milliseconds()
		cv.hasExpires, cv.hasMaxAge = true, s.cookie.originalMaxAge != 0
	}
	cv.partitioned, cv.hasPartitioned = true, m.opts.Cookie.Partitioned
	if m.opts.Cookie.Secure != SecureNever {
		cv.secure, cv.hasSecure = s.rs.secureCookie(), true
	}
	c.SameSite = s.rs.sameSite()
	return nil
}

// pointers returns what the cookie's Expires, OriginalMaxAge, Secure and
// Partitioned point to: cv's values, or nil.
func (cv *cookieValues) pointers() (expires *time.Time, maxAge *int64, secure, partitioned *bool) {
	if cv.hasExpires {
		expires = &cv.expires
	}
	if cv.hasMaxAge {
		maxAge = &cv.maxAge
	}
	if cv.hasSecure {
		secure = &cv.secure
	}
	if cv.hasPartitioned {
		partitioned = &cv.partitioned
	}
	return expires, maxAge, secure, partitioned
}

// storeExpiry is when the store may forget s: the cookie's expiry, capped by
// the idle and absolute timeouts. Zero means the store's default lifetime.
// Only the idle timeout counts from now: without one, it reads no clock.
func (m *Manager) storeExpiry(s *Session) time.Time {
	var now time.Time
	if m.opts.IdleTimeout > 0 {
		now = m.now()
	}
	return m.expiryAt(s.cookie.expires, s.created, now)
}

// expiryAt is storeExpiry at time now for a session created at created
// (zero: unknown) whose cookie expires at cookieExpires (zero: browser-session).
// It reads now only with an IdleTimeout.
func (m *Manager) expiryAt(cookieExpires, created, now time.Time) time.Time {
	exp := cookieExpires
	if m.opts.IdleTimeout > 0 {
		if idle := now.Add(m.opts.IdleTimeout); exp.IsZero() || idle.Before(exp) {
			exp = idle
		}
	}
	if m.opts.AbsoluteTimeout > 0 && !created.IsZero() {
		if abs := created.Add(m.opts.AbsoluteTimeout); exp.IsZero() || abs.Before(exp) {
			exp = abs
		}
	}
	return exp
}

// storedExpiryBound is the latest expiry that the store can hold a stored
// copy with cookie c to at time now (zero: the store's default lifetime,
// counted from a write no later than now): its cookie's expiry or, touched
// since it was written, now plus its max age, capped by the idle and
// absolute timeouts, as storeExpiry caps it.
func (m *Manager) storedExpiryBound(c cookieState, created, now time.Time) time.Time {
	exp := c.expires
	if c.originalMaxAge > 0 {
		if touched := now.Add(c.originalMaxAge); exp.IsZero() || touched.After(exp) {
			exp = touched
		}
	}
	return m.expiryAt(exp, created, now)
}

// indexExpiry is the expiry that the user index entry of s gets before a
// write of s, a stored session, that keeps it until exp: never earlier than
// the stored copy's, which stays if the write fails (the entry must
// outlive the session, or DestroyUserSessions misses it once the entry is
// pruned). The stored copy's is the expiry of the cookie the handler
// replaced (markCookieSet; storedExpiryBound), or the one the touch
// carried on the load set from the options, when it was not set right
// since (markStoreExpiryOff). A zero expiry, the store's default
// lifetime, is one the manager cannot compare: before the write the
// stored copy's wins (a zero one, counted from now, outlasts the stored
// copy's, counted from its write). A write that succeeds with an
// expiry other than the one recorded records its own (reindexShortened).
// s.mu is held.
func (m *Manager) indexExpiry(s *Session, exp time.Time) time.Time {
	if !s.has(markInStore) {
		return exp // nothing stored under the id: nothing to outlive
	}
	if s.has(markCookieSet) {
		exp = laterExpiry(exp, s.loadedExpires)
	}
	if s.has(markStoreExpiryOff) && !s.has(markStoreTouched) {
		exp = laterExpiry(exp, s.rs.loadTouched)
	}
	return exp
}

// indexBeforeWrite records the user index entry of s, a stored session,
// with idxExp (indexExpiry) before a write of s, unless the load recorded
// that very entry: the same user, the expiry its touch set, which is
// idxExp, and no write or re-merge since (markLoadIndexed). So a save of
// a session whose own expiry is shorter than Cookie.MaxAge, on a store
// that touches at load, makes one index write, after its write
// (reindexShortened), as a save of a session without that touch does.
// s.mu is held.
func (m *Manager) indexBeforeWrite(ctx context.Context, s *Session, idxExp time.Time) error {
	if s.has(markLoadIndexed) && s.userLocked() == s.storedUser && idxExp.Equal(s.rs.loadTouched) {
		return nil
	}
	return m.indexUser(ctx, s, idxExp)
}

// laterExpiry is the later of a write's expiry exp and the stored copy's,
// stored; where either is zero (the store's default lifetime), stored.
func laterExpiry(exp, stored time.Time) time.Time {
	if exp.IsZero() || stored.IsZero() || stored.After(exp) {
		return stored
	}
	return exp
}

// reindexShortened records, after a write of s that succeeded with expiry
// exp, the user index entry with exp, when the one recorded before the
// write was the stored copy's expiry (indexExpiry). A failure is logged:
// the entry then outlives the session, which UserSessions skips, unless
// exp was zero and the store's default lifetime outlasts the stored
// copy's expiry. s.mu is held.
func (m *Manager) reindexShortened(ctx context.Context, s *Session, exp time.Time) {
	if err := m.indexUser(ctx, s, exp); err != nil {
		m.logger.WarnContext(ctx, "session: could not record the shorter expiry of a saved session in its user's index; the entry keeps the earlier one", "id", shortid.Of(s.id), "err", err)
	}
}

// errGone reports a save skipped because another request destroyed or
// regenerated the session meanwhile.
var errGone = fmt.Errorf("session destroyed by another request, not written back: %w", ErrNotFound)

// errRenewFailed fails a save of changes after a RenewID that could not
// give the session a new id: written under the id the client came with,
// which an attacker may have planted, a login would log the attacker in.
// Flash messages are no login: a save of them alone (a "try again" on the
// page the failed login redirects to) is written (onlyFlashesChanged).
var errRenewFailed = errors.New("session: save: not written under the old id, which RenewID could not replace (GenerateID failed, its re-read of a session with a user failed, or the response headers had been sent)")

// unchangedLoaded reports whether s is the session the request loaded,
// under its id, with no change of the request's own (Set, Delete, the
// cookie, a login): what a save of it would write is what the store holds,
// but for a record it adds (the load time of a session that records no
// creation time, see initLoaded). s.mu is held.
func (s *Session) unchangedLoaded() bool {
	return s.phase == phaseLoaded && s.id == s.originalID && !s.has(markModified) && s.renewedFrom == nil
}

// onlyFlashesChanged reports whether the changes of s since its last save
// are Flash and Flashes calls alone: no key set or deleted otherwise, the
// flash key not set whole, and the cookie not changed. s.mu is held.
func (s *Session) onlyFlashesChanged() bool {
	if s.has(markCookieSet) {
		return false
	}
	for _, c := range s.changes {
		if c.v.flash == nil {
			return false
		}
	}
	return true
}

// persist writes s to the store. With a VersionedStore, a write that finds
// another request's write re-reads the session and re-applies only the keys
// this request changed, so neither request's change is lost; a session that
// is gone meanwhile is not written back (errGone); a session never stored
// whose create finds its id taken takes another id (freshID). A session
// never stored whose earlier create was answered with an error first
// re-reads its id: if that create is stored all the same, the write updates
// it and the session keeps its id (ownCreate). A stored session whose
// earlier write was answered with an error first re-reads itself too, and
// finding that write's bytes, its own, does not apply the changes that
// write carried again (reread). The write of the id a
// RenewID gave s ends the old id's stored session (finishRenew), and after
// a RenewID that could not give one, changes other than flash messages are
// not written (errRenewFailed). After a login that a newer login ended
// (markLoginLost), nothing is written: a change is errLoginEnded. s.mu is
// held.
func (m *Manager) persist(ctx context.Context, s *Session) error {
	if s.has(markLoginLost) {
		if !s.has(markModified) {
			return nil // nothing of the request's to store
		}
		return errLoginEnded
	}
	if s.has(markRenewFailed) && s.has(markModified) && !s.has(markClean) && !s.onlyFlashesChanged() {
		return errRenewFailed
	}
	if m.versioned == nil {
		data, err := m.encode(s, nil)
		if err != nil {
			return err
		}
		exp := m.storeExpiry(s)
		idxExp := m.indexExpiry(s, exp)
		if err := m.indexBeforeWrite(ctx, s, idxExp); err != nil { // index first: see users.go
			return err
		}
		if err := m.store.Set(ctx, s.id, data, exp); err != nil {
			return fmt.Errorf("session: save: %w", err)
		}
		if !idxExp.Equal(exp) {
			m.reindexShortened(ctx, s, exp)
		}
		return m.written(ctx, s, "")
	}
	renamed := 0 // fresh ids taken after a create found the id taken
	for attempt := 1; ; attempt++ {
		var (
			ver     string
			swapped bool
			err     error
		)
		if s.doubt != nil && !s.has(markInStore) {
			// An earlier create of s was answered with an error: settle
			// first whether it is stored (ownCreate), so that this write
			// updates it rather than send another create, which would
			// find the id taken and, if its reply were lost too, leave
			// bytes that are not what the store holds.
			if _, err := m.ownCreate(ctx, s); err != nil {
				return err
			}
		}
		if s.doubt != nil {
			// An earlier write of s was answered with an error: settle
			// first whether the store holds it (reread), so that this
			// write goes out from what the store holds, and its bytes,
			// should its reply be lost too, are the ones to look for.
			if err := m.remerge(ctx, s); err != nil {
				return err
			}
		}
		if s.has(markKnowVersion) {
			var buf *encodeBuffer
			if m.reuseEncoded {
				buf = encodeBuffers.Get().(*encodeBuffer)
			}
			data, eerr := m.encode(s, buf.bytes())
			if eerr != nil {
				return eerr
			}
			exp := m.storeExpiry(s)
			// The user index entry goes first (each attempt: a re-merge
			// may bring another request's user), see users.go; but the
			// create of an id no client holds yet comes before it, since
			// it may find the id another session's (freshID), whose
			// entry for the same user must keep that session's expiry.
			create := !s.has(markInStore) && s.id != s.rs.cookieID
			idxExp := exp
			if !create {
				idxExp = m.indexExpiry(s, exp)
				if err := m.indexBeforeWrite(ctx, s, idxExp); err != nil {
					return err
				}
			}
			ver, swapped, err = m.versioned.CompareAndSwap(ctx, s.id, s.version, data, exp)
			if swapped && !idxExp.Equal(exp) { // never for a create: its entry comes after it
				m.reindexShortened(ctx, s, exp)
			}
			switch {
			case err == nil:
			case !s.has(markInStore):
				s.lostCreate(data) // it may be stored all the same (ownCreate)
			default:
				s.lostUpdate(data) // it may be stored all the same (reread)
			}
			if swapped && create {
				if err := m.indexUser(ctx, s, exp); err != nil {
					if !m.dropCreated(ctx, s.id) {
						s.lostCreate(data) // still stored: the next save's own (ownCreate)
					}
					return err
				}
			}
			if err == nil {
				buf.release(data) // not kept (lostCreate, lostUpdate keep it)
			}
		}
		switch {
		case err != nil:
			return fmt.Errorf("session: save: %w", err)
		case swapped:
			return m.written(ctx, s, ver)
		case !s.has(markInStore):
			// The create-if-absent found another session under the id: a
			// session never stored is this request's alone, and must not
			// join one it did not load (remerge would). (Not its own
			// earlier create, whose reply was lost: the attempt settled
			// that before the create.)
			if err := m.freshID(ctx, s, &renamed); err != nil {
				return err
			}
			continue
		case attempt > maxMergeAttempts:
			return fmt.Errorf("session: save: gave up after %d concurrent writes: %w", maxMergeAttempts, ErrConflict)
		}
		if attempt > 2 {
			if err := backoff(ctx, attempt); err != nil {
				return fmt.Errorf("session: save: %w", err)
			}
		}
		if err := m.remerge(ctx, s); err != nil {
			return err
		}
	}
}

// written records that s was written, at version ver, and does what
// follows a write: the user index's changes of an unbinding and of a
// login under MaxSessionsPerUser (userSaved), then the end of the old id
// of a RenewID (finishRenew). A login whose trim ended its own session (a
// newer login ranked first) ends the old id all the same, as a login
// does, and then goes on with a session that is gone (loseLogin); it returns
// errLoginLost, which the callers of persist take for a save that
// succeeded and whose session is gone; if that end of the old id fails,
// the write is undone (finishRenew) and its next write ranks the login
// again. s.mu is held.
func (m *Manager) written(ctx context.Context, s *Session, ver string) error {
	s.saved(ver)
	err := m.userSaved(ctx, s) // an unbinding's old entry; MaxSessionsPerUser after a login
	if err != nil && err != errLoginLost {
		return err
	}
	if rerr := m.finishRenew(ctx, s); rerr != nil {
		if err == errLoginLost {
			// The write is undone, and s renewed again with the
			// login in it: its next write (the end of the request's,
			// after a Save by hand) is the login again, and ranks
			// it again, rather than store it past the newer login.
			s.set(markLogin)
		}
		return rerr
	}
	if err == errLoginLost {
		return m.loseLogin(ctx, s)
	}
	return nil
}

// finishRenew destroys, after s was written under the id RenewID gave it,
// the stored session of the old id (renewedFrom), and removes its user's
// index entry: only now, so that a write that fails leaves the client the
// session it had. When the destroy fails, the old id still works, and it
// is the client's: the write is undone (the session under the new id
// destroyed, so that no session that no client holds stays stored and
// indexed) and the error returned, so that no cookie for the new id goes
// out beside the old one; s is then renewed again, not stored, and a later
// save tries both again. An undo that fails is logged: that session
// expires on its own. A destroy answered with an error is first checked
// by a read of the old id: one the store applied all the same (a timeout
// after the delete went out) left the old id not working, and undoing the
// write would leave the client no session at all. One the read finds (or
// that the read cannot tell) is destroyed once more, and the write undone
// only if that fails too and a second read still finds the old id (or
// cannot tell): a store that answered with an error may still carry out
// the first delete after the read (PostgreSQL runs a DELETE whose client
// gave up at its deadline), which would then end the old id as well as
// the undone new one; a destroy that the store answers ends the old id
// for certain; and a second destroy whose answer was lost (Redis) ended
// it too. The first read, the second destroy, then the second read, each
// get half of what is left of the clean-up's deadline: one that got no
// answer in all of it would leave the undo a spent context, and the new
// id's session stored, and indexed, with no client holding it. s.mu is
// held.
func (m *Manager) finishRenew(ctx context.Context, s *Session) error {
	err := m.dropRenewedFrom(ctx, s, "renew id")
	if err == nil {
		return nil
	}
	cctx, cancel := m.cleanupContext(ctx)
	defer cancel()
	gone := func(ctx context.Context) bool { return m.renewedFromGone(ctx, s) }
	destroyed := func(ctx context.Context) bool { return m.dropRenewedFrom(ctx, s, "renew id") == nil }
	if onHalfLeft(cctx, gone) || onHalfLeft(cctx, destroyed) || onHalfLeft(cctx, gone) {
		return nil
	}
	if derr := s.dropStored(cctx, "renew id"); derr != nil {
		m.logger.WarnContext(cctx, "session: could not remove the session of a RenewID whose old id could not be destroyed; it expires on its own", "id", shortid.Of(s.id), "err", derr)
	}
	s.renewed(s.id, s.created)
	return err
}

// renewedFromGone reports whether the old id that RenewID moved s from
// (renewedFrom) is no longer stored, and if so removes its user's index
// entry and forgets it. A failed read reports false. s.mu is held.
func (m *Manager) renewedFromGone(ctx context.Context, s *Session) bool {
	old := s.renewedFrom
	if old == nil {
		return false
	}
	if _, found, err := m.store.Get(ctx, old.id); err != nil || found {
		return false
	}
	m.unindexUser(ctx, old.user, old.id)
	s.renewedFrom = nil
	return true
}

// onHalfLeft reports f's answer on ctx bounded to half of its time left
// (halfLeft).
func onHalfLeft(ctx context.Context, f func(context.Context) bool) bool {
	hctx, cancel := halfLeft(ctx)
	defer cancel()
	return f(hctx)
}

// halfLeft bounds ctx to half the time left until its deadline, if it has
// one, so that a store call on it leaves the other half to a call after
// it.
func halfLeft(ctx context.Context) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return ctx, noCancel
	}
	return context.WithTimeout(ctx, time.Until(deadline)/2)
}

// dropRenewedFrom destroys the stored session of the id that RenewID moved
// s from (renewedFrom), if it waits for that, and removes its user's index
// entry. A failed destroy is returned, and the old id still waits. s.mu is
// held.
func (m *Manager) dropRenewedFrom(ctx context.Context, s *Session, op string) error {
	old := s.renewedFrom
	if old == nil {
		return nil
	}
	if err := m.store.Destroy(ctx, old.id); err != nil {
		return fmt.Errorf("session: %s: delete the stored session of the old id: %w", op, err)
	}
	m.unindexUser(ctx, old.user, old.id)
	s.renewedFrom = nil
	return nil
}

// encodeBuffers are the buffers that saves to a memstore encode into, with
// JSONCodec (reuseEncoded): the store copies the bytes it is given, so that a save that keeps no
// reference to them (the write did not fail, see lostUpdate) hands its
// buffer to the next one.
var encodeBuffers = sync.Pool{New: func() any { return new(encodeBuffer) }}

// encodeBuffer is a buffer of encodeBuffers.
type encodeBuffer struct{ b []byte }

// maxPooledEncodeBuffer is the largest buffer that goes back to
// encodeBuffers: one of an unusually large session is left to the garbage
// collector rather than kept for every later save.
const maxPooledEncodeBuffer = 16 << 10

// bytes returns the buffer's bytes, nil for a nil buffer.
func (b *encodeBuffer) bytes() []byte {
	if b == nil {
		return nil
	}
	return b.b
}

// release puts b back into encodeBuffers with data, what was encoded into
// it (in it, or in a larger slice that replaced it), which nothing may
// reference any more. A nil b does nothing.
func (b *encodeBuffer) release(data []byte) {
	if b == nil || cap(data) > maxPooledEncodeBuffer {
		return
	}
	b.b = data[:0]
	encodeBuffers.Put(b)
}

// encode makes the stored form of s, within MaxDocumentBytes. A JSONCodec
// document is written into dst when it fits there (encodeJSONDocument).
func (m *Manager) encode(s *Session, dst []byte) ([]byte, error) {
	var data []byte
	if _, ok := m.codec.(JSONCodec); ok {
		var (
			doc Document // on the stack, as cv
			cv  cookieValues
		)
		if err := m.document(s, &doc, &cv); err != nil {
			return nil, err
		}
		// Assigned to doc itself, not through a pointer, which would send
		// doc and cv to the heap.
		doc.Cookie.Expires, doc.Cookie.OriginalMaxAge, doc.Cookie.Secure, doc.Cookie.Partitioned = cv.pointers()
		data = encodeJSONDocument(&doc, &s.values, dst) // its values are valid JSON already
	} else {
		sd := new(struct { // a custom codec may keep what it is given
			Document
			cookieValues
		})
		if err := m.document(s, &sd.Document, &sd.cookieValues); err != nil {
			return nil, err
		}
		sd.Values = s.values.rawMap()
		sd.Cookie.Expires, sd.Cookie.OriginalMaxAge, sd.Cookie.Secure, sd.Cookie.Partitioned = sd.pointers()
		var err error
		if data, err = m.codec.Encode(&sd.Document); err != nil {
			return nil, err
		}
	}
	if limit := m.opts.MaxDocumentBytes; limit > 0 && len(data) > limit {
		return nil, fmt.Errorf("session: save: %d bytes, over MaxDocumentBytes (%d): %w", len(data), limit, ErrTooLarge)
	}
	return data, nil
}

// backoff sleeps a short random time that grows with attempt, so that
// writers colliding on one session spread out instead of colliding again.
func backoff(ctx context.Context, attempt int) error {
	limit := time.Duration(min(attempt, 20)) * 250 * time.Microsecond
	return pause.For(ctx, time.Duration(mathrand.Int64N(int64(limit))))
}

// dropCreated destroys the session that a create just stored under id,
// whose user's index entry could not be recorded: no client has its id
// yet, and kept, it would be a session of the user that DestroyUserSessions
// cannot find. A failed destroy is logged, and dropCreated reports false:
// the session, which no client can present, expires on its own unless a
// later save of the request finds it its own (ownCreate) and keeps it,
// indexed, rather than leave it stored (its entry may have been recorded
// all the same) beside a fresh id's, or a Destroy, Regenerate or RenewID
// of the request destroys it and removes that entry (dropLostCreate). As
// for dropLogin, a spent context gets a StoreTimeout of its own
// (cleanupContext).
func (m *Manager) dropCreated(ctx context.Context, id string) bool {
	ctx, cancel := m.cleanupContext(ctx)
	defer cancel()
	if err := m.store.Destroy(ctx, id); err != nil {
		m.logger.WarnContext(ctx, "session: could not remove a new session whose user index entry could not be recorded; it expires on its own", "id", shortid.Of(id), "err", err)
		return false
	}
	return true
}

// ownCreate reports whether what is stored under the id of s, a session
// never stored, is an earlier create of s itself: the bytes of one that the
// store answered with an error (s.doubt) but applied, as a
// timeout after the write went out does, when the handler's Session.Save is
// followed by another or by the end of the request. A save asks before it
// writes. Then s is stored, at the version read, and the save's
// compare-and-swap writes over it: no other session's bytes are these, and
// the id stays the session's (taking a fresh one would leave the first
// write stored, with the user's index entry, reachable by no one). Asked
// after a create instead, when that create found the id taken, a second
// lost reply in a row would have replaced the kept bytes with its own,
// which the store never held: the first write then read as another
// session's. Bytes not found, or other bytes, are no create of s: the save
// creates, and a create that finds the id taken takes a fresh id (freshID);
// so does a store that gives back other bytes than it was given (a
// document re-encoded). A re-read that fails fails the save and keeps the
// bytes, for the next save. s.mu is held.
func (m *Manager) ownCreate(ctx context.Context, s *Session) (bool, error) {
	ver, own, err := m.lostCreateStored(ctx, s)
	if err != nil {
		return false, fmt.Errorf("session: save: %w", err)
	}
	if own {
		s.version = ver
		s.set(markInStore | markKnowVersion)
	}
	return own, nil
}

// lostCreateStored reports whether the store holds under the id of s, a
// session never stored, exactly the bytes of a create of s that the store
// answered with an error (s.doubt), and at which version. Once the
// store has answered, the bytes are forgotten: they are stored, and s is
// to be stored or destroyed there, or they are not, and a later create
// sends others. A re-read that fails keeps them: the store may still hold
// them. Without such bytes it reads nothing. s.mu is held.
func (m *Manager) lostCreateStored(ctx context.Context, s *Session) (ver string, own bool, err error) {
	d := s.doubt
	if d == nil {
		return "", false, nil
	}
	data, ver, found, err := m.versioned.GetVersion(ctx, s.id)
	if err != nil {
		// d stays: the next save may still find its own create.
		return "", false, fmt.Errorf("re-read after a create whose reply was lost: %w", err)
	}
	s.doubt = nil
	return ver, found && bytes.Equal(data, d.sent), nil
}

// dropLostCreate destroys what a create of s, a session never stored,
// stored all the same when the store answered it with an error (a timeout
// after the write went out): Destroy, Regenerate, RenewID and Unset with
// UnsetDestroy end the session, and no client holds its id (its cookie goes out only after a
// save that succeeds), so kept, those bytes would stay stored, reachable
// by no one, until they expire, and listed by UserSessions and counted by
// MaxSessionsPerUser if their user's index entry was recorded (an entry
// that failed but was written, see dropCreated). Only bytes that are
// exactly the ones the create sent are destroyed: other bytes under the
// id are another session's (a GenerateID that repeats ids) and stay. The
// user of the bytes sent loses its index entry for the id. A re-read or
// destroy that fails is returned, and s keeps the bytes, as it was. s.mu
// is held.
func (m *Manager) dropLostCreate(ctx context.Context, s *Session, op string) error {
	d := s.doubt
	_, own, err := m.lostCreateStored(ctx, s)
	if err != nil {
		return fmt.Errorf("session: %s: %w", op, err)
	}
	if !own {
		return nil
	}
	if err := m.store.Destroy(ctx, s.id); err != nil {
		s.doubt = d // still stored: for the next drop or save
		return fmt.Errorf("session: %s: delete what a create whose reply was lost stored: %w", op, err)
	}
	m.unindexUser(ctx, d.user, s.id)
	return nil
}

// freshID gives s, a session never stored whose create found another
// session stored under its id (GenerateID repeated an id), a new id from
// the generator. The session's cookie has not gone out: a new id's cookie
// goes out only after its save, so the client never learns the taken id.
// The save fails instead, wrapping ErrConflict, once s has taken
// maxFreshIDs, or when the taken id is the one the request's cookie
// carries: the client holds that id already, and the end of the request
// decided on its cookie for it. renamed counts the ids taken. s.mu is held.
func (m *Manager) freshID(ctx context.Context, s *Session, renamed *int) error {
	taken := s.id
	switch {
	case taken == s.rs.cookieID:
		m.logger.ErrorContext(ctx, "session: not saved: GenerateID gave the new session the id of the request's cookie, and another session is stored under it", "id", shortid.Of(taken))
		return fmt.Errorf("session: save: GenerateID gave the new session the id of the request's cookie, which another session is stored under: %w", ErrConflict)
	case *renamed >= maxFreshIDs:
		m.logger.ErrorContext(ctx, "session: not saved: GenerateID repeats ids; another session is stored under each id it gave the new session", "id", shortid.Of(taken), "ids", *renamed+1)
		return fmt.Errorf("session: save: another session is stored under each of the %d ids GenerateID gave the new session (it repeats ids): %w", *renamed+1, ErrConflict)
	}
	id, err := m.newID(&s.rs.r)
	if err != nil {
		return fmt.Errorf("session: save: %w", err)
	}
	m.logger.WarnContext(ctx, "session: GenerateID repeated the id of another stored session; the new session takes another id", "id", shortid.Of(taken))
	*renamed++
	if s.originalID == taken {
		s.originalID = id // a new session: still unmodified by its id alone
	}
	s.id = id
	return nil
}

// remerge re-reads s, a session stored before (markInStore), from the store
// and re-applies this request's changes. A session never stored does not
// come here: its failed create is a taken id (freshID). An index entry
// that the failed attempt recorded for a user the session no longer has
// is removed (unindexRebound).
func (m *Manager) remerge(ctx context.Context, s *Session) error {
	var doc loadedDocument
	ver, data, err := m.read(ctx, s.id, nil, &doc)
	switch {
	case errors.Is(err, ErrNotFound):
		return errGone
	case err != nil:
		return fmt.Errorf("session: save: re-read after a concurrent write: %w", err)
	}
	indexed := s.userLocked() // whose entry the failed attempt recorded
	lost := s.doubt != nil    // an earlier Save's: reread sees to its entry
	if err := m.reread(ctx, s, &doc, ver, data, false); err != nil {
		return err
	}
	if !lost {
		m.unindexRebound(ctx, s, indexed)
	}
	return nil
}

// lostCreate records that a create of s, a session never stored, sent data
// and may be stored all the same (an error answer after the write went out,
// or a failure after it that could not delete it): the next save, Destroy,
// Regenerate or RenewID settles it (ownCreate, dropLostCreate). s.mu is
// held.
func (s *Session) lostCreate(data []byte) {
	s.doubt = &doubt{sent: data, user: s.userLocked()}
}

// lostUpdate records that a write of s, a stored session, sent data and
// was answered with an error, which the store may have applied all the
// same (a timeout after the write went out): the bytes, and which of the
// request's changes the write carried (see doubt). version stays the one
// the write swapped from; the bytes loaded at it are no longer known to be
// stored. A clean session's write carried no change: nothing to record,
// and its end of the request touches it, as before. s.mu is held.
func (s *Session) lostUpdate(data []byte) {
	if s.has(markClean) {
		return
	}
	d := &doubt{sent: data, user: s.userLocked(), cookie: s.has(markCookieSet)}
	for i := range s.changes {
		c := &s.changes[i].v
		c.sent = true
		if c.flash != nil {
			d.flashes = len(c.flash.ops)
		}
	}
	s.doubt, s.loadedData = d, nil
}

// reread makes s the session doc, as a re-read found it: data at version
// ver. With reload (Reload), the request's changes not saved are dropped;
// otherwise they are applied over doc (merge), as a save's re-merge and
// RenewID's re-read do.
//
// A write of s in doubt (s.doubt) is settled first. Data that are exactly
// the bytes it sent are that write, applied: s takes the store's version,
// and the changes that write carried are dropped, so that they are not
// applied twice (a flash message added twice, a value written again over
// a parallel request's later write of the key); only what changed since
// is applied over doc; and for Reload, it is a change saved, as after a
// Save whose reply came back. Other data are ambiguous: the write was not
// applied, or it was and another request wrote over it since (a parallel
// request that set the same key, say); the bytes cannot tell, and every
// change of the request is applied over doc, those the write carried too,
// as for a write that failed; so does a store that gives back other bytes
// than it was given (a document re-encoded). (Bytes that another request
// wrote exactly as the write sent them are taken for the write: the store
// holds what the request meant to write either way.) Either way, once s
// is what the store holds: a session that the write's login (SetUser)
// bound, since the copy it swapped from (former's), to the user it sent
// (or an earlier write's login, settled before this one went out) is
// that login's, and is written again (even after a Reload) so that
// Options.MaxSessionsPerUser trims the user's sessions, and that trim, if
// it fails, ends it (markLoginBound), as the write's own would have; and the
// index entries that write may have left for users the session no longer
// has go (unindexRebound): former's, which the write, applied, made stale
// without the removal that follows a write that succeeded (userSaved),
// and that of the user it sent, whose entry it recorded before it went
// out, and which a SetUser since, or another request's write, may have
// replaced. (Only a Reload finds a create in doubt, of a session never
// stored, and so without a former user.) s.mu is held.
func (m *Manager) reread(ctx context.Context, s *Session, doc *loadedDocument, ver string, data []byte, reload bool) error {
	d, former, login, bound := s.doubt, s.storedUser, s.has(markLogin), s.has(markLoginBound)
	own := d != nil && bytes.Equal(data, d.sent)
	if reload {
		before := s.sessionState
		m.initLoaded(s, s.id, doc, ver, data)
		s.reloaded(&before, own)
		if own && !before.has(markInStore) && d.user != "" && m.users != nil {
			// A create, whose user's index entry comes after its write
			// and so was never recorded: the end of the request saves
			// the session again, recording it first. (Without a user
			// there is no entry to record, and nothing to write.)
			s.drop(markClean)
		}
	} else {
		if d != nil {
			s.settle(own)
		}
		if err := m.merge(s, doc, ver); err != nil {
			return err
		}
	}
	if d == nil {
		return nil
	}
	if login && (former != s.storedUser || bound) && s.storedUser == d.user {
		// The write's login stored (or an earlier write's, settled
		// before this one went out: bound): the next write trims
		// (userSaved), and after a Reload, which dropped the login with
		// the changes, the end of the request makes that write if there
		// is a cap.
		s.set(markLogin | markLoginBound)
		if m.opts.MaxSessionsPerUser > 0 {
			s.drop(markClean)
		}
	}
	m.unindexRebound(ctx, s, former)
	if d.user != former {
		m.unindexRebound(ctx, s, d.user)
	}
	return nil
}

// settle forgets the write in doubt: own, the store holds it, and the
// changes it carried are dropped (a flash key's calls up to it, a cookie
// set before it); otherwise they stay, to be applied again. s.mu is held.
func (s *Session) settle(own bool) {
	d := s.doubt
	if own && d.cookie {
		s.drop(markCookieSet)
	}
	kept := s.changes[:0]
	for _, e := range s.changes {
		if f := e.v.flash; f != nil {
			if own {
				f.ops = f.ops[d.flashes:]
			}
			if len(f.ops) == 0 {
				continue
			}
		} else if own && e.v.sent {
			continue
		}
		e.v.sent = false
		kept = append(kept, e)
	}
	clear(s.changes[len(kept):])
	s.changes, s.doubt = kept, nil
}

// merge makes s the stored copy doc, at version ver, with this request's
// changes applied over it (remerge). It is reached through reread,
// which first settles a write in doubt (settle).
// s.mu is held.
func (m *Manager) merge(s *Session, doc *loadedDocument, ver string) error {
	if err := s.values.encode(m.valueDepth); err != nil {
		return err
	}
	merged := doc.vals
	s.storedUser = userOf(&merged) // the copy the next compare-and-swap replaces
	var flash *flashOps
	for _, c := range s.changes {
		switch {
		case c.v.flash != nil:
			flash = c.v.flash // replayed over the stored messages below
		case !c.v.set:
			merged.del(c.key)
		default:
			ours, _ := s.values.lookup(c.key)
			merged.list.put(c.key, ours)
		}
	}
	s.values = merged
	if flash != nil {
		s.replayFlashes(flash)
	}
	if !s.has(markCookieSet) {
		// The cookie's expiry as the other request left it (a "remember
		// me", say) stands; this request only moved it forward.
		s.cookie = storedCookie(&doc.cookie)
		if s.has(markCookieTouched) {
			s.touchCookie(m.now())
		}
	}
	if !doc.Created.IsZero() && (s.created.IsZero() || doc.Created.Before(s.created)) {
		s.created = doc.Created
	}
	if s.has(markCookieSet) {
		// The stored copy is now doc: its expiry, not the one loaded, is
		// what the next attempt's index entry must not fall short of.
		s.loadedExpires = m.storedExpiryBound(storedCookie(&doc.cookie), s.created, m.now())
	}
	s.version, s.loadedData = ver, nil
	s.set(markKnowVersion | markInStore)
	s.drop(markLoadIndexed) // the stored copy is doc now, perhaps another user's
	return nil
}
