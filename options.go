package session

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Options configure a Manager. Each field mirrors an express-session option;
// the zero value of every field but Secrets is a safe default.
type Options struct {
	// Name is the cookie name (express: name). Default "sid". A name with
	// the prefix __Secure- needs Cookie.Secure SecureAlways or SecureAuto,
	// and one with __Host- also no Cookie.Domain and Cookie.Path "/", or
	// browsers drop the cookie (New refuses them); with SecureAuto, such a
	// cookie only comes back over HTTPS.
	Name string
	// Secrets sign the cookie (express: secret). Secrets[0] signs, every one
	// verifies, so a new secret can be put first while old cookies stay valid.
	// Required; no secret may be empty.
	Secrets []string
	// Store keeps the sessions (express: store). Default: a memstore.
	Store Store
	// Codec encodes sessions for the store. Default: JSONCodec, the express document.
	// What a custom codec decodes is checked: no document, or a value that is
	// not JSON or nests arrays and objects more than jsondepth.Max (10,000)
	// levels deep, is a corrupt session (logged; the request gets a fresh
	// one), and a save of such a value fails. JSONCodec's document is the
	// first of its 10,000 levels, so that its values may nest 9,999.
	Codec Codec
	// Resave writes an unmodified session back on every request (express:
	// resave). Off by default: an unmodified session is only touched.
	Resave bool
	// SaveUninitialized stores and sends a new session that the request did
	// not modify (express: saveUninitialized). Off by default.
	SaveUninitialized bool
	// Rolling sends Set-Cookie on every response that used the session,
	// pushing its expiry forward (express: rolling).
	Rolling bool
	// Unset says what Session.Unset does to the stored session at the end of
	// the request (express: unset): UnsetKeep (default) or UnsetDestroy.
	Unset UnsetMode
	// TouchAfter skips store touches of an unmodified session whose expiry was
	// pushed forward less than this long ago (connect-mongo: touchAfter). When a
	// touch is due, the document is rewritten so that it records the new expiry.
	// A browser-session cookie records no expiry, so its session is always touched.
	TouchAfter time.Duration
	// IdleTimeout: a session unused for longer than this is gone. Zero: none.
	// Every request moves the deadline: with a store that cannot touch (no
	// Toucher), by rewriting the session. It caps every session, those with
	// a longer cookie of their own too: a "remember me" login
	// (Cookie().SetMaxAge(30 * 24 * time.Hour)) still ends after IdleTimeout
	// unused, though its cookie says 30 days.
	IdleTimeout time.Duration
	// AbsoluteTimeout: a session older than this since its creation is gone,
	// whatever its activity, and whatever its own cookie's max age. Zero: none.
	// Session.RenewID and Session.Regenerate count as a creation: the count
	// starts again at a login's RenewID, and an app that renews the id
	// periodically keeps a session in use past AbsoluteTimeout. A session an
	// express app created records no creation time: the first request here
	// that loads it records that load's time, with a write even if it only
	// reads the session, and the count starts there (unless that record
	// would take the session over MaxDocumentBytes: a request that only
	// reads it then touches it, and the count starts again at each load).
	AbsoluteTimeout time.Duration
	// TrustProxy takes the first value of X-Forwarded-Proto as the request's
	// scheme, for Secure: SecureAuto and SameSite: SameSiteAuto (express: proxy),
	// and the first X-Forwarded-For entry as the client IP (RecordClient),
	// from any client: only for a server that nothing but the proxy can
	// reach, behind a proxy that replaces both headers. See TrustedProxies.
	TrustProxy bool
	// TrustedProxies are the addresses of the reverse proxies in front of
	// the server (express: app.set('trust proxy', ['10.0.0.0/8'])). A
	// request whose peer (RemoteAddr) is in one of them has its first
	// X-Forwarded-Proto taken as the scheme, as TrustProxy does (and as
	// express's req.protocol does: the value of the proxy nearest the
	// client, when several set it), so the proxy in front must set it, not
	// append to what the client sent (nginx's proxy_set_header, AWS ALB and
	// Cloudflare set it); from any other peer, both headers are ignored.
	// The client IP (RecordClient) is the first address, from the peer and
	// then X-Forwarded-For read from the right, that is not in
	// them (express's req.ip): behind proxies that append to
	// X-Forwarded-For (nginx's $proxy_add_x_forwarded_for, AWS ALB,
	// Cloudflare), what the client wrote at the front is skipped. An
	// IPv4-mapped IPv6 address (::ffff:10.0.0.1) matches its IPv4 prefix
	// and the other way round (a mapped prefix of 96 bits or more,
	// ::ffff:10.0.0.0/104; a shorter one, ::ffff:10.0.0.0/8, holds no
	// address, as in proxy-addr); an entry that is not an IP address (a
	// port after it, "unknown", or, as proxy-addr reads addresses, a zone
	// of anything but letters and digits, fe80::1%br-lan) is never
	// trusted, so it is the client IP as written. Nil or empty: only TrustProxy applies. New refuses an
	// invalid prefix, and TrustedProxies together with TrustProxy.
	TrustedProxies []netip.Prefix
	// TrustedProxyHops is the number of reverse proxies in front of the
	// server, trusted whatever their addresses (express:
	// app.set('trust proxy', 1)), for a platform whose proxy addresses are
	// not known in advance (Heroku, Render, Fly.io, a Kubernetes ingress):
	// the peer (RemoteAddr) is the nearest hop, then X-Forwarded-For read
	// from the right (the last header line first, empty entries skipped)
	// the next ones. From 1 up, every request has its first
	// X-Forwarded-Proto taken as the scheme, as TrustProxy does (express's
	// req.protocol asks only whether the peer is trusted), so nothing but
	// the proxies may reach the server, and the nearest proxy must set
	// X-Forwarded-Proto, not append to the client's. The client IP
	// (RecordClient) is the address TrustedProxyHops hops away (express's
	// req.ip): with 1, the X-Forwarded-For entry the proxy appended, with
	// 2, the one before it. Each proxy must append to X-Forwarded-For, and
	// the count must be exact: with more hops than there are proxies, the
	// client IP is an address the client wrote (the leftmost entry when
	// the chain is shorter still; the peer without X-Forwarded-For). An
	// entry is taken as written, an address or not. Zero trusts no proxy
	// (TrustProxy and TrustedProxies apply). New refuses a negative count,
	// and a count together with TrustProxy or TrustedProxies.
	TrustedProxyHops int
	// GenerateID makes new session ids (express: genid). Default: 24 bytes
	// from crypto/rand, base64url without padding, which never repeat.
	//
	// An id is a password: a custom generator must make ids that cannot be
	// guessed and never repeat. With a store that compares and swaps
	// (VersionedStore, as every store of this module is), a new session
	// whose id turns out to be taken by a stored session (a counter that
	// started again, an id derived from the request) is never written over
	// it or merged into it: the save, which runs before the cookie goes out,
	// asks GenerateID for another id, up to 3 more times, and the session
	// is stored and its cookie sent under the first free one (ID returns it
	// from then on; an id read before the save may be the taken one). If
	// every id is taken, or the taken id is the one the request's cookie
	// carries, the save fails with an error wrapping ErrConflict (the
	// ErrorHandler answers; Session.Save returns it) and nothing is written.
	// Either is logged. This applies to new sessions, Regenerate, RenewID
	// and the session after Destroy. A store without compare-and-swap
	// cannot tell a taken id from a free one: the new session's write
	// replaces the stored one, as in express-session.
	//
	// An id must make a cookie that comes back: valid UTF-8, at most 978
	// bytes, and with the cookie's name at most the 4096 bytes browsers
	// keep once percent-encoded and signed (each byte other than A-Z a-z
	// 0-9 - _ . ! ~ * ' ( ) takes three, the signature up to 129). For
	// any other id, as for an empty one, the request fails with an error
	// naming GenerateID (the ErrorHandler answers) and nothing is stored.
	GenerateID func(r *http.Request) string
	// Cookie holds the session cookie's attributes (express: cookie).
	Cookie CookieOptions
	// StoreTimeout bounds every store call the middleware and the Session
	// methods make (load, save, touch, destroy), so that a store that stops
	// answering gives the ErrorHandler's answer within about this time (plus
	// 1% of it, at least 1 ms and at most 50 ms) instead of a hung request;
	// twice that for a login whose MaxSessionsPerUser trimming ran out of
	// it, since removing its session gets a StoreTimeout of its own. It
	// bounds each store call of the Manager's methods on a user's sessions
	// too (UserSessions, DestroyUserSessions, DestroyUserSession,
	// DestroyUserSessionByPublicID), within their ctx, so that a handler
	// that calls them on a store that stops answering gets an error
	// wrapping context.DeadlineExceeded rather than hang (a tool that needs
	// longer over a slow store sets a longer StoreTimeout). The middleware's own calls then run without the
	// request's cancellation: a client that hangs up does not abort a load
	// or a save halfway. Zero means DefaultStoreTimeout; a negative value
	// turns the limit off (the request's own context then applies to loads,
	// and saves run without a deadline).
	StoreTimeout time.Duration
	// MaxDocumentBytes caps the size of an encoded session. A save over the
	// cap stores nothing and is an error wrapping ErrTooLarge, which the
	// ErrorHandler answers; a stored document over the cap (another app wrote
	// it) is logged and treated as missing. Zero means
	// DefaultMaxDocumentBytes; a negative value turns the cap off.
	MaxDocumentBytes int
	// MaxSessionsPerUser caps the sessions of one user (see Session.SetUser):
	// the save after a SetUser destroys the user's sessions beyond it. Zero:
	// no cap. It needs a store that is a UserIndex. Which sessions stay: a
	// login records its time in the session (LoginKey), and its trim ranks
	// first the sessions whose login is as late as its own or later (its
	// own among them), newest first, at the same millisecond the lower
	// session id first, then the others, most recently used first; it
	// keeps the first MaxSessionsPerUser. So the newest login stays
	// whatever the order in which parallel logins trim, and two parallel
	// logins under a cap of 1 leave one session, the newer login's (each
	// used to keep its own and end the other's, leaving none); a login ends
	// an older session used since (once the cap is reached, the least
	// recently used of the others goes); a session stored without a login
	// time (by an earlier version, or another app) ranks by its last use,
	// as does one whose login time is more than a minute ahead of the
	// ranking login's clock (app instances' clocks are taken to agree
	// within a minute), which would otherwise outrank every later login.
	// Parallel logins may still leave fewer than the cap, never none (on
	// instances whose clocks agree within that minute). A
	// login that a newer one outranks, in the newer one's trim or its own,
	// is ended at once: its save succeeds (Session.Save returns nil), and
	// the request goes on with a new, empty session without the user that
	// is gone, as one that another request destroyed: what the request
	// changes after it (a welcome flash message, a value) is not stored,
	// and no cookie goes out nor is cleared (the client may hold the newer
	// login's, a double-clicked login form), until the handler starts over
	// (SetUser, a new login; Session.Regenerate, RenewID or Destroy), after
	// which a change is stored and its cookie sent; no cookie of the
	// request is cleared even then (a Destroy with no change after it).
	// The cap fails closed: a login whose trimming fails (the listing of the
	// user's sessions, or a destroy) did not happen. Its save fails (the
	// ErrorHandler answers, no cookie is sent; Session.Save returns the
	// error), and the session it made the user's is destroyed, so that the
	// user is not logged in beyond the cap and no session nobody holds the
	// cookie of is kept, as the most recently used, by later logins'
	// trimming. That destroy gets a StoreTimeout of its own when the
	// login's has run out (or a Save's context was cancelled), so a login
	// whose trimming timed out is answered up to one StoreTimeout later. If
	// the destroy fails too, it is logged and the session expires on its
	// own. A save of a session that was the user's already fails the same
	// way, but the session stays.
	MaxSessionsPerUser int
	// RecordClient records the user agent and client IP (with TrustProxy,
	// the first X-Forwarded-For; with TrustedProxies, the nearest address
	// that is not a trusted proxy; with TrustedProxyHops, the address that
	// many hops away) in sessions that have a user, for a "your
	// devices" page (SessionInfo). It costs a save whenever they change,
	// and up to about 300 bytes per document.
	RecordClient bool
	// ErrorHandler answers a request whose session could not be loaded or
	// saved. Default: log and reply 500 Internal Server Error. The headers
	// the handler set are gone from w, and the session's Set-Cookie is
	// there only when a Session.Save of the request had stored the
	// session under an id the client does not hold (after RenewID or
	// Regenerate, or a new session), so that the client keeps it.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)
	// Logger receives the manager's logs. Default: slog.Default().
	Logger *slog.Logger
}

