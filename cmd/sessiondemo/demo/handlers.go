package demo

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/shortid"
)

//go:embed assets
var assets embed.FS

var pageTemplate = template.Must(template.New("index.html").Funcs(template.FuncMap{
	"date":  formatDate,
	"until": formatUntil,
}).ParseFS(assets, "assets/index.html"))

// Keys the demo itself uses in the session.
const (
	keyViews = "views" // the visit counter
	keyUser  = "user"  // the logged-in name, shown in the data; login sets it with SetUser
	keyFlash = "flash" // where Flash keeps its messages
)

// Limits on what a visitor can store, to keep the demo's sessions small.
const (
	maxKeyLen   = 64
	maxValueLen = 1000
	maxNameLen  = 64
	maxBody     = 64 << 10 // bytes of a request body (form or JSON)

	// A session holds at most maxKeys keys (flash messages aside) and
	// maxDataSize bytes of them as JSON: without a cap, a few PUTs filled
	// one with 100,000 keys, rewritten on every page view.
	maxKeys     = 100
	maxDataSize = 64 << 10
)

// app holds the demo's handlers and what they show about the setup.
type app struct {
	cookieName string
	store      string // what the page shows of the store URL (publicStore)
	log        *slog.Logger
	m          *session.Manager // for the user's sessions (UserSessions)
}

// routes returns the demo's handler: the page, its forms, the JSON API and
// the static files, wrapped in the session middleware, behind a check that
// refuses cross-origin POSTs, PUTs and DELETEs from browsers (CSRF: a form
// on another site could log the visitor out, or in as someone else). The
// check runs first, so a refused request never touches the session.
func (a *app) routes(m *session.Manager) http.Handler {
	static, err := fs.Sub(assets, "assets/static")
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.index)
	mux.HandleFunc("POST /set", a.formSet)
	mux.HandleFunc("POST /delete", a.formDelete)
	mux.HandleFunc("POST /login", a.formLogin)
	mux.HandleFunc("POST /logout", a.formLogout)
	mux.HandleFunc("POST /logout-others", a.formLogoutOthers)
	mux.HandleFunc("POST /logout-session", a.formLogoutSession)

	mux.HandleFunc("GET /api/session", a.apiGet)
	mux.HandleFunc("PUT /api/session", a.apiPut)
	mux.HandleFunc("DELETE /api/session/{key}", a.apiDelete)
	mux.HandleFunc("POST /api/login", a.apiLogin)
	mux.HandleFunc("POST /api/logout", a.apiLogout)

	// None touches the session: no cookie, and no store round trip but
	// readyz's own.
	mux.HandleFunc("GET /healthz", healthz)
	mux.HandleFunc("GET /readyz", a.readyz)
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	return securityHeaders(http.NewCrossOriginProtection().Handler(limitBodies(m.Handler(mux))))
}

// limitBodies caps every request body at maxBody bytes: a handler that reads
// more gets an *http.MaxBytesError and answers 413 (readForm, readJSON).
func limitBodies(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		next.ServeHTTP(w, r)
	})
}

// securityHeaders sets the headers every response of the demo carries.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; form-action 'self'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// healthz is the liveness check: the process serves. It does not look at
// the store, whose outage a restart of this process would not mend.
func healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	fmt.Fprintln(w, "ok")
}

// readyTimeout bounds readyz's store round trip.
const readyTimeout = 2 * time.Second

// readyProbeID is the session id readyz looks up: one no cookie can name,
// since a signed cookie carries an id of the manager's own making.
const readyProbeID = "sessiondemo-readiness-probe"

// readyz is the readiness check, for a load balancer: 200 when a store round
// trip (a lookup of a session that does not exist) succeeds within
// readyTimeout, 503 otherwise, so that traffic goes to instances whose store
// answers. The error goes to the log, not to the caller.
func (a *app) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	_, _, err := a.m.Store().Get(ctx, readyProbeID)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err != nil {
		a.log.Warn("readiness check: the session store failed", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "the session store is unavailable")
		return
	}
	fmt.Fprintln(w, "ready")
}

