package session

import "time"

// phase is where a session stands in its life within one request. Only the
// sessionState methods below move it.
type phase uint8

const (
	phaseNew       phase = iota // made by this request: no usable cookie, or nothing stored under it
	phaseLoaded                 // read from the store under the request's cookie
	phaseRenewed                // given a new id by Regenerate or RenewID
	phaseDestroyed              // Destroy replaced it with a new, empty session
	phaseUnset                  // Unset: the request has no session any more
)

// mark is one of the facts about a session that do not follow from its phase.
type mark uint32

const (
	// express-session's change tracking. markModified is its isModified
	// without the id test (the values or the cookie changed since the load);
	// markSavedOnce is "savedHash is set" (saved, or loaded without Resave);
	// markClean is isSaved (the store holds exactly this session).
	markModified mark = 1 << iota
	markSavedOnce
	markClean
	// markInStore: a copy is stored under the id (loaded or saved).
	markInStore
	// markKnowVersion: version is the store's current version of the session
	// ("" for one never stored), so the next save can compare-and-swap.
	markKnowVersion
	// The end-of-request steps already taken: a request commits when the
	// headers go out and again when the handler returns, and each step
	// happens once.
	markCookieTouched
	markStoreTouched
	markUnsetDestroyed
	// markLogin: SetUser bound the session to a user; the save after it
	// enforces Options.MaxSessionsPerUser (users.go).
	markLogin
	// markCookieSet: the handler set the cookie's expiry since the last
	// save, so a re-merge keeps this request's cookie, not the stored one.
	markCookieSet
	// markStoreExpiryOff: the touch carried on the load set the stored
	// expiry from the options, not from the session's own cookie, and only
	// the end of the request's touch or save puts it right (loadtouch.go),
	// or restoreExpiry when the request ends without them.
	markStoreExpiryOff
	// markLoadIndexed: the load recorded the stored user's index entry with
	// its touch's expiry (requestState.loadTouched), and nothing has
	// written or re-read the session since: a save that would record the
	// same entry before its write need not (indexBeforeWrite).
	markLoadIndexed
	// markRenewFailed: a RenewID could not give the session a new id
	// (GenerateID failed, its re-read of a session with a user failed, or
	// the response headers had been sent): what the request changes, but for flash messages, is not written
	// under the old id, which the client came with and an attacker may
	// have planted (persist).
	markRenewFailed
	// markLoginBound: a re-read found the session bound, since the copy
	// that a write whose reply was lost (a doubt) swapped from, to the
	// user that write sent, with the login (markLogin) no successful write
	// has followed yet: the login made it the user's, as a write whose
	// reply came back would have, and a failed trim undoes it (userSaved).
	markLoginBound
	// markCookieChanged: the handler changed the cookie's expiry in this
	// request, saved since or not, so the cookie goes out even when it is
	// now a browser-session one (shouldSetCookie).
	markCookieChanged
	// markChangeSaved: a write of this request stored a change (the
	// session was modified when it was saved), so the session stays
	// modified across a Reload that takes back what came after that write
	// (reloaded): express's reload compares what it read with the
	// request's start.
	markChangeSaved
	// markLoginLost: the session is the empty one that follows a login
	// whose MaxSessionsPerUser trim ended its session, a newer login
	// ranking first (loseLogin): the session is gone, as one that another
	// request destroyed, and what the request changes is not stored, nor
	// does a cookie go out or get cleared (decide), since the client may
	// hold the newer login's (a double-clicked login form). A deliberate
	// new start drops it: a login (SetUser), a new id (Regenerate,
	// RenewID: renewed) or Destroy (a new state, which keeps
	// markClientGone: it clears no cookie either).
	markLoginLost
	// markLoginLostLogged: the log line that says a change after a lost
	// login (markLoginLost) is not stored was written, so that the second
	// commit of the request does not write it again.
	markLoginLostLogged
	// markClientGone: a login of this request was ended by a newer login
	// of the user (markLoginLost), and the client's session with it (the
	// login's RenewID, or its trim, ended the one its cookie names): the
	// browser may hold the newer login's cookie now (a double-clicked login
	// form), so no expired cookie goes out for the request
	// (shouldClearCookie), not even after a Destroy, or a login again whose
	// trim failed (dropLogin): replaceWithNew keeps it, as a Reload does. A
	// cookie for a session the request stores after it still goes out.
	// A save that found the session ended by another request (a logout,
	// another tab's login) sets it too (endedElsewhere): the browser may
	// hold the cookie that request sent.
	markClientGone
)

// doubt is a write of a session that the store answered with an error,
// and may have applied all the same (a timeout after the write went out).
// For a stored session (markInStore), its version is still the one the
// write swapped from, and the changes the write carried are marked sent;
// the next save, or a RenewID's or Reload's re-read, settles it first
// (Manager.reread). For a session never stored, it is a create: the next
// save first re-reads the id and, finding these bytes, its own, there,
// updates them (ownCreate); a Destroy, Regenerate or RenewID destroys them
// (dropLostCreate). Allocated only on such an answer, and forgotten once
// the session is written, moved or settled.
type doubt struct {
	sent []byte // what the write sent
	// user is the session's user in those bytes ("" for none): the one
	// whose index entry the write recorded (before it went out, or, for a
	// create, after it).
	user string
	// cookie: the write carried a cookie the handler set (markCookieSet),
	// and the handler has not set it again since.
	cookie bool
	// flashes is how many of the flash key's calls (flashOps) it carried.
	flashes int
}

