package session

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/sessionkit/session/internal/shortid"
)

// Sessions that belong to a user (issue #14).
//
// Session.SetUser binds a session to a user id, stored inside the session's
// document under UserKey, so an Express app sharing the store keeps it as
// data. A store that is a UserIndex keeps, for each user, the ids of their
// sessions; with it the manager lists a user's sessions (UserSessions), ends
// them (DestroyUserSessions) or one of them (DestroyUserSession, or
// DestroyUserSessionByPublicID for a devices page's form) and caps
// them (Options.MaxSessionsPerUser).
//
// How the index stays right without a transaction spanning the session and
// the index (Redis Cluster puts them on different nodes): before every
// write or touch of a session that has a user, the manager records the index
// entry with an expiry at least as late as the session's. A write that
// shortens the session's expiry (Cookie().SetMaxAge(time.Hour) after a
// 30-day "remember me") may fail and leave the stored copy's, so before it
// the entry keeps the later of the two, and only a write that succeeded
// records the shorter one (indexExpiry). Stores prune
// entries once their expiry has passed (plus IndexGrace). So every stored
// session with a user has its index entry (a login racing
// DestroyUserSessions is either listed and destroyed, or written after the
// listing and still indexed: it survives whole), and an entry may outlive
// its session, which UserSessions skips. One write records it right after
// instead: the create of a new session (with a VersionedStore), whose id no
// client holds until the save returns and its cookie goes out, so no
// request can use the session before its entry is recorded (a login
// racing DestroyUserSessions then survives whole, indexed, as above; if
// the entry cannot be recorded, the session is destroyed and the save
// fails; if it cannot be destroyed either, a later save of the request
// finds it its own and keeps its id, recording the entry first, and a
// Destroy, Regenerate or RenewID of the request destroys it and removes
// the entry). Recorded
// first, the entry of a create that finds the id another stored session's
// (a GenerateID that repeats ids) would replace that session's entry for
// the same user with the new session's expiry, and a longer-lived session
// would drop out of its user's index early.
//
// With a store that is also a UserIndexRemover and a VersionedStore, the
// manager removes an entry as soon as it is stale: after the store confirmed
// the destroy of a session the manager knows belongs to the user (Destroy,
// RenewID's and Regenerate's old id, Unset with UnsetDestroy,
// MaxSessionsPerUser, DestroyUserSessions, DestroyUserSession,
// DestroyUserSessionByPublicID), after a save that unbound
// the session from the user (SetUser("") or another user), and when a
// save's re-read finds that another request unbound it, the entry the save
// recorded for the user it loaded (unindexRebound). A destroyed id is
// never written again (a request that had it loaded fails its
// compare-and-swap; new ids are fresh) but by a create, which records its
// entry (a RenewID's new id whose write finishRenew undid, saved again by
// the same request), so that removal cannot orphan a session. Then a
// user's index holds their live sessions, not every login of a session
// lifetime: a login under MaxSessionsPerUser lists a bounded index. The unbinding removal has one race, in which a request that binds
// the same user to the same session (SetUser without RenewID) right after
// the unbinding save can lose its entry until its session's next write or
// touch records it again. RenewID, which writes a session's values under a
// new id, re-reads a session with a user first (renewStored), so that it
// does not bring back one that another request destroyed or unbound after
// this request loaded it. Without compare-and-swap a destroyed session can
// be written back (as express does), so entries then wait for their expiry.
// A failed removal is only logged: the entry still expires on its own.
//
// A touch records the entry of the user the request loaded, and another
// request may have rebound the session since (SetUser to another user, or
// "") and removed that entry. So with a UserIndexRemover that is also a
// GetToucher, the touch of a session with a user is a GetAndTouch, in the
// round trip the touch takes anyway, and when the copy it touched belongs
// to another user (or none), the entry it recorded is removed again
// (touchStored); a copy this manager cannot decode keeps it. Two windows
// remain: the touch carried on the load records the entry after its
// GetAndTouch answered, so a rebinding saved in between leaves it; and on a
// store without GetAndTouch any touch may leave it. Such an
// entry lasts until the expiry that touch gave it (plus IndexGrace), and
// misleads no manager that reads the session: UserSessions,
// MaxSessionsPerUser and DestroyUserSessions check each session's user. A
// manager that cannot decode it (another Codec) takes the entry's word, and
// its DestroyUserSessions of the former user ends the session. The removal
// shares the race of the unbinding removal above.
//
// The touch carried on the load is also the one touch that comes before
// its entry: when that index write fails, the request fails, and the load
// sets the stored expiry back at once to one the session's existing entry
// covers (the expiry of its last save, no later than what a read since may
// have left the entry at, or IndexGrace past the load: unindexedFloor; no
// later than a write of the session since the load gave it, whose entry
// may be shorter: setBackUnindexed; after a timeout, in a goroutine, so
// that the answer does not wait for it: unindexedLoad), so that no session
// outlives its entry and escapes DestroyUserSessions, however long the
// handler runs on. The end of the request records the entry again and, if
// the index answers by then, gives the session back the expiry it is to
// keep; if not, the session keeps the one set back, or the one a request of
// it that reached the index gave it meanwhile, and a set back that failed
// is tried again (restoreUnindexedLocked).
//
// MaxSessionsPerUser fails closed. A login lists the user's sessions after
// its own write, so when the listing or a destroy beyond the cap fails, the
// session is stored and indexed already. Kept, it would either be reachable
// by no one (a new id whose cookie the failed request never sent) yet count
// against the cap as the user's most recently used session, so that later
// logins' trimming would end a real device's session in its place; or
// (SetUser without RenewID) be the client's, logged in beyond the cap. So
// the save fails and the manager destroys that session and removes its
// entry (dropLogin); the request's session is then as after Destroy, but
// that after a RenewID the client's own session, which waited for the
// login's write, stays as it was. A session that was the user's before the
// write is no new login, and stays.
//
// Parallel logins agree on which sessions a trim keeps. Each login records
// its time in the document (LoginKey), and a trim by login s ranks first
// the sessions whose login is as late as s's or later (s among them),
// newest first, the lower id first at the same millisecond, and then the
// others, most recently used first. Two logins that each list after both
// wrote rank the newer one first, both of them: under a cap of 1 the
// newer stays and the older ends, ended by both trims, where each used to
// keep its own session first and end the other's, leaving none. The
// newest login is first in every trim's ranking, so it survives them all.
// A login time more than a minute ahead of the trim's clock (loginSkew)
// counts as none: a session whose login time says the year 3000 (by hand,
// or by an instance whose clock is that far ahead) would rank first in
// every trim, and under a cap of 1 end every later login of its user.
// A trim that ranks s itself beyond the cap (a newer login came first)
// destroys it with the others, and s's request goes on with a new, empty
// session that is gone (loseLogin, markLoginLost): the save succeeded, the
// login's RenewID ends the client's old id as after any login, no cookie
// goes out (it would name a session that is gone, and replace the newer
// login's cookie in a browser that sent both, a double-clicked form), and
// none is cleared; what the request changes after it is not stored either
// (its cookie would replace the newer login's just the same), unless the
// request starts over (SetUser, Regenerate, RenewID, Destroy); even then,
// no cookie is cleared (markClientGone: a Destroy with no change after it
// sends none). A login whose
// session another trim ended before its own listing ranks itself all the
// same, not being listed, and goes on so too when it ranks beyond the cap.