// pageData is what index.html shows.
type pageData struct {
	Visits     int
	ShortID    string
	Expires    time.Time // zero for a browser-session cookie
	User       string    // the session's bound user (Session.User), not the "user" key
	Rows       []row
	Infos      []string
	Errors     []string
	CookieName string
	Store      string
	BaseURL    string // for the curl examples
	// Sessions are the logged-in user's sessions, most recently used
	// first; nil when the store keeps no user index (memcached).
	Sessions []userSession
}

// userSession is one of the user's sessions, as the page lists it.
type userSession struct {
	ShortID           string // shown
	PublicID          string // what its "Log out" button posts: not secret, unlike the id
	LastUsed, Expires time.Time
	Current           bool // the session of this request
}

// row is one stored key and its value, as shown in the data table.
type row struct {
	Key, Value string
	Own        bool // a key the demo itself maintains
}

// index counts the visit and shows the session.
func (a *app) index(w http.ResponseWriter, r *http.Request) {
	s := session.From(r)
	if s == nil {
		return // the error handler has answered
	}
	views, _ := session.GetAs[int](s, keyViews)
	views++
	s.Set(keyViews, views)

	d := pageData{
		Visits:     views,
		ShortID:    shortid.Of(s.ID()),
		Expires:    s.Cookie().Expires(),
		Infos:      s.Flashes("info"),
		Errors:     s.Flashes("error"),
		CookieName: a.cookieName,
		Store:      a.store,
		BaseURL:    baseURL(r),
	}
	// Logged in is what login bound (SetUser after RenewID), not a value
	// a visitor could set.
	d.User = s.User()
	if d.User != "" {
		d.Sessions = a.userSessions(r, s, d.User)
	}
	for _, k := range s.Keys() {
		if k == keyFlash {
			continue // consumed above; shown only while it holds messages
		}
		d.Rows = append(d.Rows, row{Key: k, Value: display(s.Get(k)), Own: k == keyViews || k == keyUser})
	}

	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := pageTemplate.Execute(w, d); err != nil {
		a.log.Error("render page", "err", err)
	}
}

// formSet stores the key and value of the "set" form.
func (a *app) formSet(w http.ResponseWriter, r *http.Request) {
	if !readForm(w, r) {
		return
	}
	s := session.From(r)
	if s == nil {
		return
	}
	key, value := strings.TrimSpace(r.PostForm.Get("key")), r.PostForm.Get("value")
	if msg := keyProblem(key); msg != "" {
		flash(s, "error", msg)
	} else if msg := valueProblem(value); msg != "" {
		flash(s, "error", msg)
	} else if msg := capacityProblem(s, map[string]any{key: value}); msg != "" {
		flash(s, "error", msg)
	} else {
		s.Set(key, value)
		flash(s, "info", fmt.Sprintf("Stored %q = %q.", key, value))
	}
	backHome(w, r)
}

// formDelete deletes the key of a row's delete button.
func (a *app) formDelete(w http.ResponseWriter, r *http.Request) {
	if !readForm(w, r) {
		return
	}
	s := session.From(r)
	if s == nil {
		return
	}
	key := r.PostForm.Get("key")
	if msg := reservedKeyProblem(key); msg != "" {
		flash(s, "error", msg)
		backHome(w, r)
		return
	}
	switch {
	case !s.Has(key) && utf8.RuneCountInString(key) > maxKeyLen:
		// No key is that long; the message is kept in the session until
		// the next page view, so it does not quote the form's whole key.
		flash(s, "error", fmt.Sprintf("There is no such key: a key is at most %d characters.", maxKeyLen))
	case !s.Has(key):
		flash(s, "error", fmt.Sprintf("There is no key %q.", key))
	default:
		s.Delete(key)
		flash(s, "info", fmt.Sprintf("Deleted %q.", key))
	}
	backHome(w, r)
}

