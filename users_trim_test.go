package session

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/session/internal/shortid"
)

// trimApp is usersApp with the ways a login can get its session:
// /login renews the id (RenewID), /login-regenerate starts afresh
// (Regenerate), /bind keeps the id, /rebind binds the user again with a
// change that makes a save, and /login-save saves the login itself
// (Session.Save) and answers its error, the user and the id the session has
// after it ("err user id"), setting a flash when the save failed.
func trimApp(t *testing.T) http.Handler {
	users := usersApp(t)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := From(r)
		switch r.URL.Path {
		case "/login-regenerate":
			if err := s.Regenerate(r.Context()); err != nil {
				t.Errorf("Regenerate: %v", err)
			}
			s.SetUser(r.FormValue("u"))
			io.WriteString(w, s.ID())
		case "/rebind":
			s.SetUser(r.FormValue("u"))
			s.Set("seen", r.FormValue("n"))
		case "/login-save":
			if err := s.RenewID(r.Context()); err != nil {
				t.Errorf("RenewID: %v", err)
			}
			s.SetUser(r.FormValue("u"))
			err := s.Save(r.Context())
			if err != nil {
				s.Set("flash", "could not log you in, try again")
			}
			io.WriteString(w, strings.Join([]string{
				map[bool]string{true: "failed", false: "ok"}[err != nil], cmpOr(s.User(), "-"), s.ID(),
			}, " "))
		default:
			users.ServeHTTP(w, r)
		}
	})
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// trimSetup makes a manager capped at two sessions per user on a fault
// store, with an ErrorHandler answering 503, and logs the phone and the
// tablet in as ada, a second apart. It returns their session ids.
func trimSetup(t *testing.T, logs io.Writer) (m *Manager, fs *faultStore, h http.Handler, phone, tablet string) {
	t.Helper()
	fs = &faultStore{countingStore: newCountingStore(t)}
	if logs == nil {
		logs = io.Discard
	}
	m, _ = newTestManager(t, Options{Store: fs, MaxSessionsPerUser: 2, Logger: slog.New(slog.NewTextHandler(logs, nil)),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			http.Error(w, "try again", http.StatusServiceUnavailable)
		}})
	m.now = fs.clock.Now
	h = m.Handler(trimApp(t))
	phone = login(newBrowser(t, h), "ada")
	fs.clock.Advance(time.Second)
	tablet = login(newBrowser(t, h), "ada")
	fs.clock.Advance(time.Second)
	return m, fs, h, phone, tablet
}

// failTrim makes the trim of a login fail at op: the listing of the user's
// sessions, or the destroy of the one beyond the cap (victim), while the
// rest of the store works.
func failTrim(fs *faultStore, op, victim string) {
	fs.on(func(_ context.Context, o, id string) error {
		if o == op && (op == "UserSessions" || id == victim) {
			return errDown
		}
		return nil
	})
}

func sortedIDs(ids ...string) []string { return slices.Sorted(slices.Values(ids)) }

// A login whose MaxSessionsPerUser trimming fails (the listing of the
// user's sessions, or a destroy beyond the cap) did not complete: the
// request gets the ErrorHandler's answer and no cookie, and the manager
// removes the session the login wrote. Otherwise it stayed stored and
// indexed, reachable by no one, and as the user's most recently used
// session the next login's trimming kept it and ended a real device's
// session in its place.
func TestLoginWhoseTrimFailsGetsNoCookieAndLeavesNoSession(t *testing.T) {
	for _, path := range []string{"/login", "/login-regenerate"} {
		for _, op := range []string{"UserSessions", "Destroy"} {
			t.Run(path+"/"+op, func(t *testing.T) {
				m, fs, h, phone, tablet := trimSetup(t, nil)
				laptop := newBrowser(t, h)
				anon := laptop.get("/logout-unbind").Body.String() // an anonymous session, which the login renews
				failTrim(fs, op, phone)
				rec := laptop.get(path + "?u=ada")
				fs.on(nil)
				if rec.Code != http.StatusServiceUnavailable || setCookie(rec) != "" {
					t.Fatalf("status %d, Set-Cookie %q; want the ErrorHandler's 503 and no cookie", rec.Code, setCookie(rec))
				}
				if got, want := indexOf(t, m, "ada"), sortedIDs(phone, tablet); !slices.Equal(got, want) {
					t.Fatalf("after the failed login, ada's index holds %v, want the phone and the tablet %v alone", short(got), short(want))
				}
				// The laptop's anonymous session stays after a failed
				// RenewID (the client keeps it); Regenerate ended it.
				want := sortedIDs(phone, tablet)
				if path == "/login" {
					want = sortedIDs(phone, tablet, anon)
				}
				if got := storedIDs(t, fs); !slices.Equal(got, want) {
					t.Fatalf("after the failed login the store holds %v, want %v", short(got), short(want))
				}
				// The laptop tries again, and the trim ends the least
				// recently used real device: the phone.
				fs.clock.Advance(time.Second)
				id := strings.TrimSpace(laptop.get(path + "?u=ada").Body.String())
				if got, want := liveOf(t, m, "ada"), sortedIDs(tablet, id); !slices.Equal(got, want) {
					t.Fatalf("after the second login, ada's sessions are %v, want the tablet's and the laptop's %v", short(got), short(want))
				}
			})
		}
	}
}

