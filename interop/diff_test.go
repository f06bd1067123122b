package interop

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/testserver"
)

// The differential suite: every scenario of diffScenarios (diff_scenarios_test.go)
// is played against an Express app on express-session 1.19 (peer/diff.js)
// and against a Go app on sessionkit in the same configuration, each with a
// fresh store that counts its calls, and what the two did is compared step
// by step. See README.md, "The differential suite".

// diffConfig is one configuration of both apps; the Express app gets it as
// JSON (the keys are express-session's option names).
type diffConfig struct {
	Secrets           []string   `json:"secrets"`
	Store             string     `json:"store"`            // "memory", "redis", "mongo" or "pg"
	Prefix            string     `json:"prefix,omitempty"` // key prefix, collection or table (appPrefix)
	URL               string     `json:"url,omitempty"`    // the MongoDB or PostgreSQL database
	Resave            bool       `json:"resave"`
	SaveUninitialized bool       `json:"saveUninitialized"`
	Rolling           bool       `json:"rolling"`
	Unset             string     `json:"unset,omitempty"`      // "keep" or "destroy"
	TouchAfter        int64      `json:"touchAfter,omitempty"` // seconds: connect-mongo's touchAfter (mongo only)
	Proxy             *bool      `json:"proxy,omitempty"`
	TrustProxy        int        `json:"trustProxy,omitempty"` // app.set('trust proxy', N), TrustedProxyHops; 0: none
	Cookie            diffCookie `json:"cookie"`
	// LoadTouch (the Go side only) lets the manager see that its store can
	// read and touch a session in one round trip (session.GetToucher, which
	// memstore, redisstore, mongostore and pgstore all are), as it does
	// outside the suite; without it the store offers Get, GetVersion,
	// Touch and the writes only, and the manager reads, then touches, as
	// on a store without GetToucher.
	LoadTouch bool `json:"-"`
	// StoreTimeout is the Go app's Options.StoreTimeout (0: the default).
	StoreTimeout time.Duration `json:"-"`
}

type diffCookie struct {
	Path        string `json:"path,omitempty"`
	Domain      string `json:"domain,omitempty"`
	MaxAge      *int64 `json:"maxAge,omitempty"` // milliseconds; nil: a browser-session cookie
	Secure      any    `json:"secure,omitempty"` // true or "auto"
	SameSite    string `json:"sameSite,omitempty"`
	HTTPOnly    *bool  `json:"httpOnly,omitempty"`
	Partitioned bool   `json:"partitioned,omitempty"`
	Priority    string `json:"priority,omitempty"`
}

// defaultMaxAge is the cookie maxAge of every scenario that does not say
// otherwise (one hour, in milliseconds).
const defaultMaxAge = int64(time.Hour / time.Millisecond)

// parseConfig reads a scenario's configuration: space-separated words, each
// an option ("resave", "rolling", "proxy") or option=value ("path=/app",
// "secure=auto", "maxAge=none", "secrets=new,old"). Unnamed options keep
// the migration defaults: resave and saveUninitialized off, maxAge one hour.
func parseConfig(s string) (diffConfig, error) {
	maxAge := defaultMaxAge
	c := diffConfig{Secrets: []string{secret}, Cookie: diffCookie{MaxAge: &maxAge}}
	for _, word := range strings.Fields(s) {
		k, v, hasValue := strings.Cut(word, "=")
		switch k {
		case "resave":
			c.Resave = true
		case "saveUninitialized":
			c.SaveUninitialized = true
		case "rolling":
			c.Rolling = true
		case "unset":
			c.Unset = v
		case "touchAfter":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return c, fmt.Errorf("config %q: %w", word, err)
			}
			c.TouchAfter = n
		case "proxy":
			b := !hasValue || v == "true"
			c.Proxy = &b
		case "trustProxy":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return c, fmt.Errorf("config %q: want a hop count from 1 up", word)
			}
			c.TrustProxy = n
		case "secrets":
			c.Secrets = strings.Split(v, ",")
		case "path":
			c.Cookie.Path = v
		case "domain":
			c.Cookie.Domain = v
		case "maxAge":
			if v == "none" {
				c.Cookie.MaxAge = nil
				break
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return c, fmt.Errorf("config %q: %w", word, err)
			}
			c.Cookie.MaxAge = &n
		case "secure":
			if v == "auto" {
				c.Cookie.Secure = "auto"
			} else {
				c.Cookie.Secure = true
			}
		case "sameSite":
			c.Cookie.SameSite = v
		case "httpOnly":
			b := v != "false"
			c.Cookie.HTTPOnly = &b
		case "partitioned":
			c.Cookie.Partitioned = true
		case "priority":
			c.Cookie.Priority = v
		default:
			return c, fmt.Errorf("config: unknown word %q", word)
		}
	}
	return c, nil
}

// options returns the sessionkit Options for c, on store.
func (c diffConfig) options(store session.Store) session.Options {
	o := session.Options{
		Name: "sid", Secrets: c.Secrets, Store: store,
		Resave: c.Resave, SaveUninitialized: c.SaveUninitialized, Rolling: c.Rolling,
		Unset:            map[string]session.UnsetMode{"destroy": session.UnsetDestroy}[c.Unset],
		TrustProxy:       c.Proxy != nil && *c.Proxy,
		TrustedProxyHops: c.TrustProxy,
		TouchAfter:       time.Duration(c.TouchAfter) * time.Second,
		Cookie: session.CookieOptions{
			Path: c.Cookie.Path, Domain: c.Cookie.Domain,
			Partitioned: c.Cookie.Partitioned, Priority: c.Cookie.Priority,
			DisableHTTPOnly: c.Cookie.HTTPOnly != nil && !*c.Cookie.HTTPOnly,
		},
		Logger:       slog.New(slog.DiscardHandler),
		StoreTimeout: c.StoreTimeout,
	}
	if c.Cookie.MaxAge != nil {
		o.Cookie.MaxAge = time.Duration(*c.Cookie.MaxAge) * time.Millisecond
	}
	switch c.Cookie.Secure {
	case true:
		o.Cookie.Secure = session.SecureAlways
	case "auto":
		o.Cookie.Secure = session.SecureAuto
	}
	o.Cookie.SameSite = map[string]session.SameSiteMode{
		"lax": session.SameSiteLax, "strict": session.SameSiteStrict,
		"none": session.SameSiteNone, "auto": session.SameSiteAuto,
	}[c.Cookie.SameSite]
	return o
}

// storeCounts are the store calls an app made: reads (get), writes (set,
// and compare-and-swap on the Go side), expiry pushes (touch) and deletes.
type storeCounts struct {
	Get     int64 `json:"get"`
	Set     int64 `json:"set"`
	Touch   int64 `json:"touch"`
	Destroy int64 `json:"destroy"`
}

// app is one side of a comparison: an Express or a Go app in one
// configuration, with a fresh store.
type app interface {
	// do sends req to the app.
	do(req *http.Request) (*http.Response, error)
	// base is the app's URL.
	base() string
	// counts returns the store calls so far.
	counts(t *testing.T) storeCounts
	// forget deletes session id from the store behind the app's back.
	forget(t *testing.T, id string)
	// age makes session id's stored copy look written d earlier, behind
	// the app's back: its cookie.expires and its store expiry move back by
	// d. A session the store no longer returns stays gone.
	age(t *testing.T, id string, d time.Duration)
	// failing makes every store call op (get, set, touch, destroy) fail
	// from now on; "" ends that.
	failing(op string)
}

// diffClient is the HTTP client of the suite; it keeps connections to both
// apps open across scenarios. It follows no redirect: a 3xx is the step's
// answer.
var diffClient = &http.Client{
	Timeout:   20 * time.Second,
	Transport: &http.Transport{MaxIdleConnsPerHost: 200},
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

// nodeApp is an app inside the shared diff peer, named by X-Diff-App.
type nodeApp struct {
	url, id string
	fail    string // the X-Diff-Fail of its requests
}

// newNodeApp makes a fresh Express app in configuration c.
func newNodeApp(t *testing.T, c diffConfig) *nodeApp {
	t.Helper()
	p := sharedDiffPeer(t)
	if c.Store == "pg" {
		createPgTable(t, c.Prefix)
	}
	body, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := diffClient.Post(p.URL+"/__diff/app", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("create express app: %v\n%s", err, p.Log())
	}
	var out struct{ App string }
	if err := decodeControl(resp, &out); err != nil {
		t.Fatalf("create express app: %v\n%s", err, p.Log())
	}
	return &nodeApp{url: p.URL, id: out.App}
}

// decodeControl reads a control route's JSON answer into out.
func decodeControl(resp *http.Response, out any) error {
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", resp.Status, body)
	}
	return json.Unmarshal(body, out)
}

