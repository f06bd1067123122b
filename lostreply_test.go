package session

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A lost reply: the store applied a write but answered with an error, as
// a timeout or a dropped connection after the write went out does
// (lostReplyStore). A save after a create whose reply was lost, or that
// stored nothing, keeps the session's id, unless what the store holds under
// it is another session's.

// lostReplyStore is a counting memstore whose next CompareAndSwap, once
// armed, is applied but answered with an error, as a write whose reply a
// timeout or a dropped connection lost.
type lostReplyStore struct {
	*countingStore
	lose atomic.Bool
}

var errReplyLost = errors.New("reply lost: the write went out")

// newLostReplyManager returns a manager with opts on a lostReplyStore (over
// a counting memstore), on the store's clock.
func newLostReplyManager(t *testing.T, opts Options) (*Manager, *countingStore, *lostReplyStore) {
	t.Helper()
	cs := newCountingStore(t)
	st := &lostReplyStore{countingStore: cs}
	opts.Store = st
	m, _ := newTestManager(t, opts)
	m.now = cs.clock.Now
	return m, cs, st
}

// saveReplyLost saves s with the store's next CompareAndSwap applied but
// answered with an error (a create whose reply was lost), failing t unless
// Save reports that error.
func saveReplyLost(t *testing.T, r *http.Request, s *Session, st *lostReplyStore) {
	t.Helper()
	st.lose.Store(true)
	if err := s.Save(r.Context()); !errors.Is(err, errReplyLost) {
		t.Errorf("Save: %v; want the lost reply's error", err)
	}
}

func (l *lostReplyStore) CompareAndSwap(ctx context.Context, id, old string, b []byte, exp time.Time) (string, bool, error) {
	ver, swapped, err := l.countingStore.CompareAndSwap(ctx, id, old, b, exp)
	if err == nil && l.lose.CompareAndSwap(true, false) {
		return "", false, errReplyLost
	}
	return ver, swapped, err
}

// A new session's Session.Save that the store applied but answered with an
// error (a timeout after the write went out) leaves the session stored under
// its id, and the save at the end of the request finds that write, its own,
// under the id: it updates it, and the session keeps its id. It used to be
// taken for another session's (a GenerateID that repeats ids) and the
// session moved to a fresh id, leaving the first write stored, reachable by
// no one but indexed as the user's most recently used session, listed by
// UserSessions and counted by MaxSessionsPerUser in place of a real device.
func TestSaveAfterAWriteWhoseReplyWasLostKeepsTheSessionsID(t *testing.T) {
	m, cs, st := newLostReplyManager(t, Options{MaxSessionsPerUser: 2})
	var firstID string
	app := m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.SetUser("alice")
		s.Set("cart", "socks")
		firstID = s.ID()
		saveReplyLost(t, r, s, st)
		s.Set("theme", "dark") // the end of the request saves again
	}))
	id := loginKeepsItsID(t, m, app, cs, &firstID)
	wantOnlySessionOf(t, m, "alice", id)
	data, _, _ := cs.Store.Get(t.Context(), id)
	if want := `"theme":"dark"`; !strings.Contains(string(data), want) {
		t.Errorf("the stored session %s; want the end of the request's change, %s", data, want)
	}
}

// rereadFailStore is a lostReplyStore whose next GetVersion, once armed,
// fails, as a read that the same slow store times out.
type rereadFailStore struct {
	*lostReplyStore
	failRead atomic.Bool
}

var errRereadFailed = errors.New("re-read failed")

func (r *rereadFailStore) GetVersion(ctx context.Context, id string) ([]byte, string, bool, error) {
	if r.failRead.CompareAndSwap(true, false) {
		return nil, "", false, errRereadFailed
	}
	return r.lostReplyStore.GetVersion(ctx, id)
}

// A save whose re-read of its own earlier create (whose reply was lost)
// fails does not forget that create: the next save still finds it its own
// and keeps the session's id, instead of taking it for another session's,
// moving to a fresh id and leaving the first write stored, reachable by no
// one.
func TestAFailedRereadOfALostCreateStillKeepsTheSessionsID(t *testing.T) {
	cs := newCountingStore(t)
	st := &rereadFailStore{lostReplyStore: &lostReplyStore{countingStore: cs}}
	m, _ := newTestManager(t, Options{Store: st})
	m.now = cs.clock.Now
	var firstID string
	app := m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.SetUser("alice")
		s.Set("cart", "socks")
		firstID = s.ID()
		saveReplyLost(t, r, s, st.lostReplyStore)
		st.failRead.Store(true)
		if err := s.Save(r.Context()); !errors.Is(err, errRereadFailed) {
			t.Errorf("second Save: %v; want the failed re-read's error", err)
		}
		s.Set("theme", "dark") // the end of the request saves again
	}))
	loginKeepsItsID(t, m, app, cs, &firstID)
}

