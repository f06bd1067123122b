package session

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Session is one request's view of a session: its id, its keys and its
// cookie. Get one with From. Its methods are safe for concurrent use by the
// goroutines of one request, and safe on a nil *Session (they do nothing,
// and those that return an error, RenewID, Save and Destroy among them,
// return nil). From returns nil when the store failed (the ErrorHandler
// answers then) but also for a request outside Options.Cookie.Path or not
// under Manager.Handler, where a login's RenewID, SetUser and Save succeed
// and store nothing: check From's result where that matters.
type Session struct {
	mu sync.Mutex
	rs *requestState // and through it, rs.m, the manager
	// renewedFrom is the stored session of the request's cookie that
	// RenewID moved this one from, while it waits for the write of the new
	// id (finishRenew); nil otherwise. Outside sessionState: a Reload or
	// a failed login (dropLogin) does not forget it. A pointer, so that a
	// Session keeps its size class.
	renewedFrom *renewedFrom

	sessionState

	// Storage that the request's values point into, allocated with the
	// Session (once per request, by the load).
	valueStore  [1]keyed[slot]   // the loaded values, when they are one
	changeStore [1]keyed[change] // the first change since the last save
}

// renewedFrom is the old id of a RenewID and the user its stored copy is
// bound to (whose index entry goes with it). When the touch carried on the
// load set its stored expiry from the options (markStoreExpiryOff),
// expiryOff is set, with its cookie and creation time: a request that
// ends without writing the new id, and so leaves the client the old id,
// sets that expiry back to the session's own (restoreExpiry).
//
// kept is set when the login the RenewID was for failed at its trimming
// (dropLogin): the old id is the client's session again, and the request
// leaves it stored and its cookie as they are, unless it stores another
// session in its place (the empty one dropLogin leaves, once changed),
// whose write ends the old id as the new id's would have.
type renewedFrom struct {
	id, user  string
	expiryOff bool
	kept      bool
	cookie    cookieState
	created   time.Time
}

// renewWaits reports whether the stored session of the request's cookie
// waits for the write of the id RenewID gave s (renewedFrom), so that a
// request that ends without that write destroys it. s.mu is held.
func (s *Session) renewWaits() bool { return s.renewedFrom != nil && !s.renewedFrom.kept }

// cookieState is the per-session cookie expiry, as express's Cookie keeps it.
type cookieState struct {
	expires        time.Time     // zero: browser-session cookie
	originalMaxAge time.Duration // 0 with expires zero: browser session
}

// ID returns the session id ("" on a nil session).
func (s *Session) ID() string {
	if s == nil {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.id
}

// IsNew reports whether the session was created by this request rather than
// loaded from the store.
func (s *Session) IsNew() bool {
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.isNew
}

// Get returns the value of key, or nil. Values loaded from the store are
// decoded from JSON as encoding/json does into an any (numbers are float64);
// use GetAs for a typed value.
func (s *Session) Get(key string) any {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, _ := s.values.get(key)
	return v
}

// Has reports whether key is set.
func (s *Session) Has(key string) bool {
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.values.has(key)
}

// Keys returns the session's keys, sorted, without the reserved UserKey,
// ClientKey and LoginKey.
func (s *Session) Keys() []string {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.DeleteFunc(s.values.keys(), reserved)
}

// Set sets key to v, which must be encodable as JSON, its arrays and objects
// nested at most 9,999 levels deep (the stored document is the first of
// the 10,000 levels a load reads, as encoding/json; 10,000 with a custom
// Codec). v is encoded when the session is saved: one that does not encode,
// or nests deeper, or a key that is not UTF-8 (a JSON document cannot hold
// it), fails the save (Save, or the ErrorHandler at the end of
// the request) with an error naming key, and writes nothing: the session
// as stored before stays. Setting a key to the same comparable value it
// already has is not a modification. Mutating a value obtained from Get does
// not mark the session modified: Set it again. The keys "cookie",
// CreatedKey, UserKey, ClientKey and LoginKey are reserved and ignored
// (SetUser sets the user).
//
// Parallel requests' changes are merged key by key: those that set
// different keys all keep their change, but of those that set the same key
// the last save wins. A read-modify-write of one key (a cart kept as one
// map, updated by a page's parallel fetches) can therefore lose an update;
// keep what parallel requests change under keys of their own
// ("cart:"+item). Flash messages are merged message by message.
func (s *Session) Set(key string, v any) {
	if s == nil || reserved(key) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if sl, ok := s.values.lookup(key); ok && sl.same(v) {
		return
	}
	s.values.set(key, v)
	s.changed(key, true)
}

// Delete removes key. The reserved keys are ignored (SetUser("") unbinds the user).
func (s *Session) Delete(key string) {
	if s == nil || reserved(key) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.values.has(key) {
		return
	}
	s.values.del(key)
	s.changed(key, false)
}

// Clear removes every key but the user binding (see SetUser).
func (s *Session) Clear() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range s.values.keys() {
		if reserved(k) {
			continue
		}
		s.values.del(k)
		s.changed(k, false)
	}
}

