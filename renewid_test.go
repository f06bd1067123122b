package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"
)

// RenewID (a login's id rotation): the session moves to a new id, and the
// old id ends once the session is stored under the new one, or at once when
// nothing will write it (Destroy, Unset, Regenerate, the headers gone).

// renewApp is the handler of the RenewID tests: /cart stores an anonymous
// session with a cart, /login?u= logs in (RenewID, SetUser) and answers
// the session's id, /show answers "user cart". fail, if set, runs in
// /login after SetUser and can make its save fail, after after the save
// (with save set, Session.Save in the handler); renewErr and saveErr
// get the errors of RenewID and (with save set) of Session.Save.
type renewApp struct {
	t                 *testing.T
	fail, after       func(s *Session)
	save              bool
	renewErr, saveErr error
}

func (a *renewApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s := From(r)
	switch r.URL.Path {
	case "/cart":
		s.Set("cart", "socks")
	case "/login":
		a.renewErr = s.RenewID(r.Context())
		s.SetUser(r.FormValue("u"))
		if a.fail != nil {
			a.fail(s)
		}
		if a.save {
			if a.saveErr = s.Save(r.Context()); a.saveErr != nil {
				http.Error(w, "could not log you in", http.StatusServiceUnavailable)
				return
			}
		}
		if a.after != nil {
			a.after(s)
		}
	case "/show":
		cart, _ := GetAs[string](s, "cart")
		fmt.Fprintf(w, "%s %s", cmpOr(s.User(), "-"), cmpOr(cart, "-"))
		return
	}
	io.WriteString(w, s.ID())
}

// renewSetup makes a manager on a fault store whose ErrorHandler answers
// 503, and a browser with a stored session: anonymous with a cart, or
// logged in as ada (and then the user's only session), as user says.
func renewSetup(t *testing.T, user string) (*Manager, *faultStore, *renewApp, *browser, string) {
	t.Helper()
	return renewSetupWith(t, user, 0)
}

// renewSetupWith is renewSetup with the manager's StoreTimeout (0: the
// default). The setup runs through setupTwin(m): a short StoreTimeout is
// the test's alone, not the setup's.
func renewSetupWith(t *testing.T, user string, storeTimeout time.Duration) (*Manager, *faultStore, *renewApp, *browser, string) {
	t.Helper()
	fs := &faultStore{countingStore: newCountingStore(t)}
	m, _ := newTestManager(t, Options{Store: fs, Cookie: CookieOptions{MaxAge: 24 * time.Hour}, StoreTimeout: storeTimeout,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			http.Error(w, "try again", http.StatusServiceUnavailable)
		}})
	m.now = fs.clock.Now
	app := &renewApp{t: t}
	b := newBrowser(t, setupTwin(t, m).Handler(app))
	b.get("/cart")
	if user != "" {
		b.get("/login?u=" + user)
	}
	old := b.get("/show")
	if want := cmpOr(user, "-") + " socks"; old.Body.String() != want {
		t.Fatalf("setting up: the session reads %q, want %q", old.Body, want)
	}
	id := storedIDs(t, fs)
	if len(id) != 1 {
		t.Fatalf("setting up: stored sessions %v, want one", id)
	}
	b.h = m.Handler(app)
	return m, fs, app, b, id[0]
}

// storeHang is the clock of a fault script whose store stops answering:
// hang holds a call until its context ends, and refused refuses a later
// call on a context whose deadline is no later than one a held call waited
// out (or that was cancelled), as a client refuses a call on a spent
// context. Any other call runs, however late a loaded machine makes it
// (faultStore.untimed): only the calls the script holds wait on the clock,
// and no call meant to succeed races it.
type storeHang struct {
	mu    sync.Mutex
	spent time.Time // the latest deadline a held call waited out
}

// hang holds a call until ctx ends, and returns its error. A call whose
// context ended before it came (a machine that stalled) is refused, and
// waited nothing out.
func (h *storeHang) hang(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	<-ctx.Done()
	if deadline, ok := ctx.Deadline(); ok {
		h.mu.Lock()
		if deadline.After(h.spent) {
			h.spent = deadline
		}
		h.mu.Unlock()
	}
	return ctx.Err()
}