// formLogin logs in under a new session id, keeping the data.
func (a *app) formLogin(w http.ResponseWriter, r *http.Request) {
	if !readForm(w, r) {
		return
	}
	s := session.From(r)
	if s == nil {
		return
	}
	name := strings.TrimSpace(r.PostForm.Get("name"))
	if msg := nameProblem(name); msg != "" {
		flash(s, "error", msg)
		backHome(w, r)
		return
	}
	old := s.ID()
	if err := login(r, s, name); err != nil {
		a.fail(w, r, err)
		return
	}
	flash(s, "info", fmt.Sprintf("Welcome, %s. Your session id changed from %s to %s; your data stayed.", name, shortid.Of(old), shortid.Of(s.ID())))
	backHome(w, r)
}

// formLogout destroys the session. The request goes on with a fresh, empty
// session, which carries the goodbye message.
func (a *app) formLogout(w http.ResponseWriter, r *http.Request) {
	s := session.From(r)
	if s == nil {
		return
	}
	old := s.ID()
	if err := s.Destroy(r.Context()); err != nil {
		a.fail(w, r, err)
		return
	}
	flash(s, "info", fmt.Sprintf("You are logged out. The session %s is destroyed; this is a new one.", shortid.Of(old)))
	backHome(w, r)
}

// userSessions lists the user's sessions for the page, this one marked;
// nil when the store keeps no user index or cannot list them now (logged).
func (a *app) userSessions(r *http.Request, s *session.Session, user string) []userSession {
	infos, err := a.m.UserSessions(r.Context(), user)
	if err != nil {
		if !errors.Is(err, session.ErrNotSupported) {
			a.log.Error("list the user's sessions", "err", err)
		}
		return nil
	}
	list := make([]userSession, len(infos))
	for i, info := range infos {
		list[i] = userSession{ShortID: info.ShortID(), PublicID: info.PublicID(), LastUsed: info.LastUsed, Expires: info.Expires, Current: info.ID == s.ID()}
	}
	return list
}

// loggedIn returns the request's session and its user, or "" after
// answering: a flash message and back to the page when no one is logged in
// (nothing when the session could not be loaded: the ErrorHandler answers).
func loggedIn(w http.ResponseWriter, r *http.Request) (*session.Session, string) {
	s := session.From(r)
	if s == nil {
		return nil, ""
	}
	user := s.User()
	if user == "" {
		flash(s, "error", "Log in first.")
		backHome(w, r)
	}
	return s, user
}

// formLogoutOthers destroys every session of the logged-in user but this
// one ("log out my other devices"). The cross-origin check in routes keeps
// another site from posting it.
func (a *app) formLogoutOthers(w http.ResponseWriter, r *http.Request) {
	s, user := loggedIn(w, r)
	if user == "" {
		return
	}
	n, err := a.m.DestroyUserSessions(r.Context(), user, s.ID())
	if errors.Is(err, session.ErrNotSupported) {
		// The page hides the button on such a store; a post came anyway.
		flash(s, "error", "This store keeps no index of users' sessions, so the demo cannot find your other sessions.")
		backHome(w, r)
		return
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	flash(s, "info", fmt.Sprintf("Logged out %d other session(s) of %s.", n, user))
	backHome(w, r)
}

// formLogoutSession ends one of the logged-in user's other sessions, the
// one whose "Log out" button in "Your sessions" was pressed. The button
// posts the session's PublicID, never its id (as secret as a password), nor
// its ShortID (which two sessions may share), and
// DestroyUserSessionByPublicID looks for it among this user's sessions
// alone: a PublicID of another name's session, or anything else a form may
// post, ends nothing. This session's own PublicID (the page shows it no
// button: "Log out" is there) logs out as "Log out" does.
func (a *app) formLogoutSession(w http.ResponseWriter, r *http.Request) {
	if !readForm(w, r) {
		return
	}
	s, user := loggedIn(w, r)
	if user == "" {
		return
	}
	publicID := r.PostForm.Get("session")
	if publicID == s.PublicID() {
		a.formLogout(w, r)
		return
	}
	ended, err := a.m.DestroyUserSessionByPublicID(r.Context(), user, publicID)
	switch {
	case errors.Is(err, session.ErrNotSupported):
		// The page lists no sessions on such a store; a post came anyway.
		flash(s, "error", "This store keeps no index of users' sessions, so the demo cannot find that session.")
	case err != nil:
		a.fail(w, r, err)
		return
	case !ended:
		flash(s, "error", fmt.Sprintf("That session is not one of %s's, or has ended already.", user))
	default:
		flash(s, "info", fmt.Sprintf("Logged out one other session of %s.", user))
	}
	backHome(w, r)
}

// login renews the session id (keeping the data: no session fixation, no
// lost cart) and records the user.
func login(r *http.Request, s *session.Session, name string) error {
	if err := s.RenewID(r.Context()); err != nil {
		return fmt.Errorf("login: %w", err)
	}
	s.Set(keyUser, name)
	s.SetUser(name) // indexes the session under the name: "Your sessions"
	return nil
}

// readForm parses the posted form, which the page sends as
// application/x-www-form-urlencoded, or answers 413 when it is over maxBody
// and 415 when it is multipart: the page never sends one, and Go would
// spool its files to disk. Handlers read the form before the session, as
// readJSON.
func readForm(w http.ResponseWriter, r *http.Request) bool {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "multipart/form-data" {
		http.Error(w, "Send the form as application/x-www-form-urlencoded.", http.StatusUnsupportedMediaType)
		return false
	}
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, fmt.Sprintf("The form is larger than %d KiB.", maxBody>>10), http.StatusRequestEntityTooLarge)
		} else {
			http.Error(w, "The form is malformed.", http.StatusBadRequest)
		}
		return false
	}
	return true
}

