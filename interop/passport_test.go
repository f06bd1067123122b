package interop

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/pgstore"
	"github.com/sessionkit/session/redisstore"
)

// passportWorld is a world whose Express app logs users in with passport
// 0.7 (the shared peer runs with PASSPORT=1), and a Go app that reads and
// writes passport's login with the helpers of example_passport_test.go.
type passportWorld struct {
	t               *testing.T
	node            *peer
	m               *session.Manager
	goURL           string
	loaded, release chan struct{}
	// raw returns the stored document of a session, exists whether the
	// store has it (as the Node store keeps them).
	raw    func(id string) string
	exists func(id string) bool
}

// browser returns a new client without cookies.
func (w *passportWorld) browser() *browser {
	return (&world{t: w.t, node: w.node}).browser()
}

// goWho is the Go app's answer on its /passport/ routes.
type goWho struct {
	ID  string `json:"id"`
	New bool   `json:"new"`
	// User is passport's user as Go reads it (passportUser), SessionUser
	// the session's user for the Go side (s.User()).
	User        string         `json:"user"`
	SessionUser string         `json:"sessionUser"`
	Values      map[string]any `json:"values"`
}

// nodeWho is the Express app's answer on its /passport/ routes.
type nodeWho struct {
	ID   string `json:"id"`
	User *struct {
		ID   any    `json:"id"`
		Name string `json:"name"`
	} `json:"user"`
	Session map[string]any `json:"session"`
}

// newPassportWorld starts (or reuses) Redis and the Express app, and
// starts the Go app on the same Redis.
func newPassportWorld(t *testing.T) *passportWorld {
	t.Helper()
	w := newWorld(t, nil)
	st := redisstore.New(w.rdb, redisstore.WithPrefix("sess:"))
	return newPassportWorldOn(t, w.node, st, w.raw, w.exists)
}

// newPgPassportWorld is newPassportWorld on PostgreSQL: the Express app on
// connect-pg-simple and the Go app on pgstore, sharing one table.
func newPgPassportWorld(t *testing.T) *passportWorld {
	t.Helper()
	w := newPgWorld(t, nil)
	st, err := pgstore.New(w.pool, pgstore.WithTable(pgTable), pgstore.WithCleanupInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	raw := func(id string) string {
		doc, _ := w.raw(id)
		return doc
	}
	return newPassportWorldOn(t, w.node, st, raw, w.exists)
}

// newPassportWorldOn starts the Go app on st, beside the Express app node
// on the same store:
//
//	GET  /views                   increments views
//	POST /passport/login?u=U      logIn(U)
//	POST /passport/login-raw?j=J  a new id and passport's key {"user": J} (JSON), nothing else
//	GET  /passport/whoami         currentUser: reads passport's user and binds the session to it
//	GET  /passport/peek           reads passport's user and s.User(), changes nothing
//	POST /passport/logout         s.Destroy
//	POST /passport/slow?k=K&v=V   loads the session, signals loaded, waits for release, sets K
func newPassportWorldOn(t *testing.T, node *peer, st session.Store, raw func(string) string, exists func(string) bool) *passportWorld {
	t.Helper()
	m, err := session.New(session.Options{
		Name:    "sid",
		Secrets: []string{secret},
		Store:   st,
		Cookie:  session.CookieOptions{MaxAge: maxAge},
	})
	if err != nil {
		t.Fatal(err)
	}
	pw := &passportWorld{t: t, node: node, m: m, loaded: make(chan struct{}), release: make(chan struct{}), raw: raw, exists: exists}
	who := func(s *session.Session, user string) goWho {
		out := goWho{ID: s.ID(), New: s.IsNew(), User: user, SessionUser: s.User(), Values: map[string]any{}}
		for _, k := range s.Keys() {
			out.Values[k] = s.Get(k)
		}
		return out
	}
	mux := http.NewServeMux()
	handle := func(pattern string, f func(r *http.Request, s *session.Session) (any, error)) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			s := session.From(r)
			if s == nil {
				return
			}
			out, err := f(r, s)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(out)
		})
	}
	handle("GET /views", func(_ *http.Request, s *session.Session) (any, error) {
		n, _ := session.GetAs[int](s, "views")
		s.Set("views", n+1)
		return map[string]int{"views": n + 1}, nil
	})
	handle("POST /passport/login", func(r *http.Request, s *session.Session) (any, error) {
		err := logIn(r.Context(), s, r.FormValue("u"))
		return who(s, passportUser(s)), err
	})
	handle("POST /passport/login-raw", func(r *http.Request, s *session.Session) (any, error) {
		err := s.RenewID(r.Context())
		s.Set("passport", map[string]json.RawMessage{"user": json.RawMessage(r.FormValue("j"))})
		return who(s, ""), err
	})
	handle("GET /passport/whoami", func(_ *http.Request, s *session.Session) (any, error) {
		return who(s, currentUser(s)), nil
	})
	handle("GET /passport/peek", func(_ *http.Request, s *session.Session) (any, error) {
		return who(s, passportUser(s)), nil
	})
	handle("POST /passport/logout", func(r *http.Request, s *session.Session) (any, error) {
		return map[string]string{"destroyed": s.ID()}, s.Destroy(r.Context())
	})
	handle("POST /passport/slow", func(r *http.Request, s *session.Session) (any, error) {
		_ = s.Get("views") // loaded now
		pw.loaded <- struct{}{}
		<-pw.release
		s.Set(r.FormValue("k"), r.FormValue("v"))
		return who(s, passportUser(s)), nil
	})
	srv := httptest.NewServer(m.Handler(mux))
	t.Cleanup(srv.Close)
	pw.goURL = srv.URL
	return pw
}

