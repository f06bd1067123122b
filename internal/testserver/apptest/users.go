package apptest

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/session"
)

// Users runs the scenarios of sessions that belong to a user (issue #14)
// on stores made by newStore, which must be session.UserIndexRemover
// stores with compare-and-swap, each fresh per call: parallel logins through two app
// instances then DestroyUserSessions, a login racing DestroyUserSessions,
// MaxSessionsPerUser under parallel logins, "log out my other devices",
// "log out" of one device (DestroyUserSession, and
// DestroyUserSessionByPublicID), and
// the recorded client, and the index of repeated logins.
func Users(t *testing.T, newStore func(t *testing.T) session.Store) {
	t.Run("ParallelLoginsThenDestroyUserSessionsEndsEveryOne", func(t *testing.T) {
		ParallelLoginsThenDestroyEndsEveryOne(t, newStore(t), 100)
	})
	t.Run("LoginRacingDestroyUserSessionsSurvivesWholeOrIsGoneWhole", func(t *testing.T) {
		LoginRacingDestroyIsWholeOrGone(t, newStore(t), 20)
	})
	t.Run("MaxSessionsPerUserHoldsUnderParallelLogins", func(t *testing.T) {
		CapHoldsUnderParallelLogins(t, newStore(t), 3, 40)
	})
	t.Run("LogOutOtherDevicesKeepsTheOwnSession", func(t *testing.T) {
		LogOutOtherDevicesKeepsOwn(t, newStore(t))
	})
	t.Run("LogOutOneDeviceEndsThatSessionAlone", func(t *testing.T) {
		LogOutOneDeviceEndsItAlone(t, newStore(t), ByID)
	})
	t.Run("LogOutOneDeviceByPublicIDEndsThatSessionAlone", func(t *testing.T) {
		LogOutOneDeviceEndsItAlone(t, newStore(t), ByPublicID)
	})
	t.Run("UserSessionsShowsTheRecordedClient", func(t *testing.T) {
		RecordedClientIsListed(t, newStore(t))
	})
	t.Run("RepeatedLoginsKeepTheIndexAtTheLiveSessions", func(t *testing.T) {
		RepeatedLoginsKeepTheIndexBounded(t, newStore(t), 2, 30)
	})
}

// login logs user in on a, without a cookie, and returns the new cookies.
// Under MaxSessionsPerUser, a login that a newer one ended at once (the
// newer one's trim, or its own, ranked it beyond the cap) gets none.
func (a *App) login(user string) ([]*http.Cookie, string, error) {
	r, err := a.Do("/login?u="+user, nil)
	switch {
	case err != nil:
		return nil, "", err
	case r.Status != http.StatusOK:
		return nil, "", fmt.Errorf("/login: %d %s", r.Status, r.Body)
	case len(r.Cookies) == 0 && !a.capped:
		return nil, "", fmt.Errorf("/login: no cookie")
	}
	return r.Cookies, r.Body, nil
}

// parallelLogins logs user in n times in parallel, alternating between apps.
func parallelLogins(t *testing.T, apps []*App, user string, n int) (cookies [][]*http.Cookie, ids []string) {
	t.Helper()
	cookies, ids = make([][]*http.Cookie, n), make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			c, id, err := apps[i%len(apps)].login(user)
			if err != nil {
				t.Error(err)
			}
			cookies[i], ids[i] = c, id
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return cookies, ids
}

// listed returns the ids of user's sessions as m lists them, sorted.
func listed(t *testing.T, m *session.Manager, user string) []string {
	t.Helper()
	infos, err := m.UserSessions(t.Context(), user)
	if err != nil {
		t.Fatalf("UserSessions(%q): %v", user, err)
	}
	ids := make([]string, len(infos))
	for i, info := range infos {
		ids[i] = info.ID
	}
	slices.Sort(ids)
	return ids
}

// mustBeLoggedOut fails unless cookies now get a fresh, empty session
// without a user.
func mustBeLoggedOut(t *testing.T, a *App, cookies []*http.Cookie, id string) {
	t.Helper()
	v := a.Values(t, cookies)
	if v.ID == id || !v.New || len(v.Values) != 0 {
		t.Errorf("session %.6s… after DestroyUserSessions: got session %.6s… (new %v) with %v, want a fresh empty one", id, v.ID, v.New, v.Values)
	}
	if u := a.MustDo(t, "/whoami", cookies).Body; u != "" {
		t.Errorf("session %.6s… after DestroyUserSessions: user %q, want none", id, u)
	}
}