// backHome answers a form post with a redirect to the page (post, redirect, get).
func backHome(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// fail answers a request whose session operation failed.
func (a *app) fail(w http.ResponseWriter, r *http.Request, err error) {
	a.log.Error("session operation failed", "method", r.Method, "path", r.URL.Path, "err", err)
	http.Error(w, "Something went wrong with the session store. Try again.", http.StatusInternalServerError)
}

// apiSession is the JSON form of a session in the API.
type apiSession struct {
	ID     string         `json:"id"`
	New    bool           `json:"new"`
	Data   map[string]any `json:"data"`
	Cookie apiCookie      `json:"cookie"`
}

// isoTime is the layout of the API's times: the stored document's, which is
// JavaScript's toISOString (express-session's JSON), to the millisecond. A
// session created by the request has its expiry to the nanosecond until it
// is read back from the store; the API shows it as stored either way.
const isoTime = "2006-01-02T15:04:05.000Z"

// apiCookie describes the session's cookie.
type apiCookie struct {
	Name           string   `json:"name"`
	Expires        *string  `json:"expires"`        // isoTime; null for a browser-session cookie
	MaxAge         *float64 `json:"maxAge"`         // seconds left; null for a browser-session cookie
	OriginalMaxAge *float64 `json:"originalMaxAge"` // seconds; null for a browser-session cookie
}

func (a *app) apiGet(w http.ResponseWriter, r *http.Request) {
	s := session.From(r)
	if s == nil {
		return
	}
	a.writeSession(w, http.StatusOK, s)
}

// apiPut merges a JSON object into the session: each member sets its key,
// and a null member deletes it (as in a JSON merge patch).
func (a *app) apiPut(w http.ResponseWriter, r *http.Request) {
	var patch map[string]json.RawMessage
	if !readJSON(w, r, &patch) {
		return
	}
	values := make(map[string]any, len(patch))
	for k, raw := range patch {
		if msg := keyProblem(k); msg != "" {
			writeError(w, http.StatusBadRequest, msg)
			return
		}
		if len(raw) > maxValueLen {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("the value of %q is longer than %d bytes", k, maxValueLen))
			return
		}
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		values[k] = v
	}
	s := session.From(r)
	if s == nil {
		return
	}
	if msg := capacityProblem(s, values); msg != "" {
		writeError(w, http.StatusUnprocessableEntity, msg)
		return
	}
	for k, v := range values {
		if v == nil {
			s.Delete(k)
		} else {
			s.Set(k, v)
		}
	}
	a.writeSession(w, http.StatusOK, s)
}