// change is what the request did to one key since the last save: set it,
// or deleted it (set false). For the flash key, flash holds the Flash and
// Flashes calls that changed it, which a save that finds another request's
// write replays over the stored messages (merge), so that parallel
// requests' messages are all kept and a message is read once; nil when
// the key was set or deleted whole (Set, Delete, Clear), and then this
// request's value wins, as for any other key.
//
// sent marks a change that a write in doubt carried, and that the request
// has not made again since: dropped if the store holds that write,
// replayed otherwise (settle).
type change struct {
	set   bool
	sent  bool
	flash *flashOps
}

// sessionState is everything a Session resets on Destroy, Reload and load.
type sessionState struct {
	id         string
	originalID string // the id this request started with, or got from Destroy
	phase      phase
	isNew      bool // created by this request, not read from the store (IsNew)
	marks      mark
	version    string // the store's version of what was loaded or saved
	// storedUser is the user of the stored copy at version ("" for none, or
	// nothing stored): whose index entry a destroy or an unbinding save
	// removes (users.go).
	storedUser string

	values  values
	changes sortedKeys[change] // keys set or deleted since the last save
	created time.Time
	cookie  cookieState

	// loadedExpires is the cookie expiry as loaded, for TouchAfter. Once
	// the handler set the cookie (markCookieSet), it is instead the latest
	// expiry the store can hold the stored copy to (storedExpiryBound;
	// zero: the store's default lifetime), which a save's user index entry
	// must not fall short of until the write succeeds (indexExpiry). A
	// session with markCookieSet is modified, so it is saved, never only
	// touched, and TouchAfter does not read it then.
	loadedExpires time.Time
	// loadedData is, with a VersionToucher, the stored bytes at version,
	// as the load (or a Reload) read them, for the end of the request's
	// touch; after a touch carried on the load that recorded the user's
	// index entry (markLoadIndexed), the bytes it answered, by which the
	// end of the request's touch tells a copy written since; nil once the session is written, moved or re-merged (a save's
	// or RenewID's re-read), or a write of it is in doubt (a touch then
	// takes Toucher.Touch, touchStored).
	loadedData []byte
	// doubt is a write of the session whose reply was lost; nil for none.
	doubt *doubt
}

func (st *sessionState) has(m mark) bool { return st.marks&m != 0 }

func (st *sessionState) set(m mark)  { st.marks |= m }
func (st *sessionState) drop(m mark) { st.marks &^= m }

// newState is a brand-new session under id, as express's generate makes it.
func newState(id string, now time.Time) sessionState {
	return sessionState{id: id, originalID: id, phase: phaseNew, isNew: true, created: now, marks: markKnowVersion}
}

// loadedState is a session read from the store under id, at version ver
// (known only if the store compares and swaps). With resave, a loaded
// session counts as unsaved, so that it is written back.
func loadedState(id string, created time.Time, ver string, versioned, resave bool) sessionState {
	st := sessionState{id: id, originalID: id, phase: phaseLoaded, created: created, version: ver, marks: markInStore}
	if versioned {
		st.set(markKnowVersion)
	}
	if !resave {
		st.set(markSavedOnce | markClean)
	}
	return st
}

// reloaded keeps across a Reload what belongs to the request rather than to
// the stored copy, as express's reload keeps the id and hash it took at the
// start of the request: the id the request began with, whether it made the
// session, the end-of-request steps already taken, a RenewID that could
// not give a new id (nothing changed is written under the old one), that
// the stored expiry is still the one the touch carried on the load set
// from the options (a Reload reads, it does not touch: the end of the
// request, or the index entry of a save, must still put it right), and a
// change already saved, which keeps the session modified so that the
// cookie of a new or renewed session still goes out: saved by a write
// whose reply came back (markChangeSaved, changed again since or not), or
// by one in doubt that the store holds (own).
func (st *sessionState) reloaded(before *sessionState, own bool) {
	st.originalID, st.isNew = before.originalID, before.isNew
	st.marks |= before.marks & (markCookieTouched | markStoreTouched | markUnsetDestroyed | markStoreExpiryOff | markRenewFailed | markCookieChanged | markClientGone)
	if before.has(markChangeSaved) || (before.has(markModified) && own) {
		st.set(markModified | markChangeSaved)
	}
}

// changed records a change of the values or the cookie.
func (st *sessionState) changed() {
	st.set(markModified)
	st.drop(markClean)
}

// saved records a write of the session at version ver ("" if the store did
// not tell it). The write also pushed the stored expiry forward.
func (st *sessionState) saved(ver string) {
	st.version = ver
	if ver != "" {
		st.set(markKnowVersion)
	} else {
		st.drop(markKnowVersion)
	}
	if st.has(markModified) {
		st.set(markChangeSaved)
	}
	st.set(markInStore | markSavedOnce | markClean | markStoreTouched)
	st.drop(markCookieSet | markLoadIndexed)
	st.changes, st.loadedData, st.doubt = nil, nil, nil
}