func (a *nodeApp) base() string { return a.url }

func (a *nodeApp) do(req *http.Request) (*http.Response, error) {
	req.Header.Set("X-Diff-App", a.id)
	if a.fail != "" {
		req.Header.Set("X-Diff-Fail", a.fail)
	}
	return diffClient.Do(req)
}

func (a *nodeApp) failing(op string) { a.fail = op }

func (a *nodeApp) counts(t *testing.T) storeCounts {
	t.Helper()
	var c storeCounts
	resp, err := diffClient.Get(a.url + "/__diff/counts?app=" + a.id)
	if err == nil {
		err = decodeControl(resp, &c)
	}
	if err != nil {
		t.Fatalf("express store counts: %v", err)
	}
	return c
}

func (a *nodeApp) forget(t *testing.T, id string) {
	t.Helper()
	resp, err := diffClient.Post(a.url+"/__diff/forget?app="+a.id+"&sid="+url.QueryEscape(id), "", nil)
	if err == nil {
		err = decodeControl(resp, &struct{}{})
	}
	if err != nil {
		t.Fatalf("express forget %s: %v", id, err)
	}
}

func (a *nodeApp) age(t *testing.T, id string, d time.Duration) {
	t.Helper()
	resp, err := diffClient.Post(fmt.Sprintf("%s/__diff/age?app=%s&sid=%s&ms=%d", a.url, a.id, url.QueryEscape(id), d.Milliseconds()), "", nil)
	if err == nil {
		err = decodeControl(resp, &struct{}{})
	}
	if err != nil {
		t.Fatalf("express age %s: %v", id, err)
	}
}

// fullStore is what the Go side's stores offer: memstore, redisstore,
// mongostore and pgstore all compare-and-swap and touch.
type fullStore interface {
	session.VersionedStore
	session.Toucher
}

// countingStore counts the calls the manager makes to a store, keeping
// every capability of fullStore; GetAndTouch only through
// loadTouchingStore. While fail names a kind of call (get, set, touch,
// destroy), every such call fails.
type countingStore struct {
	fullStore
	get, set, touch, destroy atomic.Int64
	fail                     atomic.Value // string
}

// down reports whether calls named op fail, with the error they return.
func (s *countingStore) down(op string) error {
	if f, _ := s.fail.Load().(string); f == op {
		return fmt.Errorf("store: %s failed", op)
	}
	return nil
}

func (s *countingStore) Get(ctx context.Context, id string) ([]byte, bool, error) {
	firstRead(ctx)
	s.get.Add(1)
	if err := s.down("get"); err != nil {
		return nil, false, err
	}
	return s.fullStore.Get(ctx, id)
}

func (s *countingStore) GetVersion(ctx context.Context, id string) ([]byte, string, bool, error) {
	firstRead(ctx)
	s.get.Add(1)
	if err := s.down("get"); err != nil {
		return nil, "", false, err
	}
	return s.fullStore.GetVersion(ctx, id)
}

func (s *countingStore) Set(ctx context.Context, id string, data []byte, expires time.Time) error {
	s.set.Add(1)
	if err := s.down("set"); err != nil {
		return err
	}
	return s.fullStore.Set(ctx, id, data, expires)
}

func (s *countingStore) CompareAndSwap(ctx context.Context, id, old string, data []byte, expires time.Time) (string, bool, error) {
	s.set.Add(1)
	if err := s.down("set"); err != nil {
		return "", false, err
	}
	return s.fullStore.CompareAndSwap(ctx, id, old, data, expires)
}

func (s *countingStore) Touch(ctx context.Context, id string, expires time.Time) (bool, error) {
	s.touch.Add(1)
	if err := s.down("touch"); err != nil {
		return false, err
	}
	return s.fullStore.Touch(ctx, id, expires)
}

// readsKey is the context key of a request's readsFlag (markReads).
type readsKey struct{}

// markReads gives each request's context a flag that its first read of
// the store sets (firstRead), so that loadTouchingStore tells the load's
// GetAndTouch from the end of the request's.
func markReads(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), readsKey{}, new(atomic.Bool))))
	})
}

// firstRead records a read of the store by the request of ctx, and reports
// whether it is the request's first (true outside such a request).
func firstRead(ctx context.Context) bool {
	f, _ := ctx.Value(readsKey{}).(*atomic.Bool)
	return f == nil || !f.Swap(true)
}

// loadTouchingStore is countingStore with the store's GetAndTouch: the
// manager then carries the touch of a request on its load (loadtouch.go),
// where express-session reads at the load and touches at the end.
type loadTouchingStore struct {
	*countingStore
	gt session.GetToucher
}

// GetAndTouch counts as what it does, so that it compares with express's
// get and touch: a get, and a touch when it moved the expiry of a session
// (found), as express touches only a session it loaded; one that found
// nothing is a get alone, as express's get of a missing id. fail=get fails
// it as a read (a get, no touch); fail=touch fails its touch (a get and a
// touch).
func (s *loadTouchingStore) GetAndTouch(ctx context.Context, id string, expires time.Time) ([]byte, string, bool, error) {
	if !firstRead(ctx) {
		// The end of the request's touch (the load read already): a
		// touch, as express's, whose answer only tells the manager
		// whether another request wrote the session meanwhile.
		s.touch.Add(1)
		if err := s.down("touch"); err != nil {
			return nil, "", false, err
		}
		return s.gt.GetAndTouch(ctx, id, expires)
	}
	s.get.Add(1)
	if err := s.down("get"); err != nil {
		return nil, "", false, err
	}
	if err := s.down("touch"); err != nil {
		s.touch.Add(1)
		return nil, "", false, err
	}
	data, ver, found, err := s.gt.GetAndTouch(ctx, id, expires)
	if found || err != nil {
		s.touch.Add(1)
	}
	return data, ver, found, err
}

func (s *countingStore) Destroy(ctx context.Context, id string) error {
	s.destroy.Add(1)
	if err := s.down("destroy"); err != nil {
		return err
	}
	return s.fullStore.Destroy(ctx, id)
}

// goDiffApp is the Go app: sessionkit's middleware in one configuration,
// over a counting store, with the routes of peer/diff.js.
type goDiffApp struct {
	url   string
	store *countingStore
}

// newGoDiffApp starts a Go app in configuration c, on a fresh memstore or
// on the shared Redis, FerretDB or PostgreSQL under c's key prefix,
// collection or table (newGoStore), with the store's GetAndTouch if
// c.LoadTouch.
func newGoDiffApp(t *testing.T, c diffConfig) *goDiffApp {
	t.Helper()
	a := &goDiffApp{store: &countingStore{fullStore: newGoStore(t, c)}}
	var store session.Store = a.store
	if c.LoadTouch {
		gt, ok := a.store.fullStore.(session.GetToucher)
		if !ok {
			t.Fatalf("the %s store %T has no GetAndTouch", c.Store, a.store.fullStore)
		}
		store = &loadTouchingStore{countingStore: a.store, gt: gt}
	}
	o := c.options(store)
	o.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, _ error) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, `{"error":"session"}`)
	}
	m, err := session.New(o)
	if err != nil {
		t.Fatalf("session.New: %v", err)
	}
	srv := httptest.NewServer(markReads(m.Handler(http.HandlerFunc(diffHandler))))
	t.Cleanup(srv.Close)
	a.url = srv.URL
	return a
}

func (a *goDiffApp) base() string { return a.url }

func (a *goDiffApp) failing(op string) { a.store.fail.Store(op) }

func (a *goDiffApp) do(req *http.Request) (*http.Response, error) { return diffClient.Do(req) }

func (a *goDiffApp) counts(*testing.T) storeCounts {
	s := a.store
	return storeCounts{Get: s.get.Load(), Set: s.set.Load(), Touch: s.touch.Load(), Destroy: s.destroy.Load()}
}

func (a *goDiffApp) forget(t *testing.T, id string) {
	t.Helper()
	if err := a.store.fullStore.Destroy(context.Background(), id); err != nil {
		t.Fatalf("go forget %s: %v", id, err)
	}
}

