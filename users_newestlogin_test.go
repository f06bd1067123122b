package session

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/sessionkit/session/internal/shortid"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// newestLoginSetup makes a manager capped at max sessions per user on a
// fault store, whose GenerateID gives ids that start with the request's
// "d" parameter (so that a test orders two logins' ids), and its trimApp.
func newestLoginSetup(t *testing.T, max int) (*Manager, *faultStore, http.Handler) {
	t.Helper()
	fs := &faultStore{countingStore: newCountingStore(t)}
	var n atomic.Int64
	m, _ := newTestManager(t, Options{Store: fs, MaxSessionsPerUser: max, GenerateID: func(r *http.Request) string {
		return fmt.Sprintf("%s-%03d-%s", cmpOr(r.FormValue("d"), "x"), n.Add(1), strings.Repeat("x", 20))
	}})
	m.now = fs.clock.Now
	return m, fs, m.Handler(trimApp(t))
}

// interleaving holds every trim of a login at two points: its listing of
// the user's sessions, until released (so that it lists after the other
// logins wrote), and its first destroy, until released (so that it lists
// before the others destroy). Each trim reports at each point on the
// channel of that point.
type interleaving struct {
	listing, destroying              chan string
	releaseListings, releaseDestroys chan struct{}
}

func holdTrims(fs *faultStore) *interleaving {
	il := &interleaving{make(chan string), make(chan string), make(chan struct{}), make(chan struct{})}
	fs.on(func(_ context.Context, op, id string) error {
		switch op {
		case "UserSessions":
			hold(il.listing, id, il.releaseListings)
		case "Destroy":
			hold(il.destroying, id, il.releaseDestroys)
		}
		return nil
	})
	return il
}

// hold reports id on ch and waits for release, unless release is closed
// already (a later call goes on at once).
func hold[T any](ch chan T, v T, release chan struct{}) {
	select {
	case <-release:
	case ch <- v:
		<-release
	}
}

// await waits for n reports on ch, or fails the test after a while (the
// trims never got there).
func await(t *testing.T, ch chan string, n int, what string) {
	t.Helper()
	for i := range n {
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d of %d trims got to %s", i, n, what)
		}
	}
}

// parallelLogin is one request of b to path under way on its own
// goroutine (start), and its response once it is done.
type parallelLogin struct {
	b    *browser
	path string
	done chan struct{}
	// the response
	code            int
	body, setCookie string
}

func (l *parallelLogin) start() {
	l.done = make(chan struct{})
	go func() {
		defer close(l.done)
		rec := l.b.get(l.path)
		l.code, l.body, l.setCookie = rec.Code, strings.TrimSpace(rec.Body.String()), setCookie(rec)
	}()
}

// wait waits for the response, and returns l.
func (l *parallelLogin) wait() *parallelLogin {
	<-l.done
	return l
}

