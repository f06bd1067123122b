package session

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/session/internal/memshare"
	"github.com/sessionkit/session/internal/testclock"
	"github.com/sessionkit/session/memstore"
)

// countingStore is a real memstore that counts the calls the manager makes.
// Its clock is the one newTestManager also gives the manager: a test moves
// time for both with st.clock.Set or st.clock.Advance, never one alone.
type countingStore struct {
	*memstore.Store
	// GetAndTouch hides memstore's: a counting store takes a read-only
	// request's touch at the end of the request (Toucher), as boltstore
	// does, so that tests count that Touch; getTouchStore adds the touch
	// carried on the load back.
	GetAndTouch struct{}
	clock       *testclock.Clock
	mu          sync.Mutex
	calls       map[string]int
	// shared holds, for every read the manager made without a copy
	// (memshare), the stored bytes it was given and a copy of them.
	shared []sharedRead
}

// sharedRead is one read of a memstore's stored bytes by the manager.
type sharedRead struct {
	id         string
	data, copy []byte
}

// The manager reads a counting store (not a wrapper of one) as it reads a
// memstore, sharing the stored bytes (memshare), so that the whole suite
// runs on the path production memstores take. newCountingStore checks at
// the end of each test that none of those bytes changed.
func init() {
	memstoreReader := memshare.Of
	memshare.Of = func(store any) memshare.Reader {
		if c, ok := store.(*countingStore); ok {
			return countingSharedReader{c, memstoreReader(c.Store)}
		}
		return memstoreReader(store)
	}
}

// countingSharedReader counts a counting store's shared reads as its
// GetVersion and GetAndTouch, and keeps what each handed out.
type countingSharedReader struct {
	c *countingStore
	r memshare.Reader
}

func (r countingSharedReader) GetVersionShared(ctx context.Context, id string) ([]byte, string, bool, error) {
	r.c.count("GetVersion")
	data, version, found, err := r.r.GetVersionShared(ctx, id)
	r.c.keepShared(id, data)
	return data, version, found, err
}

func (r countingSharedReader) GetAndTouchShared(ctx context.Context, id string, expires time.Time) ([]byte, string, bool, error) {
	r.c.count("GetAndTouch")
	data, version, found, err := r.r.GetAndTouchShared(ctx, id, expires)
	r.c.keepShared(id, data)
	return data, version, found, err
}

func (c *countingStore) keepShared(id string, data []byte) {
	if data == nil {
		return
	}
	c.mu.Lock()
	c.shared = append(c.shared, sharedRead{id: id, data: data, copy: bytes.Clone(data)})
	c.mu.Unlock()
}

// checkShared fails t if the manager wrote into stored bytes it read
// without a copy: another request reading the session would see it.
func (c *countingStore) checkShared(t *testing.T) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.shared {
		if !bytes.Equal(r.data, r.copy) {
			t.Errorf("session %s: the memstore's stored bytes changed after the manager read them without a copy:\n%s\nwas\n%s", r.id, r.data, r.copy)
		}
	}
}

// newCountingStore returns a counting memstore on a clock that starts at the
// real time (tests that pin a date set it to testclock.Epoch()).
func newCountingStore(t *testing.T) *countingStore {
	clock := testclock.New(time.Now())
	st := memstore.New(memstore.WithClock(clock.Now))
	t.Cleanup(func() { st.Close() })
	c := &countingStore{Store: st, clock: clock, calls: map[string]int{}}
	t.Cleanup(func() { c.checkShared(t) })
	return c
}

func (c *countingStore) count(op string) {
	c.mu.Lock()
	c.calls[op]++
	c.mu.Unlock()
}

// n returns how many times op was called, and resets the counters.
func (c *countingStore) n(op string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[op]
}

func (c *countingStore) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.calls {
		n += v
	}
	return n
}

func (c *countingStore) reset() {
	c.mu.Lock()
	c.calls = map[string]int{}
	c.mu.Unlock()
}

// writes counts Set and CompareAndSwap calls.
func (c *countingStore) writes() int { return c.n("Set") + c.n("CompareAndSwap") }