func (a *app) apiDelete(w http.ResponseWriter, r *http.Request) {
	s := session.From(r)
	if s == nil {
		return
	}
	key := r.PathValue("key")
	if msg := reservedKeyProblem(key); msg != "" {
		writeError(w, http.StatusBadRequest, msg)
		return
	}
	if !s.Has(key) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("there is no key %q", key))
		return
	}
	s.Delete(key)
	a.writeSession(w, http.StatusOK, s)
}

func (a *app) apiLogin(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Name string `json:"name"`
	}
	if !readJSON(w, r, &body) {
		return
	}
	s := session.From(r)
	if s == nil {
		return
	}
	name := strings.TrimSpace(body.Name)
	if msg := nameProblem(name); msg != "" {
		writeError(w, http.StatusBadRequest, msg)
		return
	}
	if err := login(r, s, name); err != nil {
		a.log.Error("login", "err", err)
		writeError(w, http.StatusInternalServerError, "the session store failed")
		return
	}
	a.writeSession(w, http.StatusOK, s)
}

func (a *app) apiLogout(w http.ResponseWriter, r *http.Request) {
	s := session.From(r)
	if s == nil {
		return
	}
	if err := s.Destroy(r.Context()); err != nil {
		a.log.Error("logout", "err", err)
		writeError(w, http.StatusInternalServerError, "the session store failed")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *app) writeSession(w http.ResponseWriter, status int, s *session.Session) {
	out := apiSession{
		ID:     s.ID(),
		New:    s.IsNew(),
		Data:   make(map[string]any),
		Cookie: apiCookie{Name: a.cookieName},
	}
	for _, k := range s.Keys() {
		out.Data[k] = s.Get(k)
	}
	c := s.Cookie()
	if exp := c.Expires(); !exp.IsZero() {
		exp := exp.UTC().Truncate(time.Millisecond).Format(isoTime)
		left := c.MaxAge().Seconds()
		orig := c.OriginalMaxAge().Seconds()
		out.Cookie.Expires, out.Cookie.MaxAge, out.Cookie.OriginalMaxAge = &exp, &left, &orig
	}
	writeJSON(w, status, out)
}

// readJSON decodes the request's JSON body into v, or answers with an error
// (413 over maxBody). It insists on a JSON content type, which a cross-site
// form cannot send. Handlers read the body before the session, so that a
// refused request costs no store round trip.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "send a JSON body with Content-Type: application/json")
		return false
	}
	dec := json.NewDecoder(r.Body) // limited by limitBodies
	err := dec.Decode(v)
	if err == nil {
		// The body is one JSON value: what follows it (a second object
		// that a client appended) is an error, not data to drop.
		if _, terr := dec.Token(); terr != io.EOF {
			err = errors.New("data after the JSON value")
			if errors.As(terr, new(*http.MaxBytesError)) {
				err = terr
			}
		}
	}
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, err.Error())
		} else {
			writeError(w, http.StatusBadRequest, "invalid JSON: "+err.Error())
		}
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// keyProblem says what is wrong with a key a visitor wants to set, or "".
// A key, a value and a login name must be UTF-8: the session is stored as
// JSON, which would store other text, and its save fails instead (a 500
// for a form posted with other bytes, which a browser does not send but
// any client can).
func keyProblem(k string) string {
	switch {
	case k == "":
		return "The key must not be empty."
	case !utf8.ValidString(k):
		return "The key must be UTF-8 text."
	case utf8.RuneCountInString(k) > maxKeyLen:
		return fmt.Sprintf("The key must be at most %d characters.", maxKeyLen)
	}
	return reservedKeyProblem(k)
}

// reservedKeyProblem says why a visitor may neither set nor delete k, or
// "": the keys of flash messages, of the cookie, and of the login, which
// only logging in and out change (setting "user" by hand showed "Logged in
// as" without a login; deleting it left the session in the user index).
func reservedKeyProblem(k string) string {
	switch k {
	case keyFlash:
		return fmt.Sprintf("The key %q is reserved for flash messages.", keyFlash)
	case "cookie":
		return `The key "cookie" is reserved for the session's cookie.`
	case keyUser:
		return fmt.Sprintf("The key %q is kept by the login: log in to set it, log out to end it.", keyUser)
	case session.UserKey, session.ClientKey, session.LoginKey, session.CreatedKey:
		return fmt.Sprintf("The key %q is reserved for sessionkit's own data.", k)
	}
	return ""
}

