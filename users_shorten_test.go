package session

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// A save that shortens a "remember me" cookie and then fails leaves the
// stored session with its long expiry; its user's index entry must keep
// that expiry too, or, once the entry is pruned, DestroyUserSessions
// misses the session while the browser stays logged in. The same holds
// when the write loses to another request's and the re-read that follows
// fails, and when it loses to a request that lengthened the cookie and the
// write of the re-read session then fails: the entry keeps the expiry of
// what is stored now. A session that a read-only request touched since its
// write is stored past its document's cookie expiry, and keeps that too.
func TestAFailedSaveThatShortensTheCookieKeepsTheSessionListed(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fail  func(fs *faultStore, other func())
		later time.Duration // when DestroyUserSessions runs
		touch time.Duration // a read-only request this long after the login, before the shortening one
	}{
		{"the write fails", func(fs *faultStore, _ func()) {
			fs.on(func(_ context.Context, op, _ string) error {
				if op == "CompareAndSwap" {
					return errDown
				}
				return nil
			})
		}, 2 * 24 * time.Hour, 0},
		{"the re-read after a lost write fails", func(fs *faultStore, _ func()) {
			fs.on(func(ctx context.Context, op, id string) error {
				switch op {
				case "CompareAndSwap":
					// Another request writes the session first, as it
					// was, and keeps its 30 days.
					data, _, _, err := fs.countingStore.Store.GetVersion(ctx, id)
					if err != nil {
						return err
					}
					return fs.countingStore.Store.Set(ctx, id, data, fs.clock.Now().Add(30*24*time.Hour))
				case "GetVersion":
					return errDown
				}
				return nil
			})
		}, 2 * 24 * time.Hour, 0},
		{"another request lengthened it, then the write fails", func(fs *faultStore, other func()) {
			writes := 0
			fs.on(func(_ context.Context, op, _ string) error {
				if op != "CompareAndSwap" {
					return nil
				}
				writes++
				switch writes {
				case 1:
					other() // its write (the second) gets through
				case 3:
					return errDown
				}
				return nil
			})
		}, 31 * 24 * time.Hour, 0},
		{"the write of a session touched since it was written fails", func(fs *faultStore, _ func()) {
			fs.on(func(_ context.Context, op, _ string) error {
				if op == "CompareAndSwap" {
					return errDown
				}
				return nil
			})
		}, 25 * 24 * time.Hour, 10 * 24 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := &faultStore{countingStore: newCountingStore(t)}
			m, _ := newTestManager(t, Options{Store: fs})
			m.now = fs.clock.Now
			var app http.Handler
			b := newBrowser(t, nil)
			other := func() {
				tab := &browser{t: t, h: app, cookie: b.cookie}
				if rec := tab.get("/lengthen"); rec.Code != http.StatusOK {
					t.Fatalf("lengthen on another tab: status %d", rec.Code)
				}
			}
			app = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
				switch r.URL.Path {
				case "/login":
					s.SetUser("ada")
					s.Cookie().SetMaxAge(30 * 24 * time.Hour)
				case "/lengthen":
					s.Cookie().SetMaxAge(60 * 24 * time.Hour)
				case "/shorten":
					tc.fail(fs, other)
					s.Cookie().SetMaxAge(time.Hour)
				}
				w.Write([]byte(s.User()))
			}))
			b.h = app
			if rec := b.get("/login"); rec.Code != http.StatusOK {
				t.Fatalf("login: status %d", rec.Code)
			}
			if tc.touch > 0 {
				fs.clock.Advance(tc.touch)
				b.get("/") // touches the stored session: 30 days from now
			}
			fs.clock.Advance(time.Minute)
			if rec := b.get("/shorten"); rec.Code != http.StatusInternalServerError {
				t.Fatalf("shorten: status %d; want the failed save's 500", rec.Code)
			}
			fs.on(nil)

			fs.clock.Advance(tc.later)
			// The session is still stored (read from the store itself: a
			// request would touch it, and record its entry again).
			if _, found, err := fs.countingStore.Store.Get(t.Context(), mustID(t, m, b.cookie)); err != nil || !found {
				t.Fatalf("%v later the stored session: found %v, %v; want it kept", tc.later, found, err)
			}
			n, err := m.DestroyUserSessions(t.Context(), "ada")
			if err != nil || n != 1 {
				t.Fatalf("DestroyUserSessions(ada) = %d, %v; want 1 session ended", n, err)
			}
			if rec := b.get("/"); rec.Body.String() != "" {
				t.Errorf("after DestroyUserSessions the browser is logged in as %q; want no one", rec.Body.String())
			}
		})
	}
}