func (a *goDiffApp) age(t *testing.T, id string, d time.Duration) {
	t.Helper()
	ctx := context.Background()
	data, ok, err := a.store.fullStore.Get(ctx, id)
	if err != nil {
		t.Fatalf("go age %s: %v", id, err)
	}
	if !ok {
		return
	}
	var expires time.Time // zero: a browser-session cookie, the store's default lifetime
	if m := docExpiresRE.FindSubmatchIndex(data); m != nil {
		e, err := time.Parse(time.RFC3339, string(data[m[2]:m[3]]))
		if err != nil {
			t.Fatalf("go age %s: %v", id, err)
		}
		expires = e.Add(-d)
		data = slices.Concat(data[:m[2]], []byte(expires.UTC().Format(isoFormat)), data[m[3]:])
	}
	if err := a.store.fullStore.Set(ctx, id, data, expires); err != nil {
		t.Fatalf("go age %s: %v", id, err)
	}
}

// diffHandler is the Go app's handler: the routes of peer/diff.js, chosen
// by the last segment of the path.
func diffHandler(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	reply := func(status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	op := path.Base(r.URL.Path)
	if op == "nosession" {
		reply(http.StatusOK, map[string]any{})
		return
	}
	s := session.From(r)
	setAfter := func() {
		if k := q.Get("k"); k != "" && q.Has("v") {
			s.Set(k, q.Get("v"))
		}
	}
	var msgs []string // the flash messages that flashes read
	answer := func() {
		var data map[string]any
		if s != nil {
			data = map[string]any{}
			for _, k := range s.Keys() {
				data[k] = s.Get(k)
			}
		}
		body := map[string]any{"data": data}
		if op == "flashes" {
			body["msgs"] = msgs
		}
		reply(http.StatusOK, body)
	}
	fail := func(what string) { reply(http.StatusInternalServerError, map[string]string{"error": what}) }
	ctx := r.Context()
	if k := q.Get("bk"); k != "" && q.Has("bv") {
		s.Set(k, q.Get("bv")) // the change before the route's own operation
	}
	switch op {
	case "unset":
		s.Unset()
		reply(http.StatusOK, map[string]bool{"unset": true})
		return
	case "read", "set":
	case "del":
		s.Delete(q.Get("k"))
	case "touch":
		s.Touch()
	case "maxage":
		ms, _ := strconv.ParseInt(q.Get("ms"), 10, 64)
		s.Cookie().SetMaxAge(time.Duration(ms) * time.Millisecond)
	case "expires":
		if q.Get("in") == "null" {
			s.Cookie().SetExpires(time.Time{})
		} else {
			sec, _ := strconv.ParseInt(q.Get("in"), 10, 64)
			s.Cookie().SetExpires(time.Now().Add(time.Duration(sec) * time.Second))
		}
	case "regenerate":
		if s != nil && s.Regenerate(ctx) != nil {
			fail("regenerate")
			return
		}
	case "destroy":
		if s == nil {
			reply(http.StatusOK, map[string]bool{"destroyed": false})
			return
		}
		if s.Destroy(ctx) != nil {
			fail("destroy")
			return
		}
		reply(http.StatusOK, map[string]bool{"destroyed": true})
		return
	case "reload":
		if s != nil && s.Reload(ctx) != nil {
			fail("reload")
			return
		}
	case "save":
		setAfter()
		if s != nil && s.Save(ctx) != nil {
			fail("save")
			return
		}
		if k := q.Get("ak"); k != "" && q.Has("av") {
			s.Set(k, q.Get("av")) // a change after the save
		}
		answer()
		return
	case "status":
		setAfter()
		code, _ := strconv.Atoi(q.Get("code"))
		if code >= 300 && code < 400 && code != http.StatusNotModified {
			w.Header().Set("Location", "/read")
		}
		w.WriteHeader(code)
		return
	case "error":
		// The Go counterpart of express's next(err): the handler answers
		// its error page itself.
		setAfter()
		fail("route")
		return
	case "flash":
		s.Flash(q.Get("kind"), q.Get("msg"))
	case "flashes":
		if msgs = s.Flashes(q.Get("kind")); msgs == nil {
			msgs = []string{} // connect-flash's req.flash answers [] for none
		}
	default:
		reply(http.StatusNotFound, map[string]string{"error": "unknown op " + op})
		return
	}
	setAfter()
	answer()
}

// step is one line of a scenario: a request, or "forget" (the store loses
// the session behind the app's back).
type step struct {
	forget bool
	age    time.Duration // "age?s=N": the stored copy is made to look N seconds older
	target string        // path and query, as "/set?k=a&v=1"
	https  bool          // sent with X-Forwarded-Proto: https
	head   bool          // sent as a HEAD request ("head"), not a GET
	cookie string        // what to do with the jar's cookie; "" sends it as it is
	fail   string        // the store call that fails during the request ("fail=set")
}

// parseSteps reads a scenario's steps: separated by ";", each "op?query" or
// "/path/op?query", then flags: "https", "cookie=KIND" (see cookieHeader).
func parseSteps(s string) ([]step, error) {
	var out []step
	for _, part := range strings.Split(s, ";") {
		words := strings.Fields(part)
		if len(words) == 0 {
			return nil, fmt.Errorf("steps %q: an empty step", s)
		}
		st := step{target: words[0]}
		if sec, ok := strings.CutPrefix(st.target, "age?s="); ok {
			n, err := strconv.Atoi(sec)
			if err != nil || n <= 0 {
				return nil, fmt.Errorf("step %q: want age?s=SECONDS", part)
			}
			st.age = time.Duration(n) * time.Second
		} else if st.target == "forget" {
			st.forget = true
		} else if !strings.HasPrefix(st.target, "/") {
			st.target = "/" + st.target
		}
		for _, f := range words[1:] {
			switch k, v, _ := strings.Cut(f, "="); k {
			case "https":
				st.https = true
			case "head":
				st.head = true
			case "cookie":
				st.cookie = v
			case "fail":
				st.fail = v
			default:
				return nil, fmt.Errorf("step %q: unknown flag %q", part, f)
			}
		}
		out = append(out, st)
	}
	return out, nil
}

// signed returns the cookie express-session makes of id under secret,
// before percent-encoding: "s:<id>.<base64 HMAC-SHA256>".
func signed(id, secret string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(id))
	return "s:" + id + "." + base64.RawStdEncoding.EncodeToString(mac.Sum(nil))
}

// sign returns the cookie value express-session sends for id under secret.
func sign(id, secret string) string { return url.QueryEscape(signed(id, secret)) }

// cookieID returns the session id in a cookie value and the index of the
// secret among secrets that signed it (-1 if none).
func cookieID(value string, secrets []string) (string, int) {
	raw, err := url.QueryUnescape(value)
	if err != nil {
		return "", -1
	}
	rest, ok := strings.CutPrefix(raw, "s:")
	i := strings.LastIndexByte(rest, '.')
	if !ok || i < 0 {
		return "", -1
	}
	id := rest[:i]
	for n, s := range secrets {
		if signed(id, s) == raw {
			return id, n
		}
	}
	return id, -1
}

// cookieHeader returns the Cookie header a step sends, given the jar's sid
// value (jar, "" for none) and the first sid value the jar held in the run
// (first):
//
//	""        the jar's cookie as it is
//	first     the first cookie the jar held (a session since regenerated or
//	          destroyed: a browser tab that kept the old cookie)
//	firstjar  the first cookie, then the jar's (two valid cookies of the name)
//	jarfirst  the jar's cookie, then the first
//	none      no cookie
//	tamper    the signature's last character changed
//	unsigned  the bare id, without "s:" and signature
//	garbage   a value that is not a cookie express-session ever sent
//	dupfirst  the jar's cookie, then a second sid with garbage
//	duplast   a sid with garbage, then the jar's cookie
//	old, retired  the jar's id signed with the secret "old" or "retired"
func cookieHeader(kind, jar, first string) (string, error) {
	const garbage = "%zz%E0garbage"
	id, _ := cookieID(jar, nil)
	switch kind {
	case "first", "firstjar", "jarfirst":
		if first == "" {
			return "", fmt.Errorf("cookie=%s: the jar never held a cookie", kind)
		}
		switch {
		case kind == "first" || jar == "":
			return "sid=" + first, nil
		case kind == "firstjar":
			return "sid=" + first + "; sid=" + jar, nil
		}
		return "sid=" + jar + "; sid=" + first, nil
	case "":
		if jar == "" {
			return "", nil
		}
		return "sid=" + jar, nil
	case "none":
		return "", nil
	case "garbage":
		return "sid=" + garbage, nil
	}
	if jar == "" {
		return "", fmt.Errorf("cookie=%s: the jar is empty", kind)
	}
	switch kind {
	case "tamper":
		last := jar[len(jar)-1]
		repl := byte('A')
		if last == 'A' {
			repl = 'B'
		}
		return "sid=" + jar[:len(jar)-1] + string(repl), nil
	case "unsigned":
		return "sid=" + id, nil
	case "dupfirst":
		return "sid=" + jar + "; sid=" + garbage, nil
	case "duplast":
		return "sid=" + garbage + "; sid=" + jar, nil
	case "old", "retired":
		return "sid=" + sign(id, kind), nil
	}
	return "", fmt.Errorf("unknown cookie kind %q", kind)
}

