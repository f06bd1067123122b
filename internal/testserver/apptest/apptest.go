// Package apptest runs a small web application on the session manager over
// a given store, as the stores' tests need it: requests through the real
// middleware, several app instances sharing one store, and the scenarios
// that the networked stores (Redis, Memcached) must all pass.
package apptest

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"testing"
	"time"

	"github.com/sessionkit/session"
)

// Secret is the secret every App signs with, so that apps on one store
// accept each other's cookies, like instances of one application.
const Secret = "apptest secret"

// App is one instance of the test application: a session manager over a
// store, serving these paths on an httptest server:
//
//	/set?k=K&v=V   sets K to V, answers the session id
//	/get?k=K       reads K without changing the session, answers its value
//	/values        answers {"id","new","values"} as JSON (reads only)
//	/destroy       destroys the session
//	/slow?k=K&v=V  loads the session, signals Loaded, waits for Release, then sets K
//	/none          does not use the session (costs no store round trip)
//	/login?u=U     renews the id and binds the session to user U (users.go)
//	/whoami        answers the session's user, "" for none (reads only)
type App struct {
	// URL is the app's base URL.
	URL string
	// Handler is the app's mux wrapped in the session middleware, for
	// benchmarks that call it without the network.
	Handler http.Handler
	// Manager is the app's session manager.
	Manager *session.Manager
	// Client sends requests to the app, with enough idle connections for
	// parallel requests and a timeout that catches a hang.
	Client *http.Client
	// Loaded receives a value when /slow has loaded its session; Release
	// lets it go on. Both are unbuffered; set them before sending /slow.
	Loaded, Release chan struct{}
	// capped: the app has a MaxSessionsPerUser, under which a login that
	// a newer one ends at once gets no cookie.
	capped bool
}

// Values is the answer of /values.
type Values struct {
	ID     string            `json:"id"`
	New    bool              `json:"new"`
	Values map[string]string `json:"values"`
}

// HourCookie, as New's options, gives the app's sessions a 1 h cookie: every
// request that does not save touches the stored expiry, as express-session
// does.
func HourCookie(o *session.Options) { o.Cookie.MaxAge = time.Hour }

// HourCookieTouchAfterMinute is HourCookie with a TouchAfter of a minute:
// a read-only request soon after a save leaves the store alone.
func HourCookieTouchAfterMinute(o *session.Options) {
	HourCookie(o)
	o.TouchAfter = time.Minute
}

// New starts an App on st. options, if not nil, adjusts the manager's
// options (Secrets, Store and a Logger that discards are set already).
func New(t testing.TB, st session.Store, options func(*session.Options)) *App {
	t.Helper()
	// The scenarios provoke store errors on purpose: keep them out of the test log.
	// A generous StoreTimeout: the parallel scenarios pin that nothing is
	// lost, not how fast a contended session is saved on a slow server.
	// The error handler answers the error's text, so that a failing
	// request says in the test's failure why it failed.
	opts := session.Options{Secrets: []string{Secret}, Store: st, Logger: slog.New(slog.DiscardHandler), StoreTimeout: time.Minute,
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}}
	if options != nil {
		options(&opts)
	}
	m, err := session.New(opts)
	if err != nil {
		t.Fatalf("session.New: %v", err)
	}
	a := &App{Manager: m, Loaded: make(chan struct{}), Release: make(chan struct{}), capped: opts.MaxSessionsPerUser > 0}
	mux := http.NewServeMux()
	withSession := func(f func(w http.ResponseWriter, r *http.Request, s *session.Session)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			s := session.From(r)
			if s == nil {
				return // the error handler has answered
			}
			f(w, r, s)
		}
	}
	mux.HandleFunc("/set", withSession(func(w http.ResponseWriter, r *http.Request, s *session.Session) {
		s.Set(r.FormValue("k"), r.FormValue("v"))
		io.WriteString(w, s.ID())
	}))
	mux.HandleFunc("/get", withSession(func(w http.ResponseWriter, r *http.Request, s *session.Session) {
		fmt.Fprint(w, s.Get(r.FormValue("k")))
	}))
	mux.HandleFunc("/values", withSession(func(w http.ResponseWriter, r *http.Request, s *session.Session) {
		v := Values{ID: s.ID(), New: s.IsNew(), Values: map[string]string{}}
		for _, k := range s.Keys() {
			v.Values[k] = fmt.Sprint(s.Get(k))
		}
		json.NewEncoder(w).Encode(v)
	}))
	mux.HandleFunc("/destroy", withSession(func(w http.ResponseWriter, r *http.Request, s *session.Session) {
		if err := s.Destroy(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	}))
	mux.HandleFunc("/slow", withSession(func(w http.ResponseWriter, r *http.Request, s *session.Session) {
		a.Loaded <- struct{}{}
		<-a.Release
		s.Set(r.FormValue("k"), r.FormValue("v"))
	}))
	mux.HandleFunc("/login", withSession(func(w http.ResponseWriter, r *http.Request, s *session.Session) {
		if err := s.RenewID(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		s.SetUser(r.FormValue("u"))
		io.WriteString(w, s.ID())
	}))
	mux.HandleFunc("/whoami", withSession(func(w http.ResponseWriter, r *http.Request, s *session.Session) {
		io.WriteString(w, s.User())
	}))
	mux.HandleFunc("/none", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "no session used")
	})
	a.Handler = m.Handler(mux)
	srv := httptest.NewServer(a.Handler)
	t.Cleanup(srv.Close)
	tr := &http.Transport{MaxIdleConnsPerHost: 200}
	t.Cleanup(tr.CloseIdleConnections)
	a.URL = srv.URL
	// Long enough for 100 writers contending on one session on the slowest
	// test server (FerretDB under -race on two busy cores takes some 15 s);
	// a hung request still fails.
	a.Client = &http.Client{Transport: tr, Timeout: 2 * time.Minute}
	return a
}

