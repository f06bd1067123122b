package redisstore_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/internal/testserver/apptest"
	"github.com/sessionkit/session/redisstore"
)

// endingContext is a context that runs out when end is called, as the
// manager's StoreTimeout does: Err is then context.DeadlineExceeded. It
// has no deadline of its own, so that go-redis's reads wait for their
// answer whatever the clock says.
type endingContext struct {
	context.Context
	done chan struct{}
	once sync.Once
}

func newEndingContext(parent context.Context) *endingContext {
	return &endingContext{Context: parent, done: make(chan struct{})}
}

func (c *endingContext) Done() <-chan struct{} { return c.done }

func (c *endingContext) Err() error {
	select {
	case <-c.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

func (c *endingContext) end() { c.once.Do(func() { close(c.done) }) }

// passedContext is a context whose deadline is d and whose Err is nil
// even once d has passed, as a context's is between its deadline and the
// timer that ends it: a client with ContextTimeoutEnabled reads until d,
// and its read may time out first.
type passedContext struct {
	context.Context
	d time.Time
}

func (c passedContext) Deadline() (time.Time, bool) { return c.d, true }

// A write whose context runs out (StoreTimeout) while it waits for its
// answer, which is then lost, fails with the context's error, wrapping
// the connection's: go-redis, which sent Set, Touch and GetAndTouch
// again itself before they went as commands it must not resend, waited
// for its retry backoff on the context and returned the context's error.
// The store, which sends them again now, returned the lost connection's
// error alone (EOF, an i/o timeout), and so it did for a compare-and-swap,
// which is never sent again after a lost answer: the manager did not see
// a StoreTimeout that ran out, and sent a restoring touch that waited for
// another one before the ErrorHandler's answer could go out.
func TestAWriteWhoseContextEndsWhileItAwaitsItsAnswerFailsWithTheContextsError(t *testing.T) {
	exp := time.Now().Add(time.Hour)
	stored := []byte(`{"n":1}`)
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			for _, w := range []struct {
				name, command string
				write         func(ctx context.Context, st *redisstore.Store) error
			}{
				{"set", "\r\nset\r\n", func(ctx context.Context, st *redisstore.Store) error {
					return st.Set(ctx, "id", []byte(`{"n":2}`), exp)
				}},
				{"touch", "\r\npexpire\r\n", func(ctx context.Context, st *redisstore.Store) error {
					_, err := st.Touch(ctx, "id", exp)
					return err
				}},
				{"get-and-touch", "\r\ngetex\r\n", func(ctx context.Context, st *redisstore.Store) error {
					_, _, _, err := st.GetAndTouch(ctx, "id", exp)
					return err
				}},
				{"create", "\r\nset\r\n", func(ctx context.Context, st *redisstore.Store) error {
					_, _, err := st.CompareAndSwap(ctx, "other", "", []byte(`{"n":2}`), exp)
					return err
				}},
				{"swap", "\r\n" + srv.cas + "\r\n", func(ctx context.Context, st *redisstore.Store) error {
					_, _, err := st.CompareAndSwap(ctx, "id", string(stored), []byte(`{"n":2}`), exp)
					return err
				}},
			} {
				t.Run(w.name, func(t *testing.T) {
					direct := srv.client(t)
					p := testserver.StartProxy(t, direct.Options().Addr)
					viaProxy := redis.NewClient(&redis.Options{Addr: p.Addr, MinRetryBackoff: time.Millisecond, MaxRetryBackoff: time.Millisecond})
					t.Cleanup(func() { viaProxy.Close() })
					st := newStore(viaProxy)
					if err := direct.Set(t.Context(), st.Prefix()+"id", stored, time.Hour).Err(); err != nil {
						t.Fatal(err)
					}
					ctx := newEndingContext(t.Context())
					p.LoseReply(w.command, ctx.end) // the server ran it; then the context ends, then the answer is lost
					err := w.write(ctx, st)
					if p.LostReplies() != 1 {
						t.Fatalf("%d answers lost; want the first %q's", p.LostReplies(), w.command)
					}
					if !errors.Is(err, context.DeadlineExceeded) {
						t.Errorf("%s whose context ran out while it awaited its answer: %v; want context.DeadlineExceeded", w.name, err)
					}
				})
				// The server stops answering at the write, and a client that
				// reads until the context's deadline (ContextTimeoutEnabled)
				// times out there, before the context's Err says it ended.
				t.Run(w.name+"/deadline", func(t *testing.T) {
					direct := srv.client(t)
					p := testserver.StartProxy(t, direct.Options().Addr)
					viaProxy := redis.NewClient(&redis.Options{Addr: p.Addr, ContextTimeoutEnabled: true, MinRetryBackoff: time.Millisecond, MaxRetryBackoff: time.Millisecond})
					t.Cleanup(func() { viaProxy.Close() })
					st := newStore(viaProxy)
					if err := direct.Set(t.Context(), st.Prefix()+"id", stored, time.Hour).Err(); err != nil {
						t.Fatal(err)
					}
					p.StallAt(w.command)
					defer p.Heal()
					err := w.write(passedContext{t.Context(), time.Now().Add(300 * time.Millisecond)}, st)
					if !errors.Is(err, context.DeadlineExceeded) {
						t.Errorf("%s whose context's deadline passed while it awaited its answer: %v; want context.DeadlineExceeded", w.name, err)
					}
				})
			}
		})
	}
}

