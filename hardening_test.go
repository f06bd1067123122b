package session

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// within runs f and fails the test if it does not return in time: a request
// that hangs is the bug, not a slow machine.
func within(t *testing.T, d time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s: still running after %v (deadlock)", what, d)
	}
}

func TestErrorHandlerThatCallsFromDoesNotDeadlock(t *testing.T) {
	for _, when := range []string{"load", "headers", "return"} {
		t.Run(when, func(t *testing.T) {
			fs := &flakyStore{countingStore: newCountingStore(t)}
			var fromInHandler *Session
			calledFrom := false
			m, _ := newTestManager(t, Options{Store: fs, ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
				fromInHandler, calledFrom = From(r), true // an error page that greets the user by name
				http.Error(w, "sorry", http.StatusServiceUnavailable)
			}})
			b := stored(t, m)
			b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
				if when == "load" {
					return
				}
				s.Set("x", 1)
				fs.down.Store(true)
				if when == "headers" {
					w.Write([]byte("ok"))
				}
			}))
			if when == "load" {
				fs.down.Store(true)
			}
			var rec *httptest.ResponseRecorder
			within(t, 5*time.Second, "a request whose ErrorHandler calls From", func() { rec = b.get("/") })
			if !calledFrom || fromInHandler != nil || rec.Code != http.StatusServiceUnavailable {
				t.Fatalf("ErrorHandler called %v, From in it = %v, status %d; want called, nil, 503", calledFrom, fromInHandler, rec.Code)
			}
		})
	}
}

func TestStoreFailureKeepsTheHeadersOuterMiddlewareSet(t *testing.T) {
	fs := &flakyStore{countingStore: newCountingStore(t)}
	m, _ := newTestManager(t, Options{Store: fs})
	b := stored(t, m)
	inner := m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		w.Header().Set("X-Handler", "ran")
		w.Header().Set("Location", "/home")
		s.Set("user", "ada")
		fs.down.Store(true)
		w.WriteHeader(http.StatusSeeOther)
	}))
	b.h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Strict-Transport-Security", "max-age=63072000")
		w.Header().Set("X-Request-Id", "req-1")
		inner.ServeHTTP(w, r)
	})
	rec := b.get("/login")
	h := rec.Header()
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status %d, want the error handler's 500", rec.Code)
	}
	if h.Get("Strict-Transport-Security") != "max-age=63072000" || h.Get("X-Request-Id") != "req-1" {
		t.Errorf("outer middleware's headers lost: %v", h)
	}
	if h.Get("X-Handler") != "" || h.Get("Location") != "" {
		t.Errorf("the failed handler's headers went out: %v", h)
	}
}

// TestRollingSendsNoCookieForASessionDestroyedMeanwhile runs on each kind of
// store (storeKinds): a touch carried on the load (GetToucher, as Redis's
// GETEX) cannot tell that the session is gone by the time the cookie goes
// out.
func TestRollingSendsNoCookieForASessionDestroyedMeanwhile(t *testing.T) {
	for _, kind := range storeKinds {
		for _, modify := range []bool{false, true} {
			name := kind.name + "/" + map[bool]string{false: "ReadOnly", true: "Modified"}[modify]
			t.Run(name, func(t *testing.T) {
				m, st := newKindManager(t, kind.make, Options{Rolling: true, Cookie: CookieOptions{MaxAge: time.Hour}})
				b := stored(t, m)
				b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
					// A logout in another tab lands while this request runs.
					if err := st.Store.Destroy(r.Context(), s.ID()); err != nil {
						t.Error(err)
					}
					if modify {
						s.Set("late", 1)
					}
				}))
				if c := setCookie(b.get("/")); c != "" {
					t.Fatalf("Set-Cookie %q for a session another request destroyed: it would undo that logout", c)
				}
			})
		}
	}
}

func TestRollingStillSendsTheCookieForALiveSession(t *testing.T) {
	m, _ := newTestManager(t, Options{Rolling: true, Cookie: CookieOptions{MaxAge: time.Hour}})
	b := stored(t, m)
	b.h = m.Handler(readViews)
	if setCookie(b.get("/")) == "" {
		t.Fatal("no Set-Cookie with Rolling for a live session")
	}
}

