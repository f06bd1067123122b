package session

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// Session.Save of a session stored before (an update, not a create) whose
// compare-and-swap the store applied but answered with an error: a timeout
// after the write went out (lostReplyStore, saveReplyLost).

// flashesOf reads, in a request of its own through b, the flash messages
// of kind, and returns them.
func flashesOf(t *testing.T, m *Manager, b *browser, kind string) []string {
	t.Helper()
	var got []string
	h := b.h
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		got = s.Flashes(kind)
	}))
	if rec := b.get("/flashes"); rec.Code != http.StatusOK {
		t.Fatalf("reading the flashes: status %d", rec.Code)
	}
	b.h = h
	return got
}

// storedValues returns the top-level values of the session stored under the
// id of b's cookie, as a load decodes them.
func storedValues(t *testing.T, m *Manager, cs *countingStore, b *browser) map[string]any {
	t.Helper()
	data, found, err := cs.Store.Get(t.Context(), mustID(t, m, b.cookie))
	if err != nil || !found {
		t.Fatalf("the stored session: found %v, err %v", found, err)
	}
	var doc loadedDocument
	if err := m.decodeInto(data, &doc); err != nil {
		t.Fatal(err)
	}
	out := map[string]any{}
	for _, k := range doc.vals.keys() {
		out[k], _ = doc.vals.get(k)
	}
	return out
}

// A flash message added before a Session.Save whose reply was lost, though
// the store applied it, is shown once: the end of the request finds that
// write, its own, stored, and does not add the message again. The end of
// the request used to meet that write as another request's, re-read it and
// replay the request's Flash over it, so that the next page showed the
// message twice.
func TestEndOfRequestSaveAfterALostSaveReplyDoesNotShowAFlashTwice(t *testing.T) {
	m, _, st := newLostReplyManager(t, Options{})
	b := stored(t, m)
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Flash("info", "saved")
		saveReplyLost(t, r, s, st)
		s.Set("step", "after the save") // the end of the request saves again
	}))
	if rec := b.get("/"); rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	if got := flashesOf(t, m, b, "info"); !slices.Equal(got, []string{"saved"}) {
		t.Errorf("Flashes = %q; want the message once", got)
	}
}

// readHookStore is a lostReplyStore that runs a function, once armed, right
// after its next GetVersion has read: another request's write that comes
// after that read.
type readHookStore struct {
	*lostReplyStore
	after atomic.Pointer[func()]
}

func (h *readHookStore) GetVersion(ctx context.Context, id string) ([]byte, string, bool, error) {
	data, ver, found, err := h.lostReplyStore.GetVersion(ctx, id)
	if f := h.after.Swap(nil); f != nil {
		(*f)()
	}
	return data, ver, found, err
}

// A value set before a Session.Save whose reply was lost, though the store
// applied it, does not undo a parallel request's later write of the same
// key: once the end of the request has read back that write, its own, a
// parallel request that loads it and sets the key writes last, and the end
// of the request, meeting that write, re-applies only what it changed
// since the Save. It used to re-apply the key set before the Save as well,
// over the parallel request's value. (A parallel write before that read
// leaves other bytes stored than the Save sent: whether the Save's write
// was applied before it cannot be told, and the request's changes are
// re-applied all, as before; see persist.)
func TestEndOfRequestSaveAfterALostSaveReplyDoesNotUndoAParallelWrite(t *testing.T) {
	cs := newCountingStore(t)
	st := &readHookStore{lostReplyStore: &lostReplyStore{countingStore: cs}}
	m, _ := newTestManager(t, Options{Store: st})
	m.now = cs.clock.Now
	a := stored(t, m)
	parallel := &browser{t: t, cookie: a.cookie, h: m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Set("x", "B")
	}))}
	a.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Set("x", "A")
		saveReplyLost(t, r, s, st.lostReplyStore)
		s.Set("y", "A after the save")
		f := func() {
			if rec := parallel.get("/b"); rec.Code != http.StatusOK {
				t.Errorf("the parallel request: status %d", rec.Code)
			}
		}
		st.after.Store(&f) // after the end of the request's first read
	}))
	if rec := a.get("/a"); rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	if st.after.Load() != nil {
		t.Fatal("the parallel request never ran")
	}
	got := storedValues(t, m, cs, a)
	if got["x"] != "B" || got["y"] != "A after the save" {
		t.Errorf("stored x=%v y=%v; want the parallel request's x=B and the request's later y", got["x"], got["y"])
	}
}