// ParallelLoginsThenDestroyEndsEveryOne logs one user in n times in
// parallel through two app instances on st, with one of the sessions in the
// middle of a slow request; DestroyUserSessions then ends all n: every cookie
// gets a fresh, empty session on either instance, the slow request's save
// does not bring its session back, and nothing is listed any more.
func ParallelLoginsThenDestroyEndsEveryOne(t *testing.T, st session.Store, n int) {
	apps := []*App{New(t, st, nil), New(t, st, nil)}
	cookies, ids := parallelLogins(t, apps, "alice", n)
	want := slices.Sorted(slices.Values(ids))
	if got := listed(t, apps[1].Manager, "alice"); !slices.Equal(got, want) {
		t.Fatalf("UserSessions lists %d sessions, want the %d logins", len(got), n)
	}

	// A request on session 0 is under way on app 1 when the sessions end.
	finishSlow := apps[1].StartSlow(t, cookies[0])
	destroyed, err := apps[0].Manager.DestroyUserSessions(t.Context(), "alice")
	if err != nil || destroyed != n {
		t.Fatalf("DestroyUserSessions = %d, %v; want %d", destroyed, err, n)
	}
	if err := finishSlow(); err != nil {
		t.Fatal(err)
	}

	if b, found, err := st.Get(t.Context(), ids[0]); err != nil || found {
		t.Fatalf("the slow request's session after DestroyUserSessions: Get = %.40s, found %v, %v; want it gone", b, found, err)
	}
	for i := range n {
		mustBeLoggedOut(t, apps[(i+1)%2], cookies[i], ids[i])
	}
	if got := listed(t, apps[0].Manager, "alice"); len(got) != 0 {
		t.Fatalf("UserSessions after DestroyUserSessions lists %d sessions, want none", len(got))
	}
}

