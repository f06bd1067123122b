package session

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/sessionkit/session/internal/shortid"
)

// A Save that finds the session ended by another request since this one
// loaded it (a logout on another tab, DestroyUserSessions, another tab's
// login, whose RenewID ends the id this request holds) leaves the session
// as after Destroy, as RenewID does then: new, empty, without the user, so
// that a handler (a stream's loop) that reads User or Get after it does not
// take the user for logged in. The end of the request stores nothing for
// it and sends no cookie, not even an expired one: the client may hold the
// cookie of the request that ended the session (another tab's login), which
// it would replace. A change after the Save is a new session's, stored and
// sent as after Destroy. The Session used to keep the ended session's user
// and values, so that User still said "ada" after the Save's ErrNotFound.
func TestSaveThatFindsTheSessionEndedLeavesItAsAfterDestroy(t *testing.T) {
	for _, how := range []string{"DestroyUserSessions", "Destroy", "login"} {
		for _, changeAfter := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/changeAfter=%v", how, changeAfter), func(t *testing.T) {
				m, st := newTestManager(t, Options{})
				users := usersApp(t)
				var (
					saveErr       error
					oldID, newID  string
					user          string
					kept, isNew   bool
					other         *browser
					otherLoggedIn string
				)
				h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path != "/save" {
						users.ServeHTTP(w, r)
						return
					}
					s := From(r) // loaded: ada's session
					oldID = s.ID()
					switch how {
					case "DestroyUserSessions":
						if n, err := m.DestroyUserSessions(r.Context(), "ada"); n != 1 || err != nil {
							t.Errorf("DestroyUserSessions = %d, %v; want 1", n, err)
						}
					case "Destroy":
						other.get("/destroy") // the same session's logout, in another tab
					case "login":
						otherLoggedIn = login(other, "bob") // another tab's login: its RenewID ends the old id
					}
					s.Set("step", 1)
					saveErr = s.Save(r.Context())
					user, kept, isNew, newID = s.User(), s.Has("step"), s.IsNew(), s.ID()
					if changeAfter {
						s.Set("flash", "you were logged out")
					}
					io.WriteString(w, s.ID())
				})
				b := newBrowser(t, m.Handler(h))
				login(b, "ada")
				other = &browser{t: t, h: b.h, cookie: b.cookie}
				cookieBefore := b.cookie
				rec := b.get("/save")
				if !errors.Is(saveErr, ErrNotFound) {
					t.Fatalf("Save = %v, want an error wrapping ErrNotFound", saveErr)
				}
				if user != "" || kept || !isNew || newID == oldID {
					t.Fatalf("after the Save that found the session ended: User %q, old values kept %v, IsNew %v, id changed %v; want no user, no values, a new session under a new id", user, kept, isNew, newID != oldID)
				}
				if _, found, _ := st.Store.Get(t.Context(), oldID); found {
					t.Fatal("the ended session was written back")
				}
				sc := setCookie(rec)
				_, storedNew, _ := st.Store.Get(t.Context(), newID)
				if !changeAfter {
					if sc != "" {
						t.Fatalf("the request whose Save found the session ended sent Set-Cookie %q; want none (the client may hold the cookie of the request that ended it)", sc)
					}
					if storedNew {
						t.Fatal("the empty session that follows the ended one was stored, unchanged")
					}
					if b.cookie != cookieBefore {
						t.Fatal("the browser's cookie changed")
					}
				} else {
					if !storedNew || sc == "" || mustID(t, m, b.cookie) != newID {
						t.Fatalf("a change after the Save: stored %v, Set-Cookie %q; want the new session stored and its cookie sent", storedNew, sc)
					}
				}
				if u := b.get("/whoami").Body.String(); u != "" {
					t.Fatalf("the browser whose session was ended is logged in as %q", u)
				}
				if how == "login" && !changeAfter {
					if u := other.get("/whoami").Body.String(); u != "bob" || other.cookie == "" {
						t.Fatalf("the other tab's login (%s) is %q after the Save", otherLoggedIn, u)
					}
				}
			})
		}
	}
}

// The same, with the response streaming (the headers out before the Save):
// no cookie can go out any more, and a stream that checks User after its
// Save stops.
func TestSaveOfAStreamThatFindsTheSessionEndedLeavesNoUser(t *testing.T) {
	m, st := newTestManager(t, Options{})
	users := usersApp(t)
	var (
		saveErr, againErr  error
		user, oldID, newID string
	)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/events" {
			users.ServeHTTP(w, r)
			return
		}
		s := From(r)
		oldID = s.ID()
		fmt.Fprint(w, "data: 1\n\n")
		w.(http.Flusher).Flush()
		if n, err := m.DestroyUserSessions(r.Context(), "ada"); n != 1 || err != nil {
			t.Errorf("DestroyUserSessions = %d, %v; want 1", n, err)
		}
		saveErr = s.Save(r.Context())
		user, newID = s.User(), s.ID()
		againErr = s.Save(r.Context())
	})
	b := newBrowser(t, m.Handler(h))
	login(b, "ada")
	rec := b.get("/events")
	if !errors.Is(saveErr, ErrNotFound) || user != "" {
		t.Fatalf("Save = %v, User after it %q; want ErrNotFound and no user", saveErr, user)
	}
	if againErr == nil {
		t.Error("a second Save of the ended session returned nil")
	}
	if sc := setCookie(rec); sc != "" {
		t.Errorf("Set-Cookie %q", sc)
	}
	for _, id := range []string{oldID, newID} {
		if _, found, _ := st.Store.Get(t.Context(), id); found {
			t.Errorf("%s stored after the stream", shortid.Of(id))
		}
	}
}

// The end of the request's save that finds the session ended (at the
// first write of the handler, which commits) leaves it as after Destroy
// too: the handler that goes on after its first write reads no user. The
// answer is the handler's, without a cookie. It used to read the ended
// user. (A touch that finds the session gone leaves it as it is: a store
// that touches on the load finds nothing at the end of the request, and
// what a request reads must not depend on the store, which storetest's
// ManagerAgreesWithMemstore pins.)
func TestEndOfRequestSaveThatFindsTheSessionEndedLeavesNoUser(t *testing.T) {
	m, st := newTestManager(t, Options{})
	users := usersApp(t)
	var userAfter string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/page" {
			users.ServeHTTP(w, r)
			return
		}
		s := From(r)
		s.Set("seen", true)
		if n, err := m.DestroyUserSessions(r.Context(), "ada"); n != 1 || err != nil {
			t.Errorf("DestroyUserSessions = %d, %v; want 1", n, err)
		}
		io.WriteString(w, "hello ") // commits: the save finds the session gone
		userAfter = s.User()
		io.WriteString(w, userAfter)
	})
	b := newBrowser(t, m.Handler(h))
	id := login(b, "ada")
	rec := b.get("/page")
	if rec.Code != http.StatusOK || rec.Body.String() != "hello " {
		t.Fatalf("answer %d %q; want 200 %q", rec.Code, rec.Body, "hello ")
	}
	if userAfter != "" {
		t.Fatalf("after the end-of-request save found the session ended, User = %q", userAfter)
	}
	if sc := setCookie(rec); sc != "" {
		t.Errorf("Set-Cookie %q", sc)
	}
	if _, found, _ := st.Store.Get(t.Context(), id); found {
		t.Error("the ended session was written back")
	}
}
