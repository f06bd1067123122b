package session

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A Reload after a Session.Save: what the Save stored is a change saved in
// this request, which still counts (the session's cookie goes out, a login
// is trimmed to MaxSessionsPerUser), as express's reload keeps the
// request's start; also when the Save's reply was lost though the store
// applied it (lostReplyStore).

// express's reload keeps the id and hash taken at the start of the request,
// so a session this request created or renewed and saved is still modified
// after a Reload, and its cookie goes out.
func TestReloadAfterSaveOfANewSessionStillSendsItsCookie(t *testing.T) {
	m, st := newTestManager(t, Options{})
	b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Set("views", 1)
		if err := s.Save(r.Context()); err != nil {
			t.Error(err)
		}
		if err := s.Reload(r.Context()); err != nil {
			t.Error(err)
		}
		if !s.IsNew() {
			t.Error("IsNew is false after Reload of a session this request made")
		}
	})))
	rec := b.get("/")
	if setCookie(rec) == "" {
		t.Fatal("no Set-Cookie for a new session saved and reloaded: the client can never reach it")
	}
	if data, found, _ := st.Store.Get(t.Context(), mustID(t, m, b.cookie)); !found || !strings.Contains(string(data), `"views":1`) {
		t.Fatalf("the cookie's session is not the one stored: %s", data)
	}
}

func TestReloadAfterRenewIDAndSaveSendsTheNewCookie(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	b := stored(t, m) // views = 1
	old := b.cookie
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		if err := s.RenewID(r.Context()); err != nil {
			t.Error(err)
		}
		if err := s.Save(r.Context()); err != nil {
			t.Error(err)
		}
		if err := s.Reload(r.Context()); err != nil {
			t.Error(err)
		}
	}))
	if rec := b.get("/"); setCookie(rec) == "" || b.cookie == old {
		t.Fatalf("Set-Cookie %q: the client keeps the destroyed id", setCookie(rec))
	}
	b.h = m.Handler(readViews)
	if got := b.get("/").Body.String(); got != "1" {
		t.Fatalf("views = %s under the new cookie, want 1", got)
	}
}

// A new session that a Session.Save stored, and that the handler changed
// again before a Reload, is still a change saved in this request: the
// Reload takes back only what came after the Save, and the session's
// cookie goes out, as express's reload (whose isModified compares what the
// reload read with the request's start) sends it.
func TestReloadAfterASaveAndAnotherChangeSendsTheNewSessionsCookie(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		if r.URL.Path == "/cart" {
			v, _ := s.Get("cart").(string)
			io.WriteString(w, v)
			return
		}
		s.Set("cart", "socks")
		if err := s.Save(r.Context()); err != nil {
			t.Errorf("Save: %v", err)
		}
		s.Set("draft", "unsaved")
		if err := s.Reload(r.Context()); err != nil {
			t.Errorf("Reload: %v", err)
		}
	})))
	if rec := b.get("/add"); setCookie(rec) == "" {
		t.Fatalf("the request that stored a new session sent no Set-Cookie")
	}
	if got := b.get("/cart").Body.String(); got != "socks" {
		t.Errorf("the next request's cart %q; want socks", got)
	}
}

// A Reload after a Session.Save whose reply was lost, though the store
// applied it, finds that Save's write, its own, stored: a change saved
// earlier in the request, which still counts, as after a Save whose reply
// came back. So the cookie that Save stored ("remember me" for 30 days)
// goes out. The Reload took the session for one the request never
// changed, and the browser kept its browser-session cookie, while the
// store held the session for 30 days.
func TestReloadAfterALostSaveReplySendsTheCookieThatSaveStored(t *testing.T) {
	m, _, st := newLostReplyManager(t, Options{})
	b := stored(t, m)
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Cookie().SetMaxAge(30 * 24 * time.Hour)
		saveReplyLost(t, r, s, st)
		if err := s.Reload(r.Context()); err != nil {
			t.Errorf("Reload: %v", err)
		}
	}))
	rec := b.get("/remember")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	c := setCookie(rec)
	_, age, _ := strings.Cut(c, "Max-Age=")
	age, _, _ = strings.Cut(age, ";")
	if n, err := strconv.Atoi(age); err != nil || time.Duration(n)*time.Second < 29*24*time.Hour {
		t.Errorf("Set-Cookie %q; want the 30-day cookie the Save stored", c)
	}
}