// LoginRacingDestroyIsWholeOrGone runs a login of one user on one instance
// at the same time as DestroyUserSessions of that user on another, rounds
// times. Each time the login either survives whole (it works and is listed)
// or is gone whole (its cookie gets a fresh session and nothing is listed):
// never a working session that the index does not know.
func LoginRacingDestroyIsWholeOrGone(t *testing.T, st session.Store, rounds int) {
	loginApp, destroyApp := New(t, st, nil), New(t, st, nil)
	var survived, gone int
	for range rounds {
		if _, _, err := loginApp.login("bob"); err != nil { // something to destroy
			t.Fatal(err)
		}
		start := make(chan struct{})
		var wg sync.WaitGroup
		var cookies []*http.Cookie
		var id string
		var loginErr, destroyErr error
		wg.Go(func() {
			<-start
			cookies, id, loginErr = loginApp.login("bob")
		})
		wg.Go(func() {
			<-start
			_, destroyErr = destroyApp.Manager.DestroyUserSessions(t.Context(), "bob")
		})
		close(start)
		wg.Wait()
		if loginErr != nil || destroyErr != nil {
			t.Fatalf("login: %v; DestroyUserSessions: %v", loginErr, destroyErr)
		}
		works := destroyApp.MustDo(t, "/whoami", cookies).Body == "bob"
		isListed := slices.Contains(listed(t, destroyApp.Manager, "bob"), id)
		switch {
		case works && isListed:
			survived++
		case !works && !isListed:
			gone++
			mustBeLoggedOut(t, loginApp, cookies, id)
		default:
			t.Fatalf("login racing DestroyUserSessions: session works %v, listed %v; want both or neither", works, isListed)
		}
		if _, err := destroyApp.Manager.DestroyUserSessions(t.Context(), "bob"); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d logins survived the race whole, %d were destroyed whole", survived, gone)
}

// CapHoldsUnderParallelLogins logs one user in n times in parallel through
// two instances with MaxSessionsPerUser max: afterwards at least one (the
// newest login) and at most max sessions are listed, exactly those work,
// and every other cookie gets a fresh session (a login that a newer one
// ended at once got none).
func CapHoldsUnderParallelLogins(t *testing.T, st session.Store, max, n int) {
	capped := func(o *session.Options) { o.MaxSessionsPerUser = max }
	apps := []*App{New(t, st, capped), New(t, st, capped)}
	cookies, ids := parallelLogins(t, apps, "carol", n)
	got := listed(t, apps[0].Manager, "carol")
	if len(got) == 0 || len(got) > max {
		t.Fatalf("%d sessions listed after %d parallel logins with MaxSessionsPerUser %d", len(got), n, max)
	}
	working := 0
	for i := range n {
		works := apps[i%2].MustDo(t, "/whoami", cookies[i]).Body == "carol"
		if works != slices.Contains(got, ids[i]) {
			t.Errorf("session %.6s…: works %v, listed %v", ids[i], works, !works)
		}
		if works {
			working++
		}
	}
	t.Logf("%d of %d parallel logins kept (cap %d)", working, n, max)
	// One more login, now without contention, is kept, within the cap.
	_, id, err := apps[1].login("carol")
	if err != nil {
		t.Fatal(err)
	}
	if got := listed(t, apps[0].Manager, "carol"); len(got) > max || !slices.Contains(got, id) {
		t.Fatalf("%d sessions after one more login (listed: %v), want at most %d with it", len(got), slices.Contains(got, id), max)
	}
}

// LogOutOtherDevicesKeepsOwn logs one user in three times and ends every
// session but the first: the first still works, the others do not.
func LogOutOtherDevicesKeepsOwn(t *testing.T, st session.Store) {
	a := New(t, st, nil)
	cookies, ids := parallelLogins(t, []*App{a}, "dave", 3)
	n, err := a.Manager.DestroyUserSessions(t.Context(), "dave", ids[0])
	if err != nil || n != 2 {
		t.Fatalf("DestroyUserSessions keeping one = %d, %v; want 2", n, err)
	}
	if u := a.MustDo(t, "/whoami", cookies[0]).Body; u != "dave" {
		t.Fatalf("the kept session's user = %q, want dave", u)
	}
	for i := 1; i < 3; i++ {
		mustBeLoggedOut(t, a, cookies[i], ids[i])
	}
	if got := listed(t, a.Manager, "dave"); !slices.Equal(got, ids[:1]) {
		t.Fatalf("UserSessions lists %d sessions, want only the kept one", len(got))
	}
}

// DestroyOne is how a scenario ends one of a user's sessions: ByID or
// ByPublicID.
type DestroyOne func(ctx context.Context, m *session.Manager, user, id string) (bool, error)

// ByID ends the session with DestroyUserSession.
func ByID(ctx context.Context, m *session.Manager, user, id string) (bool, error) {
	return m.DestroyUserSession(ctx, user, id)
}

// ByPublicID ends the session with DestroyUserSessionByPublicID, as a
// devices page's form does.
func ByPublicID(ctx context.Context, m *session.Manager, user, id string) (bool, error) {
	return m.DestroyUserSessionByPublicID(ctx, user, session.SessionInfo{ID: id}.PublicID())
}

// LogOutOneDeviceEndsItAlone logs one user in three times and another once,
// through two app instances on st, and ends the user's second session with
// destroy while a request on it is under way on the other instance: that
// session is gone for good (the request's save does not bring it back),
// the user's other sessions and the other user's work, and the index lists
// the user's two others. destroy refuses the other user's session, and one
// of the user's for the other user.
func LogOutOneDeviceEndsItAlone(t *testing.T, st session.Store, destroy DestroyOne) {
	apps := []*App{New(t, st, nil), New(t, st, nil)}
	cookies, ids := parallelLogins(t, apps, "frank", 3)
	graceCookies, graceIDs := parallelLogins(t, apps, "grace", 1)
	m := apps[0].Manager
	for _, c := range []struct{ user, id string }{{"frank", graceIDs[0]}, {"grace", ids[0]}, {"frank", "no-such-session"}} {
		if ok, err := destroy(t.Context(), m, c.user, c.id); ok || err != nil {
			t.Fatalf("destroy(%s, %.6s…) = %v, %v; want false, nil: not theirs", c.user, c.id, ok, err)
		}
	}

	finishSlow := apps[1].StartSlow(t, cookies[1])
	ok, err := destroy(t.Context(), m, "frank", ids[1])
	if err := finishSlow(); err != nil {
		t.Fatal(err)
	}
	if !ok || err != nil {
		t.Fatalf("destroy(frank, his second session) = %v, %v; want true, nil", ok, err)
	}
	if b, found, err := st.Get(t.Context(), ids[1]); err != nil || found {
		t.Fatalf("the ended session: Get = %.40s, found %v, %v; want it gone", b, found, err)
	}
	mustBeLoggedOut(t, apps[1], cookies[1], ids[1])
	for _, i := range []int{0, 2} {
		if u := apps[i%2].MustDo(t, "/whoami", cookies[i]).Body; u != "frank" {
			t.Errorf("frank's session %d: user %q, want frank", i, u)
		}
	}
	if u := apps[1].MustDo(t, "/whoami", graceCookies[0]).Body; u != "grace" {
		t.Errorf("grace's session: user %q, want grace", u)
	}
	want := slices.Sorted(slices.Values([]string{ids[0], ids[2]}))
	if got := listed(t, apps[1].Manager, "frank"); !slices.Equal(got, want) {
		t.Fatalf("UserSessions lists %d sessions, want frank's two others", len(got))
	}
	if ok, err := destroy(t.Context(), m, "frank", ids[1]); ok || err != nil {
		t.Fatalf("destroy of the ended session again = %v, %v; want false, nil", ok, err)
	}
}

// RecordedClientIsListed logs in with a user agent, through a proxy, with
// RecordClient and TrustProxy: UserSessions shows both, and a request from
// another address updates the IP.
func RecordedClientIsListed(t *testing.T, st session.Store) {
	a := New(t, st, func(o *session.Options) { o.RecordClient, o.TrustProxy = true, true })
	do := func(path, ip string, cookies []*http.Cookie) Response {
		req, _ := http.NewRequest("GET", a.URL+path, nil)
		req.Header.Set("User-Agent", "apptest-browser/1.0")
		req.Header.Set("X-Forwarded-For", ip+", 10.0.0.1")
		for _, c := range cookies {
			req.AddCookie(c)
		}
		resp, err := a.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return Response{Status: resp.StatusCode, Cookies: resp.Cookies()}
	}
	r := do("/login?u=erin", "192.0.2.7", nil)
	check := func(ip string) {
		t.Helper()
		infos, err := a.Manager.UserSessions(t.Context(), "erin")
		if err != nil || len(infos) != 1 {
			t.Fatalf("UserSessions = %d sessions, %v; want 1", len(infos), err)
		}
		i := infos[0]
		if i.UserAgent != "apptest-browser/1.0" || i.IP != ip || i.Created.IsZero() || i.LastUsed.IsZero() || !i.Expires.After(time.Now()) {
			t.Fatalf("SessionInfo = %+v, want the user agent, IP %s and times", i, ip)
		}
	}
	check("192.0.2.7")
	do("/get?k=x", "198.51.100.9", r.Cookies)
	check("198.51.100.9")
}

// UnreadableLastUseIsListedAndDestroyed logs a user in twice, then spoils
// the last-use time of one session's index entry as a hand edit or another
// program might (spoil does it the store's way): UserSessions still lists
// both, the spoiled one with a zero LastUsed and last, and
// DestroyUserSessions ends both.
func UnreadableLastUseIsListedAndDestroyed(t *testing.T, st session.Store, spoil func(user, id string) error) {
	a := New(t, st, nil)
	cookies, ids := parallelLogins(t, []*App{a}, "frank", 2)
	if err := spoil("frank", ids[0]); err != nil {
		t.Fatal(err)
	}
	infos, err := a.Manager.UserSessions(t.Context(), "frank")
	if err != nil || len(infos) != 2 {
		t.Fatalf("UserSessions with a spoiled last use = %d sessions, %v; want both", len(infos), err)
	}
	if infos[0].ID != ids[1] || infos[0].LastUsed.IsZero() || infos[1].ID != ids[0] || !infos[1].LastUsed.IsZero() {
		t.Fatalf("UserSessions = %+v; want the intact session first, then the spoiled one with a zero LastUsed", infos)
	}
	n, err := a.Manager.DestroyUserSessions(t.Context(), "frank")
	if err != nil || n != 2 {
		t.Fatalf("DestroyUserSessions = %d, %v; want 2", n, err)
	}
	for i := range cookies {
		mustBeLoggedOut(t, a, cookies[i], ids[i])
	}
}

// BenchmarkUsers measures what the user index costs on st: a login request
// with SetUser against the same request without it, and UserSessions and
// DestroyUserSessions for a user with 10 and with 1,000 sessions.
func BenchmarkUsers(b *testing.B, st session.Store) {
	app := New(b, st, nil)
	b.Run("LoginWithoutSetUser", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			app.Serve(b, "/login?u=", nil)
		}
	})
	b.Run("LoginWithSetUser", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			app.Serve(b, fmt.Sprintf("/login?u=bench-login-%d", i%1000), nil) // users with a few sessions each
		}
	})
	ix := st.(session.UserIndex)
	fill := func(b *testing.B, user string, n int) {
		b.Helper()
		exp := time.Now().Add(time.Hour)
		data := fmt.Appendf(nil, `{"cookie":{"originalMaxAge":3600000,"expires":%q,"httpOnly":true,"path":"/"},%q:%q,"views":1}`,
			exp.UTC().Format("2006-01-02T15:04:05.000Z"), session.UserKey, user)
		var wg sync.WaitGroup
		sem := make(chan struct{}, 16)
		for i := range n {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				id := fmt.Sprintf("%s-%06d", user, i)
				if err := ix.IndexUserSession(b.Context(), user, id, time.Now(), exp); err != nil {
					b.Error(err)
				}
				if err := st.Set(b.Context(), id, data, exp); err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
	}
	for _, n := range []int{10, 1000} {
		user := fmt.Sprintf("bench-%d", n)
		fill(b, user, n)
		b.Run(fmt.Sprintf("UserSessions/%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if infos, err := app.Manager.UserSessions(b.Context(), user); err != nil || len(infos) != n {
					b.Fatalf("UserSessions = %d, %v; want %d", len(infos), err, n)
				}
			}
		})
		b.Run(fmt.Sprintf("DestroyUserSessions/%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				u := fmt.Sprintf("%s-destroy-%d", user, i)
				fill(b, u, n)
				b.StartTimer()
				if got, err := app.Manager.DestroyUserSessions(b.Context(), u); err != nil || got != n {
					b.Fatalf("DestroyUserSessions = %d, %v; want %d", got, err, n)
				}
			}
		})
	}
}

