// Package session is net/http middleware for server-side sessions, with the
// options and semantics of Node's express-session, and the same cookie and
// stored document, so that a Go service and an Express service can share one
// store and one cookie during a migration.
//
// Every request under the cookie path gets a session: an id in a signed
// cookie, data in a Store.
//
//	m, err := session.New(session.Options{
//		Secrets: []string{"current", "previous"}, // [0] signs, all verify
//		Store:   redisstore.New(client),          // default: a memstore
//		Cookie:  session.CookieOptions{MaxAge: 24 * time.Hour, Secure: session.SecureAuto},
//	})
//	http.ListenAndServe(addr, m.Handler(mux))
//
//	func handler(w http.ResponseWriter, r *http.Request) {
//		s := session.From(r)
//		views, _ := session.GetAs[int](s, "views")
//		s.Set("views", views+1)
//	}
//
// # What it does better than express-session
//
//   - No lost updates: with a store that can compare-and-swap (all of
//     sessionkit's stores), parallel requests that change different keys of
//     one session all keep their change. The manager records the keys a
//     request set or deleted, and when its write finds another request's
//     write, it re-reads the session and re-applies only its own changes.
//     Of parallel requests that set the same key, the last save wins (see
//     Session.Set); flash messages are merged message by message.
//   - No resurrection: a slow request does not write back a session that was
//     destroyed or regenerated meanwhile.
//   - No redirect race: the session is saved, and its cookie set, before the
//     response headers go out. A change made after the first write is saved
//     when the handler returns (the cookie can no longer change then).
//   - Lazy: a request whose handler never calls From costs no store round trip
//     and sends no cookie.
//   - Bounded memory store, RFC 6265 path matching, RenewID to keep the data
//     under a new id at login, and a change to the session's own cookie
//     (a "remember me" max age) counts as a modification.
//
// # Decisions at the end of a request
//
// As express-session: a session is saved when it was modified, or always
// with Resave, and a new one only when modified unless SaveUninitialized is
// set; an unmodified loaded session is touched instead (its expiry pushed
// forward without a rewrite); Set-Cookie is sent for a new session that is
// stored, for a changed one whose cookie has an expiry (a browser-session
// cookie is not sent again, unless the request's change to the session's
// own cookie made it one), on every response with Rolling, and never for a
// Secure cookie over plain HTTP (the session is still saved).
//
// Unlike express-session, a response that used the session carries
// Vary: Cookie, and one that sends the session's Set-Cookie is kept out of
// shared caches: it gets Cache-Control: private, and a handler's own
// Cache-Control loses public and s-maxage and gains private, unless it
// already says no-store or private (the lines of a key set in another
// letter case, w.Header()["cache-control"], are read and rewritten with it,
// under the canonical key). A CDN that reads a field targeted at it
// ignores Cache-Control, so each of CDN-Cache-Control (RFC 9213),
// Cloudflare-CDN-Cache-Control, Akamai-Cache-Control,
// Vercel-CDN-Cache-Control, Netlify-CDN-Cache-Control and Surrogate-Control
// that the handler set on that response gets no-store first and loses
// max-age, s-maxage and public, its other directives kept, unless it
// already says no-store (or private, except in Surrogate-Control). A
// response that sets no cookie keeps the handler's Cache-Control and these
// fields as they are.
//
// # Streaming, websockets and wrapped writers
//
// The ResponseWriter a handler gets commits the session (saves it and sets
// its cookie) at the first WriteHeader, Write, Flush or Hijack, and passes
// on http.Flusher, http.Hijacker, io.ReaderFrom and, through Unwrap,
// everything http.ResponseController offers (SetWriteDeadline,
// EnableFullDuplex, ...). A new session must be made (From, and Set) before
// the first write or Flush: no cookie can carry one made later, and it is
// not stored (Session.Save returns an error). A RenewID made later fails,
// and the session keeps its id; what the request changes after it, flash
// messages aside, is not saved. A long-lived response that
// changes the session afterwards calls Session.Save. After Hijack the
// session's Set-Cookie and Vary are in the writer's Header(), and only a
// handshake written with them carries them (gorilla/websocket:
// Upgrade(w, r, w.Header())). Middleware that wraps the writer (gzip, a
// logger) works inside or outside Handler; outside it, the wrapper must
// offer Flush for streaming to flush and Hijack for websockets, or Unwrap
// (http.ResponseController finds them through it).
//
// With the Handlers of two Managers nested (a second cookie for /admin),
// From returns the session of the innermost Handler whose cookie path the
// request matches, and Manager.From each Manager's own: two sessions on
// the same paths, as scs's several SessionManagers and gorilla/sessions'
// several session names give. FromContext is From for code that has only
// the request's context.
//
// # Cross-site request forgery
//
// The middleware does not protect forms and JSON endpoints from cross-site
// request forgery (express-session does not either): the browser sends the
// session cookie with a forged request too. Wrap the Handler with the
// standard library's http.CrossOriginProtection, which refuses cross-origin
// POST, PUT, PATCH and DELETE requests by their Sec-Fetch-Site or Origin
// header, and set Cookie.SameSite to SameSiteLax (the default sends no
// SameSite attribute, as express-session does). For browsers that send
// neither header, keep a random token in the session and compare it with
// a form field or request header. See the Manager.Handler example.
//
// # Errors
//
// A bad, forged, truncated or oversized cookie is no cookie: a fresh session.
// A store error while loading makes From return nil and the ErrorHandler
// answer (default 500), at the handler's next write, WriteHeader, Flush or
// Hijack, or when it returns; what the handler writes is discarded.
// A load first made after the headers went out, which no answer can
// replace, fails with a log line and From's nil, and the handler's output
// still goes out. A store error while saving, before the headers went out,
// also goes to the ErrorHandler, in place of the handler's response (so no
// redirect announces a login that was not saved), as does a save of a value
// that does not encode as JSON, or that nests arrays and objects deeper than
// a load reads back (9,999 levels in a value, the stored document the first
// of 10,000): nothing is written, the stored session staying as it was. A
// corrupt stored document is logged and treated as missing. A new session whose id a custom GenerateID repeated
// from a stored session takes another id rather than joining that session,
// or fails its save with ErrConflict (see Options.GenerateID). Errors wrap
// their cause: errors.Is works with the store's own errors, and with
// ErrNotFound for a Reload of a session that is gone.
package session
