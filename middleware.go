package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sessionkit/session/internal/shortid"
)

// stateKey is the request context key of a request's session state.
type stateKey struct{}

// requestContext is the request's context (rs.parent) with its session
// state under stateKey: what context.WithValue would make, as a view of
// the requestState, to spare the request an allocation.
type requestContext requestState

func (c *requestContext) Deadline() (time.Time, bool) { return c.parent.Deadline() }
func (c *requestContext) Done() <-chan struct{}       { return c.parent.Done() }
func (c *requestContext) Err() error                  { return c.parent.Err() }

// String names the context as context.WithValue's String does, so that a
// context printed (fmt, slog) shows neither the request it holds (its
// headers: Authorization, the session cookie) nor the session state that
// other goroutines change under rs.mu.
func (c *requestContext) String() string {
	return contextName(c.parent) + ".WithValue(session.stateKey, *session.requestState)"
}

// contextName is a context's String, or its type's name, as the context
// package names a parent.
func contextName(c context.Context) string {
	if s, ok := c.(fmt.Stringer); ok {
		return s.String()
	}
	return fmt.Sprintf("%T", c)
}

func (c *requestContext) Value(key any) any {
	if _, ok := key.(stateKey); ok {
		return (*requestState)(c)
	}
	return c.parent.Value(key)
}

// requestState is the middleware's per-request state. Its session is
// loaded on the first From, and committed (saved, touched, cookie set)
// before the response headers go out and again when the handler returns.
type requestState struct {
	m      *Manager
	r      http.Request        // the handler's request: the request with rs as its context (requestContext), allocated with rs
	w      http.ResponseWriter // the underlying writer; the handler's is rs as a responseWriter
	parent context.Context     // the request's context outside this Handler

	mu           sync.Mutex
	sess         *Session
	cookieID     string      // the verified id the request carried, or ""
	cookieValue  string      // the request's cookie value, if it is what the manager sends for cookieID, or ""
	loaded       bool        // a load was attempted
	failed       bool        // the session failed to load or save: no session, and no commit, for the rest of the request
	answer       answerState // whether the ErrorHandler answers (failed before the headers went out): if so, discard the handler's output
	wroteHeader  bool        // the response headers went out (or the response was released)
	released     bool        // the response is no longer the handler's: the connection was hijacked, or the handler returned
	panicked     bool        // a load or commit panicked: past saving, no commit runs again
	storedSecure bool        // the loaded session's stored cookie is Secure (see secureCookie)
	sentPrivate  bool        // the headers went out with no session loaded, and kept caches from reusing the response (see warnLateLoad)
	sentID       string      // the session id whose cookie went out with the headers
	rare         *rareState  // what few requests need: a failed load's answer, the CloseNotify channel
	outerHeader  http.Header // the headers outer middleware set before the handler ran
	loadTouched  time.Time   // the stored expiry the touch carried on the load set (zero: none, or the store's default)
	loadedAt     int64       // the manager's clock before the load read a stored session, in Unix nanoseconds (0: none read): no write of another request since is earlier (loadedSince)

	// Storage the request's own values point into, allocated with rs.
	vary         [1]string // the Vary header's value, when it had none
	cacheControl [1]string // the Cache-Control header's value, when it had none
	setCookie    [1]string // the Set-Cookie header's value, when it had none
}

// rareState is what only few requests need, allocated on first need
// (rs.rareLocked) so that requestState keeps its size class: a request's
// failure that the handler's goroutine answers (the error of a load that
// failed before the headers went out, which waits for the handler's next
// write or its return to be handed to the ErrorHandler, and the headers the
// handler sets after a failure, which go nowhere), a session the store
// said gone, and the channel CloseNotify returns behind a writer that has
// none.
type rareState struct {
	loadErr   error       // nil once answered (pendingAnswer)
	goneID    string      // a session id the store said another request destroyed or renewed
	discarded http.Header // Header's answer after a failure
	gone      chan bool   // CloseNotify's, made on its first call
	// unindexed: the user index write after the touch carried on the load
	// failed, and the load set the stored expiry back to one the session's
	// entry covers (unindexedLoad); restoreExpiry records the entry again
	// and gives the session back its expiry. grace is IndexGrace past the
	// load (setBackUnindexed's). floor is not zero when that set back
	// failed: restoreExpiry tries it again if the index still fails.
	// stalled: that set back ran out of its StoreTimeout (the session's
	// node stopped answering), and restoreExpiry touches the session
	// after the answer.
	unindexed, stalled bool
	floor, grace       time.Time
	// timedOut: a store call of the request ran out of StoreTimeout (or
	// its context), which failed it (timedOutLocked).
	timedOut bool
}

// rareLocked returns rs.rare, allocating it. rs.mu is held.
func (rs *requestState) rareLocked() *rareState {
	if rs.rare == nil {
		rs.rare = &rareState{}
	}
	return rs.rare
}

// timedOutLocked reports whether a store call of the request ran out of
// StoreTimeout (or its context), which failed it. rs.mu is held.
func (rs *requestState) timedOutLocked() bool { return rs.rare != nil && rs.rare.timedOut }

// answeredLocked reports whether the ErrorHandler answers the request: it
// has or is about to, or a load's failure waits for it (failLoad). rs.mu is
// held.
func (rs *requestState) answeredLocked() bool {
	return rs.answer != answerNone || rs.rare != nil && rs.rare.loadErr != nil
}

// answerState is whether the ErrorHandler answers the request: not, or
// about to or while it runs (answerFailure, by way of fail or
// pendingAnswer, returned the error, which its caller hands to answerWith
// once rs.mu is released), or it has returned. One byte, beside
// requestState's other flags, so that requestState keeps its size class.
type answerState uint8

const (
	answerNone    answerState = iota
	answerPending             // answerFailure returned the error (fail, pendingAnswer); the ErrorHandler has not returned yet
	answerGiven               // the ErrorHandler returned (or panicked)
)

// storeContext is the request's context without its cancellation, as
// context.WithoutCancel makes it, as a view of the requestState
// (detachedView), so that it costs no allocation: a client that hangs up
// must not lose the save.
func (rs *requestState) storeContext() context.Context {
	return (*detachedView)(rs)
}

// loadContext is the context of the load: where StoreTimeout bounds store
// calls, the request's context without its cancellation, like the save's,
// so that the load shares a deadline group (withStoreTimeout) instead of
// setting a timer; for a memstore, which never waits, the same:
// memstore refuses a cancelled context, and net/http cancels the
// request's when the client hangs up or the handler returns, so on it a
// handler that asks for the session after the client left, or a goroutine
// that outlives the handler, got no session (the ErrorHandler's 500, the
// request's changes lost); otherwise the request's own.
func (rs *requestState) loadContext() context.Context {
	if !rs.m.inMemory && rs.m.opts.StoreTimeout <= 0 {
		return rs.r.Context()
	}
	return rs.storeContext()
}

// commitContext is the context of a commit's store calls: storeContext.
func (rs *requestState) commitContext() context.Context { return rs.storeContext() }

// detachedView is the request's context without its cancellation, as
// context.WithoutCancel makes it, as a view of the requestState, so that
// it costs no allocation: its values are the request context's.
type detachedView requestState

func (*detachedView) Deadline() (time.Time, bool) { return time.Time{}, false }
func (*detachedView) Done() <-chan struct{}       { return nil }
func (*detachedView) Err() error                  { return nil }

// Value is the request context's value for key, but for the key the
// context package finds a context's cancellation by (cancelCtxKey), which
// it hides as context.WithoutCancel does: a store call whose StoreTimeout
// ran out after the client hung up has DeadlineExceeded as its
// context.Cause, not the request's context.Canceled.
func (v *detachedView) Value(key any) any {
	if key == cancelCtxKey {
		return nil
	}
	return (*requestContext)(v).Value(key)
}

// cancelCtxKey is the context package's key for a context's cancellation,
// the one context.Cause asks a done context's Value for (keyProbe).
var cancelCtxKey = func() (key any) {
	context.Cause(keyProbe{&key})
	return key
}()

// keyProbe is a done context that records the key its Value is asked for.
type keyProbe struct{ key *any }

func (keyProbe) Deadline() (time.Time, bool) { return time.Time{}, false }
func (keyProbe) Done() <-chan struct{}       { return nil }
func (keyProbe) Err() error                  { return context.Canceled }
func (p keyProbe) Value(key any) any {
	*p.key = key
	return nil
}

// String names the context as context.WithoutCancel's String does
// (requestContext.String).
func (v *detachedView) String() string { return (*requestContext)(v).String() + ".WithoutCancel" }

// Handler returns middleware that gives each request under the cookie path
// a session, available through From. The session is loaded lazily, on the
// first From, and saved before the response headers are written. The
// cookie path is matched (RFC 6265) against the path the client asked for,
// r.RequestURI's (r.URL.Path for a request without one), so that an app
// mounted with http.StripPrefix outside the middleware keeps Cookie.Path as
// the browser sees it ("/app", not "/").
func (m *Manager) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { m.serve(next, w, r) })
}

// serve is Handler's. A method, never inlined (it defers), so that the
// request WithContext makes stays on its stack wherever Handler is
// inlined: in a large function the compiler inlines less, and the copy
// would be allocated.
func (m *Manager) serve(next http.Handler, w http.ResponseWriter, r *http.Request) {
	if !pathMatch(requestPath(r), m.opts.Cookie.Path) {
		next.ServeHTTP(w, r)
		return
	}
	rs := &requestState{m: m, w: w}
	if h := w.Header(); len(h) > 0 {
		rs.outerHeader = h.Clone() // what outer middleware set survives a store error
	}
	rs.parent = r.Context()
	rs.r = *r.WithContext((*requestContext)(rs)) // a copy into rs of the request WithContext makes, on the stack
	returned := false
	defer rs.handlerReturned(&returned) // after a panic too
	next.ServeHTTP((*responseWriter)(rs), &rs.r)
	rs.finish()
	returned = true
}

// handlerReturned releases the response, which is net/http's to finish
// once the handler returned (or panicked): a goroutine of the handler that
// calls From later reads the session (its load carries no touch), but a
// load that fails then is logged, as one after the headers went out, and
// never answered on a ResponseWriter whose buffers net/http may have handed
// to another connection. It waits for a load or commit running in such a
// goroutine meanwhile, and, when that failed and answers, for the
// ErrorHandler to return (it runs once rs.mu is released), so that the
// answer goes out on the response while it is still the request's. After
// a panic of the handler (*returned false) before the headers went out, the
// response is a recovering middleware's, outside this one: it gets the
// cookie of a session that a Session.Save of the request stored under an
// id the client does not hold (storedCookie), as an error answer does,
// since that Save may have ended the client's own id (a login's RenewID).
// Then it calls restoreExpiry.
func (rs *requestState) handlerReturned(returned *bool) {
	rs.mu.Lock()
	for rs.answer == answerPending {
		// Only a goroutine of the handler's can be answering now (the
		// handler's own answers return before it does); rare, and short.
		rs.mu.Unlock()
		time.Sleep(time.Millisecond)
		rs.mu.Lock()
	}
	if err := rs.pendingAnswer(); err != nil {
		// A load that failed while the handler ran (in a goroutine of
		// it, still loading when it returned, or before a panic), which
		// nothing answered yet: answered now, while the response is
		// still the request's.
		rs.mu.Unlock()
		rs.answerWith(err)
		rs.mu.Lock()
	}
	if !*returned && !rs.wroteHeader && !rs.panicked && rs.sess != nil {
		rs.storedCookie(rs.sess)
	}
	rs.wroteHeader, rs.released = true, true
	rs.mu.Unlock()
	rs.restoreExpiry()
}