// A Reload after a new visitor's login (SetUser) whose Session.Save reply
// was lost, though the store applied it (a create), finds that Save's
// write, its own, stored: a change saved earlier in the request, as after
// a Save whose reply came back. So the session's cookie goes out, the next
// request has the cart, and the user's index lists the session (the
// create's entry, which comes after its write, was never recorded: the
// end of the request records it with a save). The Reload took the session
// for one the request never changed: no cookie went out, and the login was
// left stored, reachable by no one.
func TestReloadAfterALostCreateReplySendsTheSessionsCookie(t *testing.T) {
	m, _, st := newLostReplyManager(t, Options{})
	b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		if r.URL.Path == "/cart" {
			v, _ := s.Get("cart").(string)
			io.WriteString(w, v)
			return
		}
		s.SetUser("ada")
		s.Set("cart", "socks")
		saveReplyLost(t, r, s, st)
		if err := s.Reload(r.Context()); err != nil {
			t.Errorf("Reload: %v", err)
		}
	})))
	if rec := b.get("/login"); rec.Code != http.StatusOK || setCookie(rec) == "" {
		t.Fatalf("login: status %d, Set-Cookie %q; want the stored session's cookie", rec.Code, setCookie(rec))
	}
	if got := b.get("/cart").Body.String(); got != "socks" {
		t.Errorf("the next request's cart %q; want socks", got)
	}
	wantOnlySessionOf(t, m, "ada", mustID(t, m, b.cookie))
}

// A Reload after a new session's Session.Save whose reply was lost, though
// the store applied the create, finds that Save's write stored: the
// session is what the store holds, its cookie goes out, and, without a
// user whose index entry the create's reply held back, the end of the
// request writes nothing more (as after a Save whose reply came back).
func TestReloadAfterALostCreateReplyWithoutAUserWritesNothingMore(t *testing.T) {
	m, cs, st := newLostReplyManager(t, Options{})
	b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Set("cart", "socks")
		saveReplyLost(t, r, s, st)
		if err := s.Reload(r.Context()); err != nil {
			t.Errorf("Reload: %v", err)
		}
		cs.reset()
	})))
	if rec := b.get("/add"); setCookie(rec) == "" {
		t.Fatalf("no Set-Cookie for the stored session")
	}
	if n := cs.total(); n != 0 {
		t.Errorf("store calls after the Reload: %d (%d writes); want none", n, cs.writes())
	}
}

// A Reload after a login (SetUser on a stored session) whose Session.Save
// reply was lost, though the store applied it, finds that Save's write
// stored, a login: the end of the request writes the session again and
// trims the user's sessions to Options.MaxSessionsPerUser, as the Save
// would have, had its reply come back. The Reload forgot the login, the
// session was left clean, and the user kept one session beyond the cap.
func TestReloadAfterALostLoginSaveStillTrimsToMaxSessionsPerUser(t *testing.T) {
	reloadAfterLostLoginSavesTrims(t, false)
}

// A Reload after two Session.Saves of a login whose replies were both lost,
// though the store applied both, still trims the user's sessions to
// Options.MaxSessionsPerUser at the end of the request: the first Save's
// write bound the session to the user, the second's, settled by the Reload,
// only carried a later change, and the login is still the first's.
func TestReloadAfterTwoLostSavesOfALoginStillTrimsToMaxSessionsPerUser(t *testing.T) {
	reloadAfterLostLoginSavesTrims(t, true)
}

// reloadAfterLostLoginSavesTrims logs ada in on a second session under a
// cap of one, with a Save whose reply is lost (and, with again, a change
// and a second such Save), then a Reload, and checks that only the second
// session is left.
func reloadAfterLostLoginSavesTrims(t *testing.T, again bool) {
	t.Helper()
	m, _, st := newLostReplyManager(t, Options{MaxSessionsPerUser: 1})
	login := m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.SetUser("ada")
	}))
	first := newBrowser(t, login)
	first.get("/login")
	firstID := mustID(t, m, first.cookie)
	b := stored(t, m)
	id := mustID(t, m, b.cookie)
	st.clock.Advance(time.Millisecond) // the second login is the newer one (and the most recently used)
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.SetUser("ada")
		saveReplyLost(t, r, s, st)
		if again {
			s.Set("theme", "dark")
			saveReplyLost(t, r, s, st)
		}
		if err := s.Reload(r.Context()); err != nil {
			t.Errorf("Reload: %v", err)
		}
		if !again {
			if u := s.User(); u != "ada" {
				t.Errorf("after Reload the session is %q's; want ada's, as the Save stored it", u)
			}
		}
	}))
	if rec := b.get("/login"); rec.Code != http.StatusOK {
		t.Fatalf("login: status %d", rec.Code)
	}
	wantOnlySessionOf(t, m, "ada", id)
	if _, found, _ := st.Store.Get(t.Context(), firstID); found {
		t.Errorf("ada's first session is still stored; want it trimmed by the second login")
	}
}