// CookieOptions are the session cookie's attributes.
type CookieOptions struct {
	// Path limits the cookie, and the middleware, to this path (RFC 6265
	// path-match). Default "/". It is matched against the request's path as
	// the client sent it, so it is written percent-encoded: New refuses a
	// path with a byte over 0x7f, a control character, a space, ';', '?'
	// or '#', or over 1024 bytes.
	Path string
	// Domain of the cookie. Default: none (host-only). A host name (or an
	// IPv4 address), optionally after a dot, in ASCII (an internationalized
	// name in its xn-- form): New refuses a port, a trailing dot, an empty
	// label, any other character, or over 1024 bytes, which browsers ignore.
	Domain string
	// MaxAge is the session lifetime from its last use. Zero means a browser-
	// session cookie (no Expires); the store then applies its default lifetime.
	// It is a time.Duration (24 * time.Hour): MaxAge: 86400, seconds as in
	// http.Cookie, or 86400000, milliseconds as in express, compiles, and
	// ends every session within a tenth of a second: New logs a warning for
	// a MaxAge under a second.
	MaxAge time.Duration
	// Secure marks the cookie Secure: SecureNever (zero), SecureAlways, or
	// SecureAuto (when the request is over TLS, see TrustProxy,
	// TrustedProxies and TrustedProxyHops).
	Secure SecureMode
	// SameSite attribute; SameSiteAuto is None on secure requests, else Lax.
	// SameSiteNone and SameSiteAuto need Secure SecureAlways or SecureAuto
	// (New refuses SecureNever): browsers drop SameSite=None without Secure.
	// For the same reason, SameSiteNone with SecureAuto leaves SameSite out
	// of a cookie sent without Secure (over plain HTTP).
	SameSite SameSiteMode
	// HTTPOnly is on unless DisableHTTPOnly is set.
	DisableHTTPOnly bool
	// Partitioned adds the Partitioned attribute (CHIPS) to a Secure cookie.
	// Browsers drop a Partitioned cookie without Secure, so New refuses
	// SecureNever, and with SecureAuto a plain-HTTP response leaves it out.
	Partitioned bool
	// Priority is "", "low", "medium" or "high".
	Priority string
}