func (s *Session) changed(key string, set bool) {
	s.putChange(key, change{set: set})
	s.sessionState.changed()
}

// putChange records c as the change of key since the last save. A first
// change goes to the Session's changeStore; a second key moves them to
// a slice with room for four, as sortedKeys.put would have made.
func (s *Session) putChange(key string, c change) {
	switch {
	case s.changes == nil:
		s.changes = s.changeStore[:0:1]
	case len(s.changes) == 1 && cap(s.changes) == 1 && s.changes[0].key != key:
		s.changes = append(make(sortedKeys[change], 0, 4), s.changes...)
	}
	s.changes.put(key, c)
}

// reserved reports the document keys that Set and Delete ignore; UserKey,
// ClientKey and LoginKey are set by SetUser (users.go).
func reserved(key string) bool {
	return key == cookieKey || key == CreatedKey || key == UserKey || key == ClientKey || key == LoginKey
}

// sameScalar reports whether a and b are equal values of a basic type, so
// that setting b over a changes nothing. JSON-decoded numbers are float64.
func sameScalar(a, b any) bool {
	switch b := b.(type) {
	case string:
		a, ok := a.(string)
		return ok && a == b
	case bool:
		a, ok := a.(bool)
		return ok && a == b
	case float64:
		a, ok := a.(float64)
		return ok && a == b
	case int:
		switch a := a.(type) {
		case int:
			return a == b
		case float64:
			// Only up to 2^53 does every int have its own float64: past it,
			// two ints round to one and a change would read as no change.
			return b >= -1<<53 && b <= 1<<53 && a == float64(b)
		}
	case nil:
		return a == nil
	}
	return false
}

// Regenerate replaces the session with a new, empty one under a new id, and
// destroys the old one in the store (express: regenerate). The new session's
// cookie is the options' again, so a "remember me" expiry set on the old one
// does not carry over. It is saved and its cookie sent at the end of the
// request. As in express, the new session stands even when the destroy
// fails, and the error is returned. The old one is destroyed even if it was
// never stored but a Session.Save of it failed with an error after the
// write may have gone out (a timeout): Regenerate re-reads its id and
// destroys what that save sent, if the store holds it. Unlike RenewID, it
// destroys the old session at once, before the new one is saved: it ends
// the session's data, as a logout does, and a logout must not leave the
// session working because the save of the empty one failed. That includes,
// after a RenewID of the same request, the session of the request's
// cookie, which RenewID left stored until the new id's write.
func (s *Session) Regenerate(ctx context.Context) error {
	return s.regenerate(ctx, false)
}