// UserKey is the top-level document key that holds the id of the user the
// session belongs to (a JSON string). It is reserved: Session.Set and
// Session.Delete ignore it and Session.Keys does not list it; SetUser sets it.
const UserKey = "__sessionkit_user"

// ClientKey is the top-level document key that holds the user agent and
// client IP of a session with a user, when Options.RecordClient is on
// ({"ua":"...","ip":"..."}). It is reserved like UserKey.
const ClientKey = "__sessionkit_client"

// LoginKey is the top-level document key that holds the time of the login
// that bound the session to its user (an ISO-8601 string with
// milliseconds, as CreatedKey), by which Options.MaxSessionsPerUser ranks
// parallel logins. SetUser sets it when it binds the session to a user it
// was not stored under (a new session, one given a new id by RenewID, or
// one of another user or of none), and SetUser("") removes it. It is
// reserved like UserKey. A session stored without it (by an earlier
// version, or by another app) has no login time, and so, for
// MaxSessionsPerUser's ranking, has one that is not an ISO-8601 string or
// that is more than a minute ahead of the clock of the login that ranks
// it (written by an instance whose clock is ahead, or by hand).
const LoginKey = "__sessionkit_login"

// IndexGrace is how long a store keeps a user index entry past its expiry.
// A session stored with a zero expiry gets the store's default lifetime from
// the moment of its write, a little after its index entry got it; the grace
// covers that gap and small clock differences between app instances.
const IndexGrace = time.Minute

// maxUserAgent bounds the user agent recorded in the document.
const maxUserAgent = 256

// maxClientIP bounds the client IP recorded in the document, which with
// TrustProxy the client writes (X-Forwarded-For), and with TrustedProxies
// or TrustedProxyHops a proxy may write as it likes (an entry that is not
// an address), or, with too large a hop count, the client: an IPv6
// address with a zone is under 64 bytes.
const maxClientIP = 64

// ErrNotSupported reports a manager operation that its store cannot do, such
// as listing a user's sessions on a store that keeps no user index
// (memcachedstore).
var ErrNotSupported = errors.New("session: not supported by this store")

// UserIndex is a Store that keeps, for each user, the ids of the sessions
// that belong to them.
//
// The manager calls IndexUserSession before every write or touch of a
// session with a user (right after the create of a new one, whose id no
// client holds yet). A store removes an entry only once its expiry plus
// IndexGrace has passed (pruning it when it writes or lists that user's
// entries), never by itself when the session is destroyed: the manager
// removes a stale entry through UserIndexRemover, where it knows that is
// safe. Entries of different users are independent. Why this keeps the
// index right without a transaction across session and index is in the
// README ("Sessions that belong to a user") and the notes at the top of
// users.go.
type UserIndex interface {
	// IndexUserSession records that session id belongs to user, used at
	// used, until expires (zero: now plus the store's default lifetime). A
	// later call for the same user and id replaces the entry.
	IndexUserSession(ctx context.Context, user, id string, used, expires time.Time) error
	// UserSessions calls yield with each of the user's index entries
	// whose expiry (plus IndexGrace) has not passed, in no given order, with
	// the session's stored bytes, or nil data for a session that is gone or
	// expired. used and expires are as the entry recorded them; a used
	// that cannot be read (an entry edited by hand) is the zero time, and
	// the entry is still yielded, so that its session can be destroyed; an
	// expires that never passes but no time.Time holds (PostgreSQL's
	// 'infinity') is the zero time too. (A callback of plain types, so that
	// a store need not import this package.)
	UserSessions(ctx context.Context, user string, yield func(id string, used, expires time.Time, data []byte)) error
}

// UserIndexRemover is a UserIndex that can remove one entry at once, so
// that the index of a user who logs in often holds their live sessions
// rather than every session of the last session lifetime. The manager calls
// it, on a store that is also a VersionedStore (without compare-and-swap a
// destroyed session can be written back, so its entry must wait for its
// expiry), once the store confirmed the destroy of a session it knows
// belongs to the user, after a save that unbound the session from the
// user, and after a touch that found it no longer the user's (see the README's
// "Sessions that belong to a user" and the notes at the top of users.go).
type UserIndexRemover interface {
	UserIndex
	// UnindexUserSession removes user's entry for session id, and leaves the
	// session and the user's other entries alone. Removing a missing entry
	// is not an error.
	UnindexUserSession(ctx context.Context, user, id string) error
}

// IndexDeadline returns when a store may prune a user index entry recorded
// at now with expires (zero: the store's defaultTTL): the expiry plus
// IndexGrace. Stores share it so that they all keep entries equally long.
func IndexDeadline(expires, now time.Time, defaultTTL time.Duration) time.Time {
	if expires.IsZero() {
		expires = now.Add(defaultTTL)
	}
	return expires.Add(IndexGrace)
}