// uniqueUser returns a user id no other test uses (the Redis and its user
// index are shared), one that the Express app's deserializeUser accepts.
func uniqueUser() string { return "u" + hex.EncodeToString(randomBytes(6)) }

// createdOf returns the Go side's creation time in a stored document, ""
// for none.
func createdOf(doc string) string {
	m := regexp.MustCompile(`"` + session.CreatedKey + `":"([^"]*)"`).FindStringSubmatch(doc)
	if m == nil {
		return ""
	}
	return m[1]
}

// keepQuery is passport's keepSessionInfo as the Express app's query.
func keepQuery(keep bool) string {
	if keep {
		return "keep=1"
	}
	return "keep=0"
}

func (w *passportWorld) goWho(b *browser, path string) goWho {
	w.t.Helper()
	var out goWho
	b.do("GET", w.goURL+path, &out)
	return out
}

func (w *passportWorld) nodeWho(b *browser) nodeWho {
	w.t.Helper()
	var out nodeWho
	b.do("GET", w.node.URL+"/passport/whoami", &out)
	return out
}

// nodeUser is the id of req.user on the Express app ("" for nobody).
func (w *passportWorld) nodeUser(b *browser) string {
	w.t.Helper()
	nw := w.nodeWho(b)
	if nw.User == nil {
		return ""
	}
	return fmt.Sprint(nw.User.ID)
}

// nodeLogin logs user in on the Express app with passport.authenticate and
// returns the answer (the new session).
func (w *passportWorld) nodeLogin(b *browser, user string, keep bool) nodeWho {
	w.t.Helper()
	var out nodeWho
	b.do("POST", w.node.URL+"/passport/login?u="+user+"&"+keepQuery(keep), &out)
	if out.User == nil || fmt.Sprint(out.User.ID) != user {
		w.t.Fatalf("Express login of %s: req.user = %v", user, out.User)
	}
	return out
}

// goLogin logs user in on the Go app (logIn) and returns the new session.
func (w *passportWorld) goLogin(b *browser, user string) goWho {
	w.t.Helper()
	var out goWho
	b.do("POST", w.goURL+"/passport/login?u="+user, &out)
	return out
}

