package session

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// getTouchingStore is the counting memstore with GetAndTouch, as redisstore
// has it (GETEX): the touch of a read-only request rides on its load.
type getTouchingStore struct{ *countingStore }

func (g getTouchingStore) GetAndTouch(ctx context.Context, id string, expires time.Time) ([]byte, string, bool, error) {
	data, ver, found, err := g.GetVersion(ctx, id)
	if err != nil || !found {
		return nil, "", false, err
	}
	if _, err := g.Touch(ctx, id, expires); err != nil {
		return nil, "", false, err
	}
	return data, ver, true, nil
}

func TestSessionKeptAliveByTouchesOnLoadStaysInItsUsersIndex(t *testing.T) {
	gs := getTouchingStore{newCountingStore(t)}
	m, _ := newTestManager(t, Options{Store: gs, Cookie: CookieOptions{MaxAge: time.Hour}})
	m.now = gs.clock.Now
	b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.SetUser("ada")
	})))
	b.get("/login")
	b.h = m.Handler(readViews)
	for range 3 { // read-only requests, each 50 minutes after the last: the session lives on
		gs.clock.Advance(50 * time.Minute)
		b.get("/")
	}
	sessions, err := m.UserSessions(t.Context(), "ada")
	if err != nil {
		t.Fatal(err)
	}
	if len(sessions) != 1 {
		t.Fatalf("UserSessions lists %d sessions after 150 minutes of use, want the one live session: a 'log out everywhere' would miss it", len(sessions))
	}
}

// The touch carried on the load sets a session's stored expiry from
// Cookie.MaxAge, and the user index write that follows it can fail: the
// request then gets the ErrorHandler's answer, and the stored expiry is
// still set back to the session's own, as after any failed request. A
// session whose own cookie is shorter (a login without "remember me") is
// set back even while the index stays down: an earlier expiry needs no
// longer index entry. One whose own cookie is longer is set back once the
// index answers again, since its entry must be pushed out first.
func TestFailedIndexWriteAfterTheLoadsTouchLeavesTheSessionItsOwnExpiry(t *testing.T) {
	for _, tc := range []struct {
		name      string
		own       time.Duration // the session's own cookie max age; the options' is a day
		idle      time.Duration // Options.IdleTimeout
		indexDown bool          // the index keeps failing, not just at the load
		before    time.Duration // how long after the login the request fails
		after     time.Duration // how long after the failed request to look
		stored    bool          // whether the session must still be stored then
	}{
		{"ShorterOwnExpiry", time.Minute, 0, false, time.Second, 2 * time.Minute, false},
		{"ShorterOwnExpiryIndexDown", time.Minute, 0, true, time.Second, 2 * time.Minute, false},
		// Its own expiry comes before IndexGrace past the load.
		{"ShorterOwnExpiryIndexDownWithinAMinute", time.Minute, 0, true, 30 * time.Second, 45 * time.Second, false},
		{"RememberMe", 30 * 24 * time.Hour, 0, false, time.Second, 2 * 24 * time.Hour, true},
		// The idle timeout moves the session's own expiry a day past the
		// login's index entry, and past the load's touch: the entry goes first.
		{"RememberMeWithIdleTimeout", 30 * 24 * time.Hour, 2 * 24 * time.Hour, false, 24 * time.Hour, 24*time.Hour + 2*time.Minute, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := &faultStore{countingStore: newCountingStore(t)}
			var answers atomic.Int32
			m := unavailableManager(t, fs, Options{Store: gtStore{fs}, Cookie: CookieOptions{MaxAge: 24 * time.Hour}, IdleTimeout: tc.idle}, &answers)
			b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
				s.SetUser("ada")
				s.Cookie().SetMaxAge(tc.own)
			})))
			b.get("/login")
			id := mustID(t, m, b.cookie)
			b.h = m.Handler(readViews)
			var failed atomic.Int32
			fs.on(func(ctx context.Context, op, _ string) error {
				if op == "IndexUserSession" && (tc.indexDown || failed.Load() == 0) {
					failed.Add(1)
					return errDown
				}
				return nil
			})
			fs.clock.Advance(tc.before)
			if rec := b.get("/"); rec.Code != http.StatusServiceUnavailable || answers.Load() != 1 || failed.Load() == 0 {
				t.Fatalf("status %d, %d answers, %d index failures; want the ErrorHandler's 503 after a failed index write", rec.Code, answers.Load(), failed.Load())
			}
			fs.on(nil)
			fs.clock.Advance(tc.after)
			if _, found, _ := fs.countingStore.Store.Get(t.Context(), id); found != tc.stored {
				t.Fatalf("%v after the request, stored = %v; want %v (its own cookie lasts %v, the options' a day)", tc.after, found, tc.stored, tc.own)
			}
			if live := liveOf(t, m, "ada"); tc.stored && (len(live) != 1 || live[0] != id) {
				t.Fatalf("UserSessions(ada) lists %v, want the session: its index entry must outlive it", short(live))
			}
		})
	}
}