// SessionInfo describes one of a user's live sessions. Its JSON form
// (MarshalJSON) leaves out the id.
type SessionInfo struct {
	// ID is the session id. It is as secret as a password: keep it on the
	// server (for DestroyUserSessions' keep), name the session in a page's
	// form or script by PublicID, and show ShortID. The JSON form has
	// PublicID and ShortID in its place.
	ID string
	// Created is when the session was created (zero if unknown).
	Created time.Time
	// LastUsed is the last write or touch of the session by this library;
	// zero if the store's index entry no longer says.
	LastUsed time.Time
	// LoggedIn is when the session was bound to the user (SetUser, see
	// LoginKey); zero if unknown (a session stored without it).
	LoggedIn time.Time
	// Expires is when the store forgets the session unless it is used again;
	// zero if the store's index entry holds no time that can be read (an
	// entry edited by hand).
	Expires time.Time
	// UserAgent and IP are recorded when Options.RecordClient is on.
	UserAgent, IP string
}

// ShortID is the id shortened for display and logs (the first characters
// and "…"). It is no key: two ids may share it (ids that share a prefix, as
// UUIDv7s made within a few minutes do); name a session by PublicID.
func (i SessionInfo) ShortID() string { return shortid.Of(i.ID) }

// PublicID names the session without revealing its id: what a "your
// devices" page puts in a device's "log out" form (or a script posts back
// from the JSON form) for DestroyUserSessionByPublicID, and compares with
// Session.PublicID to mark "this device". It is 22 characters of base64url,
// the first 128 bits of a SHA-256 of the id, so, unlike ShortID, it is
// unique (two ids that share a prefix have unrelated ones), and, unlike
// ID, it is not secret: the id cannot be computed back from it (but by
// guessing the id, which GenerateID must make impossible), it is no
// cookie, and the Manager ends a session by it only for the session's own
// user. It stays the same as long as the id does, across requests and on
// every app instance (it needs no secret, so sessionctl and an instance
// with other Secrets agree on it); RenewID and Regenerate give the session
// a new id, and so a new PublicID. It is "" for an empty ID.
func (i SessionInfo) PublicID() string { return publicID(i.ID) }

// publicIDContext separates PublicID's hash from any other SHA-256 of a
// session id that an app may compute, so that it never equals one. The
// hash is not keyed with Secrets (an HMAC of the id with Secrets[0] would
// be the cookie's signature): a key would protect only ids that can be
// guessed, which the signed cookie already keeps from being used, and
// would change every PublicID when Secrets rotate and keep sessionctl,
// which has no secret, from computing them.
const publicIDContext = "sessionkit PublicID v1\x00"

// publicIDBytes is how much of the hash a PublicID keeps: 128 bits, so that
// two ids of one user share it with a chance of about 2^-128, and no one
// finds an id for a given PublicID faster than by guessing the id itself.
const publicIDBytes = 16

// publicIDLen is the length of a PublicID: publicIDBytes in base64url
// without padding.
var publicIDLen = base64.RawURLEncoding.EncodedLen(publicIDBytes)

// publicID is the PublicID of id; "" for the empty id.
func publicID(id string) string {
	if id == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(publicIDContext + id))
	return base64.RawURLEncoding.EncodeToString(sum[:publicIDBytes])
}

// isPublicID reports whether p has the form of a PublicID (publicIDLen
// base64url characters), which anything a form posts may lack.
func isPublicID(p string) bool {
	if len(p) != publicIDLen {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(p)
	return err == nil
}

// PublicID is the PublicID of the session's id (see SessionInfo.PublicID):
// the one among the user's sessions that is this request's, for a devices
// page that marks "this device" from the JSON form, which has no id. It
// changes when the id does (RenewID, Regenerate, Destroy). "" for a nil
// Session.
func (s *Session) PublicID() string {
	return publicID(s.ID())
}

// MarshalJSON encodes i with PublicID and ShortID in place of the id, and
// the other fields under their names, so that a "my devices" endpoint that
// answers UserSessions as JSON does not hand the browser the session ids of
// the user's other devices (each logs in whoever holds it, HttpOnly or
// not). A script posts a device's PublicID back to log it out
// (DestroyUserSessionByPublicID), and marks "this device" by the
// Session.PublicID the endpoint answers beside the list. A time JSON
// cannot hold (a year past 9999) is encoded as the zero time.
func (i SessionInfo) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		PublicID, ShortID                    string
		Created, LastUsed, LoggedIn, Expires time.Time
		UserAgent, IP                        string
	}{i.PublicID(), i.ShortID(), jsonTime(i.Created), jsonTime(i.LastUsed), jsonTime(i.LoggedIn), jsonTime(i.Expires), i.UserAgent, i.IP})
}

// jsonTime is t, or the zero time (unknown) when JSON cannot hold it (a
// year past 9999: an index entry set by hand), which would fail the whole
// answer.
func jsonTime(t time.Time) time.Time {
	if y := t.Year(); y < 0 || y > 9999 {
		return time.Time{}
	}
	return t
}

// clientInfo is the stored form of ClientKey.
type clientInfo struct {
	UA string `json:"ua,omitempty"`
	IP string `json:"ip,omitempty"`
}

// SetUser binds the session to userID (typically in the login handler, right
// after RenewID); "" removes the binding. The session is saved at the end of
// the request, its index entry recorded first (right after the create of
// a new session, whose id no client holds yet), and then, with
// Options.MaxSessionsPerUser, the user's sessions beyond the cap are
// destroyed (see there which); if that fails, the login fails and its
// session is destroyed. A login that a newer login of the user outranks
// ends its own session (see Save: the request's changes after it are not
// stored, and no cookie goes out); a SetUser after that is a new login,
// stored and ranked as any other. A binding to a user the session is not
// stored under is a login, and records its time (LoginKey); binding the
// user a stored session already has again keeps it. A save that unbinds the user
// removes their entry (with a UserIndexRemover). userID must be valid UTF-8,
// as every string value: JSON would store another, so the save of one that
// is not fails (the ErrorHandler answers) and the session stays as it was.
func (s *Session) SetUser(userID string) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if userID == "" {
		for _, k := range []string{UserKey, ClientKey, LoginKey} {
			if s.values.has(k) {
				s.values.del(k)
				s.changed(k, false)
			}
		}
		return
	}
	s.set(markLogin)
	s.drop(markLoginLost) // a new login after a lost one: stored, and ranked, as any other
	if s.userLocked() != userID || s.storedUser != userID {
		// A login: the session is not stored as userID's (a new session,
		// a RenewID's new id, another user's or no one's).
		raw := append(appendISOTime(append(make([]byte, 0, len(isoMillis)+2), '"'), s.rs.m.now()), '"')
		s.values.putRaw(LoginKey, raw) // its stored form: no encoding at the save
		s.changed(LoginKey, true)
	}
	if s.userLocked() != userID {
		s.values.set(UserKey, userID)
		s.changed(UserKey, true)
	}
	s.rs.m.recordClient(s)
}