// userSessions returns the ids that the Go side's UserSessions lists for user.
func (w *passportWorld) userSessions(user string) []string {
	w.t.Helper()
	infos, err := w.m.UserSessions(w.t.Context(), user)
	if err != nil {
		w.t.Fatalf("UserSessions(%s): %v", user, err)
	}
	var ids []string
	for _, in := range infos {
		ids = append(ids, in.ID)
	}
	slices.Sort(ids)
	return ids
}

// TestPassportLoginOnExpressIsReadByGo: passport.authenticate on the
// Express app regenerates the session and stores {passport: {user: id}};
// the browser's new cookie is read by Go, whose passportUser is the user;
// the old cookie is a fresh session without a user on Go. The session has no
// user for the Go side (s.User()) until a Go request binds it
// (currentUser), and it is among the user's sessions for Go only from then
// on. With keepSessionInfo the data from before the login, Go's creation
// time included, is kept; without, it is gone.
func TestPassportLoginOnExpressIsReadByGo(t *testing.T) {
	for _, keep := range []bool{false, true} {
		t.Run(keepQuery(keep), func(t *testing.T) {
			w := newPassportWorld(t)
			b := w.browser()
			user := uniqueUser()
			b.do("GET", w.goURL+"/views", nil) // a session from Go, with its creation time
			before, beforeCookie := b.sessionID(), b.cookie
			created := createdOf(w.raw(before))
			if created == "" {
				t.Fatalf("Go's session has no creation time: %s", w.raw(before))
			}

			nw := w.nodeLogin(b, user, keep)
			if nw.ID == before || b.setCookie != signedCookie(nw.ID) {
				t.Fatalf("Express login: id %s (before %s), cookie %q: want a new id and its cookie", nw.ID, before, b.setCookie)
			}
			if w.exists(before) {
				t.Errorf("the session from before the login, %s, is still stored", before)
			}
			// With keepSessionInfo the creation time is the anonymous
			// session's: AbsoluteTimeout counts from before the login.
			wantCreated := ""
			if keep {
				wantCreated = created
			}
			if raw := w.raw(nw.ID); !strings.Contains(raw, `"passport":{"user":"`+user+`"}`) || createdOf(raw) != wantCreated {
				t.Errorf("stored after the Express login (keepSessionInfo %v): %s; want passport's user and creation time %q", keep, raw, wantCreated)
			}

			g := w.goWho(b, "/passport/peek")
			if g.ID != nw.ID || g.New || g.User != user || g.SessionUser != "" {
				t.Fatalf("Go reads %+v; want session %s, passport's user %s, no user of the Go side yet", g, nw.ID, user)
			}
			if views, kept := g.Values["views"]; kept != keep || (keep && views != 1.0) {
				t.Errorf("Go after an Express login with keepSessionInfo %v: views %v (kept %v)", keep, views, kept)
			}
			if ids := w.userSessions(user); len(ids) != 0 {
				t.Errorf("UserSessions(%s) = %v before a Go request bound the session; want none", user, ids)
			}

			if g := w.goWho(b, "/passport/whoami"); g.User != user || g.SessionUser != user {
				t.Fatalf("Go's currentUser: %+v; want %s bound", g, user)
			}
			if ids := w.userSessions(user); !slices.Equal(ids, []string{nw.ID}) {
				t.Errorf("UserSessions(%s) = %v after currentUser; want [%s]", user, ids, nw.ID)
			}
			if got := w.nodeUser(b); got != user {
				t.Errorf("Express after Go bound the session: req.user %q, want %s", got, user)
			}

			b.cookie = beforeCookie
			if g := w.goWho(b, "/passport/peek"); !g.New || g.User != "" {
				t.Errorf("Go with the cookie from before the login: %+v; want a fresh session without a user", g)
			}
		})
	}
}

