package session

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/session/internal/shortid"
	"github.com/sessionkit/session/internal/testclock"
	"github.com/sessionkit/session/memstore"
)

// indexOf returns the ids of user's index entries, as the store lists them
// (live or not), sorted.
func indexOf(t *testing.T, m *Manager, user string) []string {
	t.Helper()
	var ids []string
	err := m.users.UserSessions(t.Context(), user, func(id string, used, expires time.Time, data []byte) {
		ids = append(ids, id)
	})
	if err != nil {
		t.Fatalf("UserSessions(%q): %v", user, err)
	}
	slices.Sort(ids)
	return ids
}

// liveOf returns the ids of user's live sessions as the manager lists them, sorted.
func liveOf(t *testing.T, m *Manager, user string) []string {
	t.Helper()
	infos, err := m.UserSessions(t.Context(), user)
	if err != nil {
		t.Fatalf("Manager.UserSessions(%q): %v", user, err)
	}
	ids := make([]string, len(infos))
	for i, info := range infos {
		ids[i] = info.ID
	}
	slices.Sort(ids)
	return ids
}

// usersApp is the handler of the user index tests: /login?u= renews the id
// and binds the user, /logout-unbind unbinds it, /regenerate, /destroy and
// /unset end the session each their way, and /whoami answers the user.
// Every path answers the session's id.
func usersApp(t *testing.T) http.Handler {
	return handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		var err error
		switch r.URL.Path {
		case "/login":
			err = s.RenewID(r.Context())
			s.SetUser(r.FormValue("u"))
		case "/bind": // a user bound without a new id (SetUser alone)
			s.SetUser(r.FormValue("u"))
		case "/logout-unbind":
			s.SetUser("")
			s.Set("flash", "bye") // the session goes on, without a user
		case "/regenerate":
			err = s.Regenerate(r.Context())
		case "/destroy":
			err = s.Destroy(r.Context())
		case "/unset":
			s.Unset()
			return
		case "/whoami":
			io.WriteString(w, s.User())
			return
		}
		if err != nil {
			t.Errorf("%s: %v", r.URL.Path, err)
		}
		io.WriteString(w, s.ID())
	})
}