// Two logins of one user under MaxSessionsPerUser 1, each listing the
// user's sessions after both had written theirs (a double-clicked login
// form, two devices at once): each kept its own session and destroyed the
// other's, and the user was logged out on both. Now both trims rank the
// sessions by login time, newest first, so they agree: the newest login
// stays, alone, and the other ends (its request sends no cookie). At the
// same millisecond the lower id counts as the newer one.
func TestParallelLoginsUnderACapOfOneLeaveTheNewestLogin(t *testing.T) {
	for _, tc := range []struct {
		name       string
		apart      time.Duration // between the two logins' SetUser
		dA, dB     string        // the prefixes of their ids
		wantWinner string        // "A" or "B"
	}{
		{"second later, higher id", time.Second, "a", "b", "B"},
		{"second later, lower id", time.Second, "b", "a", "B"},
		{"millisecond later", time.Millisecond, "b", "a", "B"},
		{"same millisecond, first has the lower id", 0, "a", "b", "A"},
		{"same millisecond, second has the lower id", 0, "b", "a", "B"},
		{"same millisecond, apart by less than one", 300 * time.Microsecond, "a", "b", "A"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, fs, h := newestLoginSetup(t, 1)
			fs.clock.Set(fs.clock.Now().Truncate(time.Millisecond))
			il := holdTrims(fs)
			a := &parallelLogin{b: newBrowser(t, h), path: "/login?u=ada&d=" + tc.dA}
			b := &parallelLogin{b: newBrowser(t, h), path: "/login?u=ada&d=" + tc.dB}
			a.start()
			await(t, il.listing, 1, "the listing") // A wrote its session
			fs.clock.Advance(tc.apart)
			b.start()
			await(t, il.listing, 1, "the listing") // so did B: each lists both
			close(il.releaseListings)
			await(t, il.destroying, 2, "a destroy") // each listed before any destroy
			close(il.releaseDestroys)
			a.wait()
			b.wait()
			fs.on(nil)
			w, l := a, b
			if tc.wantWinner == "B" {
				w, l = b, a
			}
			winner, loser := w.body, l.body
			if w.code != http.StatusOK || l.code != http.StatusOK {
				t.Fatalf("statuses %d (winner) and %d (loser), want 200 for both: the lost login's save succeeded", w.code, l.code)
			}
			if got := liveOf(t, m, "ada"); !slices.Equal(got, []string{winner}) {
				t.Fatalf("after the parallel logins ada's sessions are %v, want the newest login's alone %v (the other: %v)", short(got), short([]string{winner}), short([]string{loser}))
			}
			if got := storedIDs(t, fs); !slices.Equal(got, []string{winner}) {
				t.Errorf("the store holds %v, want %v", short(got), short([]string{winner}))
			}
			if got := indexOf(t, m, "ada"); !slices.Equal(got, []string{winner}) {
				t.Errorf("ada's index holds %v, want %v", short(got), short([]string{winner}))
			}
			if w.setCookie == "" || l.setCookie != "" {
				t.Errorf("Set-Cookie of the newest login %q, of the other %q; want the newest login's alone", w.setCookie, l.setCookie)
			}
			if u := w.b.get("/whoami").Body.String(); u != "ada" {
				t.Errorf("the newest login's client is logged in as %q, want ada", u)
			}
			if u := l.b.get("/whoami").Body.String(); u != "" {
				t.Errorf("the other login's client is logged in as %q, want no one", u)
			}
		})
	}
}

// The double-clicked login form: one browser sends two logins with the
// same cookie, of an anonymous session, in parallel. The login that a
// newer one ends sends no Set-Cookie at all, neither its own (a session
// that is gone) nor an expired one (a Destroy's), either of which, the
// later response of the two, would replace the newer login's cookie in the
// browser and leave it logged out; and the anonymous session the two
// renewed is ended, as after any login.
func TestDoubleClickedLoginLeavesTheBrowserTheNewerLoginsCookie(t *testing.T) {
	for _, path := range []string{"/login", "/login-save"} { // the end of the request saves the login, or Session.Save
		t.Run(path, func(t *testing.T) {
			m, fs, h := newestLoginSetup(t, 1)
			first := newBrowser(t, h)
			anon := first.get("/logout-unbind?d=n").Body.String() // stored: it holds a flash
			second := newBrowser(t, h)
			second.cookie = first.cookie
			il := holdTrims(fs)
			a := &parallelLogin{b: first, path: path + "?u=ada&d=a"}
			b := &parallelLogin{b: second, path: path + "?u=ada&d=b"}
			a.start()
			await(t, il.listing, 1, "the listing")
			fs.clock.Advance(time.Second)
			b.start()
			await(t, il.listing, 1, "the listing")
			close(il.releaseListings)
			await(t, il.destroying, 2, "a destroy")
			close(il.releaseDestroys)
			a.wait()
			b.wait()
			fs.on(nil)
			newer := b.body
			if path == "/login-save" {
				if f := strings.Fields(a.body); len(f) != 3 || f[0] != "ok" || f[1] != "-" {
					t.Errorf("the older login's Save, and its session after: %q; want no error and no user", a.body)
				}
				if f := strings.Fields(b.body); len(f) == 3 && f[0] == "ok" && f[1] == "ada" {
					newer = f[2]
				} else {
					t.Errorf("the newer login's Save, and its session after: %q; want no error and ada", b.body)
				}
			}
			if a.code != http.StatusOK || a.setCookie != "" {
				t.Errorf("the older login: status %d, Set-Cookie %q; want 200 and no Set-Cookie", a.code, a.setCookie)
			}
			if b.code != http.StatusOK || b.setCookie == "" || mustID(t, m, second.cookie) != newer {
				t.Errorf("the newer login: status %d, Set-Cookie %q; want 200 and its cookie", b.code, b.setCookie)
			}
			if got := storedIDs(t, fs); !slices.Equal(got, []string{newer}) {
				t.Errorf("the store holds %v, want the newer login's %v alone (not the anonymous %v)", short(got), short([]string{newer}), short([]string{anon}))
			}
		})
	}
}