// renewed moves the session to id, not stored under it (yet, or any more:
// finishRenew undoes a write), created at created.
func (st *sessionState) renewed(id string, created time.Time) {
	st.id, st.created, st.version, st.loadedData, st.doubt, st.storedUser = id, created, "", nil, nil, ""
	if st.phase != phaseDestroyed {
		st.phase = phaseRenewed
	}
	st.drop(markSavedOnce | markClean | markInStore | markStoreTouched | markLoadIndexed | markRenewFailed | markLoginLost)
	st.set(markModified | markKnowVersion)
}

// decisionInput is what the end-of-request decision depends on: the session's
// state, the id the request's cookie carried, and the options.
type decisionInput struct {
	phase             phase
	marks             mark
	id, originalID    string
	cookieID          string // the verified id of the request's cookie, or ""
	hasExpiry         bool   // the cookie is persistent, not a browser-session cookie
	saveUninitialized bool
	rolling           bool
	unsetDestroy      bool
	lostCreate        bool // never stored, but a create the store answered with an error may have stored it (dropLostCreate)
	// clientKept: the session is the empty one that follows a login that
	// failed at its trim after a RenewID, and the client's session, which
	// that RenewID left, is the client's again (dropLogin): no Destroy of it.
	clientKept bool
}

// decision is what the end of a request does with the session.
type decision struct {
	save        bool // write the session to the store
	touch       bool // push the stored expiry forward without a write
	setCookie   bool // send the session cookie
	clearCookie bool // send an expired cookie: the session is gone
	destroy     bool // delete the stored session (Unset with UnsetDestroy)
}

// decide makes express-session's end-of-request decisions, one named check
// each, as its shouldSave, shouldTouch, shouldSetCookie and shouldDestroy do.
// The empty session that follows a login that a newer login ended
// (markLoginLost) gets none: it stands for a session that is gone, and its
// cookie, or a cleared one, would replace the newer login's in a browser
// that sent both.
func decide(in decisionInput) decision {
	if in.phase == phaseUnset {
		return decision{destroy: shouldDestroy(in)}
	}
	if in.marks&markLoginLost != 0 {
		return decision{}
	}
	d := decision{save: shouldSave(in)}
	d.touch = shouldTouch(in, d.save)
	d.setCookie = shouldSetCookie(in)
	d.clearCookie = shouldClearCookie(in, d.setCookie)
	return d
}

// isModified is express's isModified: a new id, or changed values or cookie.
func (in decisionInput) isModified() bool {
	return in.id != in.originalID || in.marks&markModified != 0
}

// shouldSave: a session the client has no cookie for yet is saved only if it
// was modified (unless SaveUninitialized); any other is saved unless the
// store already holds exactly it. An empty session left by Destroy is only
// saved once something changes it.
func shouldSave(in decisionInput) bool {
	if in.phase == phaseDestroyed && !in.isModified() {
		return false
	}
	if !in.saveUninitialized && in.marks&markSavedOnce == 0 && in.cookieID != in.id {
		return in.isModified()
	}
	return in.marks&markClean == 0
}

// shouldTouch: a stored session the request came with, and did not save, has
// its stored expiry pushed forward (once per request).
func shouldTouch(in decisionInput, save bool) bool {
	return !save && in.cookieID == in.id && in.marks&markInStore != 0 && in.marks&markStoreTouched == 0
}

// shouldSetCookie: a cookie for a new id goes out if the session is kept
// (SaveUninitialized or modified); for the request's own id, on every
// response with Rolling, or when a persistent cookie's session changed, or
// the handler changed the cookie (a persistent one made a browser-session
// one must reach the browser, which keeps the old one until its Expires).
// The empty session Destroy leaves gets no cookie until something changes
// it (it is not stored either).
func shouldSetCookie(in decisionInput) bool {
	if in.phase == phaseDestroyed && !in.isModified() {
		return false
	}
	if in.cookieID != in.id {
		return in.saveUninitialized || in.isModified()
	}
	return in.rolling || ((in.hasExpiry || in.marks&markCookieChanged != 0) && in.isModified())
}

// shouldClearCookie: after Destroy, a client that came with a cookie gets an
// expired one, unless a new session's cookie replaces it, or the client's
// session was not destroyed (clientKept: a failed login left it), or the
// cookie the client holds may be a newer login's that ended the request's
// own (markClientGone).
func shouldClearCookie(in decisionInput, setCookie bool) bool {
	return !setCookie && in.phase == phaseDestroyed && in.cookieID != "" && !in.clientKept && in.marks&markClientGone == 0
}

// shouldDestroy: Unset with UnsetDestroy deletes a stored session, once, and
// what a create of a session never stored may have stored all the same.
func shouldDestroy(in decisionInput) bool {
	return in.unsetDestroy && (in.marks&markInStore != 0 || in.lostCreate) && in.marks&markUnsetDestroyed == 0
}