// User returns the id of the user the session belongs to, or "".
func (s *Session) User() string {
	if s == nil {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.userLocked()
}

// userLocked reads UserKey. s.mu is held.
func (s *Session) userLocked() string { return userOf(&s.values) }

// userOf reads UserKey of vals: "" for none.
func userOf(vals *values) string {
	v, _ := vals.get(UserKey)
	u, _ := v.(string)
	return u
}

// loginOf reads LoginKey of vals: the zero time for none, or for one that
// is not an ISO-8601 string. (SetUser stores its raw JSON, as a load does.)
func loginOf(vals *values) time.Time {
	raw := vals.raw(LoginKey)
	if raw == nil {
		return time.Time{}
	}
	t, _ := parseISOTime(raw)
	return t
}

// recordClient stores the request's user agent and client IP under
// ClientKey, if Options.RecordClient is on, the session has a user and they
// changed: a change is a modification, so the session is saved. s.mu is held.
func (m *Manager) recordClient(s *Session) {
	if !m.opts.RecordClient || s.userLocked() == "" {
		return
	}
	r := &s.rs.r
	now := clientInfo{UA: recordable(r.UserAgent(), maxUserAgent), IP: recordable(m.clientIP(r), maxClientIP)}
	old, _ := s.values.get(ClientKey)
	if o, ok := old.(map[string]any); ok && o["ua"] == nonEmpty(now.UA) && o["ip"] == nonEmpty(now.IP) {
		return
	}
	if o, ok := old.(clientInfo); ok && o == now {
		return
	}
	s.values.set(ClientKey, now)
	s.changed(ClientKey, true)
}

// recordable is s as the document records it: at most limit bytes, cut
// between characters, and valid UTF-8 (a U+FFFD for each run of bad
// bytes, where JSON would store one for each bad byte), so that the next request of the same client compares equal
// with what was stored and is not a change.
func recordable(s string, limit int) string {
	if len(s) <= limit && utf8.ValidString(s) {
		return s
	}
	if len(s) > limit {
		// A character that the bound cuts is left out whole: its first
		// bytes alone would read as a U+FFFD the client never sent.
		cut := limit
		for i := limit - 1; i >= 0 && i > limit-utf8.UTFMax; i-- {
			if utf8.RuneStart(s[i]) {
				if r, n := utf8.DecodeRuneInString(s[i:]); (r != utf8.RuneError || n > 1) && i+n > limit {
					cut = i
				}
				break
			}
		}
		s = s[:cut]
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	for len(s) > limit {
		_, n := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-n]
	}
	return s
}

// nonEmpty is s as decoded JSON compares it: omitted ("") is a missing key.
func nonEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// clientIP is the request's client address; with TrustProxy, the first
// X-Forwarded-For entry that is not empty, of the first header line that
// has one, trimmed of spaces (as express's req.ip with trust proxy true,
// which reads the lines joined and skips empty entries).
func clientIP(r *http.Request, trustProxy bool) string {
	if trustProxy {
		for _, line := range r.Header["X-Forwarded-For"] {
			for line != "" {
				var entry string
				entry, line, _ = strings.Cut(line, ",")
				if entry = strings.Trim(entry, " "); entry != "" {
					return entry
				}
			}
		}
	}
	return peerHost(r)
}

// indexUser records the index entry of s, if it has a user, before a write
// or touch that keeps it until expires (after the create of a new session,
// see the package notes on users). It is the one place where the save
// and touch paths update the index. s.mu is held.
func (m *Manager) indexUser(ctx context.Context, s *Session, expires time.Time) error {
	return m.indexUserAs(ctx, s.userLocked(), s.id, expires)
}

// indexUserAs is indexUser for user and session id: the user of a stored
// copy that is only touched, not written (restoreExpiry). s.mu is held.
func (m *Manager) indexUserAs(ctx context.Context, user, id string, expires time.Time) error {
	if m.users == nil || user == "" {
		return nil
	}
	if err := m.users.IndexUserSession(ctx, user, id, m.now(), expires); err != nil {
		return fmt.Errorf("session: index the session's user: %w", err)
	}
	return nil
}

// unindexUser removes user's index entry for session id, once the store no
// longer holds the session under user (it confirmed a destroy, or a save
// without that user). A failure is logged, not returned: the request did
// what it was asked, and the stale entry still expires on its own.
func (m *Manager) unindexUser(ctx context.Context, user, id string) {
	if m.unindexer == nil || user == "" {
		return
	}
	if err := m.unindexer.UnindexUserSession(ctx, user, id); err != nil {
		m.logger.WarnContext(ctx, "session: could not remove a user index entry; it expires on its own", "id", shortid.Of(id), "err", err)
	}
}

// unindexRebound removes user's index entry for s after a save's re-read
// (remerge) found the session rebound by another request: user is the
// one the failed attempt wrote for, and recorded the entry of (or, after a
// write whose reply was lost, the user of the copy it swapped from:
// settled); the store now holds the session under another user (or
// none), and the next attempt writes another one too. Left, the entry would say the session is
// user's while it is someone else's, and DestroyUserSessions(user) from a
// manager that cannot read the session, which takes the entry's word,
// would end it. (A request that loaded the session before a SetUser alone
// rebound it, and saves a change of its own after it, records its loaded
// user's entry before its first attempt, after the rebinding save removed
// it.) s.mu is held.
func (m *Manager) unindexRebound(ctx context.Context, s *Session, user string) {
	if user != s.storedUser && user != s.userLocked() {
		m.unindexUser(ctx, user, s.id) // none for "": no entry was recorded
	}
}

// userSaved runs after every successful write of s: a write that unbound
// the session from the user of the stored copy removes that user's entry,
// and after a login (SetUser) it enforces Options.MaxSessionsPerUser. A
// login whose trimming fails did not complete: the error is returned, and a
// session that this write made the user's is removed (dropLogin). A login
// that a newer one outranks, whose trim destroyed its session with the
// others beyond the cap, returns errLoginLost (written then ends it:
// loseLogin). s.mu is held.
func (m *Manager) userSaved(ctx context.Context, s *Session) error {
	user := s.userLocked()
	bound := s.storedUser != user // this write bound (or unbound) the user
	if bound {
		m.unindexUser(ctx, s.storedUser, s.id) // none for "": there was no entry
		s.storedUser = user
	}
	// or an earlier write, whose reply was lost, bound it (settled)
	bound = bound || s.has(markLoginBound)
	s.drop(markLoginBound)
	if !s.has(markLogin) {
		return nil
	}
	s.drop(markLogin)
	if m.opts.MaxSessionsPerUser <= 0 || user == "" {
		return nil
	}
	lost, err := m.trim(ctx, s, user)
	if err != nil {
		err = fmt.Errorf("session: MaxSessionsPerUser: %w", err)
		if bound {
			err = errors.Join(err, m.dropLogin(ctx, s))
		}
		return err
	}
	if lost {
		return errLoginLost
	}
	return nil
}

// errLoginLost reports, from a write of a login (written), that the
// login's trim found a newer login ranked first and ended the login's own
// session with the others beyond Options.MaxSessionsPerUser: the write
// succeeded, and the session is gone (loseLogin). Save returns nil for it.
var errLoginLost = errors.New("session: ended by a newer login of the same user (MaxSessionsPerUser)")

// loginEndedReason says why the empty session after a lost login
// (markLoginLost) is not stored when the request changes it.
const loginEndedReason = "the request's login was ended by a newer login of the same user (MaxSessionsPerUser), and what the request changed after it is not stored: its cookie would replace the newer login's in a browser that sent both"

// errLoginEnded is Session.Save's error for a change made after a login
// that a newer login ended (markLoginLost): the session is gone, as one
// that another request destroyed, so it wraps ErrNotFound.
var errLoginEnded = fmt.Errorf("session: save: not saved: %s: %w", loginEndedReason, ErrNotFound)

// trim destroys user's sessions beyond Options.MaxSessionsPerUser after
// the write of s, a login: the sessions whose login (LoginKey) is as late
// as s's or later, s among them, come first, newest first (the lower id
// first at the same millisecond), then the others, most recently used
// first. Every login lists after its own write and ranks the newest login
// it sees first, so parallel logins agree on it: it survives every trim,
// and the last trim to list leaves at most the cap. lost reports that s
// itself ranks beyond the cap (a newer login came first): it is destroyed
// with the others, if it was listed; one that another trim ended before
// this listing is not listed, and is ranked all the same. A login time
// more than loginSkew ahead of the trim's clock counts as none.
func (m *Manager) trim(ctx context.Context, s *Session, user string) (lost bool, err error) {
	infos, err := m.userSessions(ctx, user, nil) // within the save's StoreTimeout
	if err != nil {
		return false, err
	}
	if old := s.renewedFrom; old != nil {
		// The old id of a RenewID, which the save ends right after (finishRenew):
		// counted, it would end another session in its place.
		infos = slices.DeleteFunc(infos, func(i SessionInfo) bool { return i.ID == old.id })
	}
	// A login time ahead of this clock by more than app instances' clocks
	// differ is none (loginSkew): ranked first, it would end every later
	// login for as long as its session lives.
	latest := m.now().Add(loginSkew)
	credible := func(t time.Time) time.Time {
		if t.After(latest) {
			return time.Time{}
		}
		return t
	}
	for i := range infos {
		infos[i].LoggedIn = credible(infos[i].LoggedIn)
	}
	own := credible(loginOf(&s.values))
	listed := slices.ContainsFunc(infos, func(i SessionInfo) bool { return i.ID == s.id })
	if !listed {
		infos = append(infos, SessionInfo{ID: s.id, LoggedIn: own})
	}
	newer := func(i SessionInfo) bool {
		return i.ID == s.id || (!i.LoggedIn.IsZero() && !i.LoggedIn.Before(own))
	}
	slices.SortFunc(infos, func(a, b SessionInfo) int {
		switch na, nb := newer(a), newer(b); {
		case na != nb:
			if na {
				return -1
			}
			return 1
		case na:
			return cmp.Or(b.LoggedIn.Compare(a.LoggedIn), strings.Compare(a.ID, b.ID))
		}
		return cmp.Or(b.LastUsed.Compare(a.LastUsed), strings.Compare(a.ID, b.ID))
	})
	beyond := infos[min(len(infos), m.opts.MaxSessionsPerUser):]
	lost = slices.ContainsFunc(beyond, func(i SessionInfo) bool { return i.ID == s.id })
	if lost && !listed {
		beyond = slices.DeleteFunc(beyond, func(i SessionInfo) bool { return i.ID == s.id })
	}
	_, err = m.destroyAll(ctx, user, beyond, false)
	return lost, err
}

// loginSkew is how far ahead of the clock of a login's trim a login time
// may be and still rank (trim): app instances' clocks are taken to agree
// within it, as IndexGrace takes them to. A later one (written by an
// instance whose clock is far ahead, by an Express app or by hand: the
// year 3000) counts as none, and its session ranks by its last use: taken
// at its word, it would rank first in every trim, and under a cap of 1
// end every later login of the user, for as long as its session lives.
const loginSkew = time.Minute

// loseLogin goes on after the write of s, a login whose trim ended its
// session because a newer login of the user ranked first (errLoginLost):
// s is a new, empty session, which is gone (markLoginLost), as one that
// another request destroyed: what the request changes is not stored, its
// cookie does not go out and the client's is not cleared, since a browser
// that sent both logins (a double-clicked form) would drop the newer one's
// for it; until the request starts over (a login, a new id, Destroy). The
// error is GenerateID's, if it fails; the request then has no session (as
// Unset). s.mu is held.
func (m *Manager) loseLogin(ctx context.Context, s *Session) error {
	m.logger.InfoContext(ctx, "session: login ended by a newer login of the same user (MaxSessionsPerUser)", "id", shortid.Of(s.id))
	if err := s.replaceWithNew(); err != nil {
		s.values, s.phase = values{}, phaseUnset
		s.drop(markInStore)
		return err
	}
	s.set(markLoginLost | markClientGone)
	return errLoginLost
}

// renewStored brings s up to date with the store before RenewID moves it
// to a new id, when s is a stored session of a user and the store compares
// and swaps: it re-reads the session and applies this request's changes
// over it, as a save's re-merge does, so that RenewID moves what is stored
// now. A session that another request ended since this one loaded it (a
// logout, DestroyUserSessions, a MaxSessionsPerUser trim) is an error
// wrapping ErrNotFound: moved, the values the request loaded would bring it
// back under the new id, logged in, after "log out everywhere" returned;
// and a session that another request unbound (SetUser("")) stays unbound.
// Any other session needs no re-read: without a user, nothing ends it that
// the move could undo. A session a Save of the request bound to a user
// (SetUser) is one of a user's even when that Save's reply was lost
// (a doubt): the store may hold it so, listed in the user's index.
// s.mu is held.
func (m *Manager) renewStored(ctx context.Context, s *Session) error {
	if !s.has(markInStore) || m.versioned == nil {
		return nil
	}
	if s.storedUser == "" && (s.doubt == nil || s.doubt.user == "") {
		return nil
	}
	var doc loadedDocument
	ver, data, err := m.read(ctx, s.id, nil, &doc)
	switch {
	case errors.Is(err, ErrNotFound):
		return fmt.Errorf("session: renew id: the session was ended by another request, or has expired: %w", ErrNotFound)
	case err != nil:
		return fmt.Errorf("session: renew id: re-read the session: %w", err)
	}
	return m.reread(ctx, s, &doc, ver, data, false)
}

// dropLogin undoes a login whose trimming failed: it destroys the session
// that the login wrote, so that no session stays stored, counted against
// the cap and kept by later logins' trimming as the most recently used,
// while no client has its cookie (or, without a new id, so that the client
// is not left logged in despite the error). Then s is as after Destroy: a
// new, empty session, only stored if the handler changes it. A failed
// destroy is logged: the session then expires on its own. The error is
// GenerateID's, if it fails; the request then has no session (as Unset).
// s.mu is held.
//
// The login's context has often ended by then, which is why the trim
// failed: StoreTimeout ran out (a slow listing), or the client hung up
// during a Session.Save. The destroy then gets a StoreTimeout of its own
// (cleanupContext).
func (m *Manager) dropLogin(ctx context.Context, s *Session) error {
	ctx, cancel := m.cleanupContext(ctx)
	defer cancel()
	if err := s.dropStored(ctx, "MaxSessionsPerUser"); err != nil {
		m.logger.WarnContext(ctx, "session: could not remove the session of a login whose MaxSessionsPerUser trimming failed; it expires on its own", "id", shortid.Of(s.id), "err", err)
	}
	if s.renewedFrom != nil {
		// The client's session, which the login's RenewID left waiting
		// for this write, is the client's again, as after a failed write.
		s.renewedFrom.kept = true
	}
	if err := s.replaceWithNew(); err != nil {
		s.values, s.phase = values{}, phaseUnset
		s.drop(markInStore)
		return err
	}
	return nil
}

// destroyParallel bounds the parallel store calls of destroyAll.
const destroyParallel = 16

// destroyAll destroys the sessions of infos, which belong to user, up to
// destroyParallel at a time (a store that batches writes, as boltstore's
// commit queue does, groups them), removes the index entry of each one the
// store destroyed, and returns how many it destroyed. With timeout, each
// destroy (with its index removal) is bounded by Options.StoreTimeout, and
// once one got no answer within it no more are started: the store is taken
// to be down, and each wave of destroyParallel would wait one StoreTimeout
// more. Without, ctx bounds them (a login's trim runs within its save's
// StoreTimeout).
func (m *Manager) destroyAll(ctx context.Context, user string, infos []SessionInfo, timeout bool) (int, error) {
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		n       int
		errs    []error
		sem     = make(chan struct{}, destroyParallel)
		stalled atomic.Bool // a destroy ran out of StoreTimeout
	)
	for i, info := range infos {
		err := acquire(ctx, sem)
		if err == nil && stalled.Load() {
			<-sem
			err = fmt.Errorf("a destroy got no answer within StoreTimeout (%v): %w", m.opts.StoreTimeout, context.DeadlineExceeded)
		}
		if err != nil {
			// Cancelled, or the store is down: the rest would fail too;
			// say so once.
			wg.Wait()
			errs = append(errs, fmt.Errorf("%d sessions not destroyed: %w", len(infos)-i, err))
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			dctx, cancel := ctx, noCancel
			if timeout {
				dctx, cancel = m.withStoreTimeout(ctx)
			}
			err := m.destroyOfUser(dctx, user, info.ID)
			if err != nil && dctx.Err() != nil && ctx.Err() == nil {
				stalled.Store(true) // its own StoreTimeout ran out, not ctx
			}
			cancel()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("destroy session %s: %w", shortid.Of(info.ID), err))
				return
			}
			n++
		})
	}
	wg.Wait()
	return n, errors.Join(errs...)
}