// The login that a newer one outranks, whose own trim ends its session,
// goes on as after Destroy: a handler that saves it (Session.Save) gets no
// error, and then has a new, empty session without the user, which is not
// stored and has no cookie unless the handler changes it. One whose
// session the newer login's trim had ended before its own listing, which
// no longer lists it, goes on the same way: its request sent the cookie of
// a session that was gone.
func TestLoginEndedByANewerLoginGoesOnAsAfterDestroy(t *testing.T) {
	for _, tc := range []struct {
		name   string
		path   string
		before bool // the newer login ends the older's session before the older lists
	}{
		{"both list, then destroy", "/login", false},
		{"both list, then destroy, Save", "/login-save", false},
		{"ended before its listing", "/login", true},
		{"ended before its listing, Save", "/login-save", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, fs, h := newestLoginSetup(t, 1)
			var held atomic.Bool // only the older login's listing is held
			listing, destroying := make(chan struct{}), make(chan struct{})
			release, releaseDestroys := make(chan struct{}), make(chan struct{})
			fs.on(func(_ context.Context, op, _ string) error {
				switch {
				case op == "UserSessions" && held.CompareAndSwap(false, true):
					hold(listing, struct{}{}, release)
				case op == "Destroy" && !tc.before:
					hold(destroying, struct{}{}, releaseDestroys)
				}
				return nil
			})
			older := &parallelLogin{b: newBrowser(t, h), path: tc.path + "?u=ada&d=a"}
			older.start()
			<-listing // the older wrote its session
			fs.clock.Advance(time.Second)
			newer := &parallelLogin{b: newBrowser(t, h), path: "/login?u=ada&d=b"}
			newer.start()
			if tc.before {
				newer.wait() // lists both, and ends the older
				close(release)
			} else {
				<-destroying   // the newer listed both, and ends the older
				close(release) // the older lists both too
				<-destroying   // and ends itself
				close(releaseDestroys)
			}
			older.wait()
			newer.wait()
			fs.on(nil)
			if older.code != http.StatusOK || older.setCookie != "" {
				t.Errorf("the older login: status %d, Set-Cookie %q; want 200 and no Set-Cookie", older.code, older.setCookie)
			}
			if tc.path == "/login-save" {
				f := strings.Fields(older.body)
				if len(f) != 3 || f[0] != "ok" || f[1] != "-" || f[2] == "" {
					t.Errorf("the older login's Save, and its session after: %q; want no error, no user and a new id", older.body)
				}
			}
			if got := liveOf(t, m, "ada"); !slices.Equal(got, []string{newer.body}) {
				t.Errorf("ada's sessions %v, want the newer login's %v alone", short(got), short([]string{newer.body}))
			}
			if got := storedIDs(t, fs); !slices.Equal(got, []string{newer.body}) {
				t.Errorf("the store holds %v, want the newer login's %v alone", short(got), short([]string{newer.body}))
			}
			if u := older.b.get("/whoami").Body.String(); u != "" {
				t.Errorf("the older login's client is logged in as %q, want no one", u)
			}
		})
	}
}

// Three parallel logins under MaxSessionsPerUser 2, each listing after all
// three wrote: every trim keeps the newest login, and the two older rank
// by login time in their own trims but by last use in the newest's, which
// agree here: the two newest stay, the oldest ends.
func TestParallelLoginsUnderACapOfTwoLeaveTheTwoNewest(t *testing.T) {
	m, fs, h := newestLoginSetup(t, 2)
	il := holdTrims(fs)
	var logins []*parallelLogin
	for _, d := range []string{"c", "b", "a"} { // the newest has the lowest id
		l := &parallelLogin{b: newBrowser(t, h), path: "/login?u=ada&d=" + d}
		l.start()
		await(t, il.listing, 1, "the listing")
		fs.clock.Advance(time.Second)
		logins = append(logins, l)
	}
	close(il.releaseListings)
	await(t, il.destroying, 3, "a destroy")
	close(il.releaseDestroys)
	for _, l := range logins {
		l.wait()
	}
	fs.on(nil)
	want := sortedIDs(logins[1].body, logins[2].body)
	if got := liveOf(t, m, "ada"); !slices.Equal(got, want) {
		t.Fatalf("ada's sessions %v, want the two newest logins' %v", short(got), short(want))
	}
	if logins[0].setCookie != "" || logins[1].setCookie == "" || logins[2].setCookie == "" {
		t.Errorf("Set-Cookie of the logins, oldest first: %q, %q, %q; want none for the oldest alone", logins[0].setCookie, logins[1].setCookie, logins[2].setCookie)
	}
}