// A save that shortens the cookie and succeeds records the shorter expiry
// in the user's index once the write is through: the entry, recorded with
// the stored copy's longer expiry before the write, does not keep the
// session listed past its end.
func TestASavedShorterCookieShortensTheUserIndexEntry(t *testing.T) {
	m, cs := newTestManager(t, Options{})
	app := m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		switch r.URL.Path {
		case "/login":
			s.SetUser("ada")
			s.Cookie().SetMaxAge(30 * 24 * time.Hour)
		case "/shorten":
			s.Cookie().SetMaxAge(time.Hour)
		}
	}))
	b := newBrowser(t, app)
	b.get("/login")
	cs.clock.Advance(time.Minute)
	if rec := b.get("/shorten"); rec.Code != http.StatusOK {
		t.Fatalf("shorten: status %d", rec.Code)
	}
	infos, err := m.UserSessions(t.Context(), "ada")
	if err != nil || len(infos) != 1 {
		t.Fatalf("UserSessions(ada) = %v, %v; want the session", infos, err)
	}
	if want := cs.clock.Now().Add(time.Hour); !infos[0].Expires.Equal(want) {
		t.Errorf("the index entry expires at %v; want the saved cookie's %v", infos[0].Expires, want)
	}
}

// A load that carries the store's touch sets the stored expiry from
// Cookie.MaxAge, later than the session's own shorter cookie's, and
// records the user's index entry that long. A save of the request brings
// the expiry back to the session's own: if its write fails, and the store
// then refuses restoreExpiry's touch too, the stored session keeps the
// load's expiry, and so must its index entry.
func TestAFailedSaveAfterALoadTouchFromMaxAgeKeepsTheSessionListed(t *testing.T) {
	fs := &faultStore{countingStore: newCountingStore(t)}
	m, _ := newTestManager(t, Options{Store: gtStore{fs}, Cookie: CookieOptions{MaxAge: 30 * 24 * time.Hour}})
	m.now = fs.clock.Now
	app := m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		switch r.URL.Path {
		case "/login":
			s.SetUser("ada")
			s.Cookie().SetMaxAge(24 * time.Hour) // no "remember me"
		case "/cart":
			fs.on(func(_ context.Context, op, _ string) error {
				if op == "CompareAndSwap" || op == "Touch" || op == "GetAndTouch" {
					return errDown
				}
				return nil
			})
			s.Set("cart", "socks")
		}
	}))
	b := newBrowser(t, app)
	if rec := b.get("/login"); rec.Code != http.StatusOK {
		t.Fatalf("login: status %d", rec.Code)
	}
	fs.clock.Advance(time.Minute)
	if rec := b.get("/cart"); rec.Code != http.StatusInternalServerError {
		t.Fatalf("cart: status %d; want the failed save's 500", rec.Code)
	}
	fs.on(nil)

	fs.clock.Advance(2 * 24 * time.Hour)
	if _, found, err := fs.countingStore.Store.Get(t.Context(), mustID(t, m, b.cookie)); err != nil || !found {
		t.Fatalf("two days later the stored session: found %v, %v; want it kept (the load's 30 days)", found, err)
	}
	n, err := m.DestroyUserSessions(t.Context(), "ada")
	if err != nil || n != 1 {
		t.Fatalf("DestroyUserSessions(ada) = %d, %v; want 1 session ended", n, err)
	}
}

// A store without compare-and-swap (a plain Set, the documented fallback)
// that keeps a user index does the same: a save that shortens the cookie
// and whose write fails leaves the stored session, and its index entry,
// with the long expiry, so DestroyUserSessions still ends it.
func TestAFailedPlainSaveThatShortensTheCookieKeepsTheSessionListed(t *testing.T) {
	fs := &faultStore{countingStore: newCountingStore(t)}
	st := struct {
		Store
		UserIndex
	}{fs, fs.countingStore.Store}
	m, _ := newTestManager(t, Options{Store: st})
	m.now = fs.clock.Now
	b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		switch r.URL.Path {
		case "/login":
			s.SetUser("ada")
			s.Cookie().SetMaxAge(30 * 24 * time.Hour)
		case "/shorten":
			fs.on(func(_ context.Context, op, _ string) error {
				if op == "Set" {
					return errDown
				}
				return nil
			})
			s.Cookie().SetMaxAge(time.Hour)
		}
		w.Write([]byte(s.User()))
	})))
	if rec := b.get("/login"); rec.Code != http.StatusOK {
		t.Fatalf("login: status %d", rec.Code)
	}
	fs.clock.Advance(time.Minute)
	if rec := b.get("/shorten"); rec.Code != http.StatusInternalServerError {
		t.Fatalf("shorten: status %d; want the failed save's 500", rec.Code)
	}
	fs.on(nil)

	fs.clock.Advance(2 * 24 * time.Hour)
	if _, found, err := fs.countingStore.Store.Get(t.Context(), mustID(t, m, b.cookie)); err != nil || !found {
		t.Fatalf("two days later the stored session: found %v, %v; want it kept", found, err)
	}
	n, err := m.DestroyUserSessions(t.Context(), "ada")
	if err != nil || n != 1 {
		t.Fatalf("DestroyUserSessions(ada) = %d, %v; want 1 session ended", n, err)
	}
	if rec := b.get("/"); rec.Body.String() != "" {
		t.Errorf("after DestroyUserSessions the browser is logged in as %q; want no one", rec.Body.String())
	}
}