func TestFailedDestroyKeepsTheSessionAndItsCookie(t *testing.T) {
	fs := &flakyStore{countingStore: newCountingStore(t)}
	m, _ := newTestManager(t, Options{Store: fs})
	b := stored(t, m)
	cookie := b.cookie
	var destroyErr error
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		fs.down.Store(true)
		destroyErr = s.Destroy(r.Context())
		fs.down.Store(false)
	}))
	rec := b.get("/logout")
	if destroyErr == nil {
		t.Fatal("Destroy with the store down returned no error")
	}
	if c := setCookie(rec); c != "" {
		t.Fatalf("Set-Cookie %q after a Destroy the store did not confirm", c)
	}
	b.h = m.Handler(incrViews)
	if got := b.get("/").Body.String(); got != "2" || b.cookie != cookie {
		t.Fatalf("after the failed destroy: views %s, cookie changed %v; want the session as it was", got, b.cookie != cookie)
	}
}

func TestResponsesThatUseTheSessionVaryOnCookie(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	b := newBrowser(t, m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Accept-Encoding")
		w.Write([]byte("no session here"))
	})))
	if v := b.get("/").Header().Values("Vary"); slices.Contains(v, "Cookie") {
		t.Errorf("Vary %q on a response that never used the session", v)
	}
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		w.Header().Add("Vary", "Accept-Encoding")
		s.Set("x", 1)
	}))
	rec := b.get("/")
	if v := rec.Header().Values("Vary"); !slices.Equal(v, []string{"Accept-Encoding", "Cookie"}) {
		t.Errorf("Vary %q, want Accept-Encoding and Cookie", v)
	}
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		w.Header().Set("Vary", "Origin, cookie")
		s.Get("x")
	}))
	if v := b.get("/").Header().Values("Vary"); len(v) != 1 {
		t.Errorf("Vary %q: Cookie added twice", v)
	}
}

func TestResponseThatSetsTheCookieIsPrivate(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	b := newBrowser(t, m.Handler(incrViews))
	rec := b.get("/")
	if setCookie(rec) == "" || rec.Header().Get("Cache-Control") != "private" {
		t.Fatalf("Set-Cookie %q with Cache-Control %q; want private", setCookie(rec), rec.Header().Get("Cache-Control"))
	}
	b.h = m.Handler(readViews)
	if cc := b.get("/").Header().Get("Cache-Control"); cc != "" {
		t.Errorf("Cache-Control %q on a response that sets no cookie: the handler's choice", cc)
	}
	b.cookie = ""
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		w.Header().Set("Cache-Control", "no-store")
		s.Set("x", 1)
	}))
	if cc := b.get("/").Header().Values("Cache-Control"); !slices.Equal(cc, []string{"no-store"}) || !strings.Contains(strings.Join(cc, ""), "no-store") {
		t.Errorf("Cache-Control %q, want the handler's own no-store kept", cc)
	}
}

func TestSaveOverMaxDocumentBytesIsAnErrorAndWritesNothing(t *testing.T) {
	var got error
	m, st := newTestManager(t, Options{MaxDocumentBytes: 1 << 10, ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
		got = err
		http.Error(w, "too much", http.StatusRequestEntityTooLarge)
	}})
	b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Set("blob", strings.Repeat("x", 2<<10))
	})))
	rec := b.get("/")
	if !errors.Is(got, ErrTooLarge) || rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, error %v; want the ErrorHandler's answer to an error wrapping ErrTooLarge", rec.Code, got)
	}
	if n := st.writes(); n != 0 || setCookie(rec) != "" {
		t.Fatalf("%d writes, Set-Cookie %q: an oversized session must not be stored", n, setCookie(rec))
	}
}

