package session

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// outrankedLogin sets up a login that a newer one outranks, one after the
// other: the laptop holds a stored anonymous session, and the phone is
// logged in as ada with a login time ten seconds ahead of the clock (an
// instance whose clock is ahead, within loginSkew), so that the laptop's
// login, next, ranks after it. It returns the ids of both sessions.
func outrankedLogin(t *testing.T, m *Manager, fs *faultStore, h http.Handler) (laptop, phone *browser, anon, phoneID string) {
	t.Helper()
	laptop, phone = newBrowser(t, h), newBrowser(t, h)
	laptop.get("/logout-unbind?d=n") // stored: it holds a flash
	anon = mustID(t, m, laptop.cookie)
	phoneID = login(phone, "ada")
	setLoginTime(t, fs, phoneID, `"`+fs.clock.Now().Add(10*time.Second).Format(isoMillis)+`"`, fs.clock.Now().Add(time.Hour))
	fs.clock.Advance(time.Second)
	return laptop, phone, anon, phoneID
}

// A login saved by hand (Session.Save) that a newer login outranks, whose
// RenewID then could not end the client's old id (its destroy failed):
// the write is undone and Save returns the error, as for any login whose
// old id cannot be ended. The end of the request saved the login again,
// and did not rank it, its login taken for done: it stored the session
// beside the newer login's, past a cap of 1, logged in, and sent its
// cookie. It now ranks it again, and ends it.
func TestOutrankedLoginWhoseOldIDSurvivesIsRankedAgainAtItsNextWrite(t *testing.T) {
	m, fs, h := newestLoginSetup(t, 1)
	laptop, phone, anon, phoneID := outrankedLogin(t, m, fs, h)
	var failed atomic.Int32
	fs.on(func(_ context.Context, op, id string) error {
		if op == "Destroy" && id == anon && failed.Add(1) <= 2 {
			return errDown // the old id's, and its retry, in the Save
		}
		return nil
	})
	rec := laptop.get("/login-save?u=ada&d=l")
	fs.on(nil)
	if failed.Load() < 2 || !strings.HasPrefix(rec.Body.String(), "failed ") {
		t.Fatalf("setting up: the login's Save answered %q; want it failed at the old id's destroy", rec.Body.String())
	}
	if got := liveOf(t, m, "ada"); !slices.Equal(got, []string{phoneID}) {
		t.Errorf("ada's sessions %v; want the newer login's %v alone", short(got), short([]string{phoneID}))
	}
	if setCookie(rec) != "" {
		t.Errorf("the outranked login sent Set-Cookie %q", setCookie(rec))
	}
	if u := laptop.get("/whoami").Body.String(); u != "" {
		t.Errorf("the laptop is logged in as %q; want no one", u)
	}
	if u := phone.get("/whoami").Body.String(); u != "ada" {
		t.Errorf("the phone is logged in as %q; want ada", u)
	}
}