// refused returns the error of a call on a context that a held call spent,
// or nil.
func (h *storeHang) refused(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.Canceled) {
		return ctx.Err()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if deadline, ok := ctx.Deadline(); ok && !h.spent.IsZero() && !deadline.After(h.spent) {
		return context.DeadlineExceeded
	}
	return nil
}

// storedIDs returns the ids of the sessions the store holds, sorted.
func storedIDs(t *testing.T, fs *faultStore) []string {
	t.Helper()
	ids, err := fs.Store.IDs(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(ids)
	return ids
}

// A login whose save succeeds ends the old id, as before: it no longer
// loads, the store holds the new id alone, and the user's index lists the
// new id and not the old one, whether the login saved at the end of the
// request or by Session.Save, with a second RenewID or more changes after
// it.
func TestRenewIDEndsTheOldIDOnceTheNewOneIsStored(t *testing.T) {
	for _, how := range []string{"end of request", "Session.Save", "Session.Save, then a change", "RenewID twice", "RenewID, Save, RenewID"} {
		t.Run(how, func(t *testing.T) {
			m, fs, app, b, oldID := renewSetup(t, "ada")
			oldCookie := b.cookie
			app.save = how == "Session.Save" || how == "Session.Save, then a change"
			app.fail = func(s *Session) {
				switch how {
				case "RenewID twice":
					if err := s.RenewID(context.Background()); err != nil {
						t.Errorf("second RenewID: %v", err)
					}
				case "RenewID, Save, RenewID":
					if err := s.Save(context.Background()); err != nil {
						t.Errorf("Save: %v", err)
					}
					if err := s.RenewID(context.Background()); err != nil {
						t.Errorf("second RenewID: %v", err)
					}
				}
			}
			if how == "Session.Save, then a change" {
				app.after = func(s *Session) { s.Set("theme", "dark") }
			}
			rec := b.get("/login?u=ada")
			if rec.Code != http.StatusOK || app.renewErr != nil || app.saveErr != nil {
				t.Fatalf("login: %d %s, RenewID %v, Save %v", rec.Code, rec.Body, app.renewErr, app.saveErr)
			}
			newID := rec.Body.String()
			if b.cookie == oldCookie || newID == oldID {
				t.Fatal("the id was not renewed")
			}
			if ids := storedIDs(t, fs); !slices.Equal(ids, []string{newID}) {
				t.Fatalf("stored sessions %v, want the new one alone, %v", short(ids), short([]string{newID}))
			}
			if idx := indexOf(t, m, "ada"); !slices.Equal(idx, []string{newID}) {
				t.Fatalf("ada's index %v, want the new id alone, %v", short(idx), short([]string{newID}))
			}
			old := &browser{t: t, h: b.h, cookie: oldCookie}
			if got := old.get("/show").Body.String(); got != "- -" {
				t.Fatalf("the old cookie reads %q after the login, want an empty session", got)
			}
			if got := b.get("/show").Body.String(); got != "ada socks" {
				t.Fatalf("the new cookie reads %q, want %q", got, "ada socks")
			}
		})
	}
}

// A RenewID that the request follows with no write of the new id still
// ends the old id, as RenewID promises: Destroy (which reports a failure
// to destroy it, and then leaves the session as it was) and Unset
// (whichever Options.Unset). (A RenewID after the response headers went
// out fails instead, and changes nothing: TestRenewIDAfterTheHeaders-
// DoesNotDestroyTheOnlyCopyTheClientCanReach.)
func TestRenewIDNotFollowedByAWriteStillEndsTheOldID(t *testing.T) {
	for _, how := range []string{"Destroy", "Unset keep", "Unset destroy"} {
		t.Run(how, func(t *testing.T) {
			fs := &faultStore{countingStore: newCountingStore(t)}
			unset := UnsetKeep
			if how == "Unset destroy" {
				unset = UnsetDestroy
			}
			m, _ := newTestManager(t, Options{Store: fs, Unset: unset})
			users := usersApp(t)
			h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/renew" {
					users.ServeHTTP(w, r)
					return
				}
				s := From(r)
				if err := s.RenewID(r.Context()); err != nil {
					t.Errorf("RenewID: %v", err)
				}
				switch how {
				case "Destroy":
					if err := s.Destroy(r.Context()); err != nil {
						t.Errorf("Destroy: %v", err)
					}
				case "Unset keep", "Unset destroy":
					s.Unset()
				}
			}))
			b := newBrowser(t, h)
			oldID := login(b, "ada")
			oldCookie := b.cookie
			if rec := b.get("/renew"); rec.Code != http.StatusOK {
				t.Fatalf("/renew: %d %s", rec.Code, rec.Body)
			}
			if ids := storedIDs(t, fs); len(ids) != 0 {
				t.Fatalf("stored sessions %v after RenewID and %s, want none (the old id %s ended)", short(ids), how, short([]string{oldID}))
			}
			if idx := indexOf(t, m, "ada"); len(idx) != 0 {
				t.Fatalf("ada's index %v, want empty", short(idx))
			}
			old := &browser{t: t, h: h, cookie: oldCookie}
			if u := old.get("/whoami").Body.String(); u != "" {
				t.Fatalf("the old cookie is logged in as %q", u)
			}
		})
	}
}

