package session

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sessionkit/session/internal/shortid"
)

// stateKey is the request context key of a request's session state.
type stateKey struct{}

// requestState is the middleware's per-request state. Its session is
// loaded on the first From, and committed (saved, touched, cookie set)
// before the response headers go out and again when the handler returns.
type requestState struct {
	m      *Manager
	r      *http.Request
	w      http.ResponseWriter // the underlying writer
	writer responseWriter      // the handler's writer, allocated with rs

	mu          sync.Mutex
	sess        *Session
	cookieID    string      // the verified id the request carried, or ""
	loaded      bool        // a load was attempted
	failed      bool        // the error handler answered; discard the handler's output
	wroteHeader bool        // the response headers went out (or the connection was hijacked)
	sentID      string      // the session id whose cookie went out with the headers
	discarded   http.Header // what the handler sets after a failure
	detached    context.Context
}

// storeContext is the request's context without its cancellation, made once:
// a client that hangs up must not lose the save. rs.mu is held.
func (rs *requestState) storeContext() context.Context {
	if rs.detached == nil {
		rs.detached = context.WithoutCancel(rs.r.Context())
	}
	return rs.detached
}

// Handler returns middleware that gives each request under the cookie path
// a session, available through From. The session is loaded lazily, on the
// first From, and saved before the response headers are written.
func (m *Manager) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !pathMatch(r.URL.Path, m.opts.Cookie.Path) {
			next.ServeHTTP(w, r)
			return
		}
		rs := &requestState{m: m, w: w}
		rs.writer = responseWriter{ResponseWriter: w, rs: rs}
		rs.r = r.WithContext(context.WithValue(r.Context(), stateKey{}, rs))
		next.ServeHTTP(&rs.writer, rs.r)
		rs.finish()
	})
}

// From returns the request's session, loading it on first use. It returns
// nil for a request that did not go through Handler or is outside the cookie
// path, after Session.Unset, and when the store failed (the error handler has
// then answered, and what the handler writes afterwards is discarded).
func From(r *http.Request) *Session {
	rs, _ := r.Context().Value(stateKey{}).(*requestState)
	if rs == nil {
		return nil
	}
	return rs.session()
}

func (rs *requestState) session() *Session {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.failed {
		return nil
	}
	if !rs.loaded {
		rs.loaded = true
		if err := rs.load(); err != nil {
			rs.fail(err)
			return nil
		}
	}
	s := rs.sess
	s.mu.Lock()
	unset := s.unset
	s.mu.Unlock()
	if unset {
		return nil
	}
	return s
}

// load reads the session named by the request's cookie, or makes a new one.
// A missing, unsigned, forged or expired cookie gives a new session.
func (rs *requestState) load() error {
	m := rs.m
	s := &Session{m: m, rs: rs}
	if value, found := requestCookie(rs.r.Header, m.opts.Name); found {
		if id, ok := m.verify(value); ok {
			rs.cookieID = id
			doc, ver, err := m.read(rs.r.Context(), id)
			if err == nil {
				m.initLoaded(s, id, doc, ver)
				rs.sess = s
				return nil
			}
			if !errors.Is(err, ErrNotFound) {
				return fmt.Errorf("session: load: %w", err)
			}
		}
	}
	id, err := m.newID(rs.r)
	if err != nil {
		return err
	}
	m.initNew(s, id)
	rs.sess = s
	return nil
}

// fail answers the request with the error handler, if the headers have not
// gone out yet, and makes the rest of the handler's output go nowhere.
// rs.mu is held.
func (rs *requestState) fail(err error) {
	rs.failed = true
	if rs.wroteHeader {
		rs.m.logger.ErrorContext(rs.r.Context(), "session: error after the response headers were sent", "err", err, "path", rs.r.URL.Path)
		return
	}
	rs.wroteHeader = true
	h := rs.w.Header()
	for k := range h {
		delete(h, k) // the handler's headers (a redirect's Location, say) belong to the answer that failed
	}
	rs.m.opts.ErrorHandler(rs.w, rs.r, err)
}

// beforeHeaders commits the session before the first byte of the response.
// It reports false when the handler's output must be discarded.
func (rs *requestState) beforeHeaders() bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.failed {
		return false
	}
	if !rs.wroteHeader {
		if err := rs.commit(); err != nil {
			rs.fail(err)
			return false
		}
		rs.wroteHeader = true
	}
	return true
}

// finish commits what the handler changed, when it returns.
func (rs *requestState) finish() {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.failed {
		return
	}
	if err := rs.commit(); err != nil {
		rs.fail(err)
	}
}

