package session

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// getTouchStore is a counting memstore that reads and touches in one call
// (GetToucher, memstore's own), as redisstore does with GETEX. It records
// the expiry of the last touch, whichever call carried it.
type getTouchStore struct {
	*countingStore
	mu          sync.Mutex
	lastExpires time.Time
}

func newGetTouchStore(t *testing.T) *getTouchStore {
	return &getTouchStore{countingStore: newCountingStore(t)}
}

func (g *getTouchStore) GetAndTouch(ctx context.Context, id string, exp time.Time) ([]byte, string, bool, error) {
	g.count("GetAndTouch")
	g.setLast(exp)
	return g.Store.GetAndTouch(ctx, id, exp)
}

func (g *getTouchStore) Touch(ctx context.Context, id string, exp time.Time) (bool, error) {
	g.setLast(exp)
	return g.countingStore.Touch(ctx, id, exp)
}

func (g *getTouchStore) setLast(exp time.Time) {
	g.mu.Lock()
	g.lastExpires = exp
	g.mu.Unlock()
}

func (g *getTouchStore) last() time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.lastExpires
}

// newGetTouchManager returns a manager on a fresh getTouchStore.
func newGetTouchManager(t *testing.T, opts Options) (*Manager, *getTouchStore) {
	st := newGetTouchStore(t)
	opts.Store = st
	m, _ := newTestManager(t, opts)
	m.now = st.clock.Now
	return m, st
}

func TestReadOnlyRequestTouchesOnTheLoadAlone(t *testing.T) {
	for _, maxAge := range []time.Duration{0, time.Hour} {
		m, st := newGetTouchManager(t, Options{Cookie: CookieOptions{MaxAge: maxAge}, IdleTimeout: 2 * time.Hour})
		b := stored(t, m)
		b.h = m.Handler(readViews)
		st.clock.Advance(time.Minute)
		st.reset()
		b.get("/")
		if st.n("GetAndTouch") != 1 || st.total() != 1 {
			t.Fatalf("maxAge %v: calls %v, want one GetAndTouch and nothing else", maxAge, st.calls)
		}
		want := st.clock.Now().Add(2 * time.Hour) // browser-session cookie: the idle timeout
		if maxAge > 0 {
			want = st.clock.Now().Add(maxAge)
		}
		if got := st.last(); !got.Equal(want) {
			t.Fatalf("maxAge %v: touched to %v, want %v", maxAge, got, want)
		}
	}
}

func TestSessionWithItsOwnMaxAgeIsTouchedToItAtTheEnd(t *testing.T) {
	m, st := newGetTouchManager(t, Options{})
	b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Set("user", "ann")
		s.Cookie().SetMaxAge(30 * 24 * time.Hour) // remember me
	})))
	b.get("/")
	b.h = m.Handler(readViews)
	st.clock.Advance(time.Minute)
	st.reset()
	b.get("/")
	if st.n("GetAndTouch") != 2 || st.total() != 2 {
		t.Fatalf("calls %v, want the load's GetAndTouch, then the end of the request's", st.calls)
	}
	if got, want := st.last(), st.clock.Now().Add(30*24*time.Hour); !got.Equal(want) {
		t.Fatalf("touched to %v, want the session's own %v", got, want)
	}
}

// Unset with UnsetKeep leaves the stored session as it was: the load's
// touch, which took its expiry from the options, is set back to the
// session's own, so a "remember me" session does not end a day later.
func TestUnsetKeepLeavesASessionWithItsOwnMaxAgeItsExpiry(t *testing.T) {
	m, st := newGetTouchManager(t, Options{Unset: UnsetKeep})
	b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Set("user", "ann")
		s.Cookie().SetMaxAge(30 * 24 * time.Hour) // remember me
	})))
	b.get("/")
	id := mustID(t, m, b.cookie)
	saved := st.clock.Now().Add(30 * 24 * time.Hour).Truncate(time.Millisecond) // as the document records it
	b.h = m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { From(r).Unset() }))
	st.clock.Advance(time.Minute)
	st.reset()
	b.get("/")
	if st.n("GetAndTouch") != 2 || st.total() != 2 {
		t.Fatalf("calls %v, want the load's GetAndTouch, then the one that sets the expiry back", st.calls)
	}
	if got := st.last(); !got.Equal(saved) {
		t.Fatalf("stored expiry %v after an unset, want the session's own %v", got, saved)
	}
	st.clock.Advance(2 * 24 * time.Hour) // past the store's default lifetime
	if _, found, _ := st.Store.Get(t.Context(), id); !found {
		t.Fatal("the remember-me session ended with the store's default lifetime after an unset")
	}
}