// Destroy after RenewID reports a failure to destroy the old id's session,
// and leaves the session as it was: the old id still works, and the end of
// the request goes on with the renewed session.
func TestDestroyAfterRenewIDThatCannotDestroyTheOldIDReportsIt(t *testing.T) {
	m, fs, _, b, oldID := renewSetup(t, "ada")
	var destroyErr error
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		if err := s.RenewID(r.Context()); err != nil {
			t.Errorf("RenewID: %v", err)
		}
		fs.on(func(_ context.Context, op, id string) error {
			if op == "Destroy" && id == oldID {
				return errDown
			}
			return nil
		})
		destroyErr = s.Destroy(r.Context())
		fs.on(nil)
		io.WriteString(w, s.User())
	}))
	rec := b.get("/logout")
	if !errors.Is(destroyErr, errDown) || rec.Body.String() != "ada" {
		t.Fatalf("Destroy = %v, user after it %q; want the store's error and the session as it was", destroyErr, rec.Body)
	}
	if live := liveOf(t, m, "ada"); len(live) != 1 {
		t.Fatalf("UserSessions(ada) = %v, want the one session", short(live))
	}
}

// A Regenerate (a logout) after a RenewID in the same request (a
// middleware that rotates the id of a logged-in session, then the logout
// handler) ends the logged-in session at once, as Regenerate promises:
// when the save of the empty session then fails, the user is logged out
// all the same. The RenewID's old id waited for the new id's write, which
// never came, and the logged-in session went on working.
func TestRegenerateAfterRenewIDEndsTheOldIDAtOnce(t *testing.T) {
	m, fs, _, b, oldID := renewSetup(t, "ada")
	oldCookie := b.cookie
	var regenErr error
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		if err := s.RenewID(r.Context()); err != nil { // the rotation
			t.Errorf("RenewID: %v", err)
		}
		regenErr = s.Regenerate(r.Context()) // the logout
		fs.on(func(_ context.Context, op, id string) error {
			if op == "CompareAndSwap" && id != oldID {
				return errDown // the empty session's write
			}
			return nil
		})
	}))
	rec := b.get("/logout")
	fs.on(nil)
	if regenErr != nil {
		t.Fatalf("Regenerate: %v", regenErr)
	}
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("the logout whose save failed answered %d, want the ErrorHandler's 503", rec.Code)
	}
	if ids := storedIDs(t, fs); slices.Contains(ids, oldID) {
		t.Fatalf("stored sessions %v: the logged-in session %v is still stored after the logout", short(ids), short([]string{oldID}))
	}
	if live := liveOf(t, m, "ada"); len(live) != 0 {
		t.Fatalf("UserSessions(ada) = %v after the logout, want none", short(live))
	}
	b.h = m.Handler(&renewApp{t: t})
	b.cookie = oldCookie
	if got := b.get("/show").Body.String(); got != "- -" {
		t.Fatalf("the logged-out cookie reads %q, want an empty session", got)
	}
}