// destroyOfUser destroys session id, which belongs to user, and removes
// user's index entry for it once the store confirmed the destroy (a
// destroyed id is never written again with a VersionedStore: a request that
// had it loaded fails its compare-and-swap). It is the one path of
// destroyAll, DestroyUserSession and DestroyUserSessionByPublicID.
func (m *Manager) destroyOfUser(ctx context.Context, user, id string) error {
	if err := m.store.Destroy(ctx, id); err != nil {
		return err
	}
	m.unindexUser(ctx, user, id)
	return nil
}

// acquire takes a slot of sem, unless ctx is done first.
func acquire(ctx context.Context, sem chan struct{}) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// UserSessions returns the live sessions of userID, most recently used
// first: those this manager can read (a document its Codec decodes, within
// its MaxDocumentBytes and AbsoluteTimeout) and that still belong to the
// user. It fails with ErrNotSupported if the store is not a UserIndex.
// The empty user is no user (SetUser("") unbinds a session): it has no
// sessions, and the store is not asked. Its store call, the listing of
// the user's index, is bounded by Options.StoreTimeout, within ctx, so
// that a devices page on a store that stops answering gets an error
// (wrapping context.DeadlineExceeded) rather than hang.
func (m *Manager) UserSessions(ctx context.Context, userID string) ([]SessionInfo, error) {
	ctx, cancel := m.withStoreTimeout(ctx)
	defer cancel()
	return m.userSessions(ctx, userID, nil)
}