// SecureMode says when the session cookie carries the Secure attribute.
type SecureMode int

const (
	// SecureNever never marks the cookie Secure (the zero value).
	SecureNever SecureMode = iota
	// SecureAlways always marks it Secure; it is then never sent over plain HTTP.
	SecureAlways
	// SecureAuto marks it Secure when the request is secure.
	SecureAuto
)

// SameSiteMode is the cookie's SameSite attribute. It is not http.SameSite
// because it has one mode more, SameSiteAuto (express's sameSite: 'auto').
type SameSiteMode int

const (
	// SameSiteDefault sends no SameSite attribute.
	SameSiteDefault SameSiteMode = iota
	// SameSiteLax sends SameSite=Lax.
	SameSiteLax
	// SameSiteStrict sends SameSite=Strict.
	SameSiteStrict
	// SameSiteNone sends SameSite=None; it needs a Secure cookie (see
	// CookieOptions.SameSite).
	SameSiteNone
	// SameSiteAuto is None on secure requests and Lax otherwise.
	SameSiteAuto
)

// UnsetMode says what happens to the stored session after Session.Unset.
type UnsetMode int

const (
	// UnsetKeep leaves the stored session alone (the zero value, express "keep").
	UnsetKeep UnsetMode = iota
	// UnsetDestroy deletes it from the store (express "destroy").
	UnsetDestroy
)