// RenewID moves the session's data and its cookie's expiry to a new id and
// destroys the old one: the old id stops working. Call it at login, to defeat
// session fixation. The session under the new id counts as created now
// (Options.AbsoluteTimeout counts from the RenewID).
//
// The stored session of the request's cookie is destroyed only once the
// session is stored under the new id (at the end of the request, or by
// Session.Save), so that a login whose save fails (the store down, a value
// that does not encode) leaves the client the session it had, as it was;
// the failed request sends no cookie. Its destroy then belongs to that
// save: a destroy that fails fails the save (Save returns the error, or
// the ErrorHandler answers), and the session written under the new id is
// removed again, so that the client keeps its working session and no
// cookie for the new id goes out while the old id still works (a destroy
// answered with an error that the store applied all the same, a timeout
// after the delete went out, does not fail the save: a read of the old id
// tells it is gone). A request that ends without writing the new id
// (Destroy, Unset) destroys the old id's session all the same. Until then
// another request can still use the old id, and what it writes there ends
// with it.
// Another stored copy (the session saved under a new id earlier in the
// request, and renewed again) is destroyed at once, as Regenerate
// destroys it, with its errors. A RenewID that fails because GenerateID
// does leaves the client's session as it was, and what the request
// changes is not written under the old id, which an attacker may have
// planted: that save fails (Save returns the error, or the ErrorHandler
// answers), unless a later RenewID, Regenerate or Destroy gives the
// session another id. Flash messages alone are written (a "try again" for
// the page the failed login redirects to). A RenewID once the response
// headers went out, when no cookie can carry a new id, fails the same way
// and changes nothing, rather than end the only session the client can
// reach.
//
// A stored session with a user (SetUser), or one that a Session.Save of
// the request whose reply was lost bound to a user, is re-read first,
// with a store that compares and swaps, and what is stored now moves, with this
// request's changes over it, as a save merges them: a user that another
// request unbound stays unbound. When another request ended the session
// since this one loaded it (a logout, Manager.DestroyUserSessions, a
// MaxSessionsPerUser trim), RenewID returns an error wrapping ErrNotFound
// and the session is as after Destroy: new and empty, without the user,
// with no cookie sent for it, not even an expired one (the request that
// ended it may be another tab's login, whose cookie the browser keeps). A
// re-read that fails otherwise (the store did not answer) fails RenewID as
// a failing GenerateID does, since whether another request ended the
// session cannot be told: the session keeps its id, and what the request
// changes, flash messages aside, is not written under it.
func (s *Session) RenewID(ctx context.Context) error {
	if s == nil {
		return nil
	}
	rs := s.rs
	if h := rs.m.beforeRenewLock; h != nil {
		h()
	}
	// Both locks, as Save takes them: the session's is taken before the
	// request's is released, so that no commit (the first write of
	// another goroutine of the request) sends the headers between this
	// check and the renew, which would then destroy the id the client
	// holds at the end of the request.
	rs.mu.Lock() // before s.mu, as the commits take them
	s.mu.Lock()
	headersOut := rs.wroteHeader
	rs.mu.Unlock()
	defer s.mu.Unlock()
	if headersOut {
		// No cookie can carry a new id: the client's session stays, and
		// the login's changes are not written under its id.
		s.set(markRenewFailed)
		return errRenewAfterHeaders
	}
	return s.regenerateLocked(ctx, true)
}

// errRenewAfterHeaders is RenewID's error once the response headers went out.
var errRenewAfterHeaders = errors.New("session: renew id: the response headers were sent, so no cookie can carry a new id: the session keeps its id, and what the request changes after this, flash messages aside, is not saved; call RenewID before the first write or Flush")

func (s *Session) regenerate(ctx context.Context, keep bool) error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.regenerateLocked(ctx, keep)
}

