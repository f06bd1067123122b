package interop

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/redisstore"
)

// secret is the signing secret of both apps, as during a migration.
const secret = "keyboard cat"

// maxAge is the cookie lifetime of both apps (express: cookie.maxAge 1h).
const maxAge = time.Hour

// world is one test's view of the migration: a Redis, the Express app on it,
// and a Go app on sessionkit with redisstore on the same Redis.
type world struct {
	t     *testing.T
	rdb   *redis.Client
	node  *peer
	goApp *goApp
}

// newWorld starts (or reuses) Redis and the Express app, and starts a Go app
// whose options options may adjust (nil keeps the migration defaults).
func newWorld(t *testing.T, options func(*session.Options)) *world {
	t.Helper()
	srv := testserver.SharedRedis(t)
	node := sharedPeer(t, srv.Addr)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { rdb.Close() })
	return &world{t: t, rdb: rdb, node: node, goApp: newGoApp(t, rdb, options)}
}

// browser returns a new client without cookies.
func (w *world) browser() *browser {
	return &browser{t: w.t, w: w, client: &http.Client{Timeout: 10 * time.Second}}
}

// raw returns the stored document of session id, as connect-redis keeps it.
func (w *world) raw(id string) string {
	w.t.Helper()
	v, err := w.rdb.Get(context.Background(), "sess:"+id).Result()
	if err != nil {
		w.t.Fatalf("GET sess:%s: %v", id, err)
	}
	return v
}

// exists reports whether session id is in Redis.
func (w *world) exists(id string) bool {
	w.t.Helper()
	n, err := w.rdb.Exists(context.Background(), "sess:"+id).Result()
	if err != nil {
		w.t.Fatalf("EXISTS sess:%s: %v", id, err)
	}
	return n == 1
}

// goApp is the Go service: the same routes as the Express app, on sessionkit.
//
//	GET  /views        increments views, answers {"views": n}
//	GET  /session      answers goSession, without changing the session
//	POST /set?k=K&v=V  sets K to the string V
//	POST /logout       destroys the session
//	POST /slow?k=K&v=V loads the session, signals loaded, waits for release, sets K
type goApp struct {
	URL             string
	loaded, release chan struct{}
}

// goSession is the answer of the Go app's /session.
type goSession struct {
	ID     string         `json:"id"`
	New    bool           `json:"new"`
	Keys   []string       `json:"keys"`
	Values map[string]any `json:"values"`
	// Expires and OriginalMaxAge are the session cookie's, as sessionkit read them.
	Expires        time.Time     `json:"expires"`
	OriginalMaxAge time.Duration `json:"originalMaxAge"`
}

func newGoApp(t *testing.T, rdb *redis.Client, options func(*session.Options)) *goApp {
	t.Helper()
	return newGoAppOn(t, redisstore.New(rdb, redisstore.WithPrefix("sess:")), options)
}

// newGoAppOn starts the Go app on st.
func newGoAppOn(t *testing.T, st session.Store, options func(*session.Options)) *goApp {
	t.Helper()
	opts := session.Options{
		Name:    "sid",
		Secrets: []string{secret},
		Store:   st,
		Cookie:  session.CookieOptions{MaxAge: maxAge},
	}
	if options != nil {
		options(&opts)
	}
	m, err := session.New(opts)
	if err != nil {
		t.Fatalf("session.New: %v", err)
	}
	a := &goApp{loaded: make(chan struct{}), release: make(chan struct{})}
	mux := http.NewServeMux()
	handle := func(pattern string, f func(w http.ResponseWriter, r *http.Request, s *session.Session) any) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			s := session.From(r)
			if s == nil {
				return // the error handler has answered
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(f(w, r, s))
		})
	}
	handle("GET /views", func(_ http.ResponseWriter, _ *http.Request, s *session.Session) any {
		n, _ := session.GetAs[int](s, "views")
		n++
		s.Set("views", n)
		return map[string]int{"views": n}
	})
	handle("GET /session", func(_ http.ResponseWriter, _ *http.Request, s *session.Session) any {
		out := goSession{ID: s.ID(), New: s.IsNew(), Keys: s.Keys(), Values: map[string]any{},
			Expires: s.Cookie().Expires(), OriginalMaxAge: s.Cookie().OriginalMaxAge()}
		for _, k := range out.Keys {
			out.Values[k] = s.Get(k)
		}
		return out
	})
	handle("POST /set", func(_ http.ResponseWriter, r *http.Request, s *session.Session) any {
		s.Set(r.FormValue("k"), r.FormValue("v"))
		return map[string]string{"id": s.ID()}
	})
	handle("POST /logout", func(w http.ResponseWriter, r *http.Request, s *session.Session) any {
		id := s.ID()
		if err := s.Destroy(r.Context()); err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			return map[string]string{"error": err.Error()}
		}
		return map[string]string{"destroyed": id}
	})
	handle("POST /slow", func(_ http.ResponseWriter, r *http.Request, s *session.Session) any {
		_ = s.Get("views") // loaded now
		a.loaded <- struct{}{}
		<-a.release
		s.Set(r.FormValue("k"), r.FormValue("v"))
		return map[string]string{"id": s.ID()}
	})
	srv := httptest.NewServer(m.Handler(mux))
	t.Cleanup(srv.Close)
	a.URL = srv.URL
	return a
}