// noUserIndex is the error of op on a store that keeps no user index.
func (m *Manager) noUserIndex(op string) error {
	return fmt.Errorf("session: %s: %T keeps no user index (memstore, boltstore, redisstore, pgstore and mongostore do): %w", op, m.store, ErrNotSupported)
}

// userSessions is UserSessions. With unreadable, it also appends there the
// ids of the user's stored sessions that this manager cannot read, which
// another app sharing the store, or another instance with other options,
// may still serve: one of the user's whose document is over
// MaxDocumentBytes (mayBeUsers), one that does not decode with the Codec
// (its user cannot be told: the index entry's word is taken), or one of the
// user's past AbsoluteTimeout.
func (m *Manager) userSessions(ctx context.Context, userID string, unreadable *[]SessionInfo) ([]SessionInfo, error) {
	if m.users == nil {
		return nil, m.noUserIndex("list user sessions")
	}
	if userID == "" {
		return nil, nil // no session is indexed under no user
	}
	var infos []SessionInfo
	err := m.users.UserSessions(ctx, userID, func(id string, used, expires time.Time, data []byte) {
		if data == nil {
			return
		}
		var doc loadedDocument
		if err := m.decodeReadable(ctx, id, data, &doc); err != nil {
			// Corrupt, or over MaxDocumentBytes, here: not a live session
			// for this manager, but perhaps for another.
			if unreadable != nil && m.mayBeUsers(data, userID) {
				*unreadable = append(*unreadable, SessionInfo{ID: id, LastUsed: used, Expires: expires})
			}
			return
		}
		if u, _ := decodeAny(doc.vals.raw(UserKey)); u != userID {
			return // the session now belongs to someone else, or to no one
		}
		if m.pastAbsoluteTimeout(&doc) {
			if unreadable != nil {
				*unreadable = append(*unreadable, SessionInfo{ID: id, Created: doc.Created, LastUsed: used, Expires: expires})
			}
			return // not a live session here
		}
		info := SessionInfo{ID: id, Created: doc.Created, LastUsed: used, LoggedIn: loginOf(&doc.vals), Expires: expires}
		if c, ok := mustDecode(doc.vals.raw(ClientKey)).(map[string]any); ok {
			info.UserAgent, _ = c["ua"].(string)
			info.IP, _ = c["ip"].(string)
		}
		infos = append(infos, info)
	})
	if err != nil {
		return nil, fmt.Errorf("session: list user sessions: %w", err)
	}
	slices.SortFunc(infos, func(a, b SessionInfo) int {
		return cmp.Or(b.LastUsed.Compare(a.LastUsed), strings.Compare(a.ID, b.ID))
	})
	return infos, nil
}