// A Redis that stops answering at a request's touch or save (a client
// with ContextTimeoutEnabled, as the fault tests run) gets the
// ErrorHandler an error that is context.DeadlineExceeded, so that the
// manager knows its StoreTimeout ran out: after the save of a session
// with a max age of its own, whose load's touch set the options' expiry,
// it then sends no touch to set the session's own back, which would wait
// for another StoreTimeout before the ErrorHandler's answer went out
// (twice the StoreTimeout in all). The store returned the i/o timeout of
// the read alone: for the touch since Set, Touch and GetAndTouch go as
// commands that the store, not go-redis, sends again, and for a save
// always.
func TestAStoreTimeoutAtATouchOrASaveReachesTheManagerAsOne(t *testing.T) {
	srv := testserver.SharedRedis(t)
	p := testserver.StartProxy(t, srv.Addr)
	c := redis.NewClient(&redis.Options{Addr: p.Addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { c.Close() })
	var (
		logs       testserver.Output
		mu         sync.Mutex
		handlerErr error
		// stallAfterLoad is what the proxy stalls at once the handler
		// has the session: the end of the request's touch is a GETEX, as
		// the load is.
		stallAfterLoad string
	)
	m, err := session.New(session.Options{
		Secrets: []string{apptest.Secret}, Store: newStore(c), StoreTimeout: 500 * time.Millisecond,
		Cookie: session.CookieOptions{MaxAge: time.Hour}, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			mu.Lock()
			handlerErr = err
			mu.Unlock()
			http.Error(w, "try again", http.StatusServiceUnavailable)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.From(r)
		if stallAfterLoad != "" {
			p.StallAt(stallAfterLoad)
		}
		switch {
		case s == nil:
		case r.URL.Path == "/login":
			s.Set("remember", true)
			s.Cookie().SetMaxAge(2 * time.Hour) // its own: the load's touch sets the options' hour
		case r.URL.Path == "/save":
			s.Set("n", 1)
		}
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/login", nil))
	cookies := rec.Result().Cookies()
	if rec.Code != http.StatusOK || len(cookies) == 0 {
		t.Fatalf("login: %d, cookies %v", rec.Code, cookies)
	}
	for _, r := range []struct{ path, stallAt string }{
		{"/read", "\r\ngetex\r\n"},   // the touch that sets the session's own expiry at the end
		{"/save", "\r\nevalsha\r\n"}, // the save's compare-and-swap
	} {
		t.Run(strings.TrimPrefix(r.path, "/"), func(t *testing.T) {
			mu.Lock()
			handlerErr = nil
			mu.Unlock()
			stallAfterLoad = r.stallAt
			defer func() { stallAfterLoad = ""; p.Heal() }()
			req := httptest.NewRequest("GET", r.path, nil)
			for _, c := range cookies {
				req.AddCookie(c)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			mu.Lock()
			err := handlerErr
			mu.Unlock()
			if rec.Code != http.StatusServiceUnavailable || !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%d, ErrorHandler given %v; want its 503 for context.DeadlineExceeded", rec.Code, err)
			}
			if log := logs.String(); strings.Contains(log, "could not be set back") {
				t.Errorf("a touch to set the session's own expiry back was sent after the StoreTimeout ran out: %s", log)
			}
		})
	}
}