// restoreExpiry sets back, from the session's own cookie, a stored expiry
// that the touch carried on the load took from the options, when the
// request ended without the touch or save that puts it right: the handler
// unset the session (UnsetKeep leaves the stored one as it was), panicked,
// the save failed, or the user index write after the load's touch failed.
// Otherwise a session whose own cookie is shorter than Cookie.MaxAge would
// outlive it (and a "remember me" one end early). After a RenewID whose
// new id was never written (its save failed, the handler panicked), the
// client still holds the old id: its stored copy is the one set back,
// from its cookie as RenewID found it, or as another request saved it
// since (touchRenewedFrom). Only an expiry later than the
// load's touch records the user's index entry first; an earlier one is
// set even while the index fails. A lock still held by a panic means the
// request is past saving: it gives up rather than wait forever.
func (rs *requestState) restoreExpiry() {
	if !rs.mu.TryLock() {
		return
	}
	defer rs.mu.Unlock()
	if rs.panicked {
		return // the store or codec panicked in the load or commit: past saving
	}
	s := rs.sess
	if s == nil || !s.mu.TryLock() {
		return
	}
	defer s.mu.Unlock()
	rs.restoreExpiryLocked(s)
}

// restoreExpiryLocked is restoreExpiry once rs.mu and s.mu are held. (A
// function of its own, so that the defers of each are open-coded: too many
// returns beside them make the compiler put them on the defer chain, which
// every request paid for.)
func (rs *requestState) restoreExpiryLocked(s *Session) {
	// The stored copy of the client's session: s itself, or, after a
	// RenewID whose new id was never written, the old id's (renewedFrom).
	id, user, cookie, created := s.id, s.storedUser, s.cookie, s.created
	if rf := s.renewedFrom; rf != nil {
		if !rf.expiryOff || rf.id != rs.cookieID {
			return
		}
		rf.expiryOff = false
		id, user, cookie, created = rf.id, rf.user, rf.cookie, rf.created
		cookie.touch(rs.m.now()) // as the end of the request would have
	} else {
		if rs.rare != nil && rs.rare.unindexed {
			rs.restoreUnindexedLocked(s)
			return
		}
		if !s.has(markStoreExpiryOff) || s.has(markStoreTouched|markUnsetDestroyed) || s.id != rs.cookieID {
			return
		}
		s.set(markStoreTouched)
	}
	m := rs.m
	if rs.timedOutLocked() {
		// The store stopped answering within StoreTimeout: a touch would
		// hold the ErrorHandler's answer, which goes out only when the
		// handler returns, for another StoreTimeout.
		m.logger.WarnContext(rs.r.Context(), "session: the stored expiry the load set from Cookie.MaxAge was not set back to the session's own: the store timed out", "id", shortid.Of(id))
		return
	}
	ctx, cancel := m.withStoreTimeout(rs.storeContext())
	defer cancel()
	exp := m.expiryAt(cookie.expires, created, m.now())
	// The user's index entry must outlive the session. An expiry no later
	// than the load's touch needs no new entry: the load recorded one that
	// long, or its index write failed, and then the session is better off
	// with the earlier expiry all the same. The entry is the stored copy's
	// user's: a SetUser of this request was never stored. After a write
	// that bound the session to another user or none, in doubt (its reply
	// lost), the stored copy is either the loaded one, user's, or that
	// write's, with its own expiry and index entry: which one cannot be
	// told, and an entry for user that outlives the load's would say that
	// a session no longer user's is (DestroyUserSessions from a manager
	// that cannot read it would end it). The expiry stays as the load or
	// that write set it.
	var err error
	indexed := ""
	if !rs.withinLoadTouch(exp) {
		if user != "" && id == s.id && s.doubt != nil && s.doubt.user != user {
			m.logger.WarnContext(ctx, "session: the stored expiry the load set from Cookie.MaxAge was not set back to the session's own: a save that rebound the session got no answer", "id", shortid.Of(id))
			return
		}
		indexed = user
		err = m.indexUserAs(ctx, user, id, exp)
	}
	if err == nil {
		if id == s.id {
			_, err = m.touchStored(ctx, s, exp, indexed)
		} else {
			err = m.touchRenewedFrom(ctx, id, cookie, created, user, exp, indexed, rs.loadedSince())
		}
	}
	if err != nil {
		m.logger.WarnContext(ctx, "session: the stored expiry the load set from Cookie.MaxAge could not be set back to the session's own", "id", shortid.Of(id), "err", err)
	}
}

// touchRenewedFrom is restoreExpiryLocked's touch of the old id of a
// RenewID whose new id was never written: the client's session, with the
// user user and cookie as RenewID found it (renewed from now), created at
// created, whose expiry the touch carried on the load (a GetToucher's) set
// from the options. Another request of the client may have saved it since
// with a cookie of its own or bound it to another user: the touch follows
// what it stored, as touchStored's does (touchedWritten).
func (m *Manager) touchRenewedFrom(ctx context.Context, id string, cookie cookieState, created time.Time, user string, exp time.Time, indexed string, since time.Time) error {
	if m.getToucher == nil {
		if _, err := m.toucher.Touch(ctx, id, exp); err != nil {
			return fmt.Errorf("session: touch: %w", err)
		}
		return nil
	}
	data, _, found, err := m.getToucher.GetAndTouch(ctx, id, exp)
	if err != nil {
		return fmt.Errorf("session: touch: %w", err)
	}
	if !found {
		return nil
	}
	// No entry recorded for exp (indexed ""): the load's, relied on, may
	// be for another user (RenewID's re-read found the session rebound),
	// or replaced by a shorter one (another tab's save).
	_, err = m.touchedWritten(ctx, id, &cookie, created, user, true, indexed == "", data, exp, indexed, since)
	return err
}

// unindexedFloor is, for a load whose touch lt set the stored expiry of a
// session with a user and whose index write then failed, the latest
// expiry that the session's existing index entry is known to cover: that
// entry was recorded, no shorter than the stored expiry, before the write or
// touch that set it, so it expires no earlier than the session did before
// this touch, which was after lt.now (it was still stored); and no earlier
// than both the expiry its last save gave it, from the document's own
// cookie c (idle and absolute timeouts counted from when that cookie was
// set, or from the session's creation, no later than the save), and the
// expiry a load's touch since that save recorded, as long from its time
// as lt's (a load's touch records the options' expiry, a day say, which
// is shorter than a "remember me" session's own: if the end of that
// request could not record the longer one again, the entry stays at the
// day). The store keeps the entry IndexGrace past its expiry. A document
// that records no creation time (written by another app) tells nothing of
// its last save by this library, nor does an expiry of the store's default
// lifetime (a zero lt.expires, or a save's zero expiry) tell how long an
// entry recorded with it lasts. c is the document's cookie, created its
// creation time as stored (zero if none).
func (m *Manager) unindexedFloor(lt *loadTouch, created time.Time, c cookieState) time.Time {
	floor := lt.now.Add(IndexGrace)
	if created.IsZero() || lt.expires.IsZero() {
		return floor
	}
	saved, savedAt := m.savedExpiry(created, c)
	if touched := savedAt.Add(lt.expires.Sub(lt.now)); touched.Before(saved) {
		saved = touched
	}
	if saved.After(floor) {
		return saved
	}
	return floor
}

// savedExpiry is no later than the expiry that the save of a document
// with cookie c, of a session created at created (not zero), gave it, and
// savedAt no later than that save: when the cookie was set or touched, this
// long before its expiry, or the session's creation (idle and absolute
// timeouts counted from then).
func (m *Manager) savedExpiry(created time.Time, c cookieState) (saved, savedAt time.Time) {
	savedAt = cookieSetAfter(c, created)
	return m.expiryAt(c.expires, created, savedAt), savedAt
}

// cookieSetAfter is when cookie c was set or touched (this long before its
// expiry), if it has a max age and that is after floor; else floor.
func cookieSetAfter(c cookieState, floor time.Time) time.Time {
	if c.originalMaxAge > 0 && !c.expires.IsZero() {
		if set := c.expires.Add(-c.originalMaxAge); set.After(floor) {
			return set
		}
	}
	return floor
}

// unindexedLoad sets back the stored expiry of s, a session with a user
// whose load's touch lt pushed it forward and whose user index write then
// failed with err, to one the session's existing entry covers
// (unindexedFloor), or to its own or the load's touch's if that is
// earlier. It does so at once: that entry may run out IndexGrace after the
// load, and a handler that runs on longer must not leave the
// session outliving it meanwhile (a "log out everywhere" would miss it),
// nor should a set back at its end undo what other requests of the
// session did meanwhile. After a timeout the touch is made in a goroutine,
// with a StoreTimeout of its own, so that it does not hold the
// ErrorHandler's answer, which goes out only when the handler returns, for
// another StoreTimeout. rs.mu is held.
func (rs *requestState) unindexedLoad(err error, s *Session, lt *loadTouch, created time.Time) {
	m, rare := rs.m, rs.rareLocked()
	rare.unindexed = true
	floor, grace := m.unindexedFloor(lt, created, s.cookie), lt.now.Add(IndexGrace)
	rare.grace = grace
	if !lt.expires.IsZero() && lt.expires.Before(floor) {
		// A set back never pushes the session past the load's touch: an
		// IdleTimeout or Cookie.MaxAge shorter than IndexGrace still ends
		// the session when it says.
		floor = lt.expires
	}
	if s.has(markStoreExpiryOff) {
		// The session's own expiry, if earlier, needs no entry longer.
		if own := m.expiryAt(s.cookie.expires, s.created, lt.now); !own.IsZero() && own.Before(floor) {
			floor = own
		}
	}
	if m.opts.StoreTimeout > 0 && !m.inMemory && errors.Is(err, context.DeadlineExceeded) {
		id, loaded := s.id, s.cookie
		go m.afterAnswer(rs.storeContext(), func(ctx context.Context) { m.setBackUnindexed(ctx, id, loaded, grace, floor) })
		return
	}
	ctx, cancel := m.withStoreTimeout(rs.storeContext())
	defer cancel()
	if !m.setBackUnindexed(ctx, s.id, s.cookie, grace, floor) {
		rare.floor, rare.stalled = floor, ctx.Err() != nil
	}
}