// mayBeUsers reports whether data, a stored session listed in user's index
// that this manager does not read (decodeReadable), may be user's. One over
// MaxDocumentBytes is decoded all the same, once, to tell (a stale entry
// must not end another user's session); one that the Codec does not decode
// cannot be told, and the index entry's word is taken.
func (m *Manager) mayBeUsers(data []byte, user string) bool {
	if limit := m.opts.MaxDocumentBytes; limit <= 0 || len(data) <= limit {
		return true // corrupt, or in another Codec's layout
	}
	u, ok := m.userOfData(data)
	return !ok || u == user
}

// userOfData is the user that stored bytes bind their session to ("" for
// none), and ok == false for bytes this manager's Codec does not decode.
func (m *Manager) userOfData(data []byte) (user string, ok bool) {
	var doc loadedDocument
	if err := m.decodeInto(data, &doc); err != nil {
		return "", false
	}
	return userOf(&doc.vals), true
}

// mustDecode decodes raw JSON, nil for none or bad.
func mustDecode(raw []byte) any {
	if raw == nil {
		return nil
	}
	v, _ := decodeAny(raw)
	return v
}

// DestroyUserSessions destroys the live sessions of userID except those
// whose ids are in keep (the caller's own, for "log out my other devices"),
// and returns how many it destroyed. After it returns none of them works, on
// any app instance: a request that had one loaded does not write it back
// (with a VersionedStore, as every index store is). A login that races with
// it is either destroyed whole or survives whole, indexed. It also
// destroys the sessions in the user's index that this manager cannot read
// but another app or instance sharing the store may serve: a document
// of the user's over its MaxDocumentBytes (decoded all the same to read its
// user), one that its Codec does not decode (sessionctl over an app with a
// custom Codec, say; the index entry's word is taken for its user), and
// the user's sessions past its AbsoluteTimeout. It fails with ErrNotSupported if the store is not a
// UserIndex. The empty user is no user: it destroys nothing, and asks the
// store nothing.
//
// Each store call (the listing, and each destroy with its index removal)
// is bounded by Options.StoreTimeout, within ctx, so that a user with many
// sessions is not limited to one StoreTimeout in all; but once a destroy
// got no answer within it, no more are started (the store is taken to be
// down), and the error (wrapping context.DeadlineExceeded) says how many
// were not destroyed: on a store that stops answering it returns within
// about two StoreTimeouts, the listing's and the destroys'.
func (m *Manager) DestroyUserSessions(ctx context.Context, userID string, keep ...string) (int, error) {
	if m.users == nil {
		return 0, m.noUserIndex("destroy user sessions")
	}
	var unreadable []SessionInfo
	lctx, cancel := m.withStoreTimeout(ctx)
	infos, err := m.userSessions(lctx, userID, &unreadable)
	cancel()
	if err != nil {
		return 0, err
	}
	infos = append(infos, unreadable...)
	infos = slices.DeleteFunc(infos, func(i SessionInfo) bool { return slices.Contains(keep, i.ID) })
	n, err := m.destroyAll(ctx, userID, infos, true)
	if err != nil {
		return n, fmt.Errorf("session: destroy user sessions: %w", err)
	}
	return n, nil
}