// Defaults of the Options limits.
const (
	// DefaultStoreTimeout is the StoreTimeout of Options that set none.
	DefaultStoreTimeout = 5 * time.Second
	// DefaultMaxDocumentBytes is the MaxDocumentBytes of Options that set none.
	DefaultMaxDocumentBytes = 512 << 10
)

// errOptions prefixes every validation error of New.
var errOptions = errors.New("session: invalid options")

func optionError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errOptions, fmt.Sprintf(format, args...))
}

// validate checks o and fills in defaults. It does not set the store.
func (o *Options) validate() error {
	if o.Name == "" {
		o.Name = "sid"
	}
	if !isToken(o.Name) {
		return optionError("cookie name %q is not a valid token (RFC 7230)", o.Name)
	}
	if n := cookieBytes(o.Name, "") + defaultIDLen; n > maxCookieBytes {
		return optionError("cookie name of %d bytes is too long: with a session id, the cookie would take up to %d bytes, and browsers keep at most %d", len(o.Name), n, maxCookieBytes)
	}
	if len(o.Secrets) == 0 {
		return optionError("no secret: Options.Secrets needs at least one")
	}
	for i, s := range o.Secrets {
		if s == "" {
			return optionError("Options.Secrets[%d] is empty", i)
		}
	}
	if o.Unset < UnsetKeep || o.Unset > UnsetDestroy {
		return optionError("unknown Unset mode %d (want UnsetKeep or UnsetDestroy)", o.Unset)
	}
	// A slice, not a map: with several negative durations, the error is
	// always about the first, in the order of the fields.
	for _, f := range []struct {
		name string
		d    time.Duration
	}{
		{"TouchAfter", o.TouchAfter}, {"IdleTimeout", o.IdleTimeout},
		{"AbsoluteTimeout", o.AbsoluteTimeout}, {"Cookie.MaxAge", o.Cookie.MaxAge},
	} {
		if f.d < 0 {
			return optionError("%s is negative (%v)", f.name, f.d)
		}
	}
	if o.MaxSessionsPerUser < 0 {
		return optionError("MaxSessionsPerUser is negative (%d)", o.MaxSessionsPerUser)
	}
	if o.StoreTimeout == 0 {
		o.StoreTimeout = DefaultStoreTimeout
	}
	if o.MaxDocumentBytes == 0 {
		o.MaxDocumentBytes = DefaultMaxDocumentBytes
	}
	if o.IdleTimeout > 0 && o.TouchAfter >= o.IdleTimeout {
		return optionError("TouchAfter (%v) must be shorter than IdleTimeout (%v), or active sessions would time out", o.TouchAfter, o.IdleTimeout)
	}
	if err := o.validateTrustedProxies(); err != nil {
		return err
	}
	if err := o.Cookie.validate(); err != nil {
		return err
	}
	if err := o.checkNamePrefix(); err != nil {
		return err
	}
	switch o.Codec.(type) {
	case nil, *JSONCodec:
		o.Codec = JSONCodec{} // the manager's loads and saves take JSONCodec's own path
	case JSONCodec, checkedCodec:
	default:
		o.Codec = checkedCodec{o.Codec}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	for i, s := range o.Secrets {
		if !strongSecret(s) {
			// A warning, not an error: express's examples use "keyboard cat".
			o.Logger.Warn("session: Options.Secrets["+strconv.Itoa(i)+"] is short and does not look random; "+
				"whoever guesses it can forge session cookies: use 32 or more random bytes",
				"length", len(s))
		}
	}
	if o.Cookie.MaxAge > 0 && o.Cookie.MaxAge < time.Second {
		// A warning, not an error: a test of expiry may want one.
		o.Logger.Warn("session: Options.Cookie.MaxAge is under a second, so every session ends within it; "+
			"it is a time.Duration (24 * time.Hour), not seconds as http.Cookie.MaxAge nor milliseconds as express's maxAge",
			"maxAge", o.Cookie.MaxAge)
	}
	if o.ErrorHandler == nil {
		logger := o.Logger
		o.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
			logger.ErrorContext(r.Context(), "session error", "err", err, "method", r.Method, "path", r.URL.Path)
			http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		}
	}
	return nil
}

