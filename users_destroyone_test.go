package session

import (
	"context"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// oneCallsStore is a counting memstore that also counts its listings of a
// user's index and its index removals.
type oneCallsStore struct{ *countingStore }

func (u oneCallsStore) UserSessions(ctx context.Context, user string, yield func(id string, used, expires time.Time, data []byte)) error {
	u.count("UserSessions")
	return u.countingStore.UserSessions(ctx, user, yield)
}

func (u oneCallsStore) UnindexUserSession(ctx context.Context, user, id string) error {
	u.count("UnindexUserSession")
	return u.countingStore.UnindexUserSession(ctx, user, id)
}

// devices logs n browsers in as user through m's usersApp and returns the
// browsers and their session ids.
func devices(t *testing.T, h http.Handler, user string, n int) ([]*browser, []string) {
	t.Helper()
	var bs []*browser
	var ids []string
	for range n {
		b := newBrowser(t, h)
		bs = append(bs, b)
		ids = append(ids, login(b, user))
	}
	return bs, ids
}

// isStored reports whether the store holds session id.
func isStored(t *testing.T, m *Manager, id string) bool {
	t.Helper()
	_, found, err := m.store.Get(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// The "log out" button of one device on a devices page: DestroyUserSession
// ends that session, and only it: the user's other devices and another
// user's stay logged in, and the user's index loses that entry alone. It
// costs a read, a destroy and an index removal, and no listing.
func TestDestroyUserSessionEndsThatSessionAlone(t *testing.T) {
	cs := newCountingStore(t)
	m, _ := newTestManager(t, Options{Store: oneCallsStore{cs}})
	m.now = cs.clock.Now
	h := m.Handler(usersApp(t))
	ada, adaIDs := devices(t, h, "ada", 3)
	bob, bobIDs := devices(t, h, "bob", 1)
	cs.reset()

	ok, err := m.DestroyUserSession(t.Context(), "ada", adaIDs[1])
	if !ok || err != nil {
		t.Fatalf("DestroyUserSession(ada, her second device) = %v, %v; want true, nil", ok, err)
	}
	calls := map[string]int{}
	for _, op := range []string{"Get", "GetVersion", "Destroy", "UnindexUserSession", "UserSessions"} {
		calls[op] = cs.n(op)
	}
	if want := map[string]int{"Get": 1, "GetVersion": 0, "Destroy": 1, "UnindexUserSession": 1, "UserSessions": 0}; !maps.Equal(calls, want) {
		t.Errorf("store calls %v, want %v (a read, a destroy, an index removal; no listing)", calls, want)
	}
	for i, b := range ada {
		want := "ada"
		if i == 1 {
			want = ""
		}
		if got := b.get("/whoami").Body.String(); got != want {
			t.Errorf("ada's device %d is logged in as %q, want %q", i, got, want)
		}
	}
	if got := bob[0].get("/whoami").Body.String(); got != "bob" {
		t.Errorf("bob's device is logged in as %q, want bob", got)
	}
	want := []string{adaIDs[0], adaIDs[2]}
	slices.Sort(want)
	if got := indexOf(t, m, "ada"); !slices.Equal(got, want) {
		t.Errorf("ada's index %v, want %v", short(got), short(want))
	}
	if got := indexOf(t, m, "bob"); !slices.Equal(got, bobIDs) {
		t.Errorf("bob's index %v, want %v", short(got), short(bobIDs))
	}
	// Again: the session is no longer hers.
	if ok, err := m.DestroyUserSession(t.Context(), "ada", adaIDs[1]); ok || err != nil {
		t.Errorf("DestroyUserSession of the ended session again = %v, %v; want false, nil", ok, err)
	}
}

// A devices page gets the session to end from a form: an id of another
// user's session, an unknown id, or one of a session the user no longer
// has ends nothing and answers false, nil; so do the empty user and id,
// without a store call. A stale index entry (bob's session listed under
// ada) does not make bob's session hers: the document says whose it is.
func TestDestroyUserSessionRefusesASessionThatIsNotTheUsers(t *testing.T) {
	cs := newCountingStore(t)
	m, _ := newTestManager(t, Options{Store: oneCallsStore{cs}})
	m.now = cs.clock.Now
	h := m.Handler(usersApp(t))
	_, adaIDs := devices(t, h, "ada", 1)
	_, bobIDs := devices(t, h, "bob", 1)
	unbound, unboundIDs := devices(t, h, "ada", 1)
	unbound[0].get("/logout-unbind") // the session goes on without a user
	rebound, reboundIDs := devices(t, h, "ada", 1)
	rebound[0].get("/bind?u=carol") // SetUser alone: the same session, now carol's
	if err := cs.Store.IndexUserSession(t.Context(), "ada", bobIDs[0], cs.clock.Now(), cs.clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct{ name, user, id string }{
		{"another user's session", "ada", bobIDs[0]},
		{"an unknown id", "ada", "no-such-session-id"},
		{"a session she logged out of (SetUser(\"\"))", "ada", unboundIDs[0]},
		{"a session rebound to another user", "ada", reboundIDs[0]},
		{"her session, for another user", "bob", adaIDs[0]},
	} {
		ok, err := m.DestroyUserSession(t.Context(), tc.user, tc.id)
		if ok || err != nil {
			t.Errorf("%s: DestroyUserSession(%s, %.6s…) = %v, %v; want false, nil", tc.name, tc.user, tc.id, ok, err)
		}
	}
	for _, id := range []string{adaIDs[0], bobIDs[0], unboundIDs[0], reboundIDs[0]} {
		if !isStored(t, m, id) {
			t.Errorf("session %.6s… was ended", id)
		}
	}
	if got := indexOf(t, m, "bob"); !slices.Equal(got, bobIDs) {
		t.Errorf("bob's index %v, want %v", short(got), short(bobIDs))
	}

	cs.reset()
	for _, tc := range []struct{ user, id string }{{"", adaIDs[0]}, {"ada", ""}} {
		if ok, err := m.DestroyUserSession(t.Context(), tc.user, tc.id); ok || err != nil {
			t.Errorf("DestroyUserSession(%q, %.6s…) = %v, %v; want false, nil", tc.user, tc.id, ok, err)
		}
	}
	if n := cs.total(); n != 0 {
		t.Errorf("the empty user and the empty id made %d store calls (%v), want none", n, cs.calls)
	}
	if !isStored(t, m, adaIDs[0]) {
		t.Error(`DestroyUserSession("", id) ended the session`)
	}
}

// A request that had the session loaded when DestroyUserSession ended it
// does not bring it back: its save of a change finds the session gone,
// writes nothing and sends no cookie; its RenewID (a login) fails with
// ErrNotFound and moves nothing to a new id; the device stays logged out.
func TestDestroyUserSessionIsNotUndoneByARequestThatHadItLoaded(t *testing.T) {
	for _, change := range []string{"Set", "RenewID"} {
		t.Run(change, func(t *testing.T) {
			m, _ := newTestManager(t, Options{})
			loaded, release := make(chan struct{}), make(chan struct{})
			app := usersApp(t)
			h := m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
				if r.URL.Path != "/slow" {
					app.ServeHTTP(w, r)
					return
				}
				_ = s.User() // loaded
				close(loaded)
				<-release
				switch change {
				case "Set":
					s.Set("cart", 3)
				case "RenewID":
					if err := s.RenewID(r.Context()); !errors.Is(err, ErrNotFound) {
						t.Errorf("RenewID of the ended session: %v, want ErrNotFound", err)
					}
					s.Set("cart", 3)
				}
			}))
			bs, ids := devices(t, h, "ada", 1)
			b, id := bs[0], ids[0]
			var rec *httptest.ResponseRecorder
			var wg sync.WaitGroup
			wg.Go(func() { rec = b.get("/slow") })
			<-loaded
			ok, err := m.DestroyUserSession(t.Context(), "ada", id)
			close(release)
			wg.Wait()
			if !ok || err != nil {
				t.Fatalf("DestroyUserSession = %v, %v; want true, nil", ok, err)
			}
			if isStored(t, m, id) {
				t.Fatal("the request that had the session loaded wrote it back")
			}
			// After RenewID's ErrNotFound the request's session is a new
			// one, as after Destroy, which its change stores: its cookie
			// may go out; the ended session's must not.
			if c := setCookie(rec); c != "" && b.cookie != "" && mustID(t, m, b.cookie) == id {
				t.Errorf("the request sent a cookie for the session that is gone: %s", c)
			}
			if got := b.get("/whoami").Body.String(); got != "" {
				t.Errorf("the device is logged in as %q after DestroyUserSession, want no one", got)
			}
			if live := liveOf(t, m, "ada"); len(live) != 0 {
				t.Errorf("ada has %d live sessions, want none", len(live))
			}
		})
	}
}

// The id may be the request's own session: it ends as one that another
// request destroyed. What the request changes after it is not written
// back, no cookie goes out, and the browser's next request starts a new,
// empty session without the user.
func TestDestroyUserSessionOfTheRequestsOwnSession(t *testing.T) {
	for _, after := range []string{"nothing", "a change"} {
		t.Run(after, func(t *testing.T) {
			m, _ := newTestManager(t, Options{Rolling: true})
			app := usersApp(t)
			var ok bool
			var err error
			h := m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
				if r.URL.Path != "/logout-this-device" {
					app.ServeHTTP(w, r)
					return
				}
				ok, err = m.DestroyUserSession(r.Context(), s.User(), s.ID())
				if after == "a change" {
					s.Set("flash", "logged out")
				}
			}))
			bs, ids := devices(t, h, "ada", 1)
			b, id := bs[0], ids[0]
			cookie := b.cookie
			rec := b.get("/logout-this-device")
			if !ok || err != nil {
				t.Fatalf("DestroyUserSession of the request's own session = %v, %v; want true, nil", ok, err)
			}
			if c := setCookie(rec); c != "" {
				t.Errorf("the request sent a cookie: %s", c)
			}
			if isStored(t, m, id) {
				t.Fatal("the request wrote its session back")
			}
			if b.cookie != cookie {
				t.Fatal("setting up: the browser's cookie changed")
			}
			if got := b.get("/whoami").Body.String(); got != "" {
				t.Errorf("the next request is logged in as %q, want no one", got)
			}
			if live := liveOf(t, m, "ada"); len(live) != 0 {
				t.Errorf("ada has %d live sessions, want none", len(live))
			}
		})
	}
}