// Response is what a request got.
type Response struct {
	Status  int
	Body    string
	Cookies []*http.Cookie
}

// Do sends GET path with cookies and returns the answer; a transport error
// (a panic in the handler closes the connection, a hang times out) is returned as is.
func (a *App) Do(path string, cookies []*http.Cookie) (Response, error) {
	req, err := http.NewRequest("GET", a.URL+path, nil)
	if err != nil {
		return Response{}, err
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	resp, err := a.Client.Do(req)
	if err != nil {
		return Response{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return Response{Status: resp.StatusCode, Body: string(body), Cookies: resp.Cookies()}, err
}

// MustDo is Do that fails t unless the answer is 200 OK.
func (a *App) MustDo(t testing.TB, path string, cookies []*http.Cookie) Response {
	t.Helper()
	r, err := a.Do(path, cookies)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	if r.Status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, r.Status, r.Body)
	}
	return r
}

// StartSlow sends /slow?k=late&v=1 with cookies to a in a goroutine and
// waits until it has loaded its session (failing t after 10 s); finish
// lets it go on and returns its error (an answer other than 200 is one).
func (a *App) StartSlow(t testing.TB, cookies []*http.Cookie) (finish func() error) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		r, err := a.Do("/slow?k=late&v=1", cookies)
		if err == nil && r.Status != http.StatusOK {
			err = fmt.Errorf("/slow: %d %s", r.Status, r.Body)
		}
		done <- err
	}()
	select {
	case <-a.Loaded:
	case <-time.After(10 * time.Second):
		t.Fatal("the slow request did not load its session")
	}
	return func() error {
		close(a.Release)
		return <-done
	}
}

// Serve runs one request for path with cookies through a.Handler, without
// the network, and fails b unless it answers 200 OK.
func (a *App) Serve(b testing.TB, path string, cookies []*http.Cookie) {
	req := httptest.NewRequest("GET", path, nil)
	for _, c := range cookies {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	a.Handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		b.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
	}
}

// Values reads /values.
func (a *App) Values(t testing.TB, cookies []*http.Cookie) Values {
	t.Helper()
	r := a.MustDo(t, "/values", cookies)
	var v Values
	if err := json.Unmarshal([]byte(r.Body), &v); err != nil {
		t.Fatalf("/values: %v in %q", err, r.Body)
	}
	return v
}