// TestGoLoginIsSeenByPassport: logIn on the Go side (RenewID, passport's key,
// SetUser) is a login for passport's deserializeUser on the next Express
// request, and for the Go side's user index. passport.user must have the
// JSON type that serializeUser gives: for a numeric id, the string "7" is
// no user for the Express app, which drops it from the session.
func TestGoLoginIsSeenByPassport(t *testing.T) {
	w := newPassportWorld(t)
	user := uniqueUser()
	b := w.browser()
	b.do("GET", w.goURL+"/views", nil)
	before := b.sessionID()
	g := w.goLogin(b, user)
	if g.ID == before || b.sessionID() != g.ID || g.User != user || g.SessionUser != user {
		t.Fatalf("Go login: %+v (before %s, cookie for %s)", g, before, b.sessionID())
	}
	nw := w.nodeWho(b)
	if nw.ID != g.ID || nw.User == nil || nw.User.ID != user || nw.User.Name != user || nw.Session["views"] != 1.0 {
		t.Fatalf("Express after the Go login: %+v; want session %s, req.user %s, views 1", nw, g.ID, user)
	}
	if ids := w.userSessions(user); !slices.Equal(ids, []string{g.ID}) {
		t.Errorf("UserSessions(%s) = %v; want [%s]", user, ids, g.ID)
	}
	if w.exists(before) {
		t.Errorf("the session from before the login, %s, is still stored", before)
	}

	t.Run("NumericID", func(t *testing.T) {
		w.t = t
		b := w.browser()
		b.do("POST", w.goURL+"/passport/login-raw?j=7", nil)
		if nw := w.nodeWho(b); nw.User == nil || nw.User.ID != 7.0 || nw.User.Name != "Carol" {
			t.Errorf(`Go wrote {"user":7}: Express's req.user = %+v, want Carol (7)`, nw.User)
		}
		b = w.browser()
		b.do("POST", w.goURL+"/passport/login-raw?j="+`"7"`, nil)
		id := b.sessionID()
		if nw := w.nodeWho(b); nw.User != nil {
			t.Errorf(`Go wrote {"user":"7"}: Express's req.user = %+v, want nobody (the id is the number 7)`, nw.User)
		}
		if raw := w.raw(id); !strings.Contains(raw, `"passport":{}`) {
			t.Errorf(`after deserializeUser found no user for "7", stored: %s; want passport's key emptied`, raw)
		}
	})
}

// TestPassportLogoutEndsTheGoLogin: req.logout on the Express app of a
// user logged in on Go logs them out for both: passport empties its key,
// saves, and regenerates the session (the old id is destroyed). Without
// keepSessionInfo the new session is empty. With it, passport copies every
// key into the new session, the Go side's __sessionkit_user too: the
// session still has the user for s.User() (and once a Go request loads it,
// in the user index, where it counts for MaxSessionsPerUser and
// DestroyUserSessions) although passport has logged the user out, until
// currentUser unbinds it.
func TestPassportLogoutEndsTheGoLogin(t *testing.T) {
	for _, keep := range []bool{false, true} {
		t.Run(keepQuery(keep), func(t *testing.T) {
			w := newPassportWorld(t)
			b := w.browser()
			user := uniqueUser()
			login := w.goLogin(b, user).ID

			var nw nodeWho
			b.do("POST", w.node.URL+"/passport/logout?"+keepQuery(keep), &nw)
			if nw.User != nil || nw.ID == login {
				t.Fatalf("Express logout: %+v; want nobody, under a new id", nw)
			}
			if w.exists(login) {
				t.Errorf("the logged-in session %s is still stored after passport's logout", login)
			}
			if ids := w.userSessions(user); len(ids) != 0 {
				t.Errorf("UserSessions(%s) = %v after passport's logout; want none", user, ids)
			}

			g := w.goWho(b, "/passport/peek")
			if g.ID != nw.ID || g.User != "" {
				t.Fatalf("Go after passport's logout: %+v; want session %s without passport's user", g, nw.ID)
			}
			if !keep {
				if g.SessionUser != "" || len(g.Values) != 0 {
					t.Errorf("Go after passport's logout: %+v; want an empty session without a user", g)
				}
				return
			}
			if g.SessionUser != user {
				t.Errorf("Go after passport's logout with keepSessionInfo: s.User() = %q, want %s, copied by passport", g.SessionUser, user)
			}
			if ids := w.userSessions(user); !slices.Equal(ids, []string{nw.ID}) {
				t.Errorf("UserSessions(%s) = %v after a Go request loaded the copy; want [%s]", user, ids, nw.ID)
			}
			if g := w.goWho(b, "/passport/whoami"); g.User != "" || g.SessionUser != "" {
				t.Errorf("Go's currentUser after passport's logout: %+v; want nobody, unbound", g)
			}
			if ids := w.userSessions(user); len(ids) != 0 {
				t.Errorf("UserSessions(%s) = %v after currentUser unbound the session; want none", user, ids)
			}
			if raw := w.raw(nw.ID); strings.Contains(raw, session.UserKey) {
				t.Errorf("stored after currentUser unbound the session: %s", raw)
			}
		})
	}
}