// loginKeepsItsID logs in through app, whose handler sets *firstID to the
// id its session starts with, and fails t unless the login kept that id:
// the cookie carries it, and the store behind cs holds that session alone
// (none left stored that no client holds). It returns the id.
func loginKeepsItsID(t *testing.T, m *Manager, app http.Handler, cs *countingStore, firstID *string) string {
	t.Helper()
	b := newBrowser(t, app)
	if rec := b.get("/login"); rec.Code != http.StatusOK {
		t.Fatalf("login: status %d", rec.Code)
	}
	if id := mustID(t, m, b.cookie); id != *firstID {
		t.Errorf("the cookie's id %q; want the session's own, %q", id, *firstID)
	}
	if n, _ := cs.Store.Count(t.Context()); n != 1 {
		t.Errorf("the store holds %d sessions; want the login's alone", n)
	}
	return *firstID
}

// wantOnlySessionOf fails t unless user's sessions are id's alone.
func wantOnlySessionOf(t *testing.T, m *Manager, user, id string) {
	t.Helper()
	infos, err := m.UserSessions(t.Context(), user)
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 1 || infos[0].ID != id {
		t.Errorf("%s's sessions: %+v; want the login's alone, %s", user, infos, id)
	}
}

// Two saves in a row whose replies are lost do not move the session to a
// fresh id. The first create was applied; the second, a create-if-absent
// that found the id taken by the first, stored nothing, and only its bytes
// were kept, so that the end of the request found the first write's bytes
// under the id, took them for another session's and moved to a fresh id,
// leaving the first write stored, reachable by no one. Now a save first
// settles an earlier lost create (its own, stored: it updates it).
func TestTwoLostRepliesInARowKeepTheSessionsID(t *testing.T) {
	m, cs, st := newLostReplyManager(t, Options{MaxSessionsPerUser: 2})
	var firstID string
	app := m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.SetUser("alice")
		s.Set("cart", "socks")
		firstID = s.ID()
		for i, theme := range []string{"light", "dark"} {
			st.lose.Store(true)
			if err := s.Save(r.Context()); !errors.Is(err, errReplyLost) {
				t.Errorf("Save %d: %v; want the lost reply's error", i+1, err)
			}
			s.Set("theme", theme)
		}
		s.Set("step", "end") // the end of the request saves again
	}))
	id := loginKeepsItsID(t, m, app, cs, &firstID)
	wantOnlySessionOf(t, m, "alice", id)
	data, _, _ := cs.Store.Get(t.Context(), id)
	for _, want := range []string{`"theme":"dark"`, `"step":"end"`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("the stored session %s; want the request's last changes, %s", data, want)
		}
	}
}

// A save after a create answered with an error that never reached the store
// (it failed before the write went out) finds nothing under the id and
// creates the session there: the id stays the session's.
func TestASaveAfterACreateThatStoredNothingCreatesTheSessionUnderItsID(t *testing.T) {
	fs := &faultStore{countingStore: newCountingStore(t)}
	m, _ := newTestManager(t, Options{Store: fs})
	m.now = fs.clock.Now
	var firstID string
	app := m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.SetUser("alice")
		firstID = s.ID()
		fs.on(func(_ context.Context, op, _ string) error {
			if op == "CompareAndSwap" {
				return errDown
			}
			return nil
		})
		if err := s.Save(r.Context()); !errors.Is(err, errDown) {
			t.Errorf("Save: %v; want the store's error", err)
		}
		fs.on(nil)
		s.Set("theme", "dark") // the end of the request saves again
	}))
	id := loginKeepsItsID(t, m, app, fs.countingStore, &firstID)
	wantOnlySessionOf(t, m, "alice", id)
}

// A save after a create that found its id taken by another session (a
// GenerateID that repeats ids) and whose reply was lost does not take that
// session for its own: it moves to a fresh id, and the other session's
// bytes stay as they were.
func TestASaveAfterALostCreateOnAnotherSessionsIDTakesAFreshID(t *testing.T) {
	gen := &repeatingIDs{}
	m, cs, st := newLostReplyManager(t, Options{GenerateID: gen.generate})
	app := m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		switch r.URL.Path {
		case "/other":
			s.Set("owner", "bob")
		case "/login":
			s.SetUser("alice")
			saveReplyLost(t, r, s, st)
			s.Set("theme", "dark") // the end of the request saves again
		}
	}))
	other := newBrowser(t, app)
	other.get("/other")
	otherID := mustID(t, m, other.cookie)
	gen.repeat(otherID, 1)
	b := newBrowser(t, app)
	if rec := b.get("/login"); rec.Code != http.StatusOK {
		t.Fatalf("login: status %d", rec.Code)
	}
	if id := mustID(t, m, b.cookie); id == otherID {
		t.Error("the login's cookie carries the other session's id; want a fresh one")
	}
	data, _, _ := cs.Store.Get(t.Context(), otherID)
	if got := string(data); !strings.Contains(got, `"owner":"bob"`) || strings.Contains(got, "alice") {
		t.Errorf("the other session's stored bytes %s; want bob's session untouched", got)
	}
}