func TestStoredSessionOverMaxDocumentBytesIsTreatedAsMissing(t *testing.T) {
	m, st := newTestManager(t, Options{MaxDocumentBytes: 1 << 10})
	big := `{"cookie":{"originalMaxAge":null,"expires":null},"blob":"` + strings.Repeat("x", 2<<10) + `"}`
	if err := st.Store.Set(t.Context(), "written-by-another-app", []byte(big), time.Time{}); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		fmt.Fprint(w, s.IsNew(), s.Has("blob"))
	})))
	b.cookie = m.signer.cookieValue("written-by-another-app")
	if got := b.get("/").Body.String(); got != "true false" {
		t.Fatalf("IsNew, Has(blob) = %s; want a fresh session instead of the oversized one", got)
	}
}

func TestMaxDocumentBytesDefaultsAndCanBeTurnedOff(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	if m.opts.MaxDocumentBytes != DefaultMaxDocumentBytes {
		t.Fatalf("default MaxDocumentBytes %d, want %d", m.opts.MaxDocumentBytes, DefaultMaxDocumentBytes)
	}
	m, st := newTestManager(t, Options{MaxDocumentBytes: -1})
	b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Set("blob", strings.Repeat("x", DefaultMaxDocumentBytes+1))
	})))
	if rec := b.get("/"); rec.Code != http.StatusOK || st.writes() != 1 {
		t.Fatalf("status %d, %d writes; want the cap off", rec.Code, st.writes())
	}
}

// hangingStore is a memstore whose calls, while hang is set, block until
// their context ends, like a server that stopped answering.
type hangingStore struct {
	*countingStore
	hang atomic.Bool
}

func (h *hangingStore) wait(ctx context.Context) error {
	if !h.hang.Load() {
		return nil
	}
	<-ctx.Done()
	return ctx.Err()
}
func (h *hangingStore) Get(ctx context.Context, id string) ([]byte, bool, error) {
	if err := h.wait(ctx); err != nil {
		return nil, false, err
	}
	return h.countingStore.Get(ctx, id)
}
func (h *hangingStore) GetVersion(ctx context.Context, id string) ([]byte, string, bool, error) {
	if err := h.wait(ctx); err != nil {
		return nil, "", false, err
	}
	return h.countingStore.GetVersion(ctx, id)
}
func (h *hangingStore) CompareAndSwap(ctx context.Context, id, old string, b []byte, exp time.Time) (string, bool, error) {
	if err := h.wait(ctx); err != nil {
		return "", false, err
	}
	return h.countingStore.CompareAndSwap(ctx, id, old, b, exp)
}
func (h *hangingStore) Touch(ctx context.Context, id string, exp time.Time) (bool, error) {
	if err := h.wait(ctx); err != nil {
		return false, err
	}
	return h.countingStore.Touch(ctx, id, exp)
}

func TestStoreThatStopsAnsweringGetsTheErrorHandlersAnswerWithinStoreTimeout(t *testing.T) {
	for _, when := range []string{"load", "save", "touch"} {
		t.Run(when, func(t *testing.T) {
			hs := &hangingStore{countingStore: newCountingStore(t)}
			var got error
			m, _ := newTestManager(t, Options{Store: hs, StoreTimeout: 50 * time.Millisecond, ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
				got = err
				http.Error(w, "store timeout", http.StatusServiceUnavailable)
			}})
			// The session is stored by a manager with the default
			// StoreTimeout (same store, same secret): with 50 ms, a save
			// descheduled that long on a loaded machine left no cookie.
			setup, _ := newTestManager(t, Options{Store: hs})
			b := stored(t, setup)
			b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
				if when == "save" {
					s.Set("x", 1)
				}
			}))
			if when == "load" {
				hs.hang.Store(true)
			} else {
				b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
					if when == "save" {
						s.Set("x", 1)
					}
					hs.hang.Store(true)
				}))
			}
			var rec *httptest.ResponseRecorder
			within(t, 5*time.Second, "a request on a store that stopped answering", func() { rec = b.get("/") })
			if rec.Code != http.StatusServiceUnavailable || !errors.Is(got, context.DeadlineExceeded) {
				t.Fatalf("status %d, error %v; want the ErrorHandler's answer to a deadline", rec.Code, got)
			}
		})
	}
}