// observation is what one step did, as the suite compares it.
type observation struct {
	fields map[string]string // compared exactly, but for the spans of the fields in tolerance
	// spans are the times of the fields in tolerance that are "set", each
	// counted from the start of the step's request: the Set-Cookie's
	// Expires, the stored cookie's expires and originalMaxAge, the stored
	// key's time to live.
	spans map[string]time.Duration
	// took is how long the step's request took, from its start (at, as
	// a wall clock time) to the end of its answer's body: each side's times
	// are taken somewhere in that span, so two observations' spans may
	// differ by that much more than their tolerance (a slow request on a
	// loaded machine).
	took time.Duration
	at   time.Time
	// since holds, for a stored time (storedTimes) that is the instant an
	// earlier step of the run observed too, the start of the first step
	// that observed it: that time was taken somewhere from then on, so the
	// window it was taken in is longer than the step (window).
	since map[string]time.Time
}

// storedTimes are the fields whose spans count from the step's request's
// start to an instant the store keeps. A step need not move that instant
// (a touch that moves the key's expiry and not the cookie's expires, a
// step that leaves the session alone), and a span to an instant an earlier
// step wrote grows with the time between the two steps, which on the
// Express side includes the round trip for the store's counts to the Node
// process that all parallel scenarios share: counted from the step alone,
// the two sides' spans differed by as much (2.docexpires=59m58s/1h0m0s on
// setting the same value is no modification, on a loaded machine).
var storedTimes = []string{"docexpires", "ttl"}

// window is how long before the end of o's request field f was taken.
func (o observation) window(f string) time.Duration {
	since, ok := o.since[f]
	if !ok {
		return o.took
	}
	return o.at.Add(o.took).Sub(since)
}

// keepSince records in o when each of its stored times that is the
// instant prev observed was first observed (prev: the run's observation
// before o, or the last of the run that left the session o reads).
func keepSince(o *observation, prev observation) {
	for _, f := range storedTimes {
		span, ok := o.spans[f]
		prevSpan, prevOK := prev.spans[f]
		if !ok || !prevOK || !o.at.Add(span).Equal(prev.at.Add(prevSpan)) {
			continue
		}
		since, ok := prev.since[f]
		if !ok {
			since = prev.at
		}
		if o.since == nil {
			o.since = map[string]time.Time{}
		}
		o.since[f] = since
	}
}

// aged returns o as it would have observed its stored times after an age
// step moved them back by d: the stored cookie's expires moves by exactly
// that on both sides, and a step that then leaves it as it is counts it
// from when the run first observed it (keepSince), as it would without the
// age step. A store expiry that the age step did not move by exactly d
// (connect-redis's whole seconds) is counted from the next step.
func aged(o observation, d time.Duration) observation {
	spans := maps.Clone(o.spans) // o's map is the run's observation's own
	for _, f := range storedTimes {
		if s, ok := spans[f]; ok {
			spans[f] = s - d
		}
	}
	o.spans = spans
	return o
}

// lastObservation returns the observation of a run's last request.
func lastObservation(run []observation) observation {
	for i := len(run) - 1; i >= 0; i-- {
		if run[i].fields != nil {
			return run[i]
		}
	}
	return observation{}
}

// fieldOrder is the order in which differences are reported.
var fieldOrder = []string{"status", "body", "cookie", "id", "signer", "attrs", "expires", "get", "set", "touch", "destroy",
	"doc", "docexpires", "maxage", "ttl"}

// tolerance says which fields are times, compared within how much when both
// are "set": the Set-Cookie's Expires has whole seconds, so two may be a
// second and the requests' latencies apart; the stored expires and
// originalMaxAge have milliseconds (express's originalMaxAge after
// cookie.expires is set is the time left then); connect-redis rounds a
// key's time to live up to the second, redisstore keeps milliseconds.
var tolerance = map[string]time.Duration{
	"expires": 1500 * time.Millisecond, "docexpires": time.Second, "maxage": time.Second, "ttl": 1500 * time.Millisecond,
}

// cookieFields describe the Set-Cookie; they are "-" when none was sent.
var cookieFields = map[string]bool{"id": true, "signer": true, "attrs": true, "expires": true}

// play runs steps against a, with a cookie jar of its own, and returns an
// observation per step (an empty one for "forget" and "age").
func play(t *testing.T, a app, c diffConfig, steps []step) []observation {
	t.Helper()
	out, _ := playFrom(t, a, c, steps, "")
	return out
}