// regenerateLocked is regenerate once s.mu is held.
func (s *Session) regenerateLocked(ctx context.Context, keep bool) error {
	ctx, cancel := s.rs.m.withStoreTimeout(ctx)
	defer cancel()
	var readErr error
	if keep {
		readErr = s.rs.m.renewStored(ctx, s)
		if errors.Is(readErr, ErrNotFound) {
			// Ended by another request (a logout, DestroyUserSessions, a
			// MaxSessionsPerUser trim) since this one loaded it: its
			// values must not come back under a new id. No cookie goes out
			// for it, not even an expired one: the request that ended it
			// may be another tab's login, whose new cookie the browser
			// must keep (endedElsewhere, as a Save that finds it gone).
			if err := s.endedElsewhere(); err != nil {
				return errors.Join(readErr, err)
			}
			return readErr
		}
		if readErr != nil {
			// Whether another request ended the session cannot be told:
			// moved, the values this request loaded would bring it back
			// under the new id, logged in, after "log out everywhere"
			// returned. The client's session stays as it was, and the
			// login's changes are not written under its id.
			s.set(markRenewFailed)
			return readErr
		}
	}
	// The client's session stays until the new id is stored (finishRenew),
	// or the request ends without storing it; so does one that a Save of
	// this request stored under an id the client does not hold yet (a
	// RenewID, a Save, and another RenewID), whose cookie an error answer
	// then carries (storedCookie).
	wait := keep && s.has(markInStore) && s.renewedFrom == nil
	var err error
	if !keep {
		// A logout after a RenewID of the request: the client's session,
		// which waited for the new id's write, ends now too.
		err = s.rs.m.dropRenewedFrom(ctx, s, "regenerate")
	}
	if !wait {
		err = errors.Join(err, s.dropStored(ctx, "regenerate"))
	}
	err = errors.Join(readErr, err)
	id, idErr := s.rs.m.newID(&s.rs.r)
	if idErr != nil {
		if wait {
			// The client's session stays as it was, and what the request
			// changes (a login's SetUser) is not written under its id.
			s.set(markRenewFailed)
		}
		return idErr
	}
	if wait {
		s.renewedFrom = &renewedFrom{id: s.id, user: s.storedUser,
			expiryOff: s.has(markStoreExpiryOff) && !s.has(markStoreTouched), cookie: s.cookie, created: s.created}
	}
	now := s.rs.m.now()
	if !keep {
		s.values = values{}
		s.cookie = s.rs.m.newCookie(now) // express's regenerate makes a new cookie too
	}
	s.changes = make(sortedKeys[change], len(s.values.list))
	for i, e := range s.values.list {
		s.changes[i] = keyed[change]{key: e.key, v: change{set: true}}
	}
	s.renewed(id, now)
	return err // like express, the new session stands even if the destroy failed
}

// Destroy deletes the session from the store (express: destroy). The request
// goes on with a new, empty session that is only stored if modified, so a
// flash message after logout still works; otherwise the cookie is cleared
// (but not after a login of the request that a newer login ended: see
// Save).
//
// Check the error: when the store did not confirm the delete, the session
// stays as it was, stored and with its cookie, so that a logout page does
// not tell the user they are logged out while the session still works.
// After RenewID, the session of the old id, which the client still holds
// until the new one is stored, is destroyed first, with the same care. A
// session never stored whose Session.Save failed with an error after the
// write may have gone out (a timeout) is re-read under its id first, and
// what that save sent destroyed if the store holds it; when that re-read
// or destroy fails, the session stays as it was too (saved, then, at the
// end of the request as any other).
func (s *Session) Destroy(ctx context.Context) error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ctx, cancel := s.rs.m.withStoreTimeout(ctx)
	defer cancel()
	if err := s.rs.m.dropRenewedFrom(ctx, s, "destroy"); err != nil {
		return err
	}
	if err := s.dropStored(ctx, "destroy"); err != nil {
		return err
	}
	return s.replaceWithNew()
}

// replaceWithNew makes s the new, empty session that follows a destroy,
// under a fresh id: stored only if modified, its cookie cleared otherwise,
// unless a login of the request was ended by a newer login, whose cookie
// the client may hold (markClientGone, which it keeps). s.mu is held.
func (s *Session) replaceWithNew() error {
	id, err := s.rs.m.newID(&s.rs.r)
	if err != nil {
		return err
	}
	gone := s.marks & markClientGone
	s.rs.m.initNew(s, id)
	s.phase = phaseDestroyed
	s.set(gone)
	return nil
}