// restoreUnindexedLocked is restoreExpiryLocked after a load whose user
// index write failed (unindexedLoad): it records the entry again with the
// expiry the session is to keep (its own, see restoreExpiryLocked, or the
// load's touch's as made now, which a read or save of another request
// since, an idle expiry counted from it, is not cut back to), or the
// load's touch's if that is later (the session
// keeps it if the load's set back and the touch below both failed; not
// where either is the store's default lifetime, which cannot be ordered
// with the other), and
// gives the session that expiry, or, after a write of another request
// since, that write's (giveBackUnindexed). If the index still fails, the session
// keeps the expiry the load set back, or any a request of the session that
// reached the index gave it since; the load's set back, if it failed, is
// tried again. A session whose own expiry passed while the handler ran on,
// which the load set back to it, is left as it is: ended, or as a write of
// another request since left it. After a timeout of the load it calls the store no more (the
// load's set back runs in its goroutine); after a timeout of the load's set
// back it touches the session after the answer. rs.mu and s.mu are held.
func (rs *requestState) restoreUnindexedLocked(s *Session) {
	m, rare := rs.m, rs.rare
	rare.unindexed = false
	s.set(markStoreTouched)
	if rs.timedOutLocked() {
		return
	}
	now, exp := m.now(), rs.loadTouched
	if s.has(markStoreExpiryOff) {
		exp = m.expiryAt(s.cookie.expires, s.created, now)
	} else if !exp.IsZero() {
		// The load's touch, the session's own expiry (touchedAtLoad), as
		// made now: a read of another request since (an idle expiry
		// counted from it) is not cut back to the failed load's.
		c := s.cookie
		c.touch(now)
		exp = m.expiryAt(c.expires, s.created, now)
	}
	if rare.floor.IsZero() && !exp.IsZero() && !exp.After(now) {
		// The session's own expiry passed while the handler ran on, and
		// the load set the stored expiry back to it or earlier: the
		// session ended then, unless a request of it wrote it since,
		// which keeps the expiry and the entry it wrote. A give back to
		// exp would delete it, and the entry recorded for exp replace
		// that write's.
		return
	}
	ctx, cancel := m.withStoreTimeout(rs.storeContext())
	defer cancel()
	// The entry covers exp, and the load's touch's if that is later (the
	// session keeps it if its set back and the give back fail). Where
	// either is the store's default lifetime (zero), which cannot be
	// ordered with the other, it covers exp, which the session is given:
	// a browser-session cookie of its own under a Cookie.MaxAge, or a
	// "remember me" under a browser-session default.
	idx := exp
	if !exp.IsZero() && rs.loadTouched.After(exp) {
		idx = rs.loadTouched
	}
	if err := m.indexUserAs(ctx, s.storedUser, s.id, idx); err != nil {
		switch {
		case rare.floor.IsZero():
		case ctx.Err() != nil || rare.stalled:
			// The second try of the index used up the StoreTimeout (its
			// node stalled after refusing the load's write), or the
			// session's node stalled at the load's set back: the touch is
			// made after the answer, with a StoreTimeout of its own, not
			// to hold the answer another StoreTimeout.
			id, loaded, grace, floor := s.id, s.cookie, rare.grace, rare.floor
			go m.afterAnswer(rs.storeContext(), func(ctx context.Context) { m.setBackUnindexed(ctx, id, loaded, grace, floor) })
		default:
			m.setBackUnindexed(ctx, s.id, s.cookie, rare.grace, rare.floor)
		}
		return
	}
	if rare.stalled {
		id, loaded, user, grace := s.id, s.cookie, s.storedUser, rare.grace
		go m.afterAnswer(rs.storeContext(), func(ctx context.Context) { m.giveBackUnindexed(ctx, id, loaded, user, grace, exp, idx) })
		return
	}
	m.giveBackUnindexed(ctx, s.id, s.cookie, s.storedUser, rare.grace, exp, idx)
}

// afterAnswer runs f, a store call made in a goroutine once the answer
// went out (after a store that timed out, or the session's node stalled),
// with a StoreTimeout of its own.
func (m *Manager) afterAnswer(ctx context.Context, f func(context.Context)) {
	ctx, cancel := m.withStoreTimeout(ctx)
	defer cancel()
	f(ctx)
}

// giveBackUnindexed is the touch of restoreUnindexedLocked once the index
// answered: it gives session id, loaded with cookie loaded and bound to
// user, the expiry exp that user's entry now covers. A request of the
// session that wrote it since keeps the expiry its write gave it
// (keepWritten), which its entry covers, where exp would push it past that
// entry when the write gave the session a shorter cookie of its own or
// bound it to another user (SetUser on a shared device, with that user's
// entry), whose "log out everywhere" would then miss it. A session no
// longer user's has user's entry, just recorded, removed, as touchStored
// does. idx is the expiry that entry was recorded for (exp, or later).
// A session whose own expiry passed is touched to idx (touchUnindexed),
// which user's entry covers: when the copy is another user's, and the
// touch that gives it its own expiry back fails, that user's entry is
// recorded for idx, else the session is stored past it.
func (m *Manager) giveBackUnindexed(ctx context.Context, id string, loaded cookieState, user string, grace, exp, idx time.Time) {
	data, found, ending, err := m.touchUnindexed(ctx, id, exp, idx)
	if err != nil {
		m.logger.WarnContext(ctx, "session: the stored expiry set back after a failed user index write could not be given back", "id", shortid.Of(id), "err", err)
		return
	}
	if !found {
		return
	}
	u, ok := m.userOfData(data)
	rebound := ok && u != user
	if rebound {
		m.unindexUser(ctx, user, id) // logged if it fails: the entry expires on its own
	}
	if !m.keepWritten(ctx, id, data, loaded, grace, exp, idx, user, ending) && ending && rebound && u != "" && !idx.IsZero() {
		if err := m.indexUserAs(ctx, u, id, idx); err != nil {
			m.logger.WarnContext(ctx, "session: could not record the user index entry of a session another request rebound, whose stored expiry could not be given back; a log out everywhere may miss it", "id", shortid.Of(id), "err", err)
		}
	}
}

// setBackUnindexed is the touch of unindexedLoad, with the index down: it
// sets the stored expiry of session id, loaded with cookie loaded, to exp,
// which the index entry it had then covers (a GetToucher's touch: the load
// carried one). A request of the session that wrote it since recorded an
// entry of its own, which lasts no less than grace but may run out before
// exp (the write gave the session a shorter cookie of its own): the stored
// expiry is then set to that write's (savedExpiry), not pushed past its
// entry; nor is a write that gave the session a later expiry than exp,
// which its entry covers, cut back to exp (a save of another tab: the
// session would end a minute after the failed load, say, while the save
// and its entry gave it a day). It reports whether the session no longer
// outlives its entry: false when a store call failed.
func (m *Manager) setBackUnindexed(ctx context.Context, id string, loaded cookieState, grace, exp time.Time) bool {
	data, found, ending, err := m.touchUnindexed(ctx, id, exp, time.Time{})
	if err != nil {
		m.warnNotSetBack(ctx, id, err)
		return false
	}
	if !found {
		return true
	}
	return m.keepWritten(ctx, id, data, loaded, grace, exp, time.Time{}, "", ending)
}

// touchUnindexed is the GetAndTouch of setBackUnindexed and
// giveBackUnindexed to exp, which may have passed since the load (the
// handler ran on past it, and a set back that failed at the load is tried
// again, or the session's own expiry is given back): a touch to it would
// delete what is stored, a copy another request wrote since too, which
// keeps the expiry its write gave it, and its user would be logged out.
// The touch is then to a second from now (ending), and keepWritten ends
// the copy loaded; or to cover, if later: an expiry the entry just
// recorded covers (giveBackUnindexed's), which a copy written since keeps
// should keepWritten's index write for its own expiry fail, or take longer
// than the second (else that copy expires meanwhile: the other tab's save
// deleted, and its user logged out).
func (m *Manager) touchUnindexed(ctx context.Context, id string, exp, cover time.Time) (data []byte, found, ending bool, err error) {
	at := exp
	if now := m.now(); !exp.IsZero() && !exp.After(now) {
		at, ending = now.Add(time.Second), true
		if cover.After(at) {
			at = cover
		}
	}
	data, _, found, err = m.getToucher.GetAndTouch(ctx, id, at)
	if err != nil {
		return nil, false, false, fmt.Errorf("session: touch: %w", err)
	}
	return data, found, ending, nil
}

// keepWritten is setBackUnindexed's and giveBackUnindexed's after their
// touch of session id to exp answered data: if a request wrote the session
// since it was loaded with cookie loaded, it sets the stored expiry to the
// one that write gave it. indexed is the user whose entry the caller
// recorded for exp (giveBackUnindexed's), replacing the one that write
// recorded if the session is still theirs, or ""; idx is the expiry that
// entry was recorded for (exp or later; zero without one). ending: exp has passed,
// and the touch was to a second from now (touchUnindexed): a copy not
// written since is ended with a touch to exp. It reports whether the
// session no longer outlives its entry: false when that touch failed.
func (m *Manager) keepWritten(ctx context.Context, id string, data []byte, loaded cookieState, grace, exp, idx time.Time, indexed string, ending bool) bool {
	var doc loadedDocument
	if m.decodeReadable(ctx, id, data, &doc) != nil || doc.Created.IsZero() {
		return true
	}
	c := storedCookie(&doc.cookie)
	var written time.Time
	switch {
	case c != loaded:
		written, _ = m.savedExpiry(doc.Created, c)
	case indexed == "" || userOf(&doc.vals) == indexed:
		// No write since the load set a cookie of its own: the entry
		// covers exp.
		return !ending || m.touchBack(ctx, id, exp)
	default:
		// Bound to another user (or none) since by a write that left
		// the cookie as it was (a browser-session one), which cannot
		// tell when: after the load, and that user's entry covers the
		// expiry it gave the session from then on.
		written = m.expiryAt(c.expires, doc.Created, grace.Add(-IndexGrace))
	}
	switch {
	case written.IsZero():
		return m.keepWrittenDefault(ctx, id, userOf(&doc.vals), grace, exp, indexed)
	case written.After(exp):
		// Failed, the session keeps the expiry the caller touched it
		// to: exp, which that write's entry covers, or, ending, idx
		// (giveBackUnindexed's), which only indexed's entry covers.
		u := userOf(&doc.vals)
		return m.keepWrittenLonger(ctx, id, u, written, idx, indexed) || !ending || indexed == "" || u == indexed
	}
	// A write that gave the session an earlier expiry than exp: its own,
	// which its entry covers, but no earlier than grace, which the entry
	// the session had at the load covers. Ending, exp has passed, and the
	// touch was to another expiry (touchUnindexed): the session gets that
	// one even where it is exp.
	if written.Before(grace) {
		written = grace
	}
	return !ending && !written.Before(exp) || m.touchBack(ctx, id, written)
}

// keepWrittenDefault is keepWritten's for a write that gave session id, now
// bound to u, the store's default lifetime (a browser-session cookie), and
// u's entry that long from the write, which cannot be ordered with exp, nor
// with the same lifetime counted from now: it may run out first (a browser
// session bound to another user under a Cookie.MaxAge of thirty days, or
// since the write). The session is given that lifetime back, counted from
// now, once u's entry is recorded for it; if the index fails, grace
// (IndexGrace past the load), which that entry, recorded after the load,
// covers. Unless exp is that lifetime too and u the caller's indexed,
// whose entry covers it.
func (m *Manager) keepWrittenDefault(ctx context.Context, id, u string, grace, exp time.Time, indexed string) bool {
	if exp.IsZero() && u == indexed {
		return true // the store's default lifetime, from now, which the caller's entry covers
	}
	back := time.Time{}
	if err := m.indexUserAs(ctx, u, id, back); err != nil {
		back = grace
	}
	return m.touchBack(ctx, id, back)
}