// minSecretLen is the length from which a secret is never warned about.
const minSecretLen = 32

// strongSecret reports whether a secret is long enough, or, when shorter,
// looks generated: no spaces, and at least 128 bits by a rough estimate
// (its length times the bits of the character classes it uses: lower case,
// upper case, digits, other), with no long runs of repeats.
func strongSecret(s string) bool {
	if len(s) >= minSecretLen {
		return true
	}
	var lower, upper, digit, other bool
	var seen [256]bool
	distinct := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c <= ' ' || c == 0x7f:
			return false
		case 'a' <= c && c <= 'z':
			lower = true
		case 'A' <= c && c <= 'Z':
			upper = true
		case '0' <= c && c <= '9':
			digit = true
		default:
			other = true
		}
		if !seen[c] {
			seen[c] = true
			distinct++
		}
	}
	alphabet := 0
	for _, class := range []struct {
		used bool
		size int
	}{{lower, 26}, {upper, 26}, {digit, 10}, {other, 32}} {
		if class.used {
			alphabet += class.size
		}
	}
	return distinct*2 >= len(s) && float64(len(s))*math.Log2(float64(alphabet)) >= 128
}

// isToken reports whether s is a non-empty RFC 7230 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// checkNamePrefix refuses a cookie name prefix that the cookie's
// attributes break: browsers drop a cookie named __Secure-... without
// Secure, and one named __Host-... without Secure, with a Domain or with a
// Path other than "/" (RFC 6265bis section 4.1.3), matching the prefixes in
// any letter case. With SecureAuto such a cookie is only sent over HTTPS.
func (o *Options) checkNamePrefix() error {
	hasPrefix := func(p string) bool { return len(o.Name) >= len(p) && strings.EqualFold(o.Name[:len(p)], p) }
	host := hasPrefix("__Host-")
	if !host && !hasPrefix("__Secure-") {
		return nil
	}
	switch {
	case o.Cookie.Secure == SecureNever:
		return optionError("cookie name %q needs Cookie.Secure SecureAlways or SecureAuto: browsers drop a cookie with its prefix that is not Secure", o.Name)
	case host && o.Cookie.Domain != "":
		return optionError("cookie name %q allows no Cookie.Domain: browsers drop a __Host- cookie with a Domain", o.Name)
	case host && o.Cookie.Path != "/":
		return optionError("cookie name %q needs Cookie.Path \"/\": browsers drop a __Host- cookie with another Path", o.Name)
	}
	return nil
}