// TestGoLogoutEndsThePassportLogin: s.Destroy on the Go side of a user
// logged in by passport ends the login for the Express app too, for any
// copy of the old cookie (another tab): passport finds a fresh session.
func TestGoLogoutEndsThePassportLogin(t *testing.T) {
	w := newPassportWorld(t)
	b := w.browser()
	user := uniqueUser()
	id := w.nodeLogin(b, user, false).ID
	old := b.cookie
	b.do("POST", w.goURL+"/passport/logout", nil)
	if w.exists(id) {
		t.Fatalf("session %s still stored after Go's logout", id)
	}
	b.cookie = old
	if nw := w.nodeWho(b); nw.User != nil || nw.ID == id {
		t.Errorf("Express with the cookie from before Go's logout: %+v; want nobody, a fresh session", nw)
	}
}

// TestGoRequestDuringPassportLogoutDoesNotLogTheOldCookieBackIn: a Go
// request that loaded the session of a logged-in user and changes it while
// passport logs the user out on the Express app (which saves the session
// without its user, then destroys it) does not write the session back: the
// old cookie, which another tab or a thief may still hold, stays logged
// out. A plain write would store the session as the Go request loaded it,
// passport's user included, under the old id.
func TestGoRequestDuringPassportLogoutDoesNotLogTheOldCookieBackIn(t *testing.T) {
	w := newPassportWorld(t)
	b := w.browser()
	user := uniqueUser()
	id := w.nodeLogin(b, user, false).ID
	old := b.cookie

	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest("POST", w.goURL+"/passport/slow?k=cart&v=1", nil)
		req.Header.Set("Cookie", "sid="+old)
		resp, err := b.client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("/passport/slow: %s", resp.Status)
			}
		}
		done <- err
	}()
	select {
	case <-w.loaded:
	case err := <-done:
		t.Fatalf("/passport/slow ended before loading the session: %v", err)
	}
	released := false
	defer func() {
		if !released {
			w.release <- struct{}{}
		}
	}()
	b.do("POST", w.node.URL+"/passport/logout?keep=0", nil)
	released = true
	w.release <- struct{}{}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if w.exists(id) {
		t.Errorf("the Go request wrote the logged-out session back: %s", w.raw(id))
	}
	b.cookie = old
	if got := w.nodeUser(b); got != "" {
		t.Errorf("Express with the old cookie after the logout: req.user %s, want nobody", got)
	}
	if g := w.goWho(b, "/passport/peek"); g.User != "" {
		t.Errorf("Go with the old cookie after the logout: %+v, want nobody", g)
	}
}

// TestDestroyUserSessionsMissesPassportOnlySessions: the Go side's
// DestroyUserSessions ends the user's sessions that it has in its user
// index: logged in on Go, or logged in by passport and bound since by a Go
// request (currentUser). It misses those that passport logged in on the
// Express app and no Go request has loaded since, whether or not the
// session has __sessionkit_user (passport's keepSessionInfo copies it from
// an earlier Go login, under a new id the index does not know): the user
// stays logged in there. logOutEverywhere, which also looks at every stored
// session for passport's user, ends them.
func TestDestroyUserSessionsMissesPassportOnlySessions(t *testing.T) {
	destroyUserSessionsMissesPassportOnlySessions(t, newPassportWorld(t))
}