// keepWrittenLonger is keepWritten's for a write that gave session id, now
// bound to u, an expiry written later than exp: given back, which that
// write's entry covers, unless the caller's, for exp, replaced it (the
// session still indexed's), which is then recorded for written first.
// Should that index write or the touch fail, the session keeps exp, which
// its entry covers too. Where the caller's entry, recorded for idx,
// covers written already, the touch goes first and the entry is then
// recorded for written: the caller's touch may have been to idx (ending,
// touchUnindexed), past written, and an entry recorded for written before
// a touch that fails would leave the session stored past it. It reports
// whether the touch was made (false: it, or the index write, failed).
func (m *Manager) keepWrittenLonger(ctx context.Context, id, u string, written, idx time.Time, indexed string) bool {
	if indexed != "" && u == indexed && !idx.IsZero() && !idx.Before(written) {
		if !m.touchWrittenBack(ctx, id, written) {
			return false
		}
		if err := m.indexUserAs(ctx, indexed, id, written); err != nil {
			m.logger.WarnContext(ctx, "session: could not record the expiry a save of another request gave the session in its user's index; the entry keeps a later one", "id", shortid.Of(id), "err", err)
		}
		return true
	}
	if indexed != "" && u == indexed {
		if err := m.indexUserAs(ctx, indexed, id, written); err != nil {
			m.warnWrittenNotBack(ctx, id, err)
			return false
		}
	}
	return m.touchWrittenBack(ctx, id, written)
}

// touchWrittenBack gives session id back the expiry written that a save of
// another request gave it, and reports whether it did: a failure is logged
// (warnWrittenNotBack).
func (m *Manager) touchWrittenBack(ctx context.Context, id string, written time.Time) bool {
	if _, err := m.toucher.Touch(ctx, id, written); err != nil {
		m.warnWrittenNotBack(ctx, id, err)
		return false
	}
	return true
}

// warnWrittenNotBack logs an expiry a save of another request gave the
// session that could not be given back after a failed user index write.
func (m *Manager) warnWrittenNotBack(ctx context.Context, id string, err error) {
	m.logger.WarnContext(ctx, "session: the expiry a save of another request gave the session could not be given back after a failed user index write", "id", shortid.Of(id), "err", err)
}

// touchBack sets the stored expiry of session id back to exp, the set back
// of a load whose user index write failed, and reports whether it did: a
// failure is logged (warnNotSetBack).
func (m *Manager) touchBack(ctx context.Context, id string, exp time.Time) bool {
	if _, err := m.toucher.Touch(ctx, id, exp); err != nil {
		m.warnNotSetBack(ctx, id, fmt.Errorf("session: touch: %w", err))
		return false
	}
	return true
}

// warnNotSetBack logs a stored expiry that a load's touch set and that
// could not be set back after the load's user index write failed.
func (m *Manager) warnNotSetBack(ctx context.Context, id string, err error) {
	m.logger.WarnContext(ctx, "session: the stored expiry the load's touch set could not be set back after its user index write failed; a log out everywhere may miss the session until its next request", "id", shortid.Of(id), "err", err)
}

// From returns the request's session, loading it on first use. It returns
// nil for a request that did not go through Handler or is outside the cookie
// path, after Session.Unset, and when the store failed (the error handler
// answers instead of the handler, and what the handler writes is
// discarded; From called by the ErrorHandler itself returns nil too). That
// answer is made on the response by the handler's next write, WriteHeader,
// Flush or Hijack, or when the handler returns, not by From: a goroutine of
// the handler whose From fails leaves the response to the goroutine that
// writes it, which may be setting its headers meanwhile. A load that fails
// after the headers went out cannot be answered: it is logged, and what the
// handler writes goes out; so is one in a goroutine of the handler after
// the handler returned, whose ResponseWriter is no longer to be used. A
// load that such a goroutine began while the handler ran, and that fails
// before the headers went out, is answered when the handler returns: the
// middleware waits for it.
//
// Call it before the first write of a response that depends on the
// session: only then can the response carry Vary: Cookie, and a new
// session its cookie. A first call after the headers went out, on a
// response that caches may reuse (its Vary names no Cookie, and its
// Cache-Control says no no-store, no-cache or private, each read under a
// key in any letter case), is logged once per Manager.
func From(r *http.Request) *Session { return FromContext(r.Context()) }

// session is sessionLocked under rs.mu, released even if the load panics
// (a store with a bug), so that a recovering middleware inside the session
// middleware can still answer through the writer.
func (rs *requestState) session() *Session {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.sessionLocked()
}

// sessionLocked loads the session on first use. A failed load is answered
// by the handler's goroutine (failLoad), not by the one that called From,
// which gets nil. rs.mu is held.
func (rs *requestState) sessionLocked() *Session {
	if rs.failed {
		return nil
	}
	if !rs.loaded {
		rs.loaded = true
		if rs.wroteHeader && !rs.released {
			rs.warnLateLoad()
		}
		rs.panicked = true // until the load returns
		err := rs.load()
		rs.panicked = false
		if err != nil {
			rs.failLoad(err)
			return nil
		}
	}
	s := rs.sess
	if s == nil {
		return nil // the load panicked
	}
	s.mu.Lock()
	unset := s.phase == phaseUnset
	s.mu.Unlock()
	if unset {
		return nil
	}
	return s
}

// warnLateLoad logs, once per manager, a session first loaded after the
// response headers went out, when they carry no Vary: Cookie and let a cache
// reuse the response (no no-store, no-cache or private): a response that
// depends on the session may then be given to other users, and no header
// can be added any more. Vary and Cache-Control keys are read in any
// letter case ("vary", "cache-control"), as net/http sends a key that the
// handler set without canonicalizing it as it is (anyCaseLines). After a
// Hijack it is quiet (a websocket reading the session after its
// handshake), and after the handler returned (a goroutine of it). The
// headers are judged as they went out (sentPrivate, which commitFirst
// sets): the live map is not read, since the handler may be setting
// trailers in it while a goroutine of it calls From, and what it sets
// after the first write does not go out. rs.mu is held.
func (rs *requestState) warnLateLoad() {
	if rs.sentPrivate || rs.m.warnedLateLoad.Swap(true) {
		return
	}
	rs.m.logger.WarnContext(rs.r.Context(), "session: loaded after the response headers were sent, which carry no Vary: Cookie: a cache may give this response to other users if it depends on the session; call session.From before the first write (logged once)", "path", rs.r.URL.Path)
}

// cacheReusable reports whether response headers h let a cache reuse the
// response for other users: no Vary that names Cookie (or *), and no
// Cache-Control no-store, no-cache or private.
func cacheReusable(h http.Header) bool {
	for line := range anyCaseLines(h, "Vary") {
		if varyLineNamesCookie(line) {
			return false
		}
	}
	for line := range anyCaseLines(h, "Cache-Control") {
		for d := range cacheDirectives(line) {
			switch strings.ToLower(d) {
			case "no-store", "no-cache", "private":
				return false
			}
		}
	}
	return true
}

// load reads the session named by the request's cookie, or makes a new one.
// A missing, unsigned, forged or expired cookie gives a new session.
func (rs *requestState) load() error {
	m := rs.m
	s := &Session{rs: rs}
	if value, found := requestCookie(rs.r.Header, m.opts.Name); found {
		if v, ok := m.verify(value); ok {
			id := v.id
			rs.cookieID = id
			if v.current {
				rs.cookieValue = value
			}
			ctx, cancel := m.withStoreTimeout(rs.loadContext())
			defer cancel()
			// nil, or the request's store touch, carried on the load; none
			// once the response is released (a Hijack, or a goroutine's
			// From after the handler returned): a touch whose expiry came
			// from the options would have nothing after it to set back the
			// session's own (a "remember me"), and the end of a hijacked
			// request touches as on a store without GetAndTouch.
			var lt *loadTouch
			if touch, ok := m.touchAtLoad(); ok && !rs.released {
				lt = &touch
			}
			doc := loadedDocument{spare: s.valueStore[:]}
			var before time.Time
			if lt != nil {
				before = lt.now
			} else {
				before = m.now()
			}
			ver, data, err := m.read(ctx, id, lt, &doc)
			if err == nil {
				rs.loadedAt = before.UnixNano()
				m.initLoaded(s, id, &doc, ver, data)
				rs.storedSecure = doc.cookie.hasSecure && doc.cookie.secure
				if lt != nil {
					rs.loadTouched = lt.expires
					if m.touchedAtLoad(s, lt) {
						s.set(markStoreTouched) // the end of the request does not touch again
					} else {
						s.set(markStoreExpiryOff)
					}
					// The load pushed the stored expiry forward: a user's index
					// entry must outlive the session, as on every other touch.
					if err := m.indexUser(ctx, s, lt.expires); err != nil {
						if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
							// StoreTimeout ran out, and the index answered
							// an error of its own (a driver's "i/o
							// timeout"): the load timed out all the same
							// (rare.timedOut, unindexedLoad).
							err = fmt.Errorf("%w (%w)", err, cerr)
						}
						// The request fails; the expiry is set back to one
						// the session's entry covers, and given back at the
						// end of the request if the index answers by then.
						if s.storedUser != "" {
							rs.unindexedLoad(err, s, lt, doc.Created)
						}
						rs.sess = s
						return fmt.Errorf("session: load: %w", err)
					}
					s.set(markLoadIndexed)
					s.loadedData = data // to tell a copy written since (touchStored)
				}
				rs.sess = s
				return nil
			}
			if !errors.Is(err, ErrNotFound) {
				return fmt.Errorf("session: load: %w", err)
			}
			if lt != nil && err == errPastAbsolute {
				m.endPastAbsolute(ctx, id, doc.Created)
			}
		}
	}
	id, err := m.newID(&rs.r)
	if err != nil {
		return err
	}
	m.initNew(s, id)
	rs.sess = s
	return nil
}

// endPastAbsolute ends session id, created at created, which the touch
// carried on its load kept stored a Cookie.MaxAge on although it is past
// its AbsoluteTimeout (an AbsoluteTimeout added or shortened since its
// reads kept it alive), as the manager refuses it: a touch to its absolute
// deadline, past, which the store deletes it at. Left stored, every read
// of a browser that still sends its cookie would push it on again, past
// its user's index entry, which no load records for it any more, so that
// "log out everywhere" misses it.
func (m *Manager) endPastAbsolute(ctx context.Context, id string, created time.Time) {
	if _, err := m.toucher.Touch(ctx, id, created.Add(m.opts.AbsoluteTimeout)); err != nil {
		m.logger.WarnContext(ctx, "session: a session past its AbsoluteTimeout, whose expiry the load's touch moved, could not be ended", "id", shortid.Of(id), "err", err)
	}
}