func (c *countingStore) Get(ctx context.Context, id string) ([]byte, bool, error) {
	c.count("Get")
	return c.Store.Get(ctx, id)
}
func (c *countingStore) Set(ctx context.Context, id string, b []byte, exp time.Time) error {
	c.count("Set")
	return c.Store.Set(ctx, id, b, exp)
}
func (c *countingStore) Destroy(ctx context.Context, id string) error {
	c.count("Destroy")
	return c.Store.Destroy(ctx, id)
}
func (c *countingStore) Touch(ctx context.Context, id string, exp time.Time) (bool, error) {
	c.count("Touch")
	return c.Store.Touch(ctx, id, exp)
}
func (c *countingStore) GetVersion(ctx context.Context, id string) ([]byte, string, bool, error) {
	c.count("GetVersion")
	return c.Store.GetVersion(ctx, id)
}
func (c *countingStore) CompareAndSwap(ctx context.Context, id, old string, b []byte, exp time.Time) (string, bool, error) {
	c.count("CompareAndSwap")
	return c.Store.CompareAndSwap(ctx, id, old, b, exp)
}

// newTestManager returns a manager with a counting memstore and the secret
// "keyboard cat", unless opts says otherwise. The manager and the counting
// store read one clock, st.clock: move it to test anything that depends on
// the time, and never set m.now alone.
func newTestManager(t *testing.T, opts Options) (*Manager, *countingStore) {
	t.Helper()
	var cs *countingStore
	if opts.Store == nil {
		cs = newCountingStore(t)
		opts.Store = cs
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Secrets == nil {
		opts.Secrets = []string{"keyboard cat"}
	}
	m, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if cs != nil {
		m.now = cs.clock.Now
	}
	return m, cs
}

// handle adapts a function of the session to an http.Handler.
func handle(fn func(w http.ResponseWriter, r *http.Request, s *Session)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fn(w, r, From(r))
	})
}

// browser keeps the session cookie between requests, as a browser does,
// and exposes the raw Set-Cookie headers.
type browser struct {
	t      *testing.T
	h      http.Handler
	cookie string // the cookie value as the server set it
	secure bool
	header http.Header
}

func newBrowser(t *testing.T, h http.Handler) *browser { return &browser{t: t, h: h} }

// get sends a request and returns the response; the session cookie is kept.
func (b *browser) get(path string) *httptest.ResponseRecorder {
	return b.do(httptest.NewRequest(http.MethodGet, path, nil))
}

func (b *browser) do(req *http.Request) *httptest.ResponseRecorder {
	if b.secure {
		req = httptest.NewRequest(req.Method, "https://example.com"+req.URL.RequestURI(), req.Body)
	}
	for k, v := range b.header {
		req.Header[k] = v
	}
	if b.cookie != "" {
		req.AddCookie(&http.Cookie{Name: "sid", Value: b.cookie})
	}
	rec := httptest.NewRecorder()
	b.h.ServeHTTP(rec, req)
	for _, c := range rec.Result().Cookies() {
		if c.Name != "sid" {
			continue
		}
		if c.MaxAge < 0 {
			b.cookie = ""
		} else {
			b.cookie = c.Value
		}
	}
	return rec
}

// setCookie returns the response's session Set-Cookie header, or "".
func setCookie(rec *httptest.ResponseRecorder) string {
	for _, v := range rec.Header().Values("Set-Cookie") {
		if strings.HasPrefix(v, "sid=") {
			return v
		}
	}
	return ""
}

// Handlers shared by the tests.
var (
	readViews = handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		n, _ := GetAs[int](s, "views")
		fmt.Fprint(w, n)
	})
	incrViews = handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		n, _ := GetAs[int](s, "views")
		s.Set("views", n+1)
		fmt.Fprint(w, n+1)
	})
)

// stored creates a session in the store through the manager and returns a
// browser that carries its cookie.
func stored(t *testing.T, m *Manager) *browser {
	t.Helper()
	b := newBrowser(t, m.Handler(incrViews))
	b.get("/")
	if b.cookie == "" {
		t.Fatal("setting up: no session cookie")
	}
	return b
}

func mustID(t *testing.T, m *Manager, cookie string) string {
	t.Helper()
	id, ok := m.signer.unsign(cookie)
	if !ok {
		t.Fatalf("cookie %q does not verify", cookie)
	}
	return id
}