// validate checks the cookie's attributes and fills in their defaults.
func (c *CookieOptions) validate() error {
	if c.Path == "" {
		c.Path = "/"
	}
	if !strings.HasPrefix(c.Path, "/") {
		return optionError("cookie path %q must start with /", c.Path)
	}
	if err := checkCookiePath(c.Path); err != "" {
		return optionError("cookie path %q %s", c.Path, err)
	}
	if err := checkCookieDomain(c.Domain); err != "" {
		return optionError("cookie domain %q %s", c.Domain, err)
	}
	if c.Secure < SecureNever || c.Secure > SecureAuto {
		return optionError("unknown Cookie.Secure mode %d", c.Secure)
	}
	if c.SameSite < SameSiteDefault || c.SameSite > SameSiteAuto {
		return optionError("unknown Cookie.SameSite mode %d", c.SameSite)
	}
	// Browsers drop a SameSite=None cookie that is not Secure, so the
	// session would never come back.
	if c.Secure == SecureNever {
		switch c.SameSite {
		case SameSiteNone:
			return optionError("Cookie.SameSite SameSiteNone needs Cookie.Secure SecureAlways or SecureAuto: browsers drop a SameSite=None cookie that is not Secure")
		case SameSiteAuto:
			return optionError("Cookie.SameSite SameSiteAuto needs Cookie.Secure SecureAlways or SecureAuto: on secure requests it sends SameSite=None, which browsers drop without Secure")
		}
	}
	if c.Partitioned && c.Secure == SecureNever {
		return optionError("Cookie.Partitioned needs Cookie.Secure SecureAlways or SecureAuto: browsers drop a Partitioned cookie that is not Secure")
	}
	switch strings.ToLower(c.Priority) {
	case "", "low", "medium", "high":
		c.Priority = strings.ToLower(c.Priority)
	default:
		return optionError("cookie priority %q is not low, medium or high", c.Priority)
	}
	return nil
}