// fail marks the request failed: From returns nil and nothing is
// committed for the rest of it. If the headers have not gone out yet it
// takes back the headers the handler set (outer middleware's stay), adds
// the session's cookie if the client would otherwise be left without the
// session a Save stored (storedCookie), marks the answer pending, so that
// the handler's output goes nowhere, and
// returns err for the caller to hand to the ErrorHandler (answerWith) once
// rs.mu is released: an ErrorHandler that calls From must not deadlock.
// After the headers went out
// (a load first made then) no one can answer: the error is logged and the
// handler's output still goes out, or the response would end cut short as
// if it were complete. rs.mu is held.
func (rs *requestState) fail(err error) error {
	if !rs.failedBeforeHeaders(err) {
		return nil
	}
	return rs.answerFailure(err)
}

// failedBeforeHeaders marks the request failed, and reports whether the
// headers were still to go out; if not, it logs err. rs.mu is held.
func (rs *requestState) failedBeforeHeaders(err error) bool {
	rs.failed = true
	if timedOut := errors.Is(err, context.DeadlineExceeded); timedOut || rs.rare != nil {
		rs.rareLocked().timedOut = timedOut
	}
	if rs.wroteHeader {
		rs.m.logger.ErrorContext(rs.r.Context(), "session: error after the response headers were sent", "err", err, "path", rs.r.URL.Path)
		return false
	}
	return true
}

// failLoad is fail for a load, which any goroutine of the handler may make
// (From): it leaves the answer (taking back the handler's headers, the
// ErrorHandler) to the goroutine that writes the response, at its next
// write or when the handler returns (pendingAnswer), since the handler may
// be setting headers meanwhile, and neither the header map nor the
// ResponseWriter is safe for concurrent use. Until then, Header gives the
// handler a throwaway map, as after the answer. rs.mu is held.
func (rs *requestState) failLoad(err error) {
	if rs.failedBeforeHeaders(err) {
		rs.rareLocked().loadErr = err
	}
}

// pendingAnswer answers a load's failure that waits for it (failLoad), as
// fail does, and returns its error for the ErrorHandler; nil if none
// waits. rs.mu is held.
func (rs *requestState) pendingAnswer() error {
	f := rs.rare
	if f == nil || f.loadErr == nil {
		return nil
	}
	err := f.loadErr
	f.loadErr = nil
	return rs.answerFailure(err)
}

// answerFailure is fail once the request is marked failed before the
// headers went out. rs.mu is held.
func (rs *requestState) answerFailure(err error) error {
	rs.answer = answerPending
	rs.wroteHeader = true
	rs.resetHeader()
	if rs.sess != nil {
		rs.storedCookie(rs.sess)
	}
	return err
}

// storedCookie adds to an error answer the cookie of s if a Session.Save of
// the request stored s under an id the client does not hold, and the
// client's own id, if it came with one, ended (RenewID ends it once the new
// id is stored, Regenerate at once): without it the client keeps an id that
// no longer works, or none, and the session stored stays out of its reach.
// After a later RenewID whose new id was not stored, that is the id it
// renewed from (renewedFrom), which waits for the new id's write. rs.mu is
// held; s.mu is not.
func (rs *requestState) storedCookie(s *Session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.phase == phaseUnset {
		return
	}
	id, c := s.id, s.cookie
	switch {
	case s.renewWaits():
		// The session stays under the id RenewID renewed from, whose
		// write of the new id failed.
		id, c = s.renewedFrom.id, s.renewedFrom.cookie
	case !s.has(markInStore):
		return
	}
	if id == rs.cookieID {
		return
	}
	if s.rs.secureCookie() && !rs.secureRequest() {
		return // as commit: no Secure cookie over an insecure connection
	}
	addVary(rs.w.Header(), &rs.vary)
	rs.writeCookie(rs.m.signer.cookieValue(id), c.expires, rs.m.now())
	rs.sentID = id
}

// resetHeader takes back the headers the handler set: they (a redirect's
// Location, say) belong to the answer that failed. Outer middleware's stay.
func (rs *requestState) resetHeader() {
	h := rs.w.Header()
	clear(h)
	for k, v := range rs.outerHeader {
		h[k] = v
	}
}

// answerWith runs the ErrorHandler for err, which fail or pendingAnswer
// returned, and then marks the answer given (handlerReturned waits for
// it). rs.mu is not held.
func (rs *requestState) answerWith(err error) {
	defer func() {
		rs.mu.Lock()
		rs.answer = answerGiven
		rs.mu.Unlock()
	}()
	rs.m.opts.ErrorHandler(rs.w, &rs.r, err)
}

// answeredHere reports whether the ErrorHandler's answer is given, and
// the response is still the handler's: the answer can be flushed. (While
// the answer is pending, the ErrorHandler runs in another goroutine of the
// handler's.)
func (rs *requestState) answeredHere() bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.answer == answerGiven && !rs.released
}

// beforeHeaders commits the session before the first byte of the response.
// It reports false when the handler's output must be discarded.
func (rs *requestState) beforeHeaders() bool { return rs.beforeHeadersUndoable(nil) }

// headersUndo is what the commit at a Flush or Hijack changed, for
// headersNotSent to take back if the call fails without sending anything.
type headersUndo struct {
	committed    bool     // this call's commit marked the headers out
	cookies      int      // the Set-Cookie lines before it
	cacheControl []string // the Cache-Control lines before it
	sentID       string   // rs.sentID before it

	cacheFields []savedField // the CDN cache fields and other-case Cache-Control keys before it
}

// beforeHeadersUndoable is beforeHeaders, recording in u (if not nil) what
// its commit changed.
func (rs *requestState) beforeHeadersUndoable(u *headersUndo) bool {
	answer, ok := rs.commitFirst(u)
	if answer != nil {
		rs.answerWith(answer)
	}
	return ok
}

// headersNotSent takes back the commit recorded in u: the Flush or Hijack it
// was made for failed, and the headers did not go out. The session's
// Set-Cookie is removed and the Cache-Control (in every case of its key)
// and CDN cache fields that came with it are set back, so that the next write commits again and sends
// the cookie of the session as it is then; what the commit stored stays
// stored.
func (rs *requestState) headersNotSent(u *headersUndo) {
	if !u.committed {
		return
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.failed || !rs.wroteHeader {
		return
	}
	h := rs.w.Header()
	if c := h["Set-Cookie"]; len(c) > u.cookies {
		if u.cookies == 0 {
			delete(h, "Set-Cookie")
		} else {
			h["Set-Cookie"] = c[:u.cookies:u.cookies]
		}
	}
	if u.cacheControl == nil {
		delete(h, "Cache-Control")
	} else {
		h["Cache-Control"] = u.cacheControl
	}
	for _, f := range u.cacheFields {
		h[f.name] = f.lines
	}
	rs.sentID = u.sentID
	rs.wroteHeader = false
}

// commitFirst is beforeHeaders under rs.mu: it commits, unless the headers
// went out already, and returns the error for the ErrorHandler and whether
// the handler's output goes out. rs.mu is released even if the commit
// panics; the request is then past saving, and what the handler (or a
// recovering middleware) writes next goes out without a commit.
func (rs *requestState) commitFirst(u *headersUndo) (answer error, ok bool) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.failed {
		answer = rs.pendingAnswer() // a load's failure, answered by the writer's goroutine
		return answer, rs.answer == answerNone
	}
	if !rs.wroteHeader && !rs.panicked {
		if u != nil {
			h := rs.w.Header()
			*u = headersUndo{cookies: len(h["Set-Cookie"]), cacheControl: h["Cache-Control"], cacheFields: savedCacheFields(h), sentID: rs.sentID}
		}
		if err := rs.guardedCommit(); err != nil {
			answer = rs.fail(err)
		} else {
			rs.wroteHeader = true
			// What a late load's warning needs, read now: once the headers
			// are out, the handler may set trailers while a goroutine of
			// it calls From.
			rs.sentPrivate = !rs.loaded && !rs.m.warnedLateLoad.Load() && !cacheReusable(rs.w.Header())
			if u != nil {
				u.committed = true
			}
		}
	}
	return answer, rs.answer == answerNone
}

// finish commits what the handler changed, when it returns.
func (rs *requestState) finish() {
	if answer := rs.commitLast(); answer != nil {
		rs.answerWith(answer)
	}
}

// commitLast is finish under rs.mu, released even if the commit panics.
func (rs *requestState) commitLast() error {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.failed {
		return rs.pendingAnswer() // a load's failure that no write answered
	}
	if rs.panicked {
		return nil
	}
	if err := rs.guardedCommit(); err != nil {
		return rs.fail(err)
	}
	return nil
}

// guardedCommit is commit. If commit panics (a store or codec with a bug)
// it marks the request panicked, so that no later write commits again, and
// takes back the handler's headers as a failure does, so that a recovering
// middleware's answer does not carry them. rs.mu is held.
func (rs *requestState) guardedCommit() error {
	done := false
	defer func() {
		if !done {
			rs.panicked = true
			if !rs.wroteHeader {
				rs.resetHeader()
			}
		}
	}()
	err := rs.commit()
	done = true
	return err
}

// touchOnce renews the cookie of s for this request, as express's touch at
// the end of a request does: once, at the request's first commit or at a
// Save by hand before it, whichever comes first, so that what a save stores
// expires when the cookie the request sends does. It returns the time of
// the touch, zero if the request had touched the cookie already (or
// dropped the session). s.mu is held.
func (m *Manager) touchOnce(s *Session) time.Time {
	if s.phase == phaseUnset || s.has(markCookieTouched) {
		return time.Time{}
	}
	now := m.now()
	s.touchCookie(now)
	s.set(markCookieTouched)
	m.recordClient(s) // Options.RecordClient: a new user agent or IP is a change (users.go)
	return now
}

// noCookieFor reports whether the client can no longer get a cookie for
// id: the headers went out, and the id is neither the one the client came
// with nor the one whose cookie went with them. rs.mu is held.
func (rs *requestState) noCookieFor(id string) bool {
	return rs.wroteHeader && id != rs.cookieID && id != rs.sentID
}