// DestroyUserSession ends the session id if it is one of userID's, and
// reports whether it ended one. A "your devices" page, whose forms name a
// device by its PublicID (never the id itself, which is as secret as a
// password), calls DestroyUserSessionByPublicID, which finds the id; an
// app that holds the id on the server calls this, with the logged-in
// user: DestroyUserSession checks again that the session is theirs, so an id of
// another user's session, or of one the user no longer has (logged out,
// rebound by SetUser, expired), ends nothing and answers false, nil, as do
// the empty user and the empty id (without asking the store). The session
// is theirs when its stored document binds it to userID, which is what
// UserSessions and DestroyUserSessions check; that includes the sessions
// DestroyUserSessions ends although UserSessions does not list them (past
// AbsoluteTimeout, over MaxDocumentBytes); for a document the Codec does
// not decode (another app's), the user's index entry for it is taken at its
// word, as DestroyUserSessions does.
//
// It ends the session as DestroyUserSessions does: after it returns true
// the session works on no app instance, a request that had it loaded does
// not write it back (with a VersionedStore, as every index store is), and
// the user's index entry is removed (a failed removal is logged, and the
// entry expires on its own). Each step (the read, the destroy with its
// index removal) is bounded by Options.StoreTimeout, within ctx.
//
// Cost: one read of the session and one destroy and one index removal,
// three store round trips; a document the Codec does not decode costs a
// listing of the user's index more. A session that is not the user's costs
// the read alone.
//
// The id may be the request's own session (Session.ID): it ends, the
// request's save is not written back and sends no cookie (as for a session
// that another request destroyed), and the browser's next request starts a
// new, empty session; but the request's Session keeps its values (and
// User) until the request ends. Session.Destroy is the better call there:
// the request's session is new at once, and its cookie is cleared.
//
// It fails with ErrNotSupported if the store is not a UserIndex, as
// DestroyUserSessions does.
func (m *Manager) DestroyUserSession(ctx context.Context, userID, id string) (bool, error) {
	if m.users == nil {
		return false, m.noUserIndex("destroy user session")
	}
	if userID == "" || id == "" {
		return false, nil // no session is indexed under no user, and none has no id
	}
	owned, err := m.ownedBy(ctx, userID, id)
	if err != nil || !owned {
		return false, err
	}
	dctx, cancel := m.withStoreTimeout(ctx)
	defer cancel()
	if err := m.destroyOfUser(dctx, userID, id); err != nil {
		return false, fmt.Errorf("session: destroy user session %s: %w", shortid.Of(id), err)
	}
	return true, nil
}

// DestroyUserSessionByPublicID ends the session of userID whose PublicID is
// publicID, and reports whether it ended one: the "log out" button of one
// device on a "your devices" page, whose form (or script) posts the
// device's SessionInfo.PublicID. Pass the logged-in user (Session.User):
// the session is looked for among that user's alone, as
// DestroyUserSessions lists them, so it ends what DestroyUserSession would
// end, by the same rules (a session whose document binds it to userID,
// including those UserSessions does not list: past AbsoluteTimeout, over
// MaxDocumentBytes; for a document the Codec does not decode, the index
// entry's word). A PublicID of another user's session, of one the user no
// longer has (logged out, rebound, expired), or a string that is no
// PublicID ends nothing and answers false, nil. The empty user and a
// string that has not the form of a PublicID (22 base64url characters; the
// empty string, say) ask the store nothing.
//
// It ends the session as DestroyUserSession does: after it returns true
// the session works on no app instance, a request that had it loaded does
// not write it back, and the user's index entry is removed. Each step (the
// listing, the destroy with its index removal) is bounded by
// Options.StoreTimeout, within ctx.
//
// Cost: the listing of the user's sessions (one store call, which reads
// each of them), one destroy and one index removal. A PublicID that names
// none of the user's sessions costs the listing alone.
//
// The PublicID may be the request's own session's (Session.PublicID): as
// with DestroyUserSession, it ends, and the request's Session keeps its
// values until the request ends; compare with Session.PublicID first and
// call Session.Destroy for it, which also clears the cookie.
//
// It fails with ErrNotSupported if the store is not a UserIndex.
func (m *Manager) DestroyUserSessionByPublicID(ctx context.Context, userID, publicID string) (bool, error) {
	if m.users == nil {
		return false, m.noUserIndex("destroy user session")
	}
	if userID == "" || !isPublicID(publicID) {
		return false, nil // no session is indexed under no user, and no id has that PublicID
	}
	var unreadable []SessionInfo
	lctx, cancel := m.withStoreTimeout(ctx)
	infos, err := m.userSessions(lctx, userID, &unreadable)
	cancel()
	if err != nil {
		return false, err
	}
	i := slices.IndexFunc(infos, func(i SessionInfo) bool { return i.PublicID() == publicID })
	if i < 0 {
		if i = slices.IndexFunc(unreadable, func(i SessionInfo) bool { return i.PublicID() == publicID }); i < 0 {
			return false, nil
		}
		infos = unreadable
	}
	dctx, cancel := m.withStoreTimeout(ctx)
	defer cancel()
	if err := m.destroyOfUser(dctx, userID, infos[i].ID); err != nil {
		return false, fmt.Errorf("session: destroy user session %s: %w", infos[i].ShortID(), err)
	}
	return true, nil
}

// ownedBy reports whether the stored session id belongs to user, as
// DestroyUserSessions decides it: its document binds it to user (read
// whatever its size or age), or, for a document the Codec does not decode,
// user's index lists it. One read; the listing only for such a document.
func (m *Manager) ownedBy(ctx context.Context, user, id string) (bool, error) {
	rctx, cancel := m.withStoreTimeout(ctx)
	data, found, err := m.store.Get(rctx, id)
	cancel()
	if err != nil {
		return false, fmt.Errorf("session: destroy user session: read session %s: %w", shortid.Of(id), err)
	}
	if !found {
		return false, nil
	}
	if u, ok := m.userOfData(data); ok {
		return u == user, nil
	}
	// Another app's layout: its user cannot be told, and the index entry's
	// word is taken (mayBeUsers), unless the session was rewritten since
	// in a layout that tells another user.
	lctx, cancel := m.withStoreTimeout(ctx)
	defer cancel()
	owned := false
	err = m.users.UserSessions(lctx, user, func(listed string, _, _ time.Time, data []byte) {
		if listed != id || data == nil {
			return
		}
		u, ok := m.userOfData(data)
		owned = !ok || u == user
	})
	if err != nil {
		return false, fmt.Errorf("session: destroy user session: list user sessions: %w", err)
	}
	return owned, nil
}