// DestroyUserSession ends what DestroyUserSessions would, of the user's
// sessions its manager cannot read: one in another Codec's layout (the
// index entry's word taken), one over its MaxDocumentBytes and one past
// its AbsoluteTimeout (their documents read for the user all the same);
// and leaves another user's alone. So does DestroyUserSessionByPublicID,
// for such a session that a devices page rendered a moment before may
// still name.
func TestDestroyUserSessionEndsTheUsersSessionsItsManagerCannotRead(t *testing.T) {
	for _, by := range []struct {
		name    string
		destroy func(m *Manager, ctx context.Context, user, id string) (bool, error)
	}{
		{"id", (*Manager).DestroyUserSession},
		{"PublicID", func(m *Manager, ctx context.Context, user, id string) (bool, error) {
			return m.DestroyUserSessionByPublicID(ctx, user, SessionInfo{ID: id}.PublicID())
		}},
	} {
		t.Run(by.name, func(t *testing.T) { testDestroyOneEndsWhatItsManagerCannotRead(t, by.destroy) })
	}
}

func testDestroyOneEndsWhatItsManagerCannotRead(t *testing.T, destroy func(m *Manager, ctx context.Context, user, id string) (bool, error)) {
	for _, tc := range []struct {
		name    string
		app, op Options
		big     bool
		before  time.Duration
	}{
		{name: "a custom Codec", app: Options{Codec: base64Codec{}}},
		{name: "over the operator's MaxDocumentBytes", app: Options{MaxDocumentBytes: -1}, big: true},
		{name: "past the operator's AbsoluteTimeout", op: Options{AbsoluteTimeout: 12 * time.Hour}, before: 13 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := newCountingStore(t)
			tc.app.Store, tc.op.Store = cs, cs
			app, _ := newTestManager(t, tc.app)
			op, _ := newTestManager(t, tc.op)
			app.now, op.now = cs.clock.Now, cs.clock.Now
			h := app.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
				switch r.URL.Path {
				case "/login":
					s.SetUser(r.FormValue("u"))
					if tc.big {
						s.Set("big", strings.Repeat("x", DefaultMaxDocumentBytes))
					}
				case "/whoami":
					io.WriteString(w, s.User())
				}
			}))
			ada, bob := newBrowser(t, h), newBrowser(t, h)
			ada.get("/login?u=ada")
			bob.get("/login?u=bob")
			adaID, bobID := mustID(t, app, ada.cookie), mustID(t, app, bob.cookie)
			cs.clock.Advance(tc.before)
			if ok, err := destroy(op, t.Context(), "ada", bobID); ok || err != nil {
				t.Errorf("destroy(ada, bob's session) = %v, %v; want false, nil", ok, err)
			}
			if ok, err := destroy(op, t.Context(), "ada", adaID); !ok || err != nil {
				t.Errorf("destroy(ada, her session) = %v, %v; want true, nil", ok, err)
			}
			if u := ada.get("/whoami").Body.String(); u != "" {
				t.Errorf("the app still serves ada's session as %q", u)
			}
			if !isStored(t, op, bobID) {
				t.Error("bob's session was ended")
			}
			if idx := indexOf(t, app, "ada"); len(idx) != 0 {
				t.Errorf("ada's index %v, want empty", short(idx))
			}
		})
	}
}