// nodeSession is the answer of the Express app's /session.
type nodeSession struct {
	ID      string         `json:"id"`
	Session map[string]any `json:"session"`
	// MaxAge is req.session.cookie.maxAge: the milliseconds left, or nil.
	MaxAge *float64 `json:"maxAge"`
}

// browser is one user agent talking to both apps, which share the cookie as
// they would behind one load balancer. It keeps the sid cookie value exactly
// as the last Set-Cookie gave it.
type browser struct {
	t      *testing.T
	w      *world
	client *http.Client
	// cookie is the sid value sent with every request ("" for none).
	cookie string
	// setCookie is the sid value of the last response's Set-Cookie ("" if it
	// sent none), and setCookieHeader the whole header.
	setCookie, setCookieHeader string
}

// do sends a request with the browser's cookie, fails the test unless the
// answer is 200, decodes the JSON answer into out (if not nil), and keeps a
// new sid cookie.
func (b *browser) do(method, url string, out any) {
	b.t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	if b.cookie != "" {
		req.Header.Set("Cookie", "sid="+b.cookie)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v\nexpress log:\n%s", method, url, err, b.w.node.Log())
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	if resp.StatusCode != http.StatusOK {
		b.t.Fatalf("%s %s: %s: %s\nexpress log:\n%s", method, url, resp.Status, body, b.w.node.Log())
	}
	b.setCookie, b.setCookieHeader = "", ""
	for _, h := range resp.Header.Values("Set-Cookie") {
		if v, ok := strings.CutPrefix(h, "sid="); ok {
			v, _, _ = strings.Cut(v, ";")
			b.setCookie, b.setCookieHeader = v, h
			b.cookie = v
		}
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			b.t.Fatalf("%s %s: decode %s: %v", method, url, body, err)
		}
	}
}

// sessionID returns the session id in b's cookie ("s:" id "." signature,
// URI-encoded), read from the cookie itself. Unlike nodeSession it sends no
// request, so no store touch moves the stored expiry in between.
func (b *browser) sessionID() string {
	b.t.Helper()
	v, err := url.PathUnescape(b.cookie)
	id, signed := strings.CutPrefix(v, "s:")
	dot := strings.LastIndexByte(id, '.')
	if err != nil || !signed || dot < 0 {
		b.t.Fatalf("cookie %q is not a signed session id", b.cookie)
	}
	return id[:dot]
}

// goViews increments views on the Go app and returns the new count.
func (b *browser) goViews() int {
	b.t.Helper()
	var out struct{ Views int }
	b.do("GET", b.w.goApp.URL+"/views", &out)
	return out.Views
}

// nodeViews increments views on the Express app and returns the new count.
func (b *browser) nodeViews() int {
	b.t.Helper()
	var out struct{ Views int }
	b.do("GET", b.w.node.URL+"/views", &out)
	return out.Views
}

// goSession returns the session as the Go app sees it.
func (b *browser) goSession() goSession {
	b.t.Helper()
	var out goSession
	b.do("GET", b.w.goApp.URL+"/session", &out)
	return out
}

// nodeSession returns the session as the Express app sees it.
func (b *browser) nodeSession() nodeSession {
	b.t.Helper()
	var out nodeSession
	b.do("GET", b.w.node.URL+"/session", &out)
	return out
}

// expressWritesDuringSlowGoRequest sends b's session to the Go app's /slow
// (which sets fromGo=1), and while that request holds the loaded session,
// has Express set fromExpress=1 on it; it returns when the Go request has
// saved. The caller then checks that the store kept both keys.
func expressWritesDuringSlowGoRequest(t *testing.T, b *browser, goApp *goApp, node *peer) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest("POST", goApp.URL+"/slow?k=fromGo&v=1", nil)
		req.Header.Set("Cookie", "sid="+b.cookie)
		resp, err := b.client.Do(req)
		if err != nil {
			done <- err
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("/slow: %s: %s", resp.Status, body)
		}
		done <- err
	}()
	select {
	case <-goApp.loaded:
	case err := <-done:
		t.Fatalf("/slow ended before loading the session: %v", err)
	}
	released := false
	defer func() {
		if !released { // the Express write failed the test: let the Go request end, or closing the Go app waits for it forever
			goApp.release <- struct{}{}
		}
	}()
	b.do("POST", node.URL+"/set?k=fromExpress&v=1", nil)
	released = true
	goApp.release <- struct{}{}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// bothWritesKept checks, after expressWritesDuringSlowGoRequest, that the