// A login that binds the user without a new id (SetUser alone) and whose
// trimming fails ends the session it was made in: the client's cookie
// names it, so leaving it stored would leave the client logged in despite
// the error. A session that was the user's already (SetUser again) is not
// a new login: it stays, and the request gets the ErrorHandler's answer.
func TestBindingWithoutRenewIDWhoseTrimFailsEndsTheSession(t *testing.T) {
	m, fs, h, phone, tablet := trimSetup(t, nil)
	laptop := newBrowser(t, h)
	anon := laptop.get("/logout-unbind").Body.String()
	failTrim(fs, "UserSessions", "")
	rec := laptop.get("/bind?u=ada")
	fs.on(nil)
	if rec.Code != http.StatusServiceUnavailable || setCookie(rec) != "" {
		t.Fatalf("status %d, Set-Cookie %q; want the ErrorHandler's 503 and no cookie", rec.Code, setCookie(rec))
	}
	if _, found, _ := fs.Store.Get(t.Context(), anon); found {
		t.Fatal("the session bound to ada by the failed login is still stored")
	}
	if u := laptop.get("/whoami").Body.String(); u != "" {
		t.Fatalf("after the failed login the laptop's cookie gives a session of %q, want none", u)
	}
	if got, want := indexOf(t, m, "ada"), sortedIDs(phone, tablet); !slices.Equal(got, want) {
		t.Fatalf("ada's index holds %v, want %v", short(got), short(want))
	}

	// The tablet, already ada's, binds ada again while the trim fails.
	tb := newBrowser(t, h)
	login(tb, "ada") // the tablet's browser, logged in again: now the phone is ended
	kept := liveOf(t, m, "ada")
	failTrim(fs, "UserSessions", "")
	rec = tb.get("/rebind?u=ada&n=1")
	fs.on(nil)
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want the ErrorHandler's 503", rec.Code)
	}
	if u := tb.get("/whoami").Body.String(); u != "ada" {
		t.Fatalf("the session that was ada's before the failed trim gives %q, want ada: it is not a new login", u)
	}
	if got := liveOf(t, m, "ada"); !slices.Equal(got, kept) {
		t.Fatalf("ada's sessions %v, want them unchanged %v", short(got), short(kept))
	}
}

// A handler that saves the login itself (Session.Save) gets the trim's
// error, and the session is then as after Destroy: new and empty, without
// the user, stored only if the handler changes it, and the login's session
// is removed. The end of the request neither saves the login again nor
// sends its cookie; a flash set after the error makes a new anonymous
// session, whose cookie goes out.
func TestLoginSavedByTheHandlerWhoseTrimFailsReturnsTheErrorAndDropsTheLogin(t *testing.T) {
	m, fs, h, phone, tablet := trimSetup(t, nil)
	laptop := newBrowser(t, h)
	failTrim(fs, "UserSessions", "")
	rec := laptop.get("/login-save?u=ada")
	fs.on(nil)
	result, user, id := func() (string, string, string) {
		f := strings.Fields(rec.Body.String())
		if len(f) != 3 {
			t.Fatalf("status %d, body %q", rec.Code, rec.Body)
		}
		return f[0], f[1], f[2]
	}()
	if rec.Code != http.StatusOK || result != "failed" || user != "-" {
		t.Fatalf("status %d, Save %s, user %s after it; want the handler's answer, a failed Save and no user", rec.Code, result, user)
	}
	if got, want := indexOf(t, m, "ada"), sortedIDs(phone, tablet); !slices.Equal(got, want) {
		t.Fatalf("ada's index holds %v, want %v", short(got), short(want))
	}
	c := setCookie(rec)
	if c == "" || laptop.cookie == "" || mustID(t, m, laptop.cookie) != id {
		t.Fatalf("Set-Cookie %q; want the cookie of the new session %s that holds the flash", c, shortid.Of(id))
	}
	if u := laptop.get("/whoami").Body.String(); u != "" {
		t.Fatalf("the session after the failed login belongs to %q, want no one", u)
	}
	if n, _ := fs.Store.Count(t.Context()); n != 3 {
		t.Fatalf("the store holds %d sessions, want the phone's, the tablet's and the flash's", n)
	}
}