// commit carries out the end-of-request decision (decide) for the session:
// save or touch it, set or clear its cookie. It runs before the headers go
// out and again when the handler returns. rs.mu is held.
func (rs *requestState) commit() error {
	s := rs.sess
	if s == nil {
		return nil // the handler never asked for the session: nothing to do
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return rs.commitLocked(s)
}

// commitLocked is commit once s.mu is held. (A function of its own, so
// that the defers of each are open-coded: see restoreExpiryLocked.)
func (rs *requestState) commitLocked(s *Session) error {
	m := rs.m
	if !rs.wroteHeader {
		addVary(rs.w.Header(), &rs.vary) // the response depends on the session cookie
	}
	if s.has(markLoginLost) && s.has(markModified) && !s.has(markLoginLostLogged) {
		// Said once, before or after the headers went out.
		s.set(markLoginLostLogged)
		m.logger.InfoContext(rs.r.Context(), "session: not saved: "+loginEndedReason, "id", shortid.Of(s.id))
	}
	if s.phase != phaseUnset && rs.noCookieFor(s.id) {
		if !s.has(markClean) && (s.has(markModified) || s.id != s.originalID) && !s.has(markLoginLost) {
			m.logger.WarnContext(rs.r.Context(), "session: not saved: it was created or renewed after the response headers were sent, so the client has no cookie for it", "path", rs.r.URL.Path)
		}
		if s.renewWaits() { // RenewID's old id, which no write of the new one ends
			ctx, cancel := m.withStoreTimeout(rs.storeContext())
			defer cancel()
			return m.dropRenewedFrom(ctx, s, "renew id")
		}
		return nil
	}
	now := m.touchOnce(s)
	d := decide(decisionInput{
		phase: s.phase, marks: s.marks, id: s.id, originalID: s.originalID, cookieID: rs.cookieID,
		hasExpiry:         !s.cookie.expires.IsZero(),
		saveUninitialized: m.opts.SaveUninitialized, rolling: m.opts.Rolling,
		unsetDestroy: m.opts.Unset == UnsetDestroy,
		lostCreate:   !s.has(markInStore) && s.doubt != nil,
		clientKept:   s.renewedFrom != nil && s.renewedFrom.kept,
	})
	if d == (decision{}) && !s.renewWaits() {
		return nil // nothing to store or send (the second commit, usually)
	}
	if now.IsZero() && (d.save || d.touch || !rs.wroteHeader) {
		// The time of a store touch (apply's, or a save's that falls back
		// to one) and of the cookie; a commit after the headers went out
		// that neither saves nor touches (the second, after a save) needs
		// none.
		now = m.now()
	}
	ctx, cancel := m.withStoreTimeout(rs.commitContext())
	defer cancel()
	id := s.id // the one d is for: a login that a newer one ended is replaced (loseLogin)
	alive, err := m.apply(ctx, s, d, now)
	if err != nil || rs.wroteHeader {
		return err
	}
	if !alive {
		rs.rareLocked().goneID = id
	} else if rs.rare != nil && s.id == rs.rare.goneID {
		alive = false // found gone by an earlier commit, one taken back (headersNotSent)
	}
	switch {
	case d.setCookie && !alive:
		// A cookie for a session that is gone would replace the one that a
		// parallel request (a logout, a login's RenewID) just sent.
	case d.setCookie && s.rs.secureCookie() && !rs.secureRequest():
		m.logger.DebugContext(ctx, "session: not sending a Secure cookie over an insecure connection")
	case d.setCookie:
		value := rs.cookieValue // the request's own, when it is what we would send
		if value == "" || s.id != rs.cookieID {
			value = m.signer.cookieValue(s.id)
		}
		rs.writeCookie(value, s.cookie.expires, now)
		rs.sentID = s.id
	case d.clearCookie:
		rs.writeCookie("", time.Unix(0, 0), now)
	}
	return nil
}

// oneValue returns a header's values slice holding v alone, in spare (the
// requestState's, so that it costs no allocation). The slice is full: a
// handler's Add copies it rather than writing past it.
func oneValue(spare *[1]string, v string) []string {
	spare[0] = v
	return spare[:1:1]
}

// keepFromSharedCaches keeps a response that sets the session cookie out of
// shared caches, which would hand one user's cookie to another: a Set-Cookie
// does not stop a cache from storing a response (RFC 9111, section 7.3), and
// Vary: Cookie does not separate the clients that came with no cookie at
// all. A response without Cache-Control gets "private" (in spare:
// oneValue). A handler's own Cache-Control stays as it is when it already
// keeps shared caches away (no-store, or private, without a malformed
// argument such as "no-store="); otherwise its public and
// s-maxage directives, and a private one that leaves Set-Cookie out of its
// list, are dropped and private comes first, the rest kept (max-age still
// lets the browser cache the page). A directive whose quoted string is not
// closed by the end of its line is dropped, and what follows it is not
// trusted to keep caches away: a cache that joins the lines (RFC 9110,
// section 5.3) reads the lines after it inside that string. A CDN that
// reads CDN-Cache-Control, its own targeted field or Surrogate-Control
// ignores Cache-Control: those fields are keepFromCDN's. A
// Cache-Control key that the handler set without canonicalizing it
// ("cache-control"), which net/http sends as it is beside ours, must have
// been folded into the canonical one first (foldCacheControl, which
// keepFromCaches calls).
func keepFromSharedCaches(h http.Header, spare *[1]string) {
	lines, set := h["Cache-Control"]
	if !set {
		h["Cache-Control"] = oneValue(spare, "private") // h.Set without canonicalizing a canonical key
		return
	}
	kept := []string{"private"}
	for d, trusted := range fieldDirectives(lines) {
		name, value, hasArg := strings.Cut(d, "=")
		name = strings.ToLower(strings.TrimSpace(name))
		switch {
		case name == "no-store" && trusted && !hasArg: // "no-store=" is malformed: not trusted
			return
		case name == "private" && trusted && (!hasArg || namesSetCookie(value)):
			return
		case name == "public" || name == "s-maxage" || name == "private":
			continue
		}
		kept = append(kept, d)
	}
	h["Cache-Control"] = []string{strings.Join(kept, ", ")} // h.Set without canonicalizing a canonical key
}

// fieldDirectives yields the directives of a caching field's lines, but for
// one whose quoted string the end of its line leaves open, each with whether
// it may be trusted to keep caches away: none after such a one may, since a
// cache that joins the lines (RFC 9110, section 5.3) reads them inside that
// string.
func fieldDirectives(lines []string) iter.Seq2[string, bool] {
	return func(yield func(string, bool) bool) {
		broken := false // a directive so far ends inside a quoted string
		for _, line := range lines {
			for d, closed := range cacheDirectives(line) {
				if !closed {
					broken = true
					continue
				}
				if !yield(d, !broken) {
					return
				}
			}
		}
	}
}

// keepFromCaches keeps a response that sets the session cookie out of
// shared caches (keepFromSharedCaches, after foldCacheControl) and CDNs
// (keepFromCDN, for each CDN cache field), in one walk of h that finds both
// the CDN cache fields and the Cache-Control keys not written canonically.
// A header of no fields but the commit's own (onlyCommitFields) has
// neither, nor a Cache-Control: it gets "private" without the walk.
func keepFromCaches(h http.Header, spare *[1]string) {
	if onlyCommitFields(h) {
		h["Cache-Control"] = oneValue(spare, "private") // h.Set without canonicalizing a canonical key
		return
	}
	var others []string // Cache-Control keys not written canonically
	for name, lines := range h {
		if private, ok := cdnCacheField(name); ok {
			keepFromCDN(h, name, lines, private)
		} else if otherCaseCacheControl(name) {
			others = append(others, name)
		}
	}
	foldCacheControl(h, others)
	keepFromSharedCaches(h, spare)
}

// onlyCommitFields reports whether h holds no keys but the ones a commit
// writes, Set-Cookie and Vary, as it does for a handler that set no header
// before its first write. Two lookups, where a walk of the map costs about
// as much as the rest of the cookie's headers.
func onlyCommitFields(h http.Header) bool {
	n := 0
	if _, ok := h["Set-Cookie"]; ok {
		n++
	}
	if _, ok := h["Vary"]; ok {
		n++
	}
	return len(h) == n
}

// foldCacheControl moves the lines of every Cache-Control key not written
// canonically (others) into the canonical key, in the order net/http sends
// the keys (sorted, so "CACHE-CONTROL" before "Cache-Control" before
// "cache-control"), and deletes those keys: a cache reads the lines of all
// of them as one field, and a public, s-maxage or open quoted string left on
// one of them would undo keepFromSharedCaches' private. Without such a key
// (the usual case) it allocates nothing.
func foldCacheControl(h http.Header, others []string) {
	if others == nil {
		return
	}
	names := others
	if _, ok := h["Cache-Control"]; ok {
		names = append(names, "Cache-Control")
	}
	slices.Sort(names)
	var lines []string
	for _, name := range names {
		lines = append(lines, h[name]...)
		delete(h, name)
	}
	h["Cache-Control"] = lines // h.Set without canonicalizing a canonical key
}

// cacheDirectives yields the directives of one Cache-Control line, trimmed,
// without splitting a quoted argument (private="Set-Cookie, Authorization"),
// each with whether its quoted strings are closed: only the last one can
// be left open, by the end of the line.
func cacheDirectives(line string) iter.Seq2[string, bool] {
	return func(yield func(string, bool) bool) {
		quoted, escaped, start := false, false, 0
		for i := 0; i <= len(line); i++ {
			if i < len(line) {
				c := line[i]
				switch {
				case escaped:
					escaped = false
					continue
				case quoted && c == '\\':
					escaped = true
					continue
				case c == '"':
					quoted = !quoted
					continue
				case c != ',' || quoted:
					continue
				}
			}
			if d := strings.TrimSpace(line[start:i]); d != "" && !yield(d, !quoted) {
				return
			}
			start = i + 1
		}
	}
}

// namesSetCookie reports whether a directive's argument, a quoted list of
// field names, names Set-Cookie.
func namesSetCookie(arg string) bool {
	for f := range strings.SplitSeq(strings.Trim(strings.TrimSpace(arg), `"`), ",") {
		if strings.EqualFold(strings.TrimSpace(f), "Set-Cookie") {
			return true
		}
	}
	return false
}

// apply carries out the store side of decision d for s: destroy, save or
// touch. alive is false when the store says another request destroyed or
// renewed the session meanwhile. s.mu is held.
func (m *Manager) apply(ctx context.Context, s *Session, d decision, now time.Time) (alive bool, err error) {
	if !d.save && s.renewWaits() {
		// RenewID's old id waits for a write of the new one that this
		// request does not make (the handler unset the session): it ends
		// now.
		if err := m.dropRenewedFrom(ctx, s, "renew id"); err != nil {
			return false, err
		}
	}
	switch {
	case d.destroy:
		s.set(markUnsetDestroyed)
		if !s.has(markInStore) {
			return false, m.dropLostCreate(ctx, s, "unset")
		}
		if err := m.store.Destroy(ctx, s.id); err != nil {
			return false, fmt.Errorf("session: unset: destroy: %w", err)
		}
		m.unindexUser(ctx, s.storedUser, s.id)
		return false, nil
	case d.save:
		if err := m.persist(ctx, s); errors.Is(err, errGone) {
			m.logger.InfoContext(ctx, "session: not saved: destroyed by another request meanwhile", "id", shortid.Of(s.id))
			// The rest of the request (a handler that goes on after its
			// first write) reads no user or values of it, as after a
			// Save that finds it gone. (Not after a touch that finds it
			// gone: a store that touches on the load finds nothing then,
			// and what a request reads must not depend on the store.)
			if err := s.endedElsewhere(); err != nil {
				m.logger.WarnContext(ctx, "session: the session found gone is not replaced with a new one", "id", shortid.Of(s.id), "err", err)
			}
			return false, nil
		} else if err == errLoginLost {
			return false, nil // saved, and ended by its trim: no cookie for it
		} else if errors.Is(err, ErrTooLarge) && s.unchangedLoaded() && !m.opts.Resave {
			// Saved only to record its load time (AbsoluteTimeout, a
			// session an express app created), which does not fit:
			// the store holds the session as the request has it, and
			// the request goes on as one that needs no such record.
			m.logger.WarnContext(ctx, "session: not saved: its load time, for AbsoluteTimeout, would take it over MaxDocumentBytes", "id", shortid.Of(s.id), "err", err)
			s.set(markClean)
			if !s.has(markStoreTouched) {
				s.set(markStoreTouched)
				return m.touch(ctx, s, now)
			}
		} else if err != nil {
			return false, err
		}
	case d.touch:
		s.set(markStoreTouched)
		return m.touch(ctx, s, now)
	}
	return true, nil
}

// addVary adds Cookie to the Vary header, unless it is there already. A
// response without Vary gets its value in spare (oneValue).
func addVary(h http.Header, spare *[1]string) {
	lines := h["Vary"] // looked up once
	if len(lines) == 0 {
		h["Vary"] = oneValue(spare, "Cookie")
		return
	}
	if variesOnCookie(lines) {
		return
	}
	h["Vary"] = append(lines, "Cookie") // h.Add without canonicalizing a canonical key
}

// variesOnCookie reports whether the lines of a Vary header name Cookie, or
// are *.
func variesOnCookie(lines []string) bool {
	for _, v := range lines {
		if varyLineNamesCookie(v) {
			return true
		}
	}
	return false
}

// varyLineNamesCookie reports whether one line of a Vary header names
// Cookie, or is *.
func varyLineNamesCookie(line string) bool {
	for f := range strings.SplitSeq(line, ",") {
		if f = strings.TrimSpace(f); f == "*" || strings.EqualFold(f, "Cookie") {
			return true
		}
	}
	return false
}

// anyCaseLines yields the lines of every key of h that names the field
// name (written canonically) in any letter case, in no particular order:
// net/http sends a key that a handler set without canonicalizing it
// ("cache-control", "vary") as it is, beside the canonical one, and a cache
// reads the lines of all of them as one field.
func anyCaseLines(h http.Header, name string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for key, lines := range h {
			if !namesField(key, name) {
				continue
			}
			for _, line := range lines {
				if !yield(line) {
					return
				}
			}
		}
	}
}