// maxCookieAttr is the longest cookie attribute value browsers read: they
// ignore a Path or Domain over 1024 bytes (RFC 6265bis section 5.7).
const maxCookieAttr = 1024

// checkCookiePath says what is wrong with a cookie path that starts with
// "/", or returns "". A path is matched against the request's path as the
// client sent it (percent-encoded, without query or fragment), so a space,
// '?' or '#' could never match; a control character, ';' or a byte over
// 0x7f breaks the Set-Cookie header.
func checkCookiePath(p string) string {
	if len(p) > maxCookieAttr {
		return fmt.Sprintf("is %d bytes long; browsers ignore a path over %d", len(p), maxCookieAttr)
	}
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c < 0x20 || c == 0x7f:
			return "contains a control character"
		case c >= 0x80:
			return "is not ASCII: percent-encode it, as request paths arrive (/caf%C3%A9)"
		case c == ';':
			return "contains ';', which ends the cookie's path"
		case c == ' ' || c == '?' || c == '#':
			return fmt.Sprintf("contains %q, which no request path does (they are percent-encoded, without query or fragment): the session would never be used", c)
		}
	}
	return ""
}

// checkCookieDomain says what is wrong with a cookie domain, or returns ""
// ("" is no domain: a host-only cookie). A domain is a host name (or an
// IPv4 address) of ASCII letters, digits, '-' and '_' in dot-separated
// labels, optionally after one leading dot, which browsers ignore; they
// ignore a Domain attribute with a trailing dot or over 1024 bytes (the
// cookie is then host-only), and drop the cookie for a port or any other
// character, which can be no host's.
func checkCookieDomain(d string) string {
	if d == "" {
		return ""
	}
	if len(d) > maxCookieAttr {
		return fmt.Sprintf("is %d bytes long; browsers ignore a domain over %d", len(d), maxCookieAttr)
	}
	labels := strings.TrimPrefix(d, ".")
	for i := 0; i < len(labels); i++ {
		switch c := labels[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.':
		case c == ':':
			return "has a port or is not a host name: a cookie's domain is a host name alone"
		case c >= 0x80:
			return "is not ASCII: write an internationalized domain in its xn-- form"
		default:
			return fmt.Sprintf("contains %q, which no host name does", c)
		}
	}
	for label := range strings.SplitSeq(labels, ".") {
		if label == "" {
			return "has an empty label (two dots in a row, a lone dot, or a trailing dot, which makes browsers ignore it)"
		}
	}
	return ""
}