// A Session.Save answered with an error before its write went out (the
// store down) stored nothing: the end of the request, which finds the
// bytes stored before and not the Save's, writes every change of the
// request, those made before the Save too, each once.
func TestEndOfRequestSaveAfterASaveThatStoredNothingWritesItsChanges(t *testing.T) {
	fs := &faultStore{countingStore: newCountingStore(t)}
	m, _ := newTestManager(t, Options{Store: fs})
	m.now = fs.clock.Now
	b := stored(t, m)
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Set("x", "before the save")
		s.Flash("info", "saved")
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
		s.Set("y", "after the save")
	}))
	if rec := b.get("/"); rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	got := storedValues(t, m, fs.countingStore, b)
	if got["x"] != "before the save" || got["y"] != "after the save" {
		t.Errorf("stored x=%v y=%v; want both changes", got["x"], got["y"])
	}
	if got := flashesOf(t, m, b, "info"); !slices.Equal(got, []string{"saved"}) {
		t.Errorf("Flashes = %q; want the message once", got)
	}
}

// Two Session.Saves in a row whose replies are lost, both applied, each
// with a flash message added before it: the second finds the first's
// write its own, and the end of the request the second's, so that each
// message is shown once. The second used to replay the first message over
// the first write (its compare-and-swap met that write), and the end of
// the request both messages again.
func TestTwoLostSaveRepliesInARowShowEachFlashOnce(t *testing.T) {
	m, _, st := newLostReplyManager(t, Options{})
	b := stored(t, m)
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Flash("info", "one")
		saveReplyLost(t, r, s, st)
		s.Flash("info", "two")
		saveReplyLost(t, r, s, st)
		s.Set("step", "end")
	}))
	if rec := b.get("/"); rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	if got := flashesOf(t, m, b, "info"); !slices.Equal(got, []string{"one", "two"}) {
		t.Errorf("Flashes = %q; want each message once", got)
	}
}

// A Session.Save whose reply was lost, then another whose re-read of the
// session fails: that Save fails with the re-read's error and does not
// forget the lost write, which the end of the request then finds its own,
// so that the message added before the first Save is shown once.
func TestASaveAfterALostSaveReplyAndAFailedRereadStillFindsItsOwnWrite(t *testing.T) {
	cs := newCountingStore(t)
	st := &rereadFailStore{lostReplyStore: &lostReplyStore{countingStore: cs}}
	m, _ := newTestManager(t, Options{Store: st})
	m.now = cs.clock.Now
	b := stored(t, m)
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Flash("info", "saved")
		saveReplyLost(t, r, s, st.lostReplyStore)
		st.failRead.Store(true)
		if err := s.Save(r.Context()); !errors.Is(err, errRereadFailed) {
			t.Errorf("second Save: %v; want the failed re-read's error", err)
		}
		s.Set("step", "end")
	}))
	if rec := b.get("/"); rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	if got := flashesOf(t, m, b, "info"); !slices.Equal(got, []string{"saved"}) {
		t.Errorf("Flashes = %q; want the message once", got)
	}
	if got := storedValues(t, m, cs, b); got["step"] != "end" {
		t.Errorf("stored step=%v; want the end of the request's change", got["step"])
	}
}