// stored session (the JSON document as the Node store keeps it) has the
// Express write, the Go write and the earlier views, and that Express sees both.
func bothWritesKept(t *testing.T, b *browser, stored string) {
	t.Helper()
	for _, kv := range []string{`"fromExpress":"1"`, `"fromGo":"1"`, `"views":1`} {
		if !strings.Contains(stored, kv) {
			t.Errorf("stored session lacks %s: %s", kv, stored)
		}
	}
	if ns := b.nodeSession(); ns.Session["fromExpress"] != "1" || ns.Session["fromGo"] != "1" {
		t.Errorf("Express sees %v, want both fromExpress and fromGo", ns.Session)
	}
}

// goSessionContinuesInExpress: a session the Go app starts is continued by
// Express and back, under the one cookie value express-session computes.
func goSessionContinuesInExpress(t *testing.T, b *browser) {
	t.Helper()
	if got := b.goViews(); got != 1 {
		t.Fatalf("Go: views = %d on a new session, want 1", got)
	}
	goCookie := b.setCookie
	id := b.goSession().ID
	if want := signedCookie(id); goCookie != want {
		t.Fatalf("Go cookie for id %s:\n got %s\nwant %s", id, goCookie, want)
	}
	if got := b.nodeViews(); got != 2 {
		t.Fatalf("Express: views = %d after Go's 1, want 2 (did it find the session?)", got)
	}
	if b.setCookie != goCookie {
		t.Fatalf("Express re-signed Go's session differently:\nexpress %s\n     go %s", b.setCookie, goCookie)
	}
	if gs := b.goSession(); gs.New || gs.ID != id || gs.Values["views"] != 2.0 {
		t.Fatalf("Go after Express: id=%s new=%v views=%v, want %s with views 2", gs.ID, gs.New, gs.Values["views"], id)
	}
	if got := b.goViews(); got != 3 {
		t.Fatalf("Go: views = %d after Express's 2, want 3", got)
	}
	if ns := b.nodeSession(); ns.ID != id || ns.Session["views"] != 3.0 {
		t.Fatalf("Express: id=%s views=%v, want id %s views 3", ns.ID, ns.Session["views"], id)
	}
}

// expressSessionContinuesInGo is the reverse. stored, if not nil, checks
// the Node store's own record of the session Express created.
func expressSessionContinuesInGo(t *testing.T, b *browser, stored func(id string)) {
	t.Helper()
	if got := b.nodeViews(); got != 1 {
		t.Fatalf("Express: views = %d on a new session, want 1", got)
	}
	expressCookie := b.setCookie
	id := b.nodeSession().ID
	if want := signedCookie(id); expressCookie != want {
		t.Fatalf("Express cookie for id %s:\n got %s\nwant %s", id, expressCookie, want)
	}
	if stored != nil {
		stored(id)
	}
	if got := b.goViews(); got != 2 {
		t.Fatalf("Go: views = %d after Express's 1, want 2 (did it find the session?)", got)
	}
	if b.setCookie != expressCookie {
		t.Fatalf("Go re-signed Express's session differently:\n     go %s\nexpress %s", b.setCookie, expressCookie)
	}
	if got := b.nodeViews(); got != 3 {
		t.Fatalf("Express: views = %d after Go's 2, want 3", got)
	}
	if gs := b.goSession(); gs.ID != id || gs.Values["views"] != 3.0 {
		t.Fatalf("Go: id=%s views=%v, want %s with views 3", gs.ID, gs.Values["views"], id)
	}
}

// logoutOnEitherSideEndsTheSession: a session destroyed by one app is gone
// from the store and, for the old cookie, a fresh empty session on both.
// newBrowser gives a browser with no cookie; stored reports whether the
// store still holds a session.
func logoutOnEitherSideEndsTheSession(t *testing.T, newBrowser func() *browser, goURL, nodeURL string, stored func(id string) bool) {
	for _, c := range []struct{ name, create, logout string }{
		{"ExpressLogout", goURL, nodeURL},
		{"GoLogout", nodeURL, goURL},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := newBrowser()
			b.t = t
			b.do("GET", c.create+"/views", nil)
			id := b.goSession().ID
			old := b.cookie
			b.do("POST", c.logout+"/logout", nil)
			if stored(id) {
				t.Fatalf("session %s still stored after logout", id)
			}
			b.cookie = old
			if gs := b.goSession(); !gs.New || gs.ID == id || len(gs.Keys) != 0 {
				t.Fatalf("Go after logout: id=%s new=%v keys=%v, want a fresh empty session", gs.ID, gs.New, gs.Keys)
			}
			b.cookie = old
			if ns := b.nodeSession(); ns.ID == id || ns.Session["views"] != nil {
				t.Fatalf("Express after logout: id=%s session=%v, want a fresh session", ns.ID, ns.Session)
			}
		})
	}
}
