package interop

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
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