// A logged-in session renewed under Options.MaxSessionsPerUser (a login
// on a device already logged in) does not count its old id, which the login
// ends, against the cap: the user's other devices stay logged in.
func TestRenewIDUnderMaxSessionsPerUserDoesNotTrimAnotherDeviceForTheOldID(t *testing.T) {
	fs := &faultStore{countingStore: newCountingStore(t)}
	m, _ := newTestManager(t, Options{Store: fs, MaxSessionsPerUser: 2})
	h := m.Handler(usersApp(t))
	phone := newBrowser(t, h)
	phoneID := login(phone, "ada")
	fs.clock.Advance(time.Second)
	tablet := newBrowser(t, h)
	login(tablet, "ada")
	fs.clock.Advance(time.Second)
	tabletID := login(tablet, "ada") // logged in already: the old id ends
	if live := liveOf(t, m, "ada"); !slices.Equal(live, sortedIDs(phoneID, tabletID)) {
		t.Fatalf("UserSessions(ada) = %v, want the phone's and the tablet's new one, %v", short(live), short(sortedIDs(phoneID, tabletID)))
	}
	if u := phone.get("/whoami").Body.String(); u != "ada" {
		t.Fatalf("the phone is logged in as %q, want ada", u)
	}
}

// A login whose Session.Save of the new id was applied but answered with an
// error (a timeout after the write went out) keeps the old id until a save
// succeeds: the end of the request finds that write its own, updates it,
// and only then ends the old id; the user's index lists the new id alone.
func TestRenewIDWhoseSaveReplyWasLostEndsTheOldIDAtTheNextSave(t *testing.T) {
	m, cs, st := newLostReplyManager(t, Options{})
	var oldID, newID string
	b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		switch r.URL.Path {
		case "/cart":
			s.Set("cart", "socks")
		case "/login":
			oldID = s.ID()
			if err := s.RenewID(r.Context()); err != nil {
				t.Errorf("RenewID: %v", err)
			}
			s.SetUser("ada")
			newID = s.ID()
			saveReplyLost(t, r, s, st)
			if _, found, _ := cs.Store.Get(r.Context(), oldID); !found {
				t.Error("the old id's session is gone after a save whose outcome is unknown")
			}
			s.Set("theme", "dark") // the end of the request saves again
		}
	})))
	b.get("/cart")
	if rec := b.get("/login"); rec.Code != http.StatusOK {
		t.Fatalf("login: %d %s", rec.Code, rec.Body)
	}
	if got := mustID(t, m, b.cookie); got != newID {
		t.Fatalf("the client holds %s, want the new id %s", short([]string{got}), short([]string{newID}))
	}
	ids, _ := cs.Store.IDs(t.Context())
	if !slices.Equal(ids, []string{newID}) {
		t.Fatalf("stored sessions %v, want the new one alone", short(ids))
	}
	if idx := indexOf(t, m, "ada"); !slices.Equal(idx, []string{newID}) {
		t.Fatalf("ada's index %v, want the new id alone", short(idx))
	}
}

// A request that loaded the old id before a login renewed it, and saves
// after the login's save, does not write the old id back, and sends no
// cookie for it: the login's save ended it, as RenewID ended it at once
// before.
func TestRequestOnTheOldIDAfterTheLoginDoesNotBringItBack(t *testing.T) {
	m, _ := newTestManager(t, Options{Cookie: CookieOptions{MaxAge: time.Hour}})
	users := usersApp(t)
	var tab *browser
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/slow" {
			users.ServeHTTP(w, r)
			return
		}
		s := From(r) // the old id, loaded
		tab.get("/login?u=ada")
		s.Set("late", "write")
	}))
	b := newBrowser(t, h)
	b.get("/logout-unbind") // an anonymous session
	oldID := mustID(t, m, b.cookie)
	tab = &browser{t: t, h: h, cookie: b.cookie}
	rec := b.get("/slow")
	if sc := setCookie(rec); sc != "" {
		t.Fatalf("the late request on the old id sent a cookie: %s", sc)
	}
	if _, found, _ := m.store.Get(t.Context(), oldID); found {
		t.Fatal("the late request wrote the old id back")
	}
	if u := tab.get("/whoami").Body.String(); u != "ada" {
		t.Fatalf("the login's session reads user %q, want ada", u)
	}
}