// login logs b in as user and returns the new session id.
func login(b *browser, user string) string {
	b.t.Helper()
	rec := b.get("/login?u=" + user)
	if rec.Code != http.StatusOK {
		b.t.Fatalf("/login: %d %s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

// The auditor's scenario (a user logging in over and over on a memstore
// capped at 50 sessions, with MaxSessionsPerUser 2): the user's index stays
// at their live sessions, so a login, which lists the index, costs the same
// at the last login as at the first. It used to keep every login's entry
// for a session lifetime.
func TestRepeatedLoginsKeepTheUserIndexAtTheLiveSessions(t *testing.T) {
	for _, sameBrowser := range []bool{false, true} {
		name := map[bool]string{false: "NewBrowserEachTime", true: "SameBrowser"}[sameBrowser]
		t.Run(name, func(t *testing.T) {
			clock := testclock.New(testclock.Epoch())
			st := memstore.New(memstore.WithMaxSessions(50), memstore.WithClock(clock.Now))
			t.Cleanup(func() { st.Close() })
			m, _ := newTestManager(t, Options{Store: st, MaxSessionsPerUser: 2, Cookie: CookieOptions{MaxAge: 24 * time.Hour}})
			m.now = clock.Now
			b := newBrowser(t, m.Handler(usersApp(t)))
			const logins = 300
			for i := range logins {
				if !sameBrowser {
					b.cookie = ""
				}
				login(b, "mallory")
				clock.Advance(time.Second)
				index, live := indexOf(t, m, "mallory"), liveOf(t, m, "mallory")
				if len(live) > 2 || len(index) > len(live)+1 {
					t.Fatalf("after login %d: %d index entries for %d live sessions (MaxSessionsPerUser 2); want at most one stale entry", i+1, len(index), len(live))
				}
			}
		})
	}
}

// Each way the manager ends a session, or a session's binding to its user,
// removes the user's index entry once the store confirmed it.
func TestEndedSessionsLeaveTheUserIndex(t *testing.T) {
	setup := func(t *testing.T, opts Options) (*Manager, *browser) {
		m, _ := newTestManager(t, opts)
		return m, newBrowser(t, m.Handler(usersApp(t)))
	}
	wantIndex := func(t *testing.T, m *Manager, user string, want ...string) {
		t.Helper()
		slices.Sort(want)
		if got := indexOf(t, m, user); !slices.Equal(got, want) {
			t.Errorf("index of %s: %d entries %v, want %d %v", user, len(got), short(got), len(want), short(want))
		}
	}
	t.Run("RenewID", func(t *testing.T) {
		m, b := setup(t, Options{})
		old := login(b, "ada")
		now := login(b, "ada") // RenewID destroys old
		if old == now {
			t.Fatal("RenewID kept the id")
		}
		wantIndex(t, m, "ada", now)
	})
	t.Run("Regenerate", func(t *testing.T) {
		m, b := setup(t, Options{})
		login(b, "ada")
		b.get("/regenerate")
		wantIndex(t, m, "ada")
	})
	t.Run("Destroy", func(t *testing.T) {
		m, b := setup(t, Options{})
		login(b, "ada")
		b.get("/destroy")
		wantIndex(t, m, "ada")
	})
	t.Run("UnsetWithUnsetDestroy", func(t *testing.T) {
		m, b := setup(t, Options{Unset: UnsetDestroy})
		login(b, "ada")
		b.get("/unset")
		wantIndex(t, m, "ada")
	})
	t.Run("MaxSessionsPerUser", func(t *testing.T) {
		m, phone := setup(t, Options{MaxSessionsPerUser: 1})
		laptop := newBrowser(t, phone.h)
		login(phone, "ada")
		// A millisecond later: at the same one, the lower id would
		// count as the newer login.
		m.store.(*countingStore).clock.Advance(time.Millisecond)
		kept := login(laptop, "ada") // trims the phone's session
		wantIndex(t, m, "ada", kept)
	})
	t.Run("DestroyUserSessions", func(t *testing.T) {
		m, b := setup(t, Options{})
		var ids []string
		for range 3 {
			b.cookie = ""
			ids = append(ids, login(b, "ada"))
		}
		if n, err := m.DestroyUserSessions(t.Context(), "ada", ids[0]); n != 2 || err != nil {
			t.Fatalf("DestroyUserSessions keeping one = %d, %v; want 2", n, err)
		}
		wantIndex(t, m, "ada", ids[0])
		if n, err := m.DestroyUserSessions(t.Context(), "ada"); n != 1 || err != nil {
			t.Fatalf("DestroyUserSessions = %d, %v; want 1", n, err)
		}
		wantIndex(t, m, "ada")
	})
	t.Run("SetUserEmpty", func(t *testing.T) {
		m, b := setup(t, Options{})
		id := login(b, "ada")
		if got := b.get("/logout-unbind").Body.String(); got != id {
			t.Fatalf("the unbinding request moved the session to %.6s…", got)
		}
		wantIndex(t, m, "ada")
	})
	t.Run("SetUserToAnother", func(t *testing.T) {
		m, b := setup(t, Options{})
		id := login(b, "ada")
		b.get("/bind?u=bob")
		wantIndex(t, m, "ada")
		wantIndex(t, m, "bob", id)
	})
	t.Run("UnbindThenRenewID", func(t *testing.T) {
		// Logging out by unbinding, then in again: no entry of the
		// unbound session is left behind for the RenewID that ends it.
		m, b := setup(t, Options{})
		login(b, "ada")
		b.get("/logout-unbind")
		id := login(b, "ada")
		wantIndex(t, m, "ada", id)
	})
}

// short shortens ids for a failure message.
func short(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = shortid.Of(id)
	}
	return out
}

// Without compare-and-swap, a request that loaded a session before
// DestroyUserSessions ended it writes it back (as express does), indexed
// before its write: the manager must not remove that entry, or "log out
// everywhere" would miss the session the next time.
func TestWithoutCompareAndSwapEntriesAreNotRemoved(t *testing.T) {
	st := memstore.New()
	t.Cleanup(func() { st.Close() })
	// The memstore seen as a Store and a UserIndexRemover only: no
	// compare-and-swap, so a request writes back a session it had loaded.
	m, _ := newTestManager(t, Options{Store: struct {
		Store
		UserIndexRemover
	}{st, st}})
	if m.versioned != nil || m.users == nil {
		t.Fatal("the test store must keep a user index without compare-and-swap")
	}
	b := newBrowser(t, m.Handler(usersApp(t)))
	id := login(b, "ada")
	if n, err := m.DestroyUserSessions(t.Context(), "ada"); n != 1 || err != nil {
		t.Fatalf("DestroyUserSessions = %d, %v; want 1", n, err)
	}
	if got := indexOf(t, m, "ada"); !slices.Equal(got, []string{id}) {
		t.Fatalf("index of ada: %v, want the destroyed session's entry kept until it expires", short(got))
	}
}

// unindexFailingStore is the counting memstore whose UnindexUserSession
// fails for the ids in fail.
type unindexFailingStore struct {
	*countingStore
	fail map[string]bool
}

func (f *unindexFailingStore) UnindexUserSession(ctx context.Context, user, id string) error {
	if f.fail[id] {
		return errors.New("the index is unreachable")
	}
	return f.countingStore.UnindexUserSession(ctx, user, id)
}

// A removal that fails fails nothing else: "log out everywhere" still ends
// every session and removes the other entries, a login's RenewID still
// succeeds, and the failure is logged; the entry stays, to expire.
func TestFailedUnindexIsLoggedAndEndsEverySessionAnyway(t *testing.T) {
	var logs bytes.Buffer
	st := &unindexFailingStore{countingStore: newCountingStore(t), fail: map[string]bool{}}
	m, _ := newTestManager(t, Options{Store: st, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	m.now = st.clock.Now
	h := m.Handler(usersApp(t))
	var browsers []*browser
	var ids []string
	for range 6 {
		b := newBrowser(t, h)
		browsers = append(browsers, b)
		ids = append(ids, login(b, "ada"))
	}
	st.fail[ids[2]], st.fail[ids[4]] = true, true
	n, err := m.DestroyUserSessions(t.Context(), "ada")
	if n != len(ids) || err != nil {
		t.Fatalf("DestroyUserSessions = %d, %v; want %d, nil", n, err, len(ids))
	}
	for i, b := range browsers {
		if u := b.get("/whoami").Body.String(); u != "" {
			t.Errorf("session %d still belongs to %q after DestroyUserSessions", i, u)
		}
	}
	if got, want := indexOf(t, m, "ada"), slices.Sorted(slices.Values([]string{ids[2], ids[4]})); !slices.Equal(got, want) {
		t.Errorf("index of ada: %v, want only the two entries whose removal failed %v", short(got), short(want))
	}
	for _, id := range []string{ids[2], ids[4]} {
		if !strings.Contains(logs.String(), shortid.Of(id)) || strings.Contains(logs.String(), id) {
			t.Errorf("log does not name the failed entry %s by its short id alone:\n%s", shortid.Of(id), logs.String())
		}
	}

	// A login's RenewID whose removal of the old entry fails still logs in.
	b := newBrowser(t, h)
	old := login(b, "bob")
	st.fail[old] = true
	logs.Reset()
	id := login(b, "bob")
	if u := b.get("/whoami").Body.String(); id == old || u != "bob" {
		t.Fatalf("the second login: id renewed %v, user %q; want a new id of bob", id != old, u)
	}
	if !strings.Contains(logs.String(), shortid.Of(old)) {
		t.Errorf("the failed removal of %s is not logged:\n%s", shortid.Of(old), logs.String())
	}
}
