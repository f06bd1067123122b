package session

import (
	"net/http"
	"slices"
	"testing"
	"time"
)

// setLoginTime rewrites the login time (LoginKey) in the stored document of
// id to raw, as an Express app, a hand edit, or an instance whose clock is
// ahead may have written it.
func setLoginTime(t *testing.T, fs *faultStore, id, raw string, exp time.Time) {
	t.Helper()
	data, found, err := fs.Store.Get(t.Context(), id)
	if err != nil || !found || !loginKeyRE.Match(data) {
		t.Fatalf("setting up: session %s: %s, found %v, %v; want one with a login time", short([]string{id}), data, found, err)
	}
	if err := fs.Store.Set(t.Context(), id, loginKeyRE.ReplaceAll(data, []byte(`,"`+LoginKey+`":`+raw)), exp); err != nil {
		t.Fatal(err)
	}
}

// A session whose login time lies in the future, by more than the clocks
// of app instances can differ (a year 3000 that an Express app or a hand
// edit wrote, or an instance whose clock is hours ahead), ranked first in
// every login's trim, so that under a cap of 1 each later login ended
// itself: the user could not log in anywhere else for as long as that
// session lived, each login answered 200 with no cookie. Such a login time
// now counts as none: the session ranks by its last use, and the login
// ends it. A login time ahead by less than a minute (clocks of instances a
// few seconds apart) still ranks as written.
func TestAFarFutureLoginTimeDoesNotOutrankEveryLaterLogin(t *testing.T) {
	for _, tc := range []struct {
		name       string
		raw        func(now time.Time) string // the phone's login time, from the laptop's login
		phoneStays bool
	}{
		{"year 3000", fixed(`"3000-01-01T00:00:00.000Z"`), false},
		{"JavaScript's last date", fixed(`"+275760-09-13T00:00:00.000Z"`), false},
		{"an hour ahead", ahead(time.Hour), false},
		{"two minutes ahead", ahead(2 * time.Minute), false},
		{"thirty seconds ahead", ahead(30 * time.Second), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, fs, h := newestLoginSetup(t, 1)
			phone := newBrowser(t, h)
			phoneID := login(phone, "ada")
			fs.clock.Advance(time.Second)
			at := tc.raw(fs.clock.Now())
			setLoginTime(t, fs, phoneID, at, fs.clock.Now().Add(time.Hour))
			laptop := newBrowser(t, h)
			rec := laptop.get("/login?u=ada")
			laptopID := rec.Body.String()
			want, loser := laptopID, phone
			if tc.phoneStays {
				want, loser = phoneID, laptop
			}
			if got := liveOf(t, m, "ada"); !slices.Equal(got, []string{want}) {
				t.Fatalf("after a login with the phone's login time %s, ada's sessions %v; want %v alone (phone %v, laptop %v)",
					at, short(got), short([]string{want}), short([]string{phoneID}), short([]string{laptopID}))
			}
			if rec.Code != http.StatusOK || (setCookie(rec) == "") != tc.phoneStays {
				t.Errorf("the laptop's login: status %d, Set-Cookie %q", rec.Code, setCookie(rec))
			}
			if u := loser.get("/whoami").Body.String(); u != "" {
				t.Errorf("the session that lost is logged in as %q", u)
			}
		})
	}
}

func fixed(raw string) func(time.Time) string { return func(time.Time) string { return raw } }

func ahead(d time.Duration) func(time.Time) string {
	return func(now time.Time) string { return `"` + now.Add(d).UTC().Format(isoMillis) + `"` }
}

// A session whose own login time is far ahead ranks so in its own trim
// too, as one without a login time: bound again to its user (SetUser of
// the user it has, which keeps the login time) under a cap that its user's
// sessions exceed (the cap lowered since they logged in), it ranks after a
// session of a real login, and ends itself, where it ranked first and
// ended the other.
func TestAFarFutureLoginTimeRanksAsNoneInItsOwnTrim(t *testing.T) {
	m, fs, h := newestLoginSetup(t, 2)
	phone := newBrowser(t, h)
	phoneID := login(phone, "ada")
	setLoginTime(t, fs, phoneID, `"3000-01-01T00:00:00.000Z"`, fs.clock.Now().Add(time.Hour))
	fs.clock.Advance(time.Second)
	laptopID := login(newBrowser(t, h), "ada")
	if got := liveOf(t, m, "ada"); !slices.Equal(got, sortedIDs(phoneID, laptopID)) {
		t.Fatalf("setting up: ada's sessions %v; want the phone's and the laptop's", short(got))
	}
	fs.clock.Advance(time.Second)
	m.opts.MaxSessionsPerUser = 1
	if rec := phone.get("/rebind?u=ada&n=1"); rec.Code != http.StatusOK {
		t.Fatalf("/rebind: %d", rec.Code)
	}
	if got := liveOf(t, m, "ada"); !slices.Equal(got, []string{laptopID}) {
		t.Errorf("after the phone's SetUser under a cap of 1, ada's sessions %v; want the laptop's %v alone", short(got), short([]string{laptopID}))
	}
}