// valueProblem says what is wrong with a value from the form, or "".
func valueProblem(v string) string {
	if !utf8.ValidString(v) {
		return "The value must be UTF-8 text."
	}
	if utf8.RuneCountInString(v) > maxValueLen {
		return fmt.Sprintf("The value must be at most %d characters.", maxValueLen)
	}
	return ""
}

// capacityProblem says why the session would be over maxKeys or maxDataSize
// once changes are applied (a nil value deletes its key), or "". Flash
// messages do not count: they go at the next page view.
func capacityProblem(s *session.Session, changes map[string]any) string {
	data := make(map[string]any)
	for _, k := range s.Keys() {
		if k != keyFlash {
			data[k] = s.Get(k)
		}
	}
	for k, v := range changes {
		if v == nil {
			delete(data, k)
		} else {
			data[k] = v
		}
	}
	if len(data) > maxKeys {
		return fmt.Sprintf("The session would hold %d keys; the demo keeps at most %d. Delete some first.", len(data), maxKeys)
	}
	b, err := json.Marshal(data)
	if err != nil {
		return "The session's data cannot be written as JSON."
	}
	if len(b) > maxDataSize {
		return fmt.Sprintf("The session's data would take %d bytes; the demo keeps at most %d. Delete some first.", len(b), maxDataSize)
	}
	return ""
}

// maxFlashes is how many flash messages a session keeps for its next page
// view: a browser, which follows each form's redirect to the page, has one
// at a time; a client that does not could make a session of thousands.
const maxFlashes = 10

// flash adds a message for the next page view (Session.Flash), unless the
// session holds maxFlashes already: without a cap, form posts not followed
// by a page view grew the session by each message until the manager's
// MaxDocumentBytes refused to save it (500 for every request).
func flash(s *session.Session, kind, msg string) {
	if pending, ok := s.Get(keyFlash).(map[string]any); ok {
		n := 0
		for _, msgs := range pending {
			if list, ok := msgs.([]any); ok {
				n += len(list)
			} else {
				n++
			}
		}
		if n >= maxFlashes {
			return
		}
	}
	s.Flash(kind, msg)
}

// nameProblem says what is wrong with a login name, or "".
func nameProblem(name string) string {
	switch {
	case name == "":
		return "Enter a name to log in."
	case !utf8.ValidString(name):
		return "The name must be UTF-8 text."
	case utf8.RuneCountInString(name) > maxNameLen:
		return fmt.Sprintf("The name must be at most %d characters.", maxNameLen)
	}
	return ""
}

// baseURL is the URL the visitor used to reach the demo, without a path.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// display formats a stored value for the data table: strings as they are,
// anything else as JSON.
func display(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// formatDate writes a date of the page: the cookie's expiry, a session's
// last use or expiry; the zero time is a last use the store's index entry
// no longer says.
func formatDate(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format("Mon 2 Jan 2006, 15:04 UTC")
}

// formatUntil says how long until t, the way people say it: "1 day 2 h",
// "23 h 59 min".
func formatUntil(t time.Time) string { return formatDuration(time.Until(t)) }

func formatDuration(d time.Duration) string {
	d = d.Round(time.Minute)
	if d < time.Minute {
		return "less than a minute"
	}
	days, d := d/(24*time.Hour), d%(24*time.Hour)
	hours, mins := d/time.Hour, (d%time.Hour)/time.Minute
	var parts []string
	switch {
	case days == 1:
		parts = append(parts, "1 day")
	case days > 1:
		parts = append(parts, fmt.Sprintf("%d days", days))
	}
	if hours > 0 {
		parts = append(parts, fmt.Sprintf("%d h", hours))
	}
	if mins > 0 && days == 0 {
		parts = append(parts, fmt.Sprintf("%d min", mins))
	}
	return strings.Join(parts, " ")
}