// A login still ends the user's other session under a cap of 1 when that
// session was used after the login wrote its own, before its trim listed
// them: the session of a newer login comes first, whatever the other's
// last use.
func TestLoginEndsAnOlderSessionUsedAfterIt(t *testing.T) {
	m, fs, h := newestLoginSetup(t, 1)
	phone, laptop := newBrowser(t, h), newBrowser(t, h)
	login(phone, "ada")
	fs.clock.Advance(time.Second)
	var held atomic.Bool
	listing, release := make(chan struct{}), make(chan struct{})
	fs.on(func(_ context.Context, op, _ string) error {
		if op == "UserSessions" && held.CompareAndSwap(false, true) {
			hold(listing, struct{}{}, release)
		}
		return nil
	})
	l := &parallelLogin{b: laptop, path: "/login?u=ada"}
	l.start()
	<-listing // the laptop's login wrote its session
	fs.clock.Advance(time.Second)
	if u := phone.get("/whoami").Body.String(); u != "ada" {
		t.Fatalf("setting up: the phone is logged in as %q", u)
	}
	infos := mustList(t, m, "ada")
	if len(infos) != 2 || infos[0].ID == l.b.cookie || !infos[0].LastUsed.After(infos[1].LastUsed) || !infos[0].LoggedIn.Before(infos[1].LoggedIn) {
		t.Fatalf("setting up: ada's sessions %+v; want the phone's used last, logged in first", infos)
	}
	close(release)
	l.wait()
	fs.on(nil)
	if got := liveOf(t, m, "ada"); !slices.Equal(got, []string{l.body}) {
		t.Fatalf("ada's sessions %v, want the laptop's %v alone", short(got), short([]string{l.body}))
	}
	if u := phone.get("/whoami").Body.String(); u != "" {
		t.Errorf("the phone is still logged in as %q", u)
	}
}

// mustList is UserSessions, most recently used first.
func mustList(t *testing.T, m *Manager, user string) []SessionInfo {
	t.Helper()
	infos, err := m.UserSessions(t.Context(), user)
	if err != nil {
		t.Fatal(err)
	}
	return infos
}

// loginKeyRE matches the login time in a stored document.
var loginKeyRE = regexp.MustCompile(`,"` + LoginKey + `":"[^"]*"`)

// dropLoginKey rewrites the stored document of id without its login time,
// as a version before LoginKey stored it.
func dropLoginKey(t *testing.T, fs *faultStore, id string, exp time.Time) {
	t.Helper()
	data, found, err := fs.Store.Get(t.Context(), id)
	if err != nil || !found || !loginKeyRE.Match(data) {
		t.Fatalf("setting up: session %s: %s, found %v, %v; want one with a login time", shortid.Of(id), data, found, err)
	}
	if err := fs.Store.Set(t.Context(), id, loginKeyRE.ReplaceAll(data, nil), exp); err != nil {
		t.Fatal(err)
	}
}

// A session stored without a login time (by a version before LoginKey, or
// by another app) has none: UserSessions lists it with a zero LoggedIn, and
// a login's trim ranks it by its last use among the sessions of logins
// older than its own, not after them. Under a cap of 2, the newest login
// keeps, of a phone stored without a login time but used since, a tablet
// logged in later and not used since, and a watch stored without one and
// not used since, the phone.
func TestSessionWithoutALoginTimeRanksByItsLastUse(t *testing.T) {
	m, fs, h := newestLoginSetup(t, 3)
	watch, phone, tablet := newBrowser(t, h), newBrowser(t, h), newBrowser(t, h)
	for _, b := range []*browser{watch, phone, tablet} {
		login(b, "ada")
		fs.clock.Advance(time.Second)
	}
	for _, b := range []*browser{watch, phone} {
		dropLoginKey(t, fs, mustID(t, m, b.cookie), fs.clock.Now().Add(time.Hour))
	}
	if u := phone.get("/whoami").Body.String(); u != "ada" {
		t.Fatalf("setting up: the phone is logged in as %q", u)
	}
	for _, info := range mustList(t, m, "ada") {
		if keyless := info.ID != mustID(t, m, tablet.cookie); keyless != info.LoggedIn.IsZero() {
			t.Fatalf("UserSessions lists %s with LoggedIn %v; want zero for the sessions stored without a login time alone", shortid.Of(info.ID), info.LoggedIn)
		}
	}
	fs.clock.Advance(time.Second)
	m.opts.MaxSessionsPerUser = 2
	laptop := login(newBrowser(t, h), "ada")
	if got, want := liveOf(t, m, "ada"), sortedIDs(laptop, mustID(t, m, phone.cookie)); !slices.Equal(got, want) {
		t.Fatalf("ada's sessions %v, want the laptop's and the phone's %v", short(got), short(want))
	}
}