// A RenewID (a login) after a Session.Save of a user's session whose reply
// was lost, though the store applied it, moves what that write stored, its
// own, without adding its flash message again. RenewID's re-read of a
// user's session used to replay the message over that write.
func TestRenewIDAfterALostSaveReplyDoesNotShowAFlashTwice(t *testing.T) {
	m, _, st := newLostReplyManager(t, Options{})
	b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.SetUser("alice")
	})))
	b.get("/login")
	oldID := mustID(t, m, b.cookie)
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Flash("info", "welcome back")
		saveReplyLost(t, r, s, st)
		if err := s.RenewID(r.Context()); err != nil {
			t.Errorf("RenewID: %v", err)
		}
	}))
	if rec := b.get("/"); rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	if mustID(t, m, b.cookie) == oldID {
		t.Fatal("the cookie still carries the old id")
	}
	if got := flashesOf(t, m, b, "info"); !slices.Equal(got, []string{"welcome back"}) {
		t.Errorf("Flashes = %q; want the message once", got)
	}
}

// A RenewID after a login (SetUser on an anonymous stored session) whose
// Session.Save reply was lost, though the store applied it, and after
// which DestroyUserSessions ended the session ("log out everywhere"),
// does not bring the login back under a new id: it re-reads the session,
// as after a Save whose reply came back, finds it ended, and fails with
// ErrNotFound. It skipped the re-read, the session it had loaded having no
// user, and moved the login to a new id after "log out everywhere" had
// returned.
func TestRenewIDAfterALostLoginSaveDoesNotUndoDestroyUserSessions(t *testing.T) {
	m, _, st := newLostReplyManager(t, Options{})
	b := stored(t, m)
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		if r.URL.Path == "/whoami" {
			io.WriteString(w, s.User())
			return
		}
		s.SetUser("ada")
		saveReplyLost(t, r, s, st)
		if n, err := m.DestroyUserSessions(r.Context(), "ada"); err != nil || n != 1 {
			t.Errorf("DestroyUserSessions(ada) = %d, %v; want the login's session", n, err)
		}
		if err := s.RenewID(r.Context()); !errors.Is(err, ErrNotFound) {
			t.Errorf("RenewID: %v; want an error wrapping ErrNotFound", err)
		}
	}))
	b.get("/login")
	if infos, err := m.UserSessions(t.Context(), "ada"); err != nil || len(infos) != 0 {
		t.Errorf("ada's sessions %v, %v; want none after DestroyUserSessions", infos, err)
	}
	if u := b.get("/whoami").Body.String(); u != "" {
		t.Errorf("the browser's session is %q's; want no one's", u)
	}
}

// A Session.Save that binds a stored session to another user (SetUser),
// whose reply was lost though the store applied it, removes the former
// user's index entry for the session once the end of the request has
// found that write its own and written the session, as a Save that
// succeeded does. The end of the request used to take the write for
// another request's, whose user the session had already, and left the
// former user's entry in the index until it expired.
func TestEndOfRequestSaveAfterALostSaveReplyRemovesTheFormerUsersIndexEntry(t *testing.T) {
	m, cs, st := newLostReplyManager(t, Options{})
	b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.SetUser("alice")
	})))
	b.get("/login")
	id := mustID(t, m, b.cookie)
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.SetUser("bob")
		saveReplyLost(t, r, s, st)
		s.Set("step", "end")
	}))
	if rec := b.get("/switch"); rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	if got := storedValues(t, m, cs, b); got["step"] != "end" {
		t.Fatalf("stored step=%v; want the end of the request's write", got["step"])
	}
	for user, want := range map[string]bool{"alice": false, "bob": true} {
		var indexed bool
		if err := cs.Store.UserSessions(t.Context(), user, func(eid string, _, _ time.Time, _ []byte) {
			indexed = indexed || eid == id
		}); err != nil {
			t.Fatal(err)
		}
		if indexed != want {
			t.Errorf("%s's index lists the session: %v; want %v", user, indexed, want)
		}
	}
}