// The touch carried on the load sets the stored expiry from Cookie.MaxAge; a
// request that fails before its end (a panic, a save that fails) still sets
// it back to the session's own, so a session whose own cookie is shorter
// (a login without "remember me", a sudo window) does not outlive it.
func TestFailedRequestLeavesASessionWithItsOwnMaxAgeItsExpiry(t *testing.T) {
	for _, how := range []string{"panic", "failed save"} {
		t.Run(how, func(t *testing.T) {
			m, st := newGetTouchManager(t, Options{Cookie: CookieOptions{MaxAge: 24 * time.Hour}, MaxDocumentBytes: 4096})
			b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
				s.Set("user", "ada")
				s.Cookie().SetMaxAge(time.Minute)
			})))
			b.get("/")
			id := mustID(t, m, b.cookie)
			failing := m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
				if how == "panic" {
					panic("handler bug")
				}
				s.Set("big", strings.Repeat("x", 8000)) // over MaxDocumentBytes
			}))
			b.h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				defer func() { recover() }() // as net/http recovers a handler's panic
				failing.ServeHTTP(w, r)
			})
			st.clock.Advance(time.Second)
			b.get("/")
			st.clock.Advance(2 * time.Minute)
			if _, found, _ := st.Store.Get(t.Context(), id); found {
				t.Fatalf("after a %s, a session whose own cookie lasted a minute is still stored two minutes later", how)
			}
		})
	}
}

func TestAbsoluteTimeoutCapIsTouchedAtTheEnd(t *testing.T) {
	m, st := newGetTouchManager(t, Options{Cookie: CookieOptions{MaxAge: time.Hour}, AbsoluteTimeout: 45 * time.Minute})
	created := st.clock.Now()
	b := stored(t, m)
	b.h = m.Handler(readViews)
	st.clock.Advance(30 * time.Minute)
	st.reset()
	b.get("/")
	if st.n("GetAndTouch") != 2 || st.total() != 2 {
		t.Fatalf("calls %v, want the load's GetAndTouch, then the end of the request's", st.calls)
	}
	// The document keeps the creation time to the millisecond.
	if got, want := st.last(), created.Add(45*time.Minute); got.Sub(want).Abs() >= time.Millisecond {
		t.Fatalf("touched to %v, want the absolute timeout %v", got, want)
	}
}

func TestNoTouchRidesOnTheLoadWithTouchAfterResaveOrRolling(t *testing.T) {
	for _, opts := range []Options{
		{TouchAfter: time.Minute, Cookie: CookieOptions{MaxAge: time.Hour}},
		{Resave: true},
		{Rolling: true, Cookie: CookieOptions{MaxAge: time.Hour}},
	} {
		m, st := newGetTouchManager(t, opts)
		b := stored(t, m)
		b.h = m.Handler(readViews)
		st.reset()
		b.get("/")
		// With Rolling, the end of the request touches (with GetAndTouch,
		// which also tells whether another request wrote the session
		// meanwhile), and that tells whether the session is still there.
		ends := 0
		if opts.Rolling {
			ends = 1
		}
		if st.n("GetVersion") != 1 || st.n("GetAndTouch") != ends || st.n("Touch") != 0 {
			t.Fatalf("TouchAfter %v, Resave %v, Rolling %v: calls %v, want a GetVersion, and %d GetAndTouch at the end",
				opts.TouchAfter, opts.Resave, opts.Rolling, st.calls, ends)
		}
	}
}