// playFrom is play with the jar holding jar at the start; it also returns
// the jar at the end.
func playFrom(t *testing.T, a app, c diffConfig, steps []step, jar string) ([]observation, string) {
	t.Helper()
	stored := newStoreReader(t, c) // nil on the memory stores
	// jar is the sid cookie value, as the last Set-Cookie gave it; first
	// the first one it held.
	first := jar
	out := make([]observation, len(steps))
	var prev observation // the last request's
	before := a.counts(t)
	for i, st := range steps {
		if st.forget || st.age > 0 {
			id, _ := cookieID(jar, nil)
			if id == "" {
				t.Fatalf("step %d: %s without a session cookie", i+1, st.target)
			}
			if st.forget {
				a.forget(t, id)
			} else {
				a.age(t, id, st.age)
				if c.Store == "mongo" && c.TouchAfter > 0 {
					ageLastModified(t, c, id, st.age)
				}
				prev = aged(prev, st.age)
			}
			continue
		}
		method := "GET"
		if st.head {
			method = "HEAD"
		}
		req, err := http.NewRequest(method, a.base()+st.target, nil)
		if err != nil {
			t.Fatal(err)
		}
		header, err := cookieHeader(st.cookie, jar, first)
		if err != nil {
			t.Fatalf("step %d: %v", i+1, err)
		}
		if header != "" {
			req.Header.Set("Cookie", header)
		}
		if st.https {
			req.Header.Set("X-Forwarded-Proto", "https")
		}
		// The session the request names: its first sid cookie's.
		sentValue, _, _ := strings.Cut(strings.TrimPrefix(header, "sid="), ";")
		sentID, _ := cookieID(sentValue, nil)
		at := time.Now()
		a.failing(st.fail)
		resp, err := a.do(req)
		if err != nil {
			t.Fatalf("step %d: %s: %v", i+1, st.target, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		a.failing("")
		if err != nil {
			t.Fatalf("step %d: read body: %v", i+1, err)
		}
		took := time.Since(at)
		if c.Store == "mongo" && c.TouchAfter > 0 {
			// connect-mongo with touchAfter puts the document's
			// lastModified among the session's data on a read.
			body = lastModifiedRE.ReplaceAll(body, []byte(`"lastModified":"T"`))
		}
		o := observation{fields: map[string]string{
			"status": strconv.Itoa(resp.StatusCode), "body": canonicalJSON(body),
			"cookie": "-", "id": "-", "signer": "-", "attrs": "-", "expires": "-",
		}, spans: map[string]time.Duration{}, took: took, at: at.Round(0)}
		for _, h := range resp.Header.Values("Set-Cookie") {
			value, ok := strings.CutPrefix(h, "sid=")
			if !ok {
				continue
			}
			value, attrs, _ := strings.Cut(value, ";")
			if value == "" {
				o.fields["cookie"] = "clear"
				jar = ""
			} else {
				o.fields["cookie"] = "set"
				id, signer := cookieID(value, c.Secrets)
				o.fields["id"] = map[bool]string{true: "same", false: "new"}[id == sentID]
				o.fields["signer"] = strconv.Itoa(signer)
				jar = value
				if first == "" {
					first = value
				}
			}
			var expires time.Time
			o.fields["attrs"], expires = cookieAttrs(attrs)
			switch {
			case expires.IsZero():
				o.fields["expires"] = "session"
			case expires.Before(time.Now()):
				o.fields["expires"] = "past"
			default:
				o.fields["expires"] = "set"
				o.spans["expires"] = expires.Sub(at)
			}
		}
		now := a.counts(t)
		o.fields["get"] = strconv.FormatInt(now.Get-before.Get, 10)
		o.fields["set"] = strconv.FormatInt(now.Set-before.Set, 10)
		o.fields["touch"] = strconv.FormatInt(now.Touch-before.Touch, 10)
		o.fields["destroy"] = strconv.FormatInt(now.Destroy-before.Destroy, 10)
		before = now
		if stored != nil {
			// The stored copy of the session the client now holds (the
			// one it sent, when no cookie replaced it).
			id, _ := cookieID(jar, nil)
			if id == "" {
				id = sentID
			}
			observeStored(t, stored, id, at, &o)
			keepSince(&o, prev)
		}
		out[i], prev = o, o
	}
	return out, jar
}

// The parts of a stored document that observeStored takes apart: the
// cookie's expires and originalMaxAge (the cookie comes first), and
// sessionkit's creation time, which express keeps as an unknown key and
// which only the Go side writes.
var (
	docExpiresRE = regexp.MustCompile(`"expires":"(` + isoMillis + `)"`)
	docMaxAgeRE  = regexp.MustCompile(`"originalMaxAge":(-?\d+)`)
	docCreatedRE = regexp.MustCompile(`,"__sessionkit_created":"` + isoMillis + `"`)
)

// splitDocument returns a stored session document's cookie, byte for byte,
// and its other keys as canonical JSON (sorted, without HTML escapes, each
// after a comma): a JSON object equal to express's need not be the same
// bytes (sessionkit writes the keys sorted, express in the order they were
// set, and sessionkit escapes <, >, &, U+2028 and U+2029 where express does
// not), and nothing reads those bytes but a JSON parser. The document must
// start with its cookie, as express's does.
func splitDocument(doc string) (cookie, data string, err error) {
	if !strings.HasPrefix(doc, `{"cookie":`) {
		return "", "", fmt.Errorf("no cookie first")
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal([]byte(doc), &keys); err != nil {
		return "", "", err
	}
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		if k == "cookie" {
			continue
		}
		var v any
		if err := json.Unmarshal(keys[k], &v); err != nil {
			return "", "", err
		}
		b.WriteByte(',')
		b.WriteString(jsonNoEscape(k))
		b.WriteByte(':')
		b.WriteString(jsonNoEscape(v))
	}
	return string(keys["cookie"]), b.String(), nil
}

// jsonNoEscape encodes v as JSON.stringify does: map keys sorted, and <, >
// and & as they are.
func jsonNoEscape(v any) string {
	var b strings.Builder
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	_ = e.Encode(v)
	return strings.TrimSuffix(b.String(), "\n")
}

// isoFormat is JavaScript's Date.prototype.toISOString, as a Go layout.
const isoFormat = "2006-01-02T15:04:05.000Z"

// observeStored adds to o what the store holds for session id after a step
// whose request left at at (read by stored): "doc", the stored document
// byte for byte but for sessionkit's creation time and the cookie's
// expires and originalMaxAge, which are "docexpires" and "maxage" (their
// times counted from at); "ttl", the store's expiry of the session (the
// Redis key's time to live; the time from at to the Mongo document's
// expires or the PostgreSQL row's expire). Each is "-" when there is no
// such session (or no id), "null" (or "none", a key without expiry) when
// the document has none.
func observeStored(t *testing.T, stored storeReader, id string, at time.Time, o *observation) {
	t.Helper()
	for _, f := range []string{"doc", "docexpires", "maxage", "ttl"} {
		o.fields[f] = "-"
	}
	if id == "" {
		return
	}
	sc := stored(t, id, at)
	if !sc.found {
		return
	}
	doc := sc.doc
	if sc.expiry != "" {
		o.fields["ttl"] = sc.expiry
	}
	if sc.expiry == "set" {
		o.spans["ttl"] = sc.left
	}
	cookie, data, err := splitDocument(docCreatedRE.ReplaceAllString(doc, ""))
	if err != nil {
		o.fields["doc"] = doc + sc.extra // not a session document: compared as it is
		return
	}
	o.fields["docexpires"], o.fields["maxage"] = "null", "null"
	if m := docExpiresRE.FindStringSubmatchIndex(cookie); m != nil {
		e, err := time.Parse(time.RFC3339, cookie[m[2]:m[3]])
		if err != nil {
			t.Fatalf("stored %s: %v", doc, err)
		}
		o.fields["docexpires"], o.spans["docexpires"] = "set", e.Sub(at)
		cookie = cookie[:m[2]] + "T" + cookie[m[3]:]
	}
	if m := docMaxAgeRE.FindStringSubmatchIndex(cookie); m != nil {
		ms, err := strconv.ParseInt(cookie[m[2]:m[3]], 10, 64)
		if err != nil {
			t.Fatalf("stored %s: %v", doc, err)
		}
		o.fields["maxage"], o.spans["maxage"] = "set", time.Duration(ms)*time.Millisecond
		cookie = cookie[:m[2]] + "N" + cookie[m[3]:]
	}
	o.fields["doc"] = `{"cookie":` + cookie + data + "}" + sc.extra
}

// canonicalJSON re-encodes a JSON body with sorted keys, so that the two
// apps' key orders do not matter; a body that is not JSON is kept as it is.
func canonicalJSON(body []byte) string {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return strings.TrimSpace(string(body))
	}
	out, _ := json.Marshal(v)
	return string(out)
}

// cookieAttrs returns a Set-Cookie's attributes after the value, in order,
// without Expires and Max-Age (Expires is returned apart; express sends no
// Max-Age, sessionkit sends it beside Expires, by design).
func cookieAttrs(attrs string) (string, time.Time) {
	var keep []string
	var expires time.Time
	for _, a := range strings.Split(attrs, ";") {
		a = strings.TrimSpace(a)
		name, value, _ := strings.Cut(a, "=")
		switch strings.ToLower(name) {
		case "":
		case "expires":
			expires, _ = http.ParseTime(value)
		case "max-age":
		default:
			keep = append(keep, a)
		}
	}
	return strings.Join(keep, ";"), expires
}

// compare returns the differences between two runs of the same steps, one
// "step.field=first/second" entry each, in step and field order. Times
// (see tolerance) agree when both are set and their spans from their
// requests are within the field's tolerance of each other.
func compare(a, b []observation) []string {
	var out []string
	for i := range a {
		if a[i].fields == nil {
			continue
		}
		// When only one side sent a cookie, its attributes are no news.
		oneCookie := a[i].fields["cookie"] != b[i].fields["cookie"] &&
			(a[i].fields["cookie"] == "-" || b[i].fields["cookie"] == "-")
		for _, f := range fieldOrder {
			if oneCookie && cookieFields[f] {
				continue
			}
			x, y := a[i].fields[f], b[i].fields[f]
			if tol, ok := tolerance[f]; ok && x == "set" && y == "set" {
				tol += max(a[i].window(f), b[i].window(f))
				if d := a[i].spans[f] - b[i].spans[f]; d > tol || d < -tol {
					x, y = spanString(a[i].spans[f]), spanString(b[i].spans[f])
					if x == y { // apart by less than the rounding, more than the tolerance
						x, y = a[i].spans[f].Round(time.Second).String(), b[i].spans[f].Round(time.Second).String()
					}
					if x == y {
						x, y = a[i].spans[f].Round(time.Millisecond).String(), b[i].spans[f].Round(time.Millisecond).String()
					}
				}
			}
			if x != y {
				out = append(out, fmt.Sprintf("%d.%s=%s/%s", i+1, f, x, y))
			}
		}
	}
	return out
}

// spanString renders a time span of an observation in a difference entry:
// to the minute from a minute on, so that a scenario's expected entries do
// not depend on how long its requests took (describe shows the spans to
// the millisecond), else to the second. Two spans that differ by more than
// their tolerance but render alike are rendered to the second, or to the
// millisecond (compare).
func spanString(d time.Duration) string {
	if d >= time.Minute || d <= -time.Minute {
		return d.Round(time.Minute).String()
	}
	return d.Round(time.Second).String()
}

// describe renders the observations of both runs, for failure messages.
func describe(steps []step, names [2]string, runs [2][]observation) string {
	var b strings.Builder
	for i, st := range steps {
		fmt.Fprintf(&b, "  %d. %s https=%v cookie=%q fail=%q\n", i+1, st.target, st.https, st.cookie, st.fail)
		for n, run := range runs {
			o := run[i]
			if o.fields == nil {
				continue
			}
			fmt.Fprintf(&b, "     %-7s", names[n])
			for _, f := range fieldOrder {
				if v, ok := o.fields[f]; ok {
					if span, ok := o.spans[f]; ok {
						v += "(" + span.Round(time.Millisecond).String() + ")"
					}
					fmt.Fprintf(&b, " %s=%s", f, v)
				}
			}
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// expectation is what a scenario's differs column says: the README number
// of a deliberate difference, or the name of a known bug, and the
// differences ("step.field=express/sessionkit") it causes; on a store with
// a storeDifference for the scenario, what that says instead.
type expectation struct {
	number  string // "#8"; "" if the apps agree or for a known bug
	bug     string // the known bug's name
	entries []string
	// store is the name of the storeDifference that applies, if any; its
	// entries then replace the scenario's.
	store string
	// loadTouch names the loadTouchDifferences that apply (withLoadTouch),
	// if any.
	loadTouch string
}

// match reports whether got, sorted, are the differences e expects.
func (e expectation) match(got []string) bool {
	if e.store == "" {
		return slices.Equal(got, e.entries)
	}
	return entriesMatch(got, e.entries)
}

// String renders the expected differences for a failure message.
func (e expectation) String() string {
	var b strings.Builder
	for _, name := range []string{e.store, e.loadTouch} {
		if name != "" {
			b.WriteString(name + ": ")
		}
	}
	return b.String() + fmt.Sprint(e.entries)
}

// entriesMatch reports whether the differences got are those of want,
// where an entry of want may leave one side open: "2.ttl=*/24h0m0s" is
// any express value and sessionkit's 24h0m0s, "2.ttl=1s/*" the reverse.
func entriesMatch(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	byKey := make(map[string]string, len(got))
	for _, g := range got {
		k, v, _ := strings.Cut(g, "=")
		byKey[k] = v
	}
	for _, w := range want {
		k, wv, _ := strings.Cut(w, "=")
		gv, ok := byKey[k]
		switch {
		case !ok:
			return false
		case gv == wv:
		case strings.HasPrefix(wv, "*/") && strings.HasSuffix(gv, wv[1:]):
		case strings.HasSuffix(wv, "/*") && strings.HasPrefix(gv, wv[:len(wv)-1]):
		default:
			return false
		}
	}
	return true
}

// parseDiffers reads "" (the apps agree), "#8: 2.cookie=-/set 2.set=0/1"
// or "bug NAME: 2.cookie=-/set".
func parseDiffers(s string) (expectation, error) {
	if s == "" {
		return expectation{}, nil
	}
	label, entries, ok := strings.Cut(s, ":")
	if !ok {
		return expectation{}, fmt.Errorf("differs %q: want \"#N: entries\" or \"bug NAME: entries\"", s)
	}
	e := expectation{entries: strings.Fields(entries)}
	switch {
	case strings.HasPrefix(label, "#"):
		e.number = label
	case strings.HasPrefix(label, "bug "):
		e.bug = strings.TrimPrefix(label, "bug ")
	default:
		return e, fmt.Errorf("differs %q: the label must be #N or bug NAME", s)
	}
	slices.Sort(e.entries)
	return e, nil
}

// diffStores are the stores every scenario runs on: express-session's
// MemoryStore against memstore, connect-redis against redisstore,
// connect-mongo against mongostore, connect-pg-simple against pgstore
// (diff_stores_test.go).
var diffStores = []string{"memory", "redis", "mongo", "pg"}

// scenarioSetup parses a scenario and gives it a store and a fresh key
// prefix, collection or table.
func scenarioSetup(t *testing.T, sc diffScenario, store string) (diffConfig, []step, expectation) {
	t.Helper()
	c, err := parseConfig(sc.config)
	if err != nil {
		t.Fatal(err)
	}
	c.Store = store
	c.Prefix = appPrefix(store, "express")
	c.URL = storeURL(t, store)
	if store != "mongo" {
		// touchAfter is connect-mongo's: the other stores' Node side has
		// none, and neither side sets it.
		c.TouchAfter = 0
	}
	steps, err := parseSteps(sc.steps)
	if err != nil {
		t.Fatal(err)
	}
	want, err := parseDiffers(sc.differs)
	if err != nil {
		t.Fatal(err)
	}
	want.entries = observedOn(store, want.entries)
	for _, d := range storeDifferences {
		if d.store == store && d.scenario == sc.name {
			want.store = d.name
			want.entries = strings.Fields(d.differs)
			slices.Sort(want.entries)
		}
	}
	return c, steps, want
}

// observedOn returns the entries of differences that can be observed on
// store: on the memory stores, whose copies are not observed, those of the
// fields that are not about the stored copy.
func observedOn(store string, entries []string) []string {
	if store != "memory" {
		return entries
	}
	return slices.DeleteFunc(entries, func(e string) bool { return storedFields[entryField(e)] })
}

// entryKey returns an entry's step and field ("2.touch" of "2.touch=0/1"),
// entryField its field.
func entryKey(e string) string   { k, _, _ := strings.Cut(e, "="); return k }
func entryField(e string) string { _, f, _ := strings.Cut(entryKey(e), "."); return f }

// withLoadTouch returns want, the expectation of scenario on store for the
// Go app without GetAndTouch, with the loadTouchDifferences of the
// scenario on that store applied: each entry replaces the expected entry
// of its step and field, if any, and one whose two sides are the same
// ("2.touch=1/1") leaves that step and field agreeing.
func withLoadTouch(want expectation, scenario, store string) expectation {
	entries := slices.Clone(want.entries)
	var names []string
	for _, d := range loadTouchDifferences {
		if d.scenario != scenario || !d.on(store) {
			continue
		}
		names = append(names, d.name)
		for _, e := range strings.Fields(d.differs) {
			entries = slices.DeleteFunc(entries, func(x string) bool { return entryKey(x) == entryKey(e) })
			if _, sides, _ := strings.Cut(e, "="); !sameSides(sides) {
				entries = append(entries, e)
			}
		}
	}
	want.entries = observedOn(store, entries)
	slices.Sort(want.entries)
	want.loadTouch = strings.Join(names, ", ")
	return want
}

// sameSides reports whether an entry's "first/second" has the same text on
// either side of its middle slash ("1/1").
func sameSides(sides string) bool {
	n := len(sides)
	return n%2 == 1 && sides[n/2] == '/' && sides[:n/2] == sides[n/2+1:]
}

// TestStoreDifferencesNameScenarios: every storeDifference names a store
// of the suite and a scenario of the table, once.
func TestStoreDifferencesNameScenarios(t *testing.T) {
	seen := map[[2]string]bool{}
	for _, d := range storeDifferences {
		if !slices.Contains(diffStores, d.store) || d.store == "memory" {
			t.Errorf("store difference %q: store %q is not one whose copy the suite observes", d.name, d.store)
		}
		if !slices.ContainsFunc(diffScenarios, func(sc diffScenario) bool { return sc.name == d.scenario }) {
			t.Errorf("store difference %q: no scenario %q", d.name, d.scenario)
		}
		if seen[[2]string{d.store, d.scenario}] {
			t.Errorf("store difference %q: a second one for %s/%s", d.name, d.store, d.scenario)
		}
		seen[[2]string{d.store, d.scenario}] = true
		if d.name == "" || d.reason == "" || d.differs == "" {
			t.Errorf("store difference %+v: want a name, a reason and the differences", d)
		}
	}
}

// TestLoadTouchDifferencesNameScenarios: every loadTouchDifference names a
// scenario of the table, stores of the suite and a kind of loadTouchKinds,
// and says something of each step and field once per store.
func TestLoadTouchDifferencesNameScenarios(t *testing.T) {
	said := map[string]bool{} // store, scenario, step.field
	for _, d := range loadTouchDifferences {
		if !slices.ContainsFunc(diffScenarios, func(sc diffScenario) bool { return sc.name == d.scenario }) {
			t.Errorf("load touch difference %q: no scenario %q", d.name, d.scenario)
		}
		if !slices.ContainsFunc(loadTouchKinds, func(k struct{ name, reason string }) bool { return k.name == d.name }) {
			t.Errorf("load touch difference of %q: %q is none of loadTouchKinds", d.scenario, d.name)
		}
		for _, st := range strings.Fields(d.stores) {
			if !slices.Contains(diffStores, st) {
				t.Errorf("load touch difference of %q: no store %q", d.scenario, st)
			}
		}
		if len(strings.Fields(d.differs)) == 0 {
			t.Errorf("load touch difference of %q: no differences", d.scenario)
		}
		for _, e := range strings.Fields(d.differs) {
			key, sides, ok := strings.Cut(e, "=")
			step, field, ok2 := strings.Cut(key, ".")
			if _, err := strconv.Atoi(step); err != nil || !ok || !ok2 || !slices.Contains(fieldOrder, field) || !strings.Contains(sides, "/") {
				t.Errorf("load touch difference of %q: %q is no step.field=express/sessionkit", d.scenario, e)
			}
			for _, st := range diffStores {
				if d.on(st) {
					k := st + "\x00" + d.scenario + "\x00" + key
					if said[k] {
						t.Errorf("load touch difference of %q: a second entry for %s on %s", d.scenario, key, st)
					}
					said[k] = true
				}
			}
		}
	}
}

// storedFields are the fields that describe the stored copy, observed on
// every store but memory: express's MemoryStore rewrites the document on a
// touch where memstore moves the expiry alone, and neither is shared with
// another process.
var storedFields = map[string]bool{"doc": true, "docexpires": true, "maxage": true, "ttl": true}

// TestSameDecisionsAsExpress plays every scenario against express-session
// and sessionkit. They must agree on every step, except where the scenario
// names a deliberate difference (README, "Deliberate differences from
// express-session"): then both behaviours are asserted, the difference
// entries exactly. A known bug is a skip that names it.
func TestSameDecisionsAsExpress(t *testing.T) {
	for _, store := range diffStores {
		for _, sc := range diffScenarios {
			t.Run(store+"/"+sc.name, func(t *testing.T) {
				t.Parallel()
				c, steps, want := scenarioSetup(t, sc, store)
				node, nodeJar := playFrom(t, newNodeApp(t, c), c, steps, "")
				// The Go app is played twice: reading, then touching, as
				// on a store without GetAndTouch (the scenario's own
				// differences), and with the store's GetAndTouch, as
				// these four stores are used (loadTouchDifferences).
				var skips []string
				for _, loadTouch := range []bool{false, true} {
					goC, want, run := c, want, "go"
					goC.Prefix = appPrefix(store, "go") // the two sides keep their sessions apart
					goC.LoadTouch = loadTouch
					if loadTouch {
						want, run = withLoadTouch(want, sc.name, store), "go with GetAndTouch"
					}
					crossChecked := store != "memory" && want.number == "" && want.bug == "" && want.store == ""
					if loadTouch && crossChecked && nodeJar != "" {
						// Express's session again, as fresh as the Go run's:
						// the cross-check reads the stored cookie's expiry
						// from its read, and the first Go run and its
						// cross-check would have aged Express's copy by
						// seconds on a loaded machine.
						node, nodeJar = playFrom(t, newNodeApp(t, c), c, steps, "")
					}
					goRun, goJar := playFrom(t, newGoDiffApp(t, goC), goC, steps, "")
					if crossChecked && nodeJar != "" && goJar != "" {
						crossCheck(t, c, goC, steps, node, goRun, nodeJar, goJar)
					}
					got := compare(node, goRun)
					slices.Sort(got)
					detail := describe(steps, [2]string{"express", "go"}, [2][]observation{node, goRun})
					switch {
					case want.bug != "" && want.match(got):
						skips = append(skips, fmt.Sprintf("%s: known bug %q: express and sessionkit differ: %s\n%s", run, want.bug, strings.Join(got, " "), detail))
					case want.bug != "":
						t.Errorf("%s: known bug %q: want differences %v, got %v (fixed? then remove the bug mark)\n%s", run, want.bug, want, got, detail)
					case !want.match(got) && want.store != "":
						t.Errorf("%s: store difference %s: want differences %v (express/go), got %v\n%s", run, want.store, want, got, detail)
					case !want.match(got) && want.number != "":
						t.Errorf("%s: deliberate difference %s: want differences %v (express/go), got %v\n%s", run, want.number, want, got, detail)
					case !want.match(got) && want.loadTouch != "":
						t.Errorf("%s: load touch: want differences %v (express/go), got %v\n%s", run, want, got, detail)
					case !want.match(got):
						t.Errorf("%s: express and sessionkit decide differently (express/go): %v\n%s", run, got, detail)
					}
				}
				if len(skips) > 0 && !t.Failed() {
					t.Skip(strings.Join(skips, "\n"))
				}
			})
		}
	}
}

// crossCheck is what the next request of the other side sees, for a
// scenario on which both agree, played on a shared store: the session each
// run left (the cookie in its jar, nodeJar and goJar, in the prefix,
// collection or table of nodeC and goC) is read once more by a fresh
// Express app and by a fresh Go app in the same configuration on that
// store, so that each side reads the other's session as well as its own.
// The request is a read under the last step's directory, with its https
// flag. Express reading Go's session must do what Express reading its own
// does, and the same for Go, field for field, but for sessionkit's
// creation time, which Express shows among the data. A stored time the
// read leaves as the run left it (nodeRun, goRun) counts as taken from the
// run's step that first observed it (keepSince): Express's run came before
// the whole Go run, and its session was older by that much at the read
// (1.docexpires=59m56s/59m58s on mongo on a loaded machine).
func crossCheck(t *testing.T, nodeC, goC diffConfig, steps []step, nodeRun, goRun []observation, nodeJar, goJar string) {
	t.Helper()
	last := steps[len(steps)-1]
	target, _, _ := strings.Cut(last.target, "?")
	read := []step{{target: path.Join(path.Dir(target), "read"), https: last.https}}
	for _, reader := range []struct {
		name   string
		newApp func(*testing.T, diffConfig) app
	}{
		{"express", func(t *testing.T, c diffConfig) app { return newNodeApp(t, c) }},
		{"go", func(t *testing.T, c diffConfig) app {
			c.LoadTouch = goC.LoadTouch
			return newGoDiffApp(t, c)
		}},
	} {
		ofNode, _ := playFrom(t, reader.newApp(t, nodeC), nodeC, read, nodeJar)
		ofGo, _ := playFrom(t, reader.newApp(t, goC), goC, read, goJar)
		for _, o := range [][]observation{ofNode, ofGo} {
			o[0].fields["body"] = withoutCreated(o[0].fields["body"])
		}
		keepSince(&ofNode[0], lastObservation(nodeRun))
		keepSince(&ofGo[0], lastObservation(goRun))
		got := compare(ofNode, ofGo)
		if len(got) > 0 {
			t.Errorf("%s reads the session Go left otherwise than the one Express left (express's/go's; go with GetAndTouch: %v): %v\n%s",
				reader.name, goC.LoadTouch, got, describe(read, [2]string{"of node", "of go"}, [2][]observation{ofNode, ofGo}))
		}
	}
}

// withoutCreated returns a canonical JSON body without sessionkit's
// creation time among its data, where Express shows it.
func withoutCreated(body string) string {
	var v struct {
		Data map[string]any `json:"data"`
	}
	if json.Unmarshal([]byte(body), &v) != nil || v.Data == nil {
		return body
	}
	delete(v.Data, "__sessionkit_created")
	out, _ := json.Marshal(v)
	return string(out)
}

// TestDiffHarnessIsDeterministic is the self-check: every scenario played
// twice against express-session, in two fresh apps, gives the same
// observations, so a difference found against sessionkit is not noise of
// the harness (random ids, timing, the order of the JSON keys).
func TestDiffHarnessIsDeterministic(t *testing.T) {
	for _, store := range diffStores {
		for _, sc := range diffScenarios {
			t.Run(store+"/"+sc.name, func(t *testing.T) {
				t.Parallel()
				c, steps, _ := scenarioSetup(t, sc, store)
				first := play(t, newNodeApp(t, c), c, steps)
				c.Prefix = appPrefix(store, "express")
				second := play(t, newNodeApp(t, c), c, steps)
				if got := compare(first, second); len(got) > 0 {
					t.Errorf("express differs from itself: %v\n%s", got,
						describe(steps, [2]string{"first", "second"}, [2][]observation{first, second}))
				}
			})
		}
	}
}

// TestLostUpdatesSideBySide sends 100 parallel requests on one session,
// each setting a key of its own, to Express with connect-redis and to Go
// with redisstore, on the same Redis. Express keeps a fraction of the keys
// (each request writes back its whole copy); sessionkit keeps all 100
// (README, deliberate difference #1), both on a store that reads, then
// touches, and with redisstore's GetAndTouch (the load is a GETEX, and the
// session's version the one it returned), as redisstore is used outside
// the suite.
func TestLostUpdatesSideBySide(t *testing.T) {
	c, err := parseConfig("")
	if err != nil {
		t.Fatal(err)
	}
	c.Store = "redis"
	c.Prefix = appPrefix(c.Store, "express")
	node := lostUpdates(t, newNodeApp(t, c))
	for _, loadTouch := range []bool{false, true} {
		goC := c
		goC.Prefix = appPrefix(c.Store, "go")
		goC.LoadTouch = loadTouch
		// A save that meets the others re-reads and tries again, one
		// writer through per round, all within one StoreTimeout: on a
		// loaded machine the last of 100 took longer than the default 5 s
		// and failed with the ErrorHandler's 500 (CI kept 49 of 100).
		// What is pinned is that no acknowledged write is lost, however
		// slow the machine.
		goC.StoreTimeout = time.Minute
		a := newGoDiffApp(t, goC)
		goKept := lostUpdates(t, a)
		t.Logf("of %d parallel writes: express-session + connect-redis kept %d, sessionkit + redisstore (GetAndTouch: %v) kept %d",
			parallelWrites, node, loadTouch, goKept)
		if goKept != parallelWrites {
			t.Errorf("sessionkit (GetAndTouch: %v) kept %d of %d parallel writes, want all", loadTouch, goKept, parallelWrites)
		}
		// Each parallel write's load carries its touch (one counted per
		// session found), or none does: the run took the path it names.
		if touched := a.counts(t).Touch; loadTouch != (touched >= parallelWrites) {
			t.Errorf("sessionkit (GetAndTouch: %v) touched the session %d times for %d parallel writes", loadTouch, touched, parallelWrites)
		}
	}
}

// parallelWrites is the number of parallel requests of TestLostUpdatesSideBySide.
const parallelWrites = 100

// lostUpdates creates a session on a, sends parallelWrites parallel
// requests with its cookie, each setting its own key, and returns how many
// of those keys the session kept.
func lostUpdates(t *testing.T, a app) int {
	t.Helper()
	get := func(target, cookie string) (string, []byte) {
		req, err := http.NewRequest("GET", a.base()+target, nil)
		if err != nil {
			t.Error(err)
			return "", nil
		}
		if cookie != "" {
			req.Header.Set("Cookie", "sid="+cookie)
		}
		resp, err := a.do(req)
		if err != nil {
			t.Errorf("%s: %v", target, err)
			return "", nil
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %s: %s", target, resp.Status, body)
		}
		for _, h := range resp.Header.Values("Set-Cookie") {
			if v, ok := strings.CutPrefix(h, "sid="); ok {
				v, _, _ = strings.Cut(v, ";")
				return v, body
			}
		}
		return "", body
	}
	cookie, _ := get("/set?k=start&v=1", "")
	if cookie == "" {
		t.Fatal("no session cookie for a new, modified session")
	}
	parallel := func(target func(i int) string) {
		var wg sync.WaitGroup
		start := make(chan struct{}) // all requests leave together
		for i := range parallelWrites {
			wg.Go(func() {
				<-start
				get(target(i), cookie)
			})
		}
		close(start)
		wg.Wait()
	}
	// Open the connections first, so that the writes arrive together.
	parallel(func(int) string { return "/nosession" })
	parallel(func(i int) string { return fmt.Sprintf("/set?k=k%03d&v=1", i) })
	_, body := get("/read", cookie)
	var out struct{ Data map[string]any }
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("read: %v: %s", err, body)
	}
	kept := 0
	for k := range out.Data {
		if strings.HasPrefix(k, "k") {
			kept++
		}
	}
	return kept
}

// diffPeer is the one diff peer (peer/diff.js) of this test binary.
var diffPeer struct {
	once sync.Once
	p    *peer
	err  error
}

// stopDiffPeer stops the diff peer, if it was started.
func stopDiffPeer() {
	if diffPeer.p != nil {
		diffPeer.p.stop()
	}
}

// sharedDiffPeer returns the diff peer, starting it on first use with the
// shared Redis.
func sharedDiffPeer(t *testing.T) *peer {
	t.Helper()
	redisAddr := testserver.SharedRedis(t).Addr
	diffPeer.once.Do(func() {
		diffPeer.p, diffPeer.err = startNode("diff.js", "REDIS_URL=redis://"+redisAddr)
	})
	checkStarted(t, diffPeer.err)
	return diffPeer.p
}

// readmeTableMarkers enclose the results table in README.md.
const readmeTableBegin, readmeTableEnd = "<!-- diff-results begin -->\n", "<!-- diff-results end -->\n"

// resultsTable renders diffScenarios as README.md's results table.
func resultsTable() (string, error) {
	var b strings.Builder
	b.WriteString("| scenario | configuration | requests | verdict |\n|---|---|---|---|\n")
	for _, sc := range diffScenarios {
		want, err := parseDiffers(sc.differs)
		if err != nil {
			return "", err
		}
		verdict := "agrees"
		switch {
		case want.number != "":
			verdict = "differs on purpose: " + want.number
		case want.bug != "":
			verdict = "**known bug** `" + want.bug + "`"
		}
		for _, d := range storeDifferences {
			if d.scenario == sc.name {
				verdict += "; on " + d.store + ": " + d.name
			}
		}
		for _, d := range loadTouchDifferences {
			if d.scenario == sc.name {
				verdict += "; with GetAndTouch"
				if d.stores != "" {
					verdict += " (" + strings.Join(strings.Fields(d.stores), ", ") + ")"
				}
				verdict += ": " + d.name
			}
		}
		config := "defaults"
		if sc.config != "" {
			config = "`" + sc.config + "`"
		}
		fmt.Fprintf(&b, "| %s | %s | `%s` | %s |\n", sc.name, config, sc.steps, verdict)
	}
	if len(storeDifferences) > 0 {
		b.WriteString("\n| store | scenario | store difference | why |\n|---|---|---|---|\n")
		for _, d := range storeDifferences {
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", d.store, d.scenario, d.name, d.reason)
		}
	}
	b.WriteString("\n| with GetAndTouch | why |\n|---|---|\n")
	for _, k := range loadTouchKinds {
		fmt.Fprintf(&b, "| %s | %s |\n", k.name, k.reason)
	}
	return b.String(), nil
}

// TestREADMEResultsTableIsCurrent: README.md shows every scenario of the
// suite with its verdict, as diffScenarios says it.
func TestREADMEResultsTableIsCurrent(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	want, err := resultsTable()
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok1 := strings.Cut(string(readme), readmeTableBegin)
	got, _, ok2 := strings.Cut(rest, readmeTableEnd)
	if !ok1 || !ok2 {
		t.Fatalf("README.md has no %q ... %q section; put this there:\n%s", readmeTableBegin, readmeTableEnd, want)
	}
	if got != want {
		t.Errorf("README.md's results table is not the scenario table's; replace it with:\n%s", want)
	}
}

// TestCompareReportsTimesOutsideTheirTolerance: two times further apart
// than their field's tolerance are a difference, also when they round to
// the same minute (a store expiry five seconds short of an hour), and two
// within it are none.
func TestCompareReportsTimesOutsideTheirTolerance(t *testing.T) {
	obs := func(ttl time.Duration) []observation {
		return []observation{{fields: map[string]string{"ttl": "set"}, spans: map[string]time.Duration{"ttl": ttl}}}
	}
	for _, c := range []struct {
		a, b time.Duration
		want []string
	}{
		{time.Hour + 800*time.Millisecond, time.Hour - 5*time.Second, []string{"1.ttl=1h0m1s/59m55s"}},
		{time.Hour, 2 * time.Hour, []string{"1.ttl=1h0m0s/2h0m0s"}},
		{time.Hour + 800*time.Millisecond, time.Hour - 500*time.Millisecond, nil},
	} {
		if got := compare(obs(c.a), obs(c.b)); !slices.Equal(got, c.want) {
			t.Errorf("compare(ttl %v, ttl %v) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}
