package session

import (
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// lostChangeApp is trimApp with /login-then, a login saved by hand
// (Session.Save) after which the handler goes on with the session as its
// "then" parameter says, and answers "err user id" as /login-save does, the
// error being that of a second Save when "save2" is set:
//
//	set, delete, flash, maxage  a change (a value, a flash message, the
//	                            cookie's expiry)
//	relogin                     SetUser of the same user again, then a value
//	regenerate, destroy         Regenerate or Destroy, then a flash message
//	renew                       RenewID, then a value
func lostChangeApp(t *testing.T) http.Handler {
	trim := trimApp(t)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/login-then" {
			trim.ServeHTTP(w, r)
			return
		}
		s := From(r)
		if err := s.RenewID(r.Context()); err != nil {
			t.Errorf("RenewID: %v", err)
		}
		s.SetUser(r.FormValue("u"))
		err := s.Save(r.Context())
		if err != nil {
			t.Errorf("the login's Save: %v", err)
		}
		switch r.FormValue("then") {
		case "set":
			s.Set("theme", "dark")
		case "delete":
			s.Delete("theme")
			s.Set("seen", 1)
		case "flash":
			s.Flash("info", "welcome")
		case "maxage":
			s.Cookie().SetMaxAge(30 * 24 * time.Hour) // "remember me"
		case "relogin":
			s.SetUser(r.FormValue("u"))
			s.Set("theme", "dark")
		case "regenerate":
			if err := s.Regenerate(r.Context()); err != nil {
				t.Errorf("Regenerate: %v", err)
			}
			s.Flash("info", "start over")
		case "destroy":
			if err := s.Destroy(r.Context()); err != nil {
				t.Errorf("Destroy: %v", err)
			}
			s.Flash("info", "logged out")
		case "renew":
			if err := s.RenewID(r.Context()); err != nil {
				t.Errorf("RenewID: %v", err)
			}
			s.Set("theme", "dark")
		}
		if r.FormValue("save2") != "" {
			err = s.Save(r.Context())
		}
		result := "ok"
		if errors.Is(err, ErrNotFound) {
			result = "notfound"
		} else if err != nil {
			result = "failed"
		}
		io.WriteString(w, strings.Join([]string{result, cmpOr(s.User(), "-"), s.ID()}, " "))
	})
}

// lostLoginRace runs two logins of ada under MaxSessionsPerUser 1, each
// listing the user's sessions after both wrote theirs: older, a second
// before newer, sends olderPath (which a newer login ends), newer sends
// /login. With sameBrowser, both come from one browser with one stored
// anonymous session's cookie (a double-clicked login form); otherwise from
// two devices, the older one's with that cookie. It returns the two
// responses once both are done.
func lostLoginRace(t *testing.T, m *Manager, fs *faultStore, h http.Handler, olderPath string, sameBrowser bool) (older, newer *parallelLogin) {
	t.Helper()
	first := newBrowser(t, h)
	first.get("/logout-unbind?d=n") // stored: it holds a flash
	second := newBrowser(t, h)
	if sameBrowser {
		second.cookie = first.cookie
	}
	il := holdTrims(fs)
	older = &parallelLogin{b: first, path: olderPath}
	newer = &parallelLogin{b: second, path: "/login?u=ada&d=b"}
	older.start()
	await(t, il.listing, 1, "the listing") // the older wrote its session
	fs.clock.Advance(time.Second)
	newer.start()
	await(t, il.listing, 1, "the listing") // so did the newer: each lists both
	close(il.releaseListings)
	await(t, il.destroying, 2, "a destroy") // each listed before any destroy
	close(il.releaseDestroys)
	older.wait()
	newer.wait()
	fs.on(nil)
	if newer.code != http.StatusOK || newer.setCookie == "" || mustID(t, m, second.cookie) != newer.body {
		t.Fatalf("setting up: the newer login: status %d, body %q, Set-Cookie %q; want 200 and its cookie", newer.code, newer.body, newer.setCookie)
	}
	return older, newer
}