// dropStored deletes the stored copy of the session, if it has one: for a
// session never stored, what a create whose reply was lost may have stored
// all the same (dropLostCreate). s.mu is held.
func (s *Session) dropStored(ctx context.Context, op string) error {
	if !s.has(markInStore) {
		return s.rs.m.dropLostCreate(ctx, s, op)
	}
	if err := s.rs.m.store.Destroy(ctx, s.id); err != nil {
		return fmt.Errorf("session: %s: delete the stored session: %w", op, err)
	}
	s.rs.m.unindexUser(ctx, s.storedUser, s.id)
	return nil
}

// Reload replaces the session's data with what the store holds now
// (express: reload), dropping changes not saved. A change saved earlier in
// the request still counts, so a session this request created or renewed
// and saved keeps its cookie. A session missing from the store is an error
// wrapping ErrNotFound. After Unset it does nothing. After a Save that
// failed with an error, the user the session is not (the one that Save
// bound, or the one it bound the session from) loses the index entry for
// it that the Save may have left; and a Save whose reply was lost, whose
// bytes the store holds, counts as a change saved (for a new session with
// a user, on a store that keeps a user index, the end of the request saves
// it again, recording the user's index entry, which its create's reply did
// not let through). When that Save stored a
// login (SetUser) under Options.MaxSessionsPerUser, the end of the request
// saves the session again, so that it trims the user's sessions, as the
// Save would have, had its reply come back.
func (s *Session) Reload(ctx context.Context) error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.phase == phaseUnset {
		return nil
	}
	ctx, cancel := s.rs.m.withStoreTimeout(ctx)
	defer cancel()
	var doc loadedDocument
	ver, data, err := s.rs.m.read(ctx, s.id, nil, &doc)
	if err != nil {
		return fmt.Errorf("session: reload: %w", err)
	}
	return s.rs.m.reread(ctx, s, &doc, ver, data, true)
}