// TestPgDestroyUserSessionsMissesPassportOnlySessions: the same on
// PostgreSQL, connect-pg-simple and pgstore.
func TestPgDestroyUserSessionsMissesPassportOnlySessions(t *testing.T) {
	destroyUserSessionsMissesPassportOnlySessions(t, newPgPassportWorld(t))
}

func destroyUserSessionsMissesPassportOnlySessions(t *testing.T, w *passportWorld) {
	user := uniqueUser()

	goLogin := w.browser()
	w.goLogin(goLogin, user)
	expressBound := w.browser()
	w.nodeLogin(expressBound, user, false)
	if g := w.goWho(expressBound, "/passport/whoami"); g.SessionUser != user {
		t.Fatalf("currentUser did not bind the Express login: %+v", g)
	}
	expressOnly := w.browser()
	w.nodeLogin(expressOnly, user, false)
	copied := w.browser()
	w.goLogin(copied, user)
	w.nodeLogin(copied, user, true) // a re-login on Express, keeping the session's data
	if raw := w.raw(copied.sessionID()); !strings.Contains(raw, `"`+session.UserKey+`":"`+user+`"`) {
		t.Fatalf("passport's keepSessionInfo did not copy the Go side's user: %s", raw)
	}
	other := w.browser()
	w.nodeLogin(other, uniqueUser(), false)

	n, err := w.m.DestroyUserSessions(t.Context(), user)
	if err != nil || n != 2 {
		t.Fatalf("DestroyUserSessions(%s) = %d, %v; want the 2 sessions Go knows", user, n, err)
	}
	for _, c := range []struct {
		name     string
		b        *browser
		loggedIn bool
	}{
		{"logged in on Go", goLogin, false},
		{"logged in by passport, bound by Go", expressBound, false},
		{"logged in by passport, never loaded on Go", expressOnly, true},
		{"logged in by passport, keepSessionInfo copying Go's user", copied, true},
	} {
		if got := w.nodeUser(c.b); (got == user) != c.loggedIn {
			t.Errorf("%s: Express's req.user after DestroyUserSessions = %q, want logged in %v", c.name, got, c.loggedIn)
		}
	}

	n, err = logOutEverywhere(t.Context(), w.m, user)
	if err != nil || n != 2 {
		t.Fatalf("logOutEverywhere(%s) = %d, %v; want the 2 sessions passport logged in", user, n, err)
	}
	for _, b := range []*browser{expressOnly, copied} {
		if got := w.nodeUser(b); got != "" {
			t.Errorf("Express's req.user after logOutEverywhere = %q, want nobody", got)
		}
	}
	if got := w.nodeUser(other); got == "" {
		t.Errorf("logOutEverywhere(%s) ended another user's session", user)
	}
}