// ParallelUpdatesThroughTwoAppsLoseNothing sends n parallel requests on one
// session, alternating between two app instances on st, each setting its
// own key; afterwards every key must be there.
func ParallelUpdatesThroughTwoAppsLoseNothing(t *testing.T, st session.Store, n int) {
	apps := []*App{New(t, st, nil), New(t, st, nil)}
	first := apps[0].MustDo(t, "/set?k=first&v=0", nil)
	if len(first.Cookies) == 0 {
		t.Fatal("the first request got no session cookie")
	}
	id := first.Body
	errs := make(chan error, n)
	for i := range n {
		go func() {
			path := fmt.Sprintf("/set?k=k%03d&v=%d", i, i)
			r, err := apps[i%2].Do(path, first.Cookies)
			switch {
			case err != nil:
				errs <- err
			case r.Status != http.StatusOK:
				errs <- fmt.Errorf("GET %s: %d %s", path, r.Status, r.Body)
			case r.Body != id:
				errs <- fmt.Errorf("GET %s: session %q, want %q", path, r.Body, id)
			default:
				errs <- nil
			}
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	v := apps[1].Values(t, first.Cookies)
	if v.ID != id || v.New {
		t.Fatalf("after the parallel requests: session %q (new %v), want %q", v.ID, v.New, id)
	}
	var missing []string
	for i := range n {
		k := fmt.Sprintf("k%03d", i)
		if v.Values[k] != fmt.Sprint(i) {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 || v.Values["first"] != "0" {
		sort.Strings(missing)
		t.Fatalf("%d of %d parallel updates lost (first=%q): %v", len(missing), n, v.Values["first"], missing)
	}
}

// DestroyDuringSlowRequestStaysDestroyed destroys a session through one app
// while a slower request on another app has it loaded; when the slow request
// then sets a key and ends, the session must not come back.
func DestroyDuringSlowRequestStaysDestroyed(t *testing.T, st session.Store) {
	slow, fast := New(t, st, nil), New(t, st, nil)
	first := fast.MustDo(t, "/set?k=user&v=alice", nil)
	id := first.Body
	finishSlow := slow.StartSlow(t, first.Cookies)
	fast.MustDo(t, "/destroy", first.Cookies)
	if err := finishSlow(); err != nil {
		t.Fatal(err)
	}
	if b, found, err := st.Get(t.Context(), id); err != nil || found {
		t.Fatalf("destroyed session %q: Get = %s, found %v, %v; want it gone", id, b, found, err)
	}
	v := fast.Values(t, first.Cookies)
	if v.ID == id || !v.New || len(v.Values) != 0 {
		t.Fatalf("old cookie after destroy: session %q (new %v) with %v, want a new empty session", v.ID, v.New, v.Values)
	}
}

// Outage describes a server to take down in ServerKilledMidTraffic.
type Outage struct {
	// Kill stops the server; Restart starts it again on the same address.
	Kill, Restart func()
	// MaxLatency bounds every request's duration: the client's configured
	// timeouts (dial, read, retries) plus slack.
	MaxLatency time.Duration
}

// ServerKilledMidTraffic sends requests from several goroutines while the
// store's server is killed: every request must get 200 or the error
// handler's 500 within o.MaxLatency (no panic, no hang), some must get the
// 500; after o.Restart requests must work again with the same store.
func ServerKilledMidTraffic(t *testing.T, st session.Store, o Outage) {
	// A request makes at most a load and a commit, each bounded by StoreTimeout.
	app := New(t, st, func(opts *session.Options) { opts.StoreTimeout = o.MaxLatency / 2 })
	// The store's client has timeouts short enough to see the outage
	// quickly, which one request on a loaded machine can miss: the session
	// the traffic uses is made with a few tries.
	var first Response
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		r, err := app.Do("/set?k=n&v=0", nil)
		if err == nil && r.Status == http.StatusOK {
			first = r
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("before the outage, requests still fail after 10s: %v %d %s", err, r.Status, r.Body)
		}
	}

	const workers = 8
	stop := make(chan struct{})
	type result struct {
		status int
		took   time.Duration
		err    error
	}
	results := make(chan result, 1<<16)
	finished := make(chan struct{})
	for w := range workers {
		go func() {
			defer func() { finished <- struct{}{} }()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				path := "/get?k=n"
				if i%2 == 0 {
					path = fmt.Sprintf("/set?k=w%d&v=%d", w, i)
				}
				start := time.Now()
				r, err := app.Do(path, first.Cookies)
				results <- result{r.Status, time.Since(start), err}
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	o.Kill()
	time.Sleep(300 * time.Millisecond)
	close(stop)
	for range workers {
		<-finished
	}
	close(results)
	var ok, failed int
	var slowest time.Duration
	for r := range results {
		slowest = max(slowest, r.took)
		switch {
		case r.err != nil:
			t.Errorf("request failed without an answer (panic or hang?): %v", r.err)
		case r.took > o.MaxLatency:
			t.Errorf("request took %v, more than %v", r.took, o.MaxLatency)
		case r.status == http.StatusOK:
			ok++
		case r.status == http.StatusInternalServerError:
			failed++
		default:
			t.Errorf("status %d, want 200 or 500", r.status)
		}
	}
	t.Logf("around the kill: %d requests answered 200, %d answered 500; the slowest took %v", ok, failed, slowest)
	if failed == 0 {
		t.Fatal("no request got the error handler's 500 while the server was down")
	}

	o.Restart()
	// The client reconnects by itself; allow it a few attempts.
	restarted := time.Now()
	deadline := restarted.Add(10 * time.Second)
	for attempt := 1; ; attempt++ {
		r, err := app.Do("/set?k=after&v=restart", first.Cookies)
		if err == nil && r.Status == http.StatusOK {
			// A server without persistence (Redis here) comes back empty and
			// this is a new session with a new cookie; one that keeps its
			// data (FerretDB, PostgreSQL) still has the first session.
			cookies := r.Cookies
			if len(cookies) == 0 {
				cookies = first.Cookies
			}
			// The read back may miss the client's short timeouts as the
			// write may: such a failure is one more attempt.
			r, err = app.Do("/values", cookies)
		}
		if err == nil && r.Status == http.StatusOK {
			var v Values
			if err := json.Unmarshal([]byte(r.Body), &v); err != nil {
				t.Fatalf("/values: %v in %q", err, r.Body)
			}
			if v.Values["after"] != "restart" {
				t.Fatalf("after the restart: values %v, want after=restart", v.Values)
			}
			t.Logf("requests work again %v after the restart (attempt %d)", time.Since(restarted), attempt)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("requests still fail 10s after the restart: %v %d %s", err, r.Status, r.Body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