// A request that binds another user (SetUser) and then fails, before its
// save stored anything, leaves the stored session its user's: the touch that
// sets back its own expiry records that user's index entry, not the
// binding the request never stored. A "remember me" session of ada's stayed
// alive for its thirty days while her index entry ended with the load's
// day, so DestroyUserSessions("ada") no longer found it.
func TestRestoredExpiryRecordsTheStoredUsersIndexEntry(t *testing.T) {
	for _, how := range []string{"panic", "failed save"} {
		t.Run(how, func(t *testing.T) {
			m, st := newGetTouchManager(t, Options{Cookie: CookieOptions{MaxAge: 24 * time.Hour}, MaxDocumentBytes: 4096})
			b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
				s.SetUser("ada")
				s.Cookie().SetMaxAge(30 * 24 * time.Hour) // remember me
			})))
			b.get("/")
			id := mustID(t, m, b.cookie)
			failing := m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
				s.SetUser("bob") // an admin's "act as", say
				if how == "panic" {
					panic("handler bug")
				}
				s.Set("big", strings.Repeat("x", 8000)) // over MaxDocumentBytes
			}))
			b.h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				defer func() { recover() }() // as net/http recovers a handler's panic
				failing.ServeHTTP(w, r)
			})
			st.clock.Advance(time.Hour)
			b.get("/")
			st.clock.Advance(2 * 24 * time.Hour) // past the load's touch and its index entry
			if _, found, _ := st.Store.Get(t.Context(), id); !found {
				t.Fatal("the remember-me session ended with the options' day")
			}
			if got := liveOf(t, m, "ada"); len(got) != 1 || got[0] != id {
				t.Fatalf("ada's sessions %v, want her remember-me session %s: its index entry must outlive it", short(got), short([]string{id}))
			}
		})
	}
}