// When the removal of the failed login's session fails too, it is logged
// (by its short id), the request still gets no cookie, and the session
// expires on its own.
func TestLoginWhoseTrimAndCleanUpFailIsLogged(t *testing.T) {
	var logs bytes.Buffer
	_, fs, h, _, _ := trimSetup(t, &logs)
	laptop := newBrowser(t, h)
	var newID atomic.Value
	fs.on(func(_ context.Context, op, id string) error {
		switch op {
		case "CompareAndSwap":
			newID.Store(id)
		case "UserSessions", "Destroy":
			return errDown
		}
		return nil
	})
	rec := laptop.get("/login?u=ada")
	fs.on(nil)
	if rec.Code != http.StatusServiceUnavailable || setCookie(rec) != "" {
		t.Fatalf("status %d, Set-Cookie %q; want the ErrorHandler's 503 and no cookie", rec.Code, setCookie(rec))
	}
	id, _ := newID.Load().(string)
	if id == "" || !strings.Contains(logs.String(), shortid.Of(id)) || strings.Contains(logs.String(), id) {
		t.Fatalf("the failed removal of the login's session %s is not logged by its short id:\n%s", shortid.Of(id), logs.String())
	}
}

// If GenerateID fails to give the session that replaces a failed login's,
// Save returns that error too, and the request is left without a session
// (as after Unset): nothing of the login is kept or sent.
func TestFailedLoginWhoseNewIDFailsLeavesTheRequestWithoutASession(t *testing.T) {
	fs := &faultStore{countingStore: newCountingStore(t)}
	var noID atomic.Bool
	var n atomic.Int64
	m, _ := newTestManager(t, Options{Store: fs, MaxSessionsPerUser: 1, GenerateID: func(*http.Request) string {
		if noID.Load() {
			return ""
		}
		return fmt.Sprintf("session-%03d-%s", n.Add(1), strings.Repeat("x", 20))
	}})
	m.now = fs.clock.Now
	fs.on(func(_ context.Context, op, _ string) error {
		if op == "UserSessions" {
			noID.Store(true) // from the trim on
			return errDown
		}
		return nil
	})
	b := newBrowser(t, m.Handler(trimApp(t)))
	rec := b.get("/login-save?u=ada")
	if f := strings.Fields(rec.Body.String()); len(f) != 3 || f[0] != "failed" || f[1] != "-" || setCookie(rec) != "" {
		t.Fatalf("body %q, Set-Cookie %q; want a failed Save, no user after it and no cookie", rec.Body, setCookie(rec))
	}
	if n, _ := fs.Store.Count(t.Context()); n != 0 {
		t.Fatalf("the store holds %d sessions, want none", n)
	}
}

// A trim fails most often because the store is slow: the login's
// StoreTimeout runs out during the listing of a user with many sessions, or
// the client hangs up while the handler saves the login (Session.Save with
// the request's context). The login's session is still removed: the
// removal gets a deadline of its own rather than the login's spent one,
// with which it failed before it was sent, leaving the session stored and
// indexed, the user's most recently used.
func TestLoginWhoseTrimRunsOutOfTimeStillLeavesNoSession(t *testing.T) {
	t.Parallel() // it waits out a StoreTimeout of waitedOutTimeout
	for _, how := range []string{"StoreTimeout", "client gone during Save"} {
		t.Run(how, func(t *testing.T) {
			fs := &faultStore{countingStore: newCountingStore(t)}
			m, _ := newTestManager(t, Options{Store: fs, MaxSessionsPerUser: 2, StoreTimeout: waitedOutTimeout,
				ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
					http.Error(w, "try again", http.StatusServiceUnavailable)
				}})
			m.now = fs.clock.Now
			setup := setupTwin(t, m).Handler(trimApp(t))
			phone := login(newBrowser(t, setup), "ada")
			fs.clock.Advance(time.Second)
			tablet := login(newBrowser(t, setup), "ada")
			fs.clock.Advance(time.Second)

			ctx, hangUp := context.WithCancel(t.Context())
			defer hangUp()
			fs.on(func(ctx context.Context, op, _ string) error {
				if op != "UserSessions" {
					return nil
				}
				if how == "StoreTimeout" {
					<-ctx.Done() // the listing takes longer than StoreTimeout
				} else {
					hangUp()
				}
				return ctx.Err()
			})
			laptop := newBrowser(t, m.Handler(trimApp(t)))
			path := "/login?u=ada"
			if how != "StoreTimeout" {
				path = "/login-save?u=ada"
			}
			laptop.do(httptest.NewRequest(http.MethodGet, path, nil).WithContext(ctx))
			fs.on(nil)
			if got, want := liveOf(t, m, "ada"), sortedIDs(phone, tablet); !slices.Equal(got, want) {
				t.Fatalf("after the failed login ada's sessions are %v, want the phone's and the tablet's %v", short(got), short(want))
			}
			if got, want := indexOf(t, m, "ada"), sortedIDs(phone, tablet); !slices.Equal(got, want) {
				t.Fatalf("ada's index holds %v, want %v", short(got), short(want))
			}
		})
	}
}