// namesField reports whether a header key names the field name (written
// canonically) in any letter case; the length check spares most keys the
// fold.
func namesField(key, name string) bool {
	return len(key) == len(name) && (key == name || strings.EqualFold(key, name))
}

// touch pushes the stored session's expiry forward, and reports whether the
// session was still there. With TouchAfter, a session whose expiry moved
// less than TouchAfter ago is left alone, and a due touch rewrites the
// document so that it records the new expiry.
func (m *Manager) touch(ctx context.Context, s *Session, now time.Time) (found bool, err error) {
	if m.opts.TouchAfter > 0 && !s.loadedExpires.IsZero() {
		lastTouch := s.loadedExpires.Add(-s.cookie.originalMaxAge)
		if now.Sub(lastTouch) < m.opts.TouchAfter {
			return true, nil
		}
		return m.rewrite(ctx, s)
	}
	if m.toucher == nil {
		if m.opts.IdleTimeout > 0 {
			// The idle deadline counts from the last use, and a store that
			// cannot touch moves it only by a write.
			return m.rewrite(ctx, s)
		}
		return true, nil // as express: such a store keeps the expiry of the last save
	}
	exp := m.expiryAt(s.cookie.expires, s.created, now)
	user := s.userLocked()
	// The index entry must outlive the session. The one the load recorded
	// with its touch does, when exp is no later (a cookie of its own
	// shorter than Cookie.MaxAge, or the AbsoluteTimeout's cap): no index
	// write, which could fail the request and leave the session the
	// load's expiry, past its own.
	if !s.loadIndexCovers(exp) {
		if err := m.indexUser(ctx, s, exp); err != nil {
			return false, err
		}
	}
	return m.touchStored(ctx, s, exp, user)
}

// loadIndexCovers reports whether the user index entry that the load of s
// recorded with its touch (markLoadIndexed) outlives an expiry exp of
// s: exp is no later than that touch's (not the store's default
// lifetime, which cannot be ordered with it), and nothing has written,
// re-read or rebound the session since. s.mu is held.
func (s *Session) loadIndexCovers(exp time.Time) bool {
	return s.has(markLoadIndexed) && s.userLocked() == s.storedUser && s.rs.withinLoadTouch(exp)
}

// withinLoadTouch reports whether exp is no later than the expiry the touch
// carried on the load set (loadTouched), both known: neither is the
// store's default lifetime, which cannot be ordered with the other.
func (rs *requestState) withinLoadTouch(exp time.Time) bool {
	return !exp.IsZero() && !rs.loadTouched.IsZero() && !exp.After(rs.loadTouched)
}

// touchStored sets the stored session's expiry to exp with the store's
// Toucher, which the manager must have, and reports whether the session was
// still there. The caller has made sure that the user's index entry lasts
// until exp (touch records it; restoreExpiry, only past the load's):
// indexed is the user whose entry it recorded for this touch, "" for none.
//
// exp comes from the cookie the request loaded, and another request may
// have written the session since with a cookie of its own (a "remember me",
// a shorter one): with a store that reads and touches in one round trip,
// the touch is a GetAndTouch, which answers what it touched, and when that
// copy's cookie gives another expiry, the session is touched again with it
// (touchedWritten). Without such a store the touch sets exp all the same:
// see the README's notes on touches.
//
// That user is the one the request loaded, and another request may have
// rebound the session since (SetUser to another user, or "") and removed
// the entry (userSaved) before this one recorded it again. With a
// GetToucher that removes entries, when what the touch answers is no
// longer indexed's, the entry is removed again. Without such a store the
// entry stays until its expiry: see the package notes on users.
func (m *Manager) touchStored(ctx context.Context, s *Session, exp time.Time, indexed string) (found bool, err error) {
	if m.getToucher != nil && s.has(markInStore) {
		data, ver, found, err := m.getToucher.GetAndTouch(ctx, s.id, exp)
		if err != nil {
			return false, fmt.Errorf("session: touch: %w", err)
		}
		if !found {
			return false, nil
		}
		loaded := ver != "" && ver == s.version && s.storedUser == indexed && !s.has(markCookieSet)
		covered := indexed != "" && s.loadIndexCovers(exp)
		if covered && exp.Before(s.rs.loadTouched) && (loaded || bytes.Equal(data, s.loadedData)) {
			// The copy the load touched, whose entry touch relied on: the
			// load recorded it for its touch's expiry, the options'. Now
			// that the session has its own, earlier one, the entry says
			// so (SessionInfo.Expires), as after a save that shortened
			// it (reindexShortened); a failure leaves the load's.
			if err := m.indexUser(ctx, s, exp); err != nil {
				m.logger.WarnContext(ctx, "session: could not record the earlier expiry of a touched session in its user's index; the entry keeps the load's", "id", shortid.Of(s.id), "err", err)
			}
		}
		if loaded {
			return true, nil // the copy loaded, whose cookie s has
		}
		// Perhaps not the copy loaded (pgstore's touch gives a new
		// version): another request may have written it. Or the copy
		// loaded, whose cookie the handler changed and a failed save did
		// not store (restoreExpiry): the browser holds the stored one,
		// and the stored expiry follows it. A write since replaced the
		// entry the load recorded, which touch relied on
		// (loadIndexCovers), with one for that write's expiry, perhaps
		// earlier than exp: reindex.
		// So did restoreExpiry's set back of an expiry no later than the
		// load's (indexed ""), after a failed save or a panic.
		relied := covered || (indexed == "" && s.storedUser != "" && s.rs.withinLoadTouch(exp))
		reindex := relied && !bytes.Equal(data, s.loadedData)
		return m.touchedWritten(ctx, s.id, &s.cookie, s.created, s.storedUser, s.has(markCookieTouched), reindex, data, exp, indexed, s.rs.loadedSince())
	}
	// loadedData is kept for a VersionToucher while version is still the
	// loaded one, and no write of it is in doubt (and after a touch carried
	// on the load, for a GetToucher, whose touch is the one above).
	if vg, ok := m.versionToucher.(VersionGetToucher); ok && s.loadedData != nil {
		current, found, err := vg.GetAndTouchVersion(ctx, s.id, s.version, s.loadedData, exp)
		if err != nil {
			return false, fmt.Errorf("session: touch: %w", err)
		}
		if current == nil {
			return found, nil // the copy loaded (or gone)
		}
		return m.touchedWritten(ctx, s.id, &s.cookie, s.created, s.storedUser, s.has(markCookieTouched), false, current, exp, indexed, s.rs.loadedSince())
	}
	if s.loadedData != nil && m.versionToucher != nil {
		found, err = m.versionToucher.TouchVersion(ctx, s.id, s.version, s.loadedData, exp)
	} else {
		found, err = m.toucher.Touch(ctx, s.id, exp)
	}
	if err != nil {
		return false, fmt.Errorf("session: touch: %w", err)
	}
	return found, nil
}