// commit makes express-session's end-of-request decisions (see the spec):
// save, touch, set the cookie. rs.mu is held.
func (rs *requestState) commit() error {
	if rs.sess == nil {
		return nil // the handler never asked for the session: nothing to do
	}
	m, s := rs.m, rs.sess
	s.mu.Lock()
	defer s.mu.Unlock()
	ctx := rs.storeContext()
	if s.unset {
		if m.opts.Unset == UnsetDestroy && s.inStore && !s.unsetDone {
			s.unsetDone = true
			if err := m.store.Destroy(ctx, s.id); err != nil {
				return fmt.Errorf("session: unset: destroy: %w", err)
			}
		}
		return nil
	}
	if rs.wroteHeader && s.id != rs.cookieID && s.id != rs.sentID {
		if !s.clean && (s.modified || s.id != s.originalID) {
			m.logger.WarnContext(ctx, "session: not saved: it was created or renewed after the response headers were sent, so the client has no cookie for it", "path", rs.r.URL.Path)
		}
		return nil
	}
	now := m.now()
	if !s.cookieTouched {
		s.touchCookie(now)
		s.cookieTouched = true
	}
	isModified := s.id != s.originalID || s.modified
	var save bool
	if !m.opts.SaveUninitialized && !s.hasSaved && rs.cookieID != s.id {
		save = isModified
	} else {
		save = !s.clean
	}
	if s.destroyed && !isModified {
		save = false // Destroy leaves an empty session that only a change brings back
	}
	var setCookie bool
	if rs.cookieID != s.id {
		setCookie = m.opts.SaveUninitialized || isModified
	} else {
		setCookie = m.opts.Rolling || (!s.cookie.expires.IsZero() && isModified)
	}
	switch {
	case save:
		if err := m.persist(ctx, s); errors.Is(err, errGone) {
			m.logger.InfoContext(ctx, "session: not saved: destroyed by another request meanwhile", "id", shortid.Of(s.id))
			return nil
		} else if err != nil {
			return err
		}
	case rs.cookieID == s.id && s.inStore && !s.storeTouched:
		s.storeTouched = true
		if err := m.touch(ctx, s, now); err != nil {
			return err
		}
	}
	if rs.wroteHeader {
		return nil
	}
	switch {
	case setCookie && s.cookieSecure() && !rs.secureRequest():
		m.logger.DebugContext(ctx, "session: not sending a Secure cookie over an insecure connection")
	case setCookie:
		rs.writeCookie(m.signer.cookieValue(s.id), s.cookie.expires, now)
		rs.sentID = s.id
	case s.destroyed && rs.cookieID != "":
		rs.writeCookie("", time.Unix(0, 0), now)
	}
	return nil
}

// touch pushes the stored session's expiry forward. With TouchAfter, a
// session whose expiry moved less than TouchAfter ago is left alone, and a due
// touch rewrites the document so that it records the new expiry.
func (m *Manager) touch(ctx context.Context, s *Session, now time.Time) error {
	if m.opts.TouchAfter > 0 && !s.loadedExpires.IsZero() {
		lastTouch := s.loadedExpires.Add(-s.cookie.originalMaxAge)
		if now.Sub(lastTouch) < m.opts.TouchAfter {
			return nil
		}
		if err := m.persist(ctx, s); err != nil && !errors.Is(err, errGone) {
			return err
		}
		return nil
	}
	if m.toucher == nil {
		return nil
	}
	if _, err := m.toucher.Touch(ctx, s.id, m.storeExpiry(s)); err != nil {
		return fmt.Errorf("session: touch: %w", err)
	}
	return nil
}

// cookieSecure reports whether the cookie is marked Secure for this request.
func (s *Session) cookieSecure() bool { return s.rs.secureCookie() }

// secureRequest reports whether the request came over TLS, or, with
// TrustProxy, whether the first X-Forwarded-Proto says https.
func (rs *requestState) secureRequest() bool {
	if rs.r.TLS != nil {
		return true
	}
	if !rs.m.opts.TrustProxy {
		return false
	}
	proto := rs.r.Header.Get("X-Forwarded-Proto")
	if i := strings.IndexByte(proto, ','); i >= 0 {
		proto = proto[:i]
	}
	return strings.EqualFold(strings.TrimSpace(proto), "https")
}

func (rs *requestState) secureCookie() bool {
	switch rs.m.opts.Cookie.Secure {
	case SecureAlways:
		return true
	case SecureAuto:
		return rs.secureRequest()
	}
	return false
}

// sameSite returns the stored form of the SameSite attribute.
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
	var b strings.Builder
	b.Grow(len(rs.m.opts.Name) + len(value) + 160)
	b.WriteString(rs.m.opts.Name)
	b.WriteByte('=')
	b.WriteString(value)
	if o.Domain != "" {
		b.WriteString("; Domain=")
		b.WriteString(o.Domain)
	}
	b.WriteString("; Path=")
	b.WriteString(o.Path)
	if !expires.IsZero() {
		var buf [64]byte
		b.WriteString("; Expires=")
		b.Write(expires.UTC().AppendFormat(buf[:0], http.TimeFormat))
		b.WriteString("; Max-Age=")
		b.Write(strconv.AppendInt(buf[:0], max(0, int64(expires.Sub(now)/time.Second)), 10))
	}
	if !o.DisableHTTPOnly {
		b.WriteString("; HttpOnly")
	}
	if rs.secureCookie() {
		b.WriteString("; Secure")
	}
	if o.Partitioned {
		b.WriteString("; Partitioned")
	}
	switch o.Priority {
	case "low":
		b.WriteString("; Priority=Low")
	case "medium":
		b.WriteString("; Priority=Medium")
	case "high":
		b.WriteString("; Priority=High")
	}
	switch rs.sameSite() {
	case "lax":
		b.WriteString("; SameSite=Lax")
	case "strict":
		b.WriteString("; SameSite=Strict")
	case "none":
		b.WriteString("; SameSite=None")
	}
	rs.w.Header().Add("Set-Cookie", b.String())
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