// In another Codec's layout a session's user cannot be read, and the
// index entry's word is taken, as DestroyUserSessions takes it; but a
// session the user's index does not list is not hers.
func TestDestroyUserSessionTakesTheIndexWordOnlyForADocumentItCannotDecode(t *testing.T) {
	cs := newCountingStore(t)
	st := oneCallsStore{cs}
	app, _ := newTestManager(t, Options{Store: st, Codec: base64Codec{}})
	op, _ := newTestManager(t, Options{Store: st})
	app.now, op.now = cs.clock.Now, cs.clock.Now
	h := app.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) { s.SetUser(r.FormValue("u")) }))
	bob := newBrowser(t, h)
	bob.get("/login?u=bob")
	bobID := mustID(t, app, bob.cookie)
	cs.reset()
	if ok, err := op.DestroyUserSession(t.Context(), "ada", bobID); ok || err != nil {
		t.Errorf("DestroyUserSession(ada, bob's undecodable session) = %v, %v; want false, nil", ok, err)
	}
	if n := cs.n("UserSessions"); n != 1 {
		t.Errorf("%d listings of ada's index, want 1 (the document does not say whose it is)", n)
	}
	if !isStored(t, op, bobID) {
		t.Error("bob's session was ended")
	}
}

// Without a user index (memcachedstore) DestroyUserSession fails with
// ErrNotSupported, as DestroyUserSessions does, whatever the user.
func TestDestroyUserSessionWithoutAUserIndexIsNotSupported(t *testing.T) {
	m, _ := newTestManager(t, Options{Store: noUserIndex{newCountingStore(t)}})
	for _, user := range []string{"ada", ""} {
		ok, err := m.DestroyUserSession(t.Context(), user, "some-id")
		if ok || !errors.Is(err, ErrNotSupported) || !strings.Contains(err.Error(), "destroy user session") {
			t.Errorf("DestroyUserSession(%q) without an index = %v, %v; want ErrNotSupported, saying what failed", user, ok, err)
		}
	}
}