// TestPassportLoginOfAnotherUserKeepingSessionInfoIsRebound: a session
// logged in on Go as one user, in which passport logs another user in with
// keepSessionInfo (a shared computer, an admin's "log in as"), keeps the
// first user for the Go side: passport copies __sessionkit_user into the new
// session. The first Go request that loads it indexes it as the first
// user's (DestroyUserSessions of that user would end the second user's
// login), unless it asks currentUser, which rebinds the session to
// passport's user.
func TestPassportLoginOfAnotherUserKeepingSessionInfoIsRebound(t *testing.T) {
	w := newPassportWorld(t)
	b := w.browser()
	first, second := uniqueUser(), uniqueUser()
	w.goLogin(b, first)
	id := w.nodeLogin(b, second, true).ID

	if g := w.goWho(b, "/passport/peek"); g.User != second || g.SessionUser != first {
		t.Fatalf("Go after passport logged %s in over %s: %+v; want passport's user %s, the copied user %s", second, first, g, second, first)
	}
	if ids := w.userSessions(first); !slices.Equal(ids, []string{id}) {
		t.Errorf("UserSessions(%s) = %v after a Go request loaded %s's session; want the copy [%s]", first, ids, second, id)
	}
	if g := w.goWho(b, "/passport/whoami"); g.User != second || g.SessionUser != second {
		t.Fatalf("Go's currentUser: %+v; want %s bound", g, second)
	}
	if ids := w.userSessions(first); len(ids) != 0 {
		t.Errorf("UserSessions(%s) = %v after currentUser rebound the session; want none", first, ids)
	}
	if ids := w.userSessions(second); !slices.Equal(ids, []string{id}) {
		t.Errorf("UserSessions(%s) = %v after currentUser rebound the session; want [%s]", second, ids, id)
	}
	if got := w.nodeUser(b); got != second {
		t.Errorf("Express after Go rebound the session: req.user %q, want %s", got, second)
	}
}

// TestLogOutEverywhereLeavesTheLoginOfAnotherUserThatCopiedTheGoUser: passport
// logging a second user in with keepSessionInfo over a Go login of a first
// user (a shared computer) copies __sessionkit_user, and a Go route that
// does not ask currentUser (/views) indexes the session under the first
// user. logOutEverywhere of the first user (a password change) ends the
// first user's logins and leaves the second user's: it ended it too, through
// DestroyUserSessions, although the session's passport.user is the second.
func TestLogOutEverywhereLeavesTheLoginOfAnotherUserThatCopiedTheGoUser(t *testing.T) {
	w := newPassportWorld(t)
	first, second := uniqueUser(), uniqueUser()
	shared := w.browser()
	w.goLogin(shared, first)
	id := w.nodeLogin(shared, second, true).ID
	shared.do("GET", w.goURL+"/views", nil)
	if ids := w.userSessions(first); !slices.Equal(ids, []string{id}) {
		t.Fatalf("UserSessions(%s) = %v after a Go request loaded %s's login; want the copy [%s]", first, ids, second, id)
	}
	own := w.browser()
	w.goLogin(own, first)

	n, err := logOutEverywhere(t.Context(), w.m, first)
	if err != nil || n != 1 {
		t.Errorf("logOutEverywhere(%s) = %d, %v; want the 1 session %s is logged in to", first, n, err, first)
	}
	if got := w.nodeUser(own); got != "" {
		t.Errorf("Express's req.user on %s's own login after logOutEverywhere(%s) = %q, want nobody", first, first, got)
	}
	if got := w.nodeUser(shared); got != second {
		t.Errorf("Express's req.user on %s's login after logOutEverywhere(%s) = %q, want %s", second, first, got, second)
	}
}

// TestLogOutEverywhereOfNobodyDestroysNothing: logOutEverywhere of the empty
// user (currentUser of a request nobody is logged in to) destroys nothing,
// as DestroyUserSessions of it does: it destroyed every stored session
// whose passport.user was missing but whose passport key was there, such as
// one that req.logout({keepSessionInfo: true}) left, another browser's.
func TestLogOutEverywhereOfNobodyDestroysNothing(t *testing.T) {
	w := newPassportWorld(t)
	b := w.browser()
	w.goLogin(b, uniqueUser())
	var nw nodeWho
	b.do("POST", w.node.URL+"/passport/logout?keep=1", &nw)
	if raw := w.raw(nw.ID); !strings.Contains(raw, `"passport":{}`) {
		t.Fatalf("stored after passport's logout keeping the session's data: %s; want passport's key emptied", raw)
	}
	n, err := logOutEverywhere(t.Context(), w.m, "")
	if err != nil || n != 0 {
		t.Errorf("logOutEverywhere(\"\") = %d, %v; want 0", n, err)
	}
	if !w.exists(nw.ID) {
		t.Errorf("logOutEverywhere(\"\") destroyed the logged-out session %s", nw.ID)
	}
}