// The login time: SetUser records it (the manager's clock, to the
// millisecond) when it binds a user the session is not stored under; a
// SetUser of the user a stored session has already keeps it, and a
// RenewID then SetUser of that user is a login again. UserSessions lists
// it (LoggedIn), and so does SessionInfo's JSON. SetUser("") removes it
// from the stored document.
func TestSetUserRecordsTheLoginTime(t *testing.T) {
	m, fs, h := newestLoginSetup(t, 0)
	fs.clock.Set(fs.clock.Now().Truncate(time.Millisecond).Add(1234 * time.Microsecond))
	b := newBrowser(t, h)
	at := fs.clock.Now()
	id := login(b, "ada")
	loggedIn := func() time.Time {
		t.Helper()
		infos := mustList(t, m, "ada")
		if len(infos) != 1 {
			t.Fatalf("ada has %d sessions, want 1", len(infos))
		}
		return infos[0].LoggedIn
	}
	if got, want := loggedIn(), at.Truncate(time.Millisecond); !got.Equal(want) {
		t.Fatalf("LoggedIn %v after the login at %v, want %v", got, at, want)
	}
	fs.clock.Advance(time.Second)
	if rec := b.get("/rebind?u=ada&n=1"); rec.Code != http.StatusOK {
		t.Fatalf("/rebind: %d", rec.Code)
	}
	if got, want := loggedIn(), at.Truncate(time.Millisecond); !got.Equal(want) {
		t.Fatalf("LoggedIn %v after SetUser of the same user, want the login's %v", got, want)
	}
	out, err := json.Marshal(mustList(t, m, "ada")[0])
	if err != nil {
		t.Fatal(err)
	}
	var j struct{ LoggedIn time.Time }
	if err := json.Unmarshal(out, &j); err != nil || !j.LoggedIn.Equal(at.Truncate(time.Millisecond)) {
		t.Fatalf("SessionInfo's JSON %s: LoggedIn %v, %v; want %v", out, j.LoggedIn, err, at.Truncate(time.Millisecond))
	}
	fs.clock.Advance(time.Second)
	again := fs.clock.Now()
	if login(b, "ada") == id {
		t.Fatal("setting up: the login kept the id")
	}
	if got, want := loggedIn(), again.Truncate(time.Millisecond); !got.Equal(want) {
		t.Fatalf("LoggedIn %v after RenewID and SetUser of the same user, want the new login's %v", got, want)
	}
	b.get("/logout-unbind")
	data, _, err := fs.Store.Get(t.Context(), mustID(t, m, b.cookie))
	if err != nil || !strings.Contains(string(data), `"flash"`) || strings.Contains(string(data), LoginKey) || strings.Contains(string(data), UserKey) {
		t.Fatalf("stored after SetUser(\"\"): %s, %v; want the session without %s and %s", data, err, LoginKey, UserKey)
	}
}

// LoginKey is reserved as UserKey is: Set and Delete ignore it, Keys does
// not list it and Clear keeps it, so a handler (or a form that sets keys
// by name) cannot move a session ahead of a newer login, or out of the
// ranking.
func TestTheLoginKeyIsReserved(t *testing.T) {
	m, fs, h := newestLoginSetup(t, 0)
	b := newBrowser(t, h)
	login(b, "ada")
	want := mustList(t, m, "ada")[0].LoggedIn
	fs.clock.Advance(time.Second)
	var keys []string
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Set(LoginKey, "2999-01-01T00:00:00.000Z")
		s.Delete(LoginKey)
		s.Clear()
		s.Set("a", 1)
		keys = s.Keys()
	}))
	b.get("/")
	if !slices.Equal(keys, []string{"a"}) {
		t.Errorf("Keys %v, want [a]", keys)
	}
	if got := mustList(t, m, "ada")[0].LoggedIn; !got.Equal(want) {
		t.Errorf("LoggedIn %v after Set, Delete and Clear of LoginKey, want the login's %v", got, want)
	}
}