func TestModifyingRequestAfterATouchingLoadSavesOnce(t *testing.T) {
	m, st := newGetTouchManager(t, Options{})
	b := stored(t, m)
	st.reset()
	b.get("/")
	if st.n("GetAndTouch") != 1 || st.n("CompareAndSwap") != 1 || st.total() != 2 {
		t.Fatalf("calls %v, want GetAndTouch then CompareAndSwap", st.calls)
	}
	if got := b.get("/").Body.String(); got != "3" {
		t.Fatalf("views = %s, want 3", got)
	}
}

func TestTouchingLoadOfMissingSessionMakesANewOne(t *testing.T) {
	m, st := newGetTouchManager(t, Options{})
	b := stored(t, m)
	v, _ := m.verify(b.cookie)
	st.Store.Destroy(t.Context(), v.id)
	if got := b.get("/").Body.String(); got != "1" {
		t.Fatalf("views = %s, want 1 (a new session)", got)
	}
}

// express-session stores originalMaxAge as the cookie's expiry less the
// time of a later clock read, so now and then a millisecond short of
// maxAge. Such a session's read-only request still takes one round trip:
// the load's touch to Cookie.MaxAge is taken as its own, where every read
// of it touched the store a second time, for a millisecond.
func TestExpressSessionStoredAMillisecondShortIsTouchedOnTheLoadAlone(t *testing.T) {
	m, st := newGetTouchManager(t, Options{Cookie: CookieOptions{MaxAge: time.Hour}})
	b := expressBrowser(t, m, st.Store, st.clock.Now(), time.Hour, 3599999, "")
	st.clock.Advance(time.Minute)
	st.reset()
	if got := b.get("/").Body.String(); got != "7" {
		t.Fatalf("views = %s, want 7", got)
	}
	if st.n("GetAndTouch") != 1 || st.total() != 1 {
		t.Fatalf("calls %v, want one GetAndTouch and nothing else", st.calls)
	}
}

// durableGetTouchStore is a getTouchStore whose GetAndTouch is a durable
// write (DurableGetToucher), as boltstore's.
type durableGetTouchStore struct{ *getTouchStore }

func (durableGetTouchStore) GetAndTouchWrites() {}

// A store whose GetAndTouch is a durable write gets no touch on the load: a
// read-only request reads, then touches; a modifying one reads, then saves
// (one write, where a touch on the load would have made it two). The
// end-of-request touch is a GetAndTouch, which costs what a Touch does, to
// learn whether another request wrote the session meanwhile (a cookie of
// its own, a rebind).
func TestDurableGetToucherCarriesNoTouchOnTheLoad(t *testing.T) {
	st := durableGetTouchStore{newGetTouchStore(t)}
	m, _ := newTestManager(t, Options{Store: st, Cookie: CookieOptions{MaxAge: time.Hour}})
	m.now = st.clock.Now
	b := stored(t, m)
	for _, c := range []struct {
		name string
		h    http.Handler
		want map[string]int
	}{
		{"read-only", readViews, map[string]int{"GetVersion": 1, "GetAndTouch": 1}},
		{"modifying", incrViews, map[string]int{"GetVersion": 1, "CompareAndSwap": 1}},
		{"read-only, a user's session", handle(func(w http.ResponseWriter, r *http.Request, s *Session) { s.SetUser("ada") }), nil},
		{"read-only of a user's session", readViews, map[string]int{"GetVersion": 1, "GetAndTouch": 1}},
	} {
		b.h = m.Handler(c.h)
		st.clock.Advance(time.Minute)
		st.reset()
		b.get("/")
		if c.want == nil {
			continue
		}
		if st.n("GetAndTouch") != c.want["GetAndTouch"] || st.total() != st.n("GetAndTouch")+c.want["GetVersion"]+c.want["Touch"]+c.want["CompareAndSwap"] ||
			st.n("GetVersion") != c.want["GetVersion"] || st.n("Touch") != c.want["Touch"] || st.n("CompareAndSwap") != c.want["CompareAndSwap"] {
			t.Fatalf("%s: calls %v, want %v", c.name, st.calls, c.want)
		}
	}
}