// deadlineStore records whether each store call had a deadline, and how far.
type deadlineStore struct {
	oneCallsStore
	mu    sync.Mutex
	calls map[string]time.Duration // op: time left at the call; -1 for no deadline
}

func (d *deadlineStore) record(ctx context.Context, op string) {
	left := time.Duration(-1)
	if dl, ok := ctx.Deadline(); ok {
		left = time.Until(dl)
	}
	d.mu.Lock()
	d.calls[op] = left
	d.mu.Unlock()
}

func (d *deadlineStore) Get(ctx context.Context, id string) ([]byte, bool, error) {
	d.record(ctx, "Get")
	return d.oneCallsStore.Get(ctx, id)
}

func (d *deadlineStore) Destroy(ctx context.Context, id string) error {
	d.record(ctx, "Destroy")
	return d.oneCallsStore.Destroy(ctx, id)
}

func (d *deadlineStore) UnindexUserSession(ctx context.Context, user, id string) error {
	d.record(ctx, "UnindexUserSession")
	return d.oneCallsStore.UnindexUserSession(ctx, user, id)
}

// Each store call of DestroyUserSession is bounded by StoreTimeout, as the
// Session methods' are, also when the caller's context has no deadline
// (a handler's r.Context()): Store().Destroy would wait as long as the
// store does.
func TestDestroyUserSessionBoundsItsStoreCallsByStoreTimeout(t *testing.T) {
	cs := newCountingStore(t)
	st := &deadlineStore{oneCallsStore: oneCallsStore{cs}, calls: map[string]time.Duration{}}
	const timeout = 2 * time.Second
	m, _ := newTestManager(t, Options{Store: st, StoreTimeout: timeout})
	m.now = cs.clock.Now
	_, ids := devices(t, m.Handler(usersApp(t)), "ada", 1)
	clear(st.calls)
	if ok, err := m.DestroyUserSession(context.Background(), "ada", ids[0]); !ok || err != nil {
		t.Fatalf("DestroyUserSession = %v, %v; want true, nil", ok, err)
	}
	for _, op := range []string{"Get", "Destroy", "UnindexUserSession"} {
		left, called := st.calls[op]
		if !called || left < 0 || left > timeout+50*time.Millisecond {
			t.Errorf("%s: called %v, time left %v; want a deadline within StoreTimeout (%v)", op, called, left, timeout)
		}
	}
}