// Save writes the session to the store now (express: save), for long-lived
// connections such as server-sent events or websockets. The end of the
// request does not write it again unless it changes after this. A session
// that the end of the request would neither store nor send a cookie for (a
// new visitor's that nothing changed, without Options.SaveUninitialized;
// the empty one after Destroy, or after a Save that found the session
// ended) is not stored either: Save returns nil, and no cookie would name
// a stored copy (express stores it all the same). When
// another request ended the session since this one loaded it (a logout in
// another tab, another tab's login, whose RenewID ends the id this request
// holds, Manager.DestroyUserSessions), Save writes nothing and returns an
// error wrapping ErrNotFound, whether or not the session changed: a
// stream that saves, or calls Save now and then, learns that the user is
// logged out and should stop. The session is then as after Destroy, as
// after a RenewID that finds it ended: new and empty, without the user, so
// that User and Get no longer report the ended session; but no expired
// cookie goes out for it, since the client may hold the cookie of the
// request that ended it (the other tab's login). The end of the request
// stores nothing for it and sends no cookie, unless the request changes
// it, as a new session (once the headers went out, not even then). The
// end of the request's own save that finds the session ended (that of a
// changed session, at the handler's first write) leaves it so too, for a
// handler that goes on after that write. When the save of a login fails
// at Options.MaxSessionsPerUser's trimming, the login's session is
// destroyed and Save returns the error; the session is then as after
// Destroy (new, empty, without the user), and the end of the
// request neither saves the login again nor sends its cookie. After a
// RenewID, though, the client's session stays as it was, stored, and its
// cookie is not cleared, as when the login's write fails, unless the
// request changes the empty session, which is then stored in its place.
// A login that a newer login of the same user outranks (see
// Options.MaxSessionsPerUser) is ended by its own trim: Save returns nil,
// and the session is then new, empty and without the user, but gone, as
// one that another request destroyed: what the request changes after it
// (a value, a flash message, the cookie's expiry) is not stored, and no
// cookie goes out, nor an expired one, since the client may hold the
// newer login's (a double-clicked login form); a later Save with such a
// change returns an error wrapping ErrNotFound. Check User after Save to
// tell. A deliberate new start works as on any fresh session: a login
// again (SetUser), now the newest, or Regenerate, RenewID or Destroy,
// after which a change is stored and its cookie sent; but no expired
// cookie goes out, not even after Destroy: the client's session is gone
// already, and the cookie it would clear may be the newer login's.
//
// A session the client holds no cookie for (one this request created,
// renewed, or left after Destroy) is only saved while its cookie can still
// go out: once the response headers went out, Save returns an error and
// stores nothing, as the end of the request stores nothing then. A stream
// for a new visitor must call From, and set what it keeps, before its
// first write or Flush.
//
// A Save that fails with an error after its write may have gone out (a
// timeout) leaves the session to be saved again, by another Save or at the
// end of the request. With a store that compares and swaps, that save
// reads the session back first: when the store holds exactly the bytes
// the failed Save sent, it was applied, and only what changed since is
// written over it, so that a flash message is not added twice and a value
// set before the Save does not overwrite a parallel request's later write
// of it. Other bytes cannot tell whether the failed Save was applied (and
// overwritten since by another request) or not: every change of the
// request is then applied again, as after a write that failed, over what
// is stored, and a parallel request's write of the same key in between
// loses to it.
func (s *Session) Save(ctx context.Context) error {
	if s == nil {
		return nil
	}
	rs := s.rs
	rs.mu.Lock() // before s.mu, as the commits take them
	s.mu.Lock()
	noCookie := rs.noCookieFor(s.id)
	unkept := s.unkeptNew(rs.cookieID)
	rs.mu.Unlock()
	defer s.mu.Unlock()
	if s.phase == phaseUnset {
		return nil
	}
	if noCookie && !s.has(markLoginLost) { // persist refuses a lost login's change: errLoginEnded
		return errors.New("session: save: not saved: the session was created, renewed or destroyed after the response headers were sent, so the client has no cookie for it; call session.From, and create, renew or destroy the session, before the first write")
	}
	if unkept {
		return nil
	}
	ctx, cancel := s.rs.m.withStoreTimeout(ctx)
	defer cancel()
	// The request's renewal of the cookie, which its end would otherwise
	// make after this save, and then no touch of the store (README, #14).
	s.rs.m.touchOnce(s)
	switch err := s.rs.m.persist(ctx, s); {
	case err == errLoginLost:
		return nil // saved, then ended by a newer login's ranking (loseLogin)
	case errors.Is(err, errGone):
		return errors.Join(err, s.endedElsewhere())
	default:
		return err
	}
}

// unkeptNew reports whether s is a session, never stored and new to the
// client (whose cookie names cookieID), that the end of the request would
// not store (shouldSave, which then sends no cookie for it either): a new
// visitor's unchanged without SaveUninitialized, or the empty one that
// follows Destroy or a Save that found the session ended. Save stores
// nothing for it: no cookie would name the stored copy. rs.mu and s.mu are
// held.
func (s *Session) unkeptNew(cookieID string) bool {
	if s.has(markInStore) || s.doubt != nil || s.id == cookieID {
		return false
	}
	return !shouldSave(decisionInput{
		phase: s.phase, marks: s.marks, id: s.id, originalID: s.originalID, cookieID: cookieID,
		saveUninitialized: s.rs.m.opts.SaveUninitialized,
	})
}