// touchedWritten follows up touchStored's GetAndTouch of s, which set the
// stored expiry to exp and answered data, when data may be a copy another
// request wrote since the load: s is session id, loaded with cookie
// (created at created, stored as storedUser's), which the request renewed
// from now (renewed) or not; restoreExpiry passes the old id's of a
// RenewID whose new id was never written. If it is no longer indexed's, indexed's
// entry is removed (a copy this manager cannot decode keeps it: its user
// cannot be told, as in userSessions the entry's word is taken, and another
// instance, with another Codec, may serve it as indexed's). If its cookie
// is not the one s has (another request set a "remember me", or a shorter
// one), the stored expiry is set from that cookie instead, as a touch of
// that copy would set it: else a read that began before that write would
// cut the longer session short while the browser holds its cookie, or keep
// the shorter one alive past its cookie. s then takes that cookie, so that
// a Rolling response sends the cookie the session lasts by. reindex: no
// entry was recorded for exp, and the one the load recorded may not cover
// it (data is a copy written since, whose write recorded the entry for its
// own expiry: loadIndexCovers; or restoreExpiry's old id of a RenewID): a
// copy still storedUser's records it now, or, if that fails, the stored
// expiry goes back to the one the copy's write gave it. since is no later
// than the write of any copy written since the load (loadedSince).
func (m *Manager) touchedWritten(ctx context.Context, id string, cookie *cookieState, created time.Time, storedUser string, renewed, reindex bool, data []byte, exp time.Time, indexed string, since time.Time) (found bool, err error) {
	for try := 0; ; try++ {
		var doc loadedDocument
		if m.decodeInto(data, &doc) != nil {
			return true, nil // not this manager's to read: the next load drops it
		}
		user := userOf(&doc.vals)
		if indexed != "" && m.unindexer != nil && user != indexed {
			m.unindexUser(ctx, indexed, id) // logged if it fails: the entry expires on its own
			indexed = ""
		}
		if reindex && user != "" && user == storedUser {
			reindex = false
			if err := m.indexTouched(ctx, user, id, exp, &doc, created, since); err != nil {
				return true, err
			}
		}
		// A user another request bound the session to since (SetUser on a
		// shared device) has the entry that request's save recorded, to
		// the expiry it gave the session: the touch to exp, renewed from
		// now, outlives it once the save is IndexGrace old, and a log out
		// everywhere of that user would miss the session.
		rebound := user != "" && user != indexed && user != storedUser
		c := storedCookie(&doc.cookie)
		// The request renewed the cookie of s from now (a touch, or a
		// failed save's set back), and exp with it; restoreExpiry's set
		// back after an UnsetKeep or a panic did not, and sets the expiry
		// the loaded cookie had: a copy written since keeps its own, even
		// with the same max age (the other request renewed it).
		if sameLifetime(c, *cookie) && (renewed || c.expires.Equal(cookie.expires)) || try == touchTries {
			// The copy's own expiry, or, out of tries (other requests
			// keep changing the cookie), the last touch's: the entry of
			// the user the session now belongs to must cover it. Out of
			// tries, that copy's save recorded the entry for its own
			// expiry, perhaps earlier than exp, even when the session
			// is still indexed's or storedUser's (a shorter cookie of
			// its own), replacing any this loop recorded for exp.
			if rebound || try == touchTries && user != "" {
				return true, m.indexTouched(ctx, user, id, exp, &doc, created, since)
			}
			return true, nil
		}
		now := m.now()
		if renewed {
			c.touch(now)
		}
		*cookie = c
		if !doc.Created.IsZero() {
			created = doc.Created
		}
		want := m.expiryAt(c.expires, created, now)
		if want.Equal(exp) {
			if rebound {
				return true, m.indexTouched(ctx, user, id, exp, &doc, created, since)
			}
			return true, nil
		}
		// The user's index entry must outlive the session: a rebound
		// session's, exp too, which it keeps should the touch below fail.
		if user != "" && (rebound || want.IsZero() || exp.IsZero() || want.After(exp)) {
			idx := want
			if rebound && !want.IsZero() && !exp.IsZero() && exp.After(want) {
				idx = exp
			}
			if rebound {
				err = m.indexTouched(ctx, user, id, idx, &doc, created, since)
			} else {
				err = m.indexUserAs(ctx, user, id, idx)
			}
			if err != nil {
				return true, err
			}
			indexed = user
		}
		if m.getToucher == nil {
			// A VersionGetToucher's: a touch that answers what it
			// touched needs the version of what was read, which this
			// answer lacks.
			if found, err = m.toucher.Touch(ctx, id, want); err != nil {
				return false, fmt.Errorf("session: touch: %w", err)
			}
			return found, nil
		}
		data, _, found, err = m.getToucher.GetAndTouch(ctx, id, want)
		if err != nil {
			return false, fmt.Errorf("session: touch: %w", err)
		}
		if !found {
			return false, nil
		}
		exp = want
	}
}

// indexTouched records user's index entry for exp, the expiry a touch
// just gave session id, which it answered as doc, a copy another request
// wrote since the load (created at created, if doc records no creation
// time), whose write recorded an entry for the expiry it gave the
// session, perhaps earlier than exp. If that fails, the stored expiry goes
// back to the one doc's write gave it: else the session outlives that
// entry, and a "log out everywhere" of user's misses it. That write was
// made no earlier than since (the load) nor than its cookie was set: an
// IdleTimeout is counted from then, not from now, which would outlive
// the write's entry by the time since it (a browser-session cookie, or
// one longer than the IdleTimeout).
func (m *Manager) indexTouched(ctx context.Context, user, id string, exp time.Time, doc *loadedDocument, created, since time.Time) error {
	err := m.indexUserAs(ctx, user, id, exp)
	if err == nil {
		return nil
	}
	if !doc.Created.IsZero() {
		created = doc.Created
	}
	c := storedCookie(&doc.cookie)
	written := cookieSetAfter(c, since)
	if now := m.now(); written.After(now) {
		written = now
	}
	back := m.expiryAt(c.expires, created, written)
	if _, terr := m.toucher.Touch(ctx, id, back); terr != nil {
		m.logger.WarnContext(ctx, "session: the stored expiry a touch gave past the user index entry could not be set back", "id", shortid.Of(id), "err", terr)
	}
	return err
}

// loadedSince is the manager's clock before the load read the stored
// session (loadedAt), no later than any write of another request since;
// the time now if no stored session was read.
func (rs *requestState) loadedSince() time.Time {
	if rs.loadedAt == 0 {
		return rs.m.now()
	}
	return time.Unix(0, rs.loadedAt)
}

// touchTries bounds touchedWritten's touches of a session whose cookie
// other requests keep changing while it touches; the copy the last one
// answers is still checked for its user.
const touchTries = 3

// sameLifetime reports whether cookies a and b give a session the same
// expiry when touched at the same time: the same max age (within a second,
// as express-session stores one now and then a millisecond short: see
// touchedAtLoad), or, without one, the same fixed expiry (or none).
func sameLifetime(a, b cookieState) bool {
	if a.originalMaxAge > 0 && b.originalMaxAge > 0 {
		d := a.originalMaxAge - b.originalMaxAge
		return d > -time.Second && d < time.Second
	}
	return a.originalMaxAge == b.originalMaxAge && a.expires.Equal(b.expires)
}

// rewrite saves s unchanged, to move its stored expiry, and reports whether
// the session was still there.
func (m *Manager) rewrite(ctx context.Context, s *Session) (found bool, err error) {
	if err := m.persist(ctx, s); errors.Is(err, errGone) || err == errLoginLost {
		return false, nil
	} else if err != nil {
		return false, err
	}
	return true, nil
}

// secureRequest reports whether the request came over TLS, or, with
// TrustProxy or TrustedProxyHops or from one of the TrustedProxies,
// whether the first X-Forwarded-Proto says https.
func (rs *requestState) secureRequest() bool {
	if rs.r.TLS != nil {
		return true
	}
	if !rs.m.trustsForwarded(&rs.r) {
		return false
	}
	proto := rs.r.Header.Get("X-Forwarded-Proto")
	if i := strings.IndexByte(proto, ','); i >= 0 {
		proto = proto[:i]
	}
	return strings.EqualFold(strings.TrimSpace(proto), "https")
}

// secureCookie reports whether the session cookie is marked Secure. With
// SecureAuto a session that was stored with a Secure cookie keeps it, as
// express's stored cookie does: used over plain HTTP later, it gets no
// cookie rather than one without Secure.
func (rs *requestState) secureCookie() bool {
	switch rs.m.opts.Cookie.Secure {
	case SecureAlways:
		return true
	case SecureAuto:
		return rs.storedSecure || rs.secureRequest()
	}
	return false
}

// sameSite returns the stored form of the SameSite attribute, as express
// stores it. (writeCookie leaves SameSiteNone out of a cookie that is not
// Secure, as Partitioned: see there.)
func (rs *requestState) sameSite() string {
	switch rs.m.opts.Cookie.SameSite {
	case SameSiteLax:
		return "lax"
	case SameSiteStrict:
		return "strict"
	case SameSiteNone:
		return "none"
	case SameSiteAuto:
		if rs.secureRequest() {
			return "none"
		}
		return "lax"
	}
	return ""
}

// writeCookie adds the session's Set-Cookie header, attributes in
// express's order, with Max-Age beside Expires. A zero expires makes a
// browser-session cookie.
func (rs *requestState) writeCookie(value string, expires, now time.Time) {
	o := &rs.m.opts.Cookie
	// Built in an array on the stack, so that the header's value is one
	// allocation of its own size (a longer cookie goes on in a slice of
	// its own).
	var buf [256]byte
	b := append(buf[:0], rs.m.opts.Name...)
	b = append(b, '=')
	b = append(b, value...)
	if o.Domain != "" {
		b = append(b, "; Domain="...)
		b = append(b, o.Domain...)
	}
	b = append(b, "; Path="...)
	b = append(b, o.Path...)
	if !expires.IsZero() {
		b = append(b, "; Expires="...)
		b = appendHTTPTime(b, expires)
		b = append(b, "; Max-Age="...)
		b = strconv.AppendInt(b, maxAgeSeconds(expires, now), 10)
	}
	if !o.DisableHTTPOnly {
		b = append(b, "; HttpOnly"...)
	}
	secure := rs.secureCookie()
	if secure {
		b = append(b, "; Secure"...)
		if o.Partitioned { // only with Secure, or browsers drop the cookie
			b = append(b, "; Partitioned"...)
		}
	}
	switch o.Priority {
	case "low":
		b = append(b, "; Priority=Low"...)
	case "medium":
		b = append(b, "; Priority=Medium"...)
	case "high":
		b = append(b, "; Priority=High"...)
	}
	switch rs.sameSite() {
	case "lax":
		b = append(b, "; SameSite=Lax"...)
	case "strict":
		b = append(b, "; SameSite=Strict"...)
	case "none":
		// Browsers drop a SameSite=None cookie without Secure
		// (SecureAuto over plain HTTP): leave it out, so that the
		// browser's default applies and the session comes back.
		if secure {
			b = append(b, "; SameSite=None"...)
		}
	}
	line := string(b)
	h := rs.w.Header()
	if len(h["Set-Cookie"]) == 0 {
		h["Set-Cookie"] = oneValue(&rs.setCookie, line) // h.Set without canonicalizing a canonical key
	} else {
		h["Set-Cookie"] = append(h["Set-Cookie"], line) // h.Add without canonicalizing a canonical key
	}
	keepFromCaches(h, &rs.cacheControl)
}

// maxAgeSeconds is the Max-Age attribute of a cookie that expires at
// expires: the whole seconds left, as Expires (to the second) says, but 1
// for a cookie with less than a second left, since Max-Age=0 tells the
// browser to delete it; 0 once it has expired.
func maxAgeSeconds(expires, now time.Time) int64 {
	left := expires.Sub(now)
	if left <= 0 {
		return 0
	}
	return max(1, int64(left/time.Second))
}

// requestPath returns the path of the request's target as the client sent
// it, the one a browser matches the cookie's path against (RFC 6265 section
// 5.1.4: the request-uri's, percent-encoded as it came): the path of
// RequestURI, which http.StripPrefix and a router's mount leave alone when
// they take a prefix off r.URL.Path, as express-session reads
// req.originalUrl. A target that is not a path (absolute-form, "*"), or a
// request made in-process without RequestURI, gives r.URL.Path.
func requestPath(r *http.Request) string {
	p := r.RequestURI
	if p == "" || p[0] != '/' {
		return r.URL.Path
	}
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	return p
}

// pathMatch is RFC 6265 section 5.1.4 path-match: the cookie path equals the
// request path, or is a prefix of it that ends in "/" or is followed by "/".
func pathMatch(reqPath, cookiePath string) bool {
	if reqPath == "" {
		reqPath = "/"
	}
	if !strings.HasPrefix(reqPath, cookiePath) {
		return false
	}
	return len(reqPath) == len(cookiePath) || strings.HasSuffix(cookiePath, "/") || reqPath[len(cookiePath)] == '/'
}

// requestCookie returns the value of the first cookie called name in the
// request's Cookie headers, as net/http would parse it (surrounding quotes
// removed), without allocating.
func requestCookie(h http.Header, name string) (string, bool) {
	for _, line := range h["Cookie"] {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = strings.TrimSpace(part)
			k, v, ok := strings.Cut(part, "=")
			if !ok || k != name {
				continue
			}
			if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			return v, true
		}
	}
	return "", false
}