// The touch carried on the load pushes a user's session's stored expiry
// forward before its index entry is recorded (the load learns the user from
// what it read), and that index write can fail while the session's store
// answers (a Redis Cluster puts the two on different nodes). The session
// must not outlive its entry, or a "log out everywhere" (DestroyUserSessions)
// misses it while its cookie still works: at the end of the request the
// entry is recorded again, and if the index is still down the stored
// expiry is set back to what the entry covers, the expiry the session's last
// save gave it when that is later than a minute (IndexGrace) past the load.
// The entry of a login a day ago ran out twelve hours before the session
// that a failed read pushed out by a day.
func TestALoadWhoseIndexWriteFailsLeavesNoSessionOutlivingItsEntry(t *testing.T) {
	const day = 24 * time.Hour
	for _, tc := range []struct {
		name      string
		readAt    time.Duration // a read that succeeds, this long after the login (0: none)
		failAt    time.Duration // the read whose index write fails
		indexDown bool          // the index keeps failing to the end of that request
		stored    []time.Duration
		gone      []time.Duration
	}{
		// The retry at the end of the request records the entry: the touch stays.
		{name: "IndexBackByTheEndOfTheRequest", failAt: 12 * time.Hour,
			stored: []time.Duration{25 * time.Hour, 36*time.Hour - time.Minute}, gone: []time.Duration{36*time.Hour + time.Minute}},
		// Set back to the login's expiry, which its entry recorded.
		{name: "IndexDown", failAt: 12 * time.Hour, indexDown: true,
			stored: []time.Duration{day - time.Minute}, gone: []time.Duration{day + time.Minute, 36*time.Hour - time.Minute}},
		// Kept alive by touches since its save: set back to a minute after the
		// load, which the entry of the last touch (a day after it) covers.
		{name: "IndexDownAfterTouches", readAt: 20 * time.Hour, failAt: 30 * time.Hour, indexDown: true,
			stored: []time.Duration{30*time.Hour + 30*time.Second}, gone: []time.Duration{30*time.Hour + 2*time.Minute, 44 * time.Hour}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs, m, b, id, start := loginAdaOnGetToucher(t, Options{Cookie: CookieOptions{MaxAge: day}}, nil)
			at := func(d time.Duration) { fs.clock.Set(start.Add(d)) }
			b.h = m.Handler(readViews)
			if tc.readAt > 0 {
				at(tc.readAt)
				if rec := b.get("/"); rec.Code != http.StatusOK {
					t.Fatalf("read: status %d", rec.Code)
				}
			}
			var failed atomic.Int32
			fs.on(func(ctx context.Context, op, _ string) error {
				if op == "IndexUserSession" && (tc.indexDown || failed.Load() == 0) {
					failed.Add(1)
					return errDown
				}
				return nil
			})
			at(tc.failAt)
			if rec := b.get("/"); rec.Code != http.StatusServiceUnavailable || failed.Load() == 0 {
				t.Fatalf("status %d after %d index failures; want the ErrorHandler's 503 after a failed index write", rec.Code, failed.Load())
			}
			fs.on(nil)
			check := func(d time.Duration, want bool) {
				t.Helper()
				at(d)
				_, found, _ := fs.countingStore.Store.Get(t.Context(), id)
				if found != want {
					t.Errorf("%v after the login: stored = %v, want %v", d, found, want)
				}
				if live := liveOf(t, m, "ada"); found && (len(live) != 1 || live[0] != id) {
					t.Errorf("%v after the login: the session is stored, and UserSessions(ada) lists %v: a log out everywhere would miss it", d, short(live))
				}
			}
			for _, d := range tc.stored {
				check(d, true)
			}
			for _, d := range tc.gone {
				check(d, false)
			}
		})
	}
}

// unavailableManager is newTestManager with opts, fs's clock, and an
// ErrorHandler that answers 503 "try again" (counted in answers, if not
// nil), for the tests of a load whose user index write fails.
func unavailableManager(t *testing.T, fs *faultStore, opts Options, answers *atomic.Int32) *Manager {
	opts.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		if answers != nil {
			answers.Add(1)
		}
		http.Error(w, "try again", http.StatusServiceUnavailable)
	}
	m, _ := newTestManager(t, opts)
	m.now = fs.clock.Now
	return m
}

// waitedOutTimeout is the StoreTimeout of a test whose store stalls until
// a call's StoreTimeout runs out: long enough that no call meant to
// succeed runs out of it on a machine that stalls a second (200 ms did),
// short enough to wait out. The tests that wait it out run in parallel
// (with each other only: the package's other tests run first).
const waitedOutTimeout = 2 * time.Second

// setupTwin returns a manager with m's options and clock but the default
// StoreTimeout, for the setup of a test whose StoreTimeout is short: a
// login descheduled that long on a loaded machine was not stored.
func setupTwin(t *testing.T, m *Manager) *Manager {
	t.Helper()
	opts := m.opts
	opts.StoreTimeout = DefaultStoreTimeout
	twin, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	twin.now = m.now
	return twin
}

// adaLoggedIn logs a browser in as ada through setupTwin(m) and returns
// it, its requests now going to m's readViews, and ada's session id.
func adaLoggedIn(t *testing.T, m *Manager) (*browser, string) {
	t.Helper()
	b := newBrowser(t, setupTwin(t, m).Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) { s.SetUser("ada") })))
	if rec := b.get("/login"); rec.Code != http.StatusOK || b.cookie == "" {
		t.Fatalf("setting up: ada's login answered %d", rec.Code)
	}
	b.h = m.Handler(readViews)
	return b, mustID(t, m, b.cookie)
}