// endedElsewhere makes s, which a save found gone from the store
// (another request ended it since this one loaded it: a logout, a login's
// RenewID, Manager.DestroyUserSessions, a MaxSessionsPerUser trim; or it
// expired), the new, empty session that follows a Destroy, as RenewID
// does on finding it gone, so that the request reads no user or values
// of it. Unlike after a Destroy, no expired cookie goes out for it
// (markClientGone): the client may hold the cookie of the request that
// ended it (another tab's login), which it would replace. A change after
// it is a new session's, stored and sent as after Destroy. An error of
// GenerateID leaves s as it was. s.mu is held.
func (s *Session) endedElsewhere() error {
	if err := s.replaceWithNew(); err != nil {
		return err
	}
	s.set(markClientGone)
	return nil
}

// Touch resets the cookie's expiry to its original max age from now
// (express: touch). The middleware does this once for every request that
// uses the session, before the response headers go out (or at an earlier
// Save), so a handler need not call it.
func (s *Session) Touch() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.touchCookie(s.rs.m.now())
}

func (s *Session) touchCookie(now time.Time) { s.cookie.touch(now) }

// touch resets c's expiry to its original max age from now.
func (c *cookieState) touch(now time.Time) {
	if c.originalMaxAge > 0 {
		c.expires = now.Add(c.originalMaxAge)
	}
}

// Unset drops the session from this request, as express's
// `req.session = null`: nothing is saved, From returns nil afterwards, and
// Options.Unset decides whether the stored session is kept or destroyed.
func (s *Session) Unset() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.phase = phaseUnset
}

// Cookie returns a handle on the session's own cookie expiry (express:
// req.session.cookie).
func (s *Session) Cookie() CookieExpiry { return CookieExpiry{s: s} }

// CookieExpiry is a session's own cookie expiry: it can differ from the
// options' MaxAge, say for a "remember me" login. A change to it is a
// modification: the session is saved and Set-Cookie is sent. (Named so as
// not to be taken for an http.Cookie.)
type CookieExpiry struct{ s *Session }

// MaxAge returns the time left until the cookie expires; 0 for a
// browser-session cookie.
func (c CookieExpiry) MaxAge() time.Duration {
	if c.s == nil {
		return 0
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if c.s.cookie.expires.IsZero() {
		return 0
	}
	return c.s.cookie.expires.Sub(c.s.rs.m.now())
}

// SetMaxAge makes the cookie expire d from now, and d its original max age
// from now on. d <= 0 makes it a browser-session cookie.
func (c CookieExpiry) SetMaxAge(d time.Duration) {
	if c.s == nil {
		return
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if d <= 0 {
		c.s.setCookie(cookieState{})
		return
	}
	c.s.setCookie(cookieState{expires: c.s.rs.m.now().Add(d), originalMaxAge: d})
}

// Expires returns when the cookie expires; zero for a browser-session cookie.
func (c CookieExpiry) Expires() time.Time {
	if c.s == nil {
		return time.Time{}
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	return c.s.cookie.expires
}

// SetExpires makes the cookie expire at t; the zero time makes it a
// browser-session cookie.
func (c CookieExpiry) SetExpires(t time.Time) {
	if c.s == nil {
		return
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if t.IsZero() {
		c.s.setCookie(cookieState{})
		return
	}
	c.s.setCookie(cookieState{expires: t, originalMaxAge: t.Sub(c.s.rs.m.now())})
}

// OriginalMaxAge returns the lifetime the cookie is renewed to on each
// request; 0 for a browser-session cookie.
func (c CookieExpiry) OriginalMaxAge() time.Duration {
	if c.s == nil {
		return 0
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	return c.s.cookie.originalMaxAge
}

func (s *Session) setCookie(c cookieState) {
	if c == s.cookie {
		return
	}
	if !s.has(markCookieSet) {
		// The cookie is still the stored copy's (or it, touched): keep the
		// latest expiry the store can hold it to, for the index entry of
		// the save (indexExpiry).
		s.loadedExpires = s.rs.m.storedExpiryBound(s.cookie, s.created, s.rs.m.now())
	}
	s.cookie = c
	s.set(markCookieSet | markCookieChanged)
	if s.doubt != nil {
		s.doubt.cookie = false // set again since a write whose reply was lost
	}
	s.sessionState.changed()
}