// On a store that touches at load, a session of a user whose own cookie is
// shorter than Cookie.MaxAge has the load record its index entry with the
// load touch's expiry (from Cookie.MaxAge). A save of that request
// (without re-merge, for the same user) makes one index write, the
// session's own expiry after the write succeeded: the entry needs no
// second record of the load's expiry before the write, which the load has
// just made. A save that binds another user, or follows a re-merge, still
// records it first (the other tests of this file).
func TestSaveAfterALoadTouchFromMaxAgeMakesOneIndexWrite(t *testing.T) {
	fs := &faultStore{countingStore: newCountingStore(t)}
	m, _ := newTestManager(t, Options{Store: gtStore{fs}, Cookie: CookieOptions{MaxAge: 30 * 24 * time.Hour}})
	m.now = fs.clock.Now
	var indexWrites atomic.Int32
	fs.on(func(_ context.Context, op, _ string) error {
		if op == "IndexUserSession" {
			indexWrites.Add(1)
		}
		return nil
	})
	b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		switch r.URL.Path {
		case "/login":
			s.SetUser("ada")
			s.Cookie().SetMaxAge(24 * time.Hour) // no "remember me"
		case "/cart":
			s.Set("cart", "socks")
		}
	})))
	if rec := b.get("/login"); rec.Code != http.StatusOK {
		t.Fatalf("login: status %d", rec.Code)
	}
	fs.clock.Advance(time.Minute)
	indexWrites.Store(0)
	if rec := b.get("/cart"); rec.Code != http.StatusOK {
		t.Fatalf("cart: status %d", rec.Code)
	}
	if n := indexWrites.Load(); n != 2 {
		t.Errorf("the request made %d index writes, want 2: the load's, and the save's own expiry after its write", n)
	}
	infos, err := m.UserSessions(t.Context(), "ada")
	if err != nil || len(infos) != 1 {
		t.Fatalf("UserSessions(ada) = %v, %v; want the session", infos, err)
	}
	if want := fs.clock.Now().Add(24 * time.Hour); !infos[0].Expires.Equal(want) {
		t.Errorf("the index entry expires at %v; want the saved cookie's %v", infos[0].Expires, want)
	}
}

// The save that skips recording the load's entry again (indexBeforeWrite)
// does so only for the user the load recorded: a save that binds another
// user records that user's entry before its write, so that when the index
// fails the write does not happen, and no stored session of that user is
// left out of their index (DestroyUserSessions would miss it).
func TestSaveThatBindsAnotherUserAfterALoadTouchIndexesThemFirst(t *testing.T) {
	fs := &faultStore{countingStore: newCountingStore(t)}
	m, _ := newTestManager(t, Options{Store: gtStore{fs}, Cookie: CookieOptions{MaxAge: 30 * 24 * time.Hour}})
	m.now = fs.clock.Now
	b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		switch r.URL.Path {
		case "/login":
			s.SetUser("ada")
			s.Cookie().SetMaxAge(24 * time.Hour) // no "remember me"
		case "/switch":
			fs.on(func(_ context.Context, op, _ string) error {
				if op == "IndexUserSession" {
					return errDown
				}
				return nil
			})
			s.SetUser("bob")
		}
	})))
	if rec := b.get("/login"); rec.Code != http.StatusOK {
		t.Fatalf("login: status %d", rec.Code)
	}
	fs.clock.Advance(time.Minute)
	b.get("/switch")
	fs.on(nil)
	data, found, err := fs.countingStore.Store.Get(t.Context(), mustID(t, m, b.cookie))
	if err != nil || !found {
		t.Fatalf("the stored session: found %v, %v", found, err)
	}
	if u, _ := m.userOfData(data); u == "bob" && len(liveOf(t, m, "bob")) != 1 {
		t.Fatal("the stored session belongs to bob, but bob's index does not list it")
	}
}