// A login that a newer login of the same user ended (MaxSessionsPerUser 1,
// a double-clicked login form or two devices at once), whose handler goes
// on changing the session after its Save (a value, a flash message, a
// "remember me" cookie expiry), stores nothing and sends no Set-Cookie:
// the newer login stays the user's one session, and in a browser that sent
// both, its cookie stays. The change used to make the empty session that
// follows the lost login modified, so the end of the request stored it and
// sent its cookie, which replaced the newer login's in that browser and
// left it logged out. A second Save by hand returns an error wrapping
// ErrNotFound (the session is gone), rather than store it.
func TestChangesAfterALostLoginAreNotStoredAndSendNoCookie(t *testing.T) {
	for _, then := range []string{"set", "delete", "flash", "maxage"} {
		for _, sameBrowser := range []bool{true, false} {
			for _, save2 := range []bool{false, true} {
				name := then + map[bool]string{true: "/double-click", false: "/two-devices"}[sameBrowser] + map[bool]string{true: "/save-again", false: ""}[save2]
				t.Run(name, func(t *testing.T) {
					m, fs, _ := newestLoginSetup(t, 1)
					h := m.Handler(lostChangeApp(t))
					path := "/login-then?u=ada&d=a&then=" + then
					if save2 {
						path += "&save2=1"
					}
					older, newer := lostLoginRace(t, m, fs, h, path, sameBrowser)
					if older.code != http.StatusOK || older.setCookie != "" {
						t.Errorf("the lost login: status %d, Set-Cookie %q; want 200 and no Set-Cookie", older.code, older.setCookie)
					}
					wantSave := map[bool]string{true: "notfound", false: "ok"}[save2]
					if f := strings.Fields(older.body); len(f) != 3 || f[0] != wantSave || f[1] != "-" {
						t.Errorf("the lost login's answer %q; want %s, no user", older.body, wantSave)
					}
					if got := storedIDs(t, fs); !slices.Equal(got, []string{newer.body}) {
						t.Errorf("the store holds %v; want the newer login's %v alone", short(got), short([]string{newer.body}))
					}
					if got := liveOf(t, m, "ada"); !slices.Equal(got, []string{newer.body}) {
						t.Errorf("ada's sessions %v; want the newer login's %v alone", short(got), short([]string{newer.body}))
					}
					if u := newer.b.get("/whoami").Body.String(); u != "ada" {
						t.Errorf("the newer login's client is logged in as %q; want ada", u)
					}
					// (In a double-click the browser's one cookie is the
					// newer login's, which newer.b holds.)
					if u := older.b.get("/whoami").Body.String(); u != "" {
						t.Errorf("the lost login's client is logged in as %q; want no one", u)
					}
				})
			}
		}
	}
}

// After a login that a newer login ended, a handler that deliberately
// starts over gets a session as any fresh one: a login again (SetUser)
// is a new login, now the newest, stored with its cookie, and it ends the
// other under the cap of 1; Regenerate, RenewID or Destroy, then a change,
// store a session without the user and send its cookie, and the newer
// login stays.
func TestAStartOverAfterALostLoginIsStoredAsOnAFreshSession(t *testing.T) {
	for _, then := range []string{"relogin", "regenerate", "renew", "destroy"} {
		t.Run(then, func(t *testing.T) {
			m, fs, _ := newestLoginSetup(t, 1)
			h := m.Handler(lostChangeApp(t))
			older, newer := lostLoginRace(t, m, fs, h, "/login-then?u=ada&d=a&then="+then, false)
			f := strings.Fields(older.body)
			if older.code != http.StatusOK || len(f) != 3 || f[0] != "ok" {
				t.Fatalf("the login that started over: status %d, answer %q; want 200 and ok", older.code, older.body)
			}
			if older.setCookie == "" || mustID(t, m, older.b.cookie) != f[2] {
				t.Fatalf("the login that started over: Set-Cookie %q; want the cookie of %s", older.setCookie, f[2])
			}
			wantUser, wantLive, wantNewer, wantStored := "", []string{newer.body}, "ada", sortedIDs(newer.body, f[2])
			if then == "relogin" {
				wantUser, wantLive, wantNewer, wantStored = "ada", []string{f[2]}, "", []string{f[2]}
			}
			if got := storedIDs(t, fs); !slices.Equal(got, wantStored) {
				t.Errorf("the store holds %v; want %v", short(got), short(wantStored))
			}
			if got := liveOf(t, m, "ada"); !slices.Equal(got, wantLive) {
				t.Errorf("ada's sessions %v; want %v", short(got), short(wantLive))
			}
			if u := older.b.get("/whoami").Body.String(); u != wantUser {
				t.Errorf("the client that started over is logged in as %q; want %q", u, wantUser)
			}
			if u := newer.b.get("/whoami").Body.String(); u != wantNewer {
				t.Errorf("the newer login's client is logged in as %q; want %q", u, wantNewer)
			}
		})
	}
}