// indexEntries counts user's index entries in st, live or not.
func indexEntries(t *testing.T, st session.Store, user string) int {
	t.Helper()
	n := 0
	err := st.(session.UserIndex).UserSessions(t.Context(), user, func(string, time.Time, time.Time, []byte) { n++ })
	if err != nil {
		t.Fatalf("UserSessions(%q): %v", user, err)
	}
	return n
}

// RepeatedLoginsKeepTheIndexBounded logs one user in n times, one after
// the other, through two instances with MaxSessionsPerUser max: the store's
// index of the user never holds more than the cap (the sessions trimmed
// lose their entries), and after DestroyUserSessions it is empty.
func RepeatedLoginsKeepTheIndexBounded(t *testing.T, st session.Store, max, n int) {
	capped := func(o *session.Options) { o.MaxSessionsPerUser = max }
	apps := []*App{New(t, st, capped), New(t, st, capped)}
	for i := range n {
		if _, _, err := apps[i%2].login("erin"); err != nil {
			t.Fatal(err)
		}
		if e := indexEntries(t, st, "erin"); e > max {
			t.Fatalf("after login %d: %d index entries, want at most MaxSessionsPerUser %d", i+1, e, max)
		}
	}
	if _, err := apps[0].Manager.DestroyUserSessions(t.Context(), "erin"); err != nil {
		t.Fatal(err)
	}
	if e := indexEntries(t, st, "erin"); e != 0 {
		t.Fatalf("%d index entries after DestroyUserSessions, want none", e)
	}
}