// Without a touch at load, nothing recorded the entry at this request's
// load, whatever requestState.loadTouched holds (zero): a save of a
// browser-session cookie's session (a zero expiry, the store's default
// lifetime from the write) records its entry before its write, so that the
// entry lasts as long as the session the write keeps alive.
func TestSaveOfABrowserSessionWithoutALoadTouchRecordsItsIndexEntry(t *testing.T) {
	m, cs := newTestManager(t, Options{})
	b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		switch r.URL.Path {
		case "/login":
			s.SetUser("ada")
		case "/cart":
			s.Set("cart", "socks")
		}
	})))
	b.get("/login")
	cs.clock.Advance(20 * time.Hour) // memstore's default lifetime is a day
	if rec := b.get("/cart"); rec.Code != http.StatusOK {
		t.Fatalf("cart: status %d", rec.Code)
	}
	cs.clock.Advance(10 * time.Hour)
	if _, found, _ := cs.Store.Get(t.Context(), mustID(t, m, b.cookie)); !found {
		t.Fatal("setting up: the session, written 10 hours ago, is gone")
	}
	if n, err := m.DestroyUserSessions(t.Context(), "ada"); n != 1 || err != nil {
		t.Fatalf("DestroyUserSessions(ada) = %d, %v; want the live session ended", n, err)
	}
}

// Session.Reload re-reads the session but does not touch it: the stored
// expiry is still the one the touch carried on the load set from
// Cookie.MaxAge. A save after the Reload whose write fails leaves the
// session with that expiry, and its user's index entry must keep it too;
// Reload made the request forget that the load's touch had set it, so the
// save recorded the session's own, shorter expiry first, and once that
// entry was pruned DestroyUserSessions missed the session while it lived
// on.
func TestAFailedSaveAfterReloadKeepsTheSessionListed(t *testing.T) {
	fs := &faultStore{countingStore: newCountingStore(t)}
	m, _ := newTestManager(t, Options{Store: gtStore{fs}, Cookie: CookieOptions{MaxAge: 30 * 24 * time.Hour}})
	m.now = fs.clock.Now
	app := m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		switch r.URL.Path {
		case "/login":
			s.SetUser("ada")
			s.Cookie().SetMaxAge(24 * time.Hour) // no "remember me"
		case "/cart":
			if err := s.Reload(r.Context()); err != nil {
				t.Errorf("Reload: %v", err)
			}
			fs.on(func(_ context.Context, op, _ string) error {
				if op == "CompareAndSwap" || op == "Touch" || op == "GetAndTouch" {
					return errDown
				}
				return nil
			})
			s.Set("cart", "socks")
		}
	}))
	b := newBrowser(t, app)
	if rec := b.get("/login"); rec.Code != http.StatusOK {
		t.Fatalf("login: status %d", rec.Code)
	}
	fs.clock.Advance(time.Minute)
	if rec := b.get("/cart"); rec.Code != http.StatusInternalServerError {
		t.Fatalf("cart: status %d; want the failed save's 500", rec.Code)
	}
	fs.on(nil)

	fs.clock.Advance(2 * 24 * time.Hour)
	if _, found, err := fs.countingStore.Store.Get(t.Context(), mustID(t, m, b.cookie)); err != nil || !found {
		t.Fatalf("two days later the stored session: found %v, %v; want it kept (the load's 30 days)", found, err)
	}
	n, err := m.DestroyUserSessions(t.Context(), "ada")
	if err != nil || n != 1 {
		t.Fatalf("DestroyUserSessions(ada) = %d, %v; want 1 session ended", n, err)
	}
}

// A session whose own cookie is shorter than Cookie.MaxAge, loaded with the
// store's touch from Cookie.MaxAge, then reloaded and unset (UnsetKeep),
// gets its own expiry back when the request ends, as without the Reload.
func TestUnsetKeepAfterReloadLeavesASessionWithItsOwnMaxAgeItsExpiry(t *testing.T) {
	fs := &faultStore{countingStore: newCountingStore(t)}
	m, _ := newTestManager(t, Options{Store: gtStore{fs}, Cookie: CookieOptions{MaxAge: 30 * 24 * time.Hour}})
	m.now = fs.clock.Now
	b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		switch r.URL.Path {
		case "/login":
			s.Set("cart", "socks")
			s.Cookie().SetMaxAge(24 * time.Hour)
		case "/leave":
			if err := s.Reload(r.Context()); err != nil {
				t.Errorf("Reload: %v", err)
			}
			s.Unset()
		}
	})))
	b.get("/login")
	fs.clock.Advance(time.Minute)
	b.get("/leave")
	fs.clock.Advance(2 * 24 * time.Hour)
	if _, found, _ := fs.countingStore.Store.Get(t.Context(), mustID(t, m, b.cookie)); found {
		t.Fatal("two days later the session with a one-day cookie is still stored: it kept the load touch's 30 days")
	}
}
