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

// A Destroy, Regenerate, RenewID or Unset after a Session.Save whose reply
// was lost, though the store applied it, ends what that save stored (one
// that fails leaves the session as it was), and leaves another session's
// write alone.

// saveLost binds s to alice and saves it with the store's next
// CompareAndSwap applied but answered with an error (a create whose reply
// was lost), failing t unless Save reports that error. It returns the
// session's id.
func saveLost(t *testing.T, r *http.Request, s *Session, st *lostReplyStore) string {
	t.Helper()
	s.SetUser("alice")
	s.Set("cart", "socks")
	saveReplyLost(t, r, s, st)
	return s.ID()
}

// A Regenerate or RenewID after a new session's Session.Save that the store
// applied but answered with an error (a timeout after the write went out)
// destroys what that save stored: the session moves to a new id, and no
// client will ever hold the first one. The first write used to stay
// stored, with alice's data, under an id no client holds, until it expired.
func TestRegenerateAfterALostCreateDestroysTheFirstWrite(t *testing.T) {
	for _, op := range []string{"Regenerate", "RenewID"} {
		t.Run(op, func(t *testing.T) {
			m, cs, st := newLostReplyManager(t, Options{})
			var firstID string
			b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
				firstID = saveLost(t, r, s, st)
				var err error
				if op == "Regenerate" {
					err = s.Regenerate(r.Context())
					s.SetUser("alice")
				} else {
					err = s.RenewID(r.Context())
				}
				if err != nil {
					t.Errorf("%s: %v", op, err)
				}
			})))
			if rec := b.get("/login"); rec.Code != http.StatusOK {
				t.Fatalf("login: status %d", rec.Code)
			}
			id := mustID(t, m, b.cookie)
			if id == firstID {
				t.Fatalf("the cookie carries the first id; want the %s's new one", op)
			}
			if _, found, _ := cs.Store.Get(t.Context(), firstID); found {
				t.Error("the lost create's write is still stored under the first id, which no client holds")
			}
			if n, _ := cs.Store.Count(t.Context()); n != 1 {
				t.Errorf("the store holds %d sessions; want the new id's alone", n)
			}
		})
	}
}

// A Destroy (a logout) after a new session's Session.Save that the store
// applied but answered with an error destroys what that save stored: the
// request ends with no session stored and no cookie. The first write used
// to stay stored, with alice's data, under an id no client holds.
func TestDestroyAfterALostCreateDestroysTheFirstWrite(t *testing.T) {
	m, cs, st := newLostReplyManager(t, Options{})
	var firstID string
	b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		firstID = saveLost(t, r, s, st)
		if err := s.Destroy(r.Context()); err != nil {
			t.Errorf("Destroy: %v", err)
		}
	})))
	rec := b.get("/logout")
	if c := setCookie(rec); c != "" {
		t.Errorf("Set-Cookie %q after Destroy; want none", c)
	}
	if _, found, _ := cs.Store.Get(t.Context(), firstID); found {
		t.Error("the lost create's write is still stored under an id no client holds")
	}
	if n, _ := cs.Store.Count(t.Context()); n != 0 {
		t.Errorf("the store holds %d sessions; want none", n)
	}
}

// A new login whose index entry, recorded right after its create, was
// written but answered with an error, and whose created session then could
// not be destroyed, keeps those bytes (ownCreate); a Destroy or RenewID
// after that destroys the session and removes alice's index entry for it,
// so that the index does not keep an entry for an id no client holds.
func TestDestroyAfterALostCreateRemovesItsIndexEntry(t *testing.T) {
	for _, op := range []string{"Destroy", "RenewID"} {
		t.Run(op, func(t *testing.T) {
			fs := &faultStore{countingStore: newCountingStore(t)}
			st := &indexLostStore{faultStore: fs}
			m, _ := newTestManager(t, Options{Store: st})
			m.now = fs.clock.Now
			var firstID string
			b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
				s.SetUser("alice")
				firstID = s.ID()
				st.lose.Store(true)
				fs.on(func(_ context.Context, op, _ string) error {
					if op == "Destroy" {
						return errDown
					}
					return nil
				})
				if err := s.Save(r.Context()); err == nil {
					t.Error("Save succeeded; want the index entry's error")
				}
				fs.on(nil)
				var err error
				if op == "Destroy" {
					err = s.Destroy(r.Context())
				} else {
					err = s.RenewID(r.Context())
				}
				if err != nil {
					t.Errorf("%s: %v", op, err)
				}
			})))
			if rec := b.get("/login"); rec.Code != http.StatusOK {
				t.Fatalf("login: status %d", rec.Code)
			}
			if _, found, _ := fs.countingStore.Store.Get(t.Context(), firstID); found {
				t.Error("the first create's session is still stored under an id no client holds")
			}
			var entries []string
			if err := fs.countingStore.Store.UserSessions(t.Context(), "alice", func(id string, _, _ time.Time, _ []byte) {
				entries = append(entries, id)
			}); err != nil {
				t.Fatal(err)
			}
			for _, id := range entries {
				if id == firstID {
					t.Errorf("alice's index keeps the entry of the destroyed first id (entries %q)", entries)
				}
			}
		})
	}
}

// destroyFailStore is a lostReplyStore whose Destroy fails while armed.
type destroyFailStore struct {
	*lostReplyStore
	fail atomic.Bool
}

func (d *destroyFailStore) Destroy(ctx context.Context, id string) error {
	if d.fail.Load() {
		return errDown
	}
	return d.lostReplyStore.Destroy(ctx, id)
}

// A Destroy after a lost create that cannot tell whether the store holds
// that create (its re-read fails) or cannot delete it fails, and the
// session stays as it was, as Destroy documents for a delete the store did
// not confirm: the end of the request saves it under its id, which the
// cookie then carries, so that the store holds no session that no client
// holds. (Before, such a Destroy did nothing to the stored write and
// reported success.)
func TestAFailedDestroyAfterALostCreateLeavesTheSessionAsItWas(t *testing.T) {
	for _, fail := range []string{"re-read", "delete"} {
		t.Run(fail, func(t *testing.T) {
			cs := newCountingStore(t)
			lost := &lostReplyStore{countingStore: cs}
			st := &destroyFailStore{lostReplyStore: lost}
			var reread *rereadFailStore
			var store Store = st
			if fail == "re-read" {
				reread = &rereadFailStore{lostReplyStore: lost}
				store = reread
			}
			m, _ := newTestManager(t, Options{Store: store})
			m.now = cs.clock.Now
			var firstID string
			app := m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
				firstID = saveLost(t, r, s, lost)
				if reread != nil {
					reread.failRead.Store(true)
				} else {
					st.fail.Store(true)
				}
				if err := s.Destroy(r.Context()); err == nil {
					t.Error("Destroy succeeded; want the store's error")
				}
				st.fail.Store(false)
				if got := s.ID(); got != firstID {
					t.Errorf("after the failed Destroy the session's id %q; want it as it was, %q", got, firstID)
				}
				if got := s.User(); got != "alice" {
					t.Errorf("after the failed Destroy the session's user %q; want it as it was, alice", got)
				}
			}))
			id := loginKeepsItsID(t, m, app, cs, &firstID)
			if data, _, _ := cs.Store.Get(t.Context(), id); !strings.Contains(string(data), `"cart":"socks"`) {
				t.Errorf("the stored session %s; want the session as it was", data)
			}
		})
	}
}

// A Regenerate after a lost create whose re-read fails still gives the
// request its new session, as express's regenerate does when the destroy
// fails, and reports the error.
func TestAFailedRereadAfterALostCreateStillRegenerates(t *testing.T) {
	cs := newCountingStore(t)
	st := &rereadFailStore{lostReplyStore: &lostReplyStore{countingStore: cs}}
	m, _ := newTestManager(t, Options{Store: st})
	m.now = cs.clock.Now
	var firstID string
	b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		firstID = saveLost(t, r, s, st.lostReplyStore)
		st.failRead.Store(true)
		if err := s.Regenerate(r.Context()); !errors.Is(err, errRereadFailed) {
			t.Errorf("Regenerate: %v; want the failed re-read's error", err)
		}
		if s.ID() == firstID || s.User() != "" {
			t.Errorf("after Regenerate the session is %q of %q; want a new, empty one", s.ID(), s.User())
		}
		s.Set("flash", "welcome")
	})))
	if rec := b.get("/login"); rec.Code != http.StatusOK {
		t.Fatalf("login: status %d", rec.Code)
	}
	if id := mustID(t, m, b.cookie); id == firstID {
		t.Error("the cookie carries the first id; want the new session's")
	}
}

// A Regenerate after a create that found its id taken by another session
// (a GenerateID that repeats ids) and whose reply was lost leaves that
// other session alone: what is stored under the id is not what the create
// sent, so it is not this request's to destroy.
func TestRegenerateAfterALostCreateLeavesAnotherSessionsWriteAlone(t *testing.T) {
	gen := &repeatingIDs{}
	m, cs, st := newLostReplyManager(t, Options{GenerateID: gen.generate})
	app := m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		switch r.URL.Path {
		case "/other":
			s.Set("owner", "bob")
		case "/login":
			saveLost(t, r, s, st)
			if err := s.Regenerate(r.Context()); err != nil {
				t.Errorf("Regenerate: %v", err)
			}
			s.Set("flash", "welcome")
		}
	}))
	other := newBrowser(t, app)
	other.get("/other")
	otherID := mustID(t, m, other.cookie)
	gen.repeat(otherID, 1)
	if rec := newBrowser(t, app).get("/login"); rec.Code != http.StatusOK {
		t.Fatalf("login: status %d", rec.Code)
	}
	data, found, _ := cs.Store.Get(t.Context(), otherID)
	if !found || !strings.Contains(string(data), `"owner":"bob"`) {
		t.Errorf("the other session's stored bytes %s (found %v); want bob's session untouched", data, found)
	}
}

// An Unset with UnsetDestroy after a new session's Session.Save that the
// store applied but answered with an error destroys what that save stored,
// as a Destroy does, and removes alice's index entry for it. The first write
// used to stay stored, with alice's data, under an id no client holds,
// until it expired.
func TestUnsetDestroyAfterALostCreateDestroysTheFirstWrite(t *testing.T) {
	m, cs, st := newLostReplyManager(t, Options{Unset: UnsetDestroy})
	var firstID string
	b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		firstID = saveLost(t, r, s, st)
		s.Unset()
	})))
	rec := b.get("/logout")
	if c := setCookie(rec); c != "" {
		t.Errorf("Set-Cookie %q after Unset; want none", c)
	}
	if _, found, _ := cs.Store.Get(t.Context(), firstID); found {
		t.Error("the lost create's write is still stored under an id no client holds")
	}
	if n, _ := cs.Store.Count(t.Context()); n != 0 {
		t.Errorf("the store holds %d sessions; want none", n)
	}
	var entries []string
	if err := cs.Store.UserSessions(t.Context(), "alice", func(id string, _, _ time.Time, _ []byte) {
		entries = append(entries, id)
	}); err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("alice's index keeps entries %q; want none", entries)
	}
}

// A Destroy or Regenerate after a Session.Save whose reply was lost ends
// the session whatever the store holds under its id, the lost write's or
// the copy before it: nothing stays stored under the old id.
func TestDestroyAfterALostSaveReplyLeavesNothingStored(t *testing.T) {
	for _, op := range []string{"Destroy", "Regenerate"} {
		t.Run(op, func(t *testing.T) {
			m, cs, st := newLostReplyManager(t, Options{})
			b := stored(t, m)
			id := mustID(t, m, b.cookie)
			b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
				s.Set("x", "before the save")
				saveReplyLost(t, r, s, st)
				var err error
				if op == "Destroy" {
					err = s.Destroy(r.Context())
				} else {
					err = s.Regenerate(r.Context())
				}
				if err != nil {
					t.Errorf("%s: %v", op, err)
				}
			}))
			if rec := b.get("/"); rec.Code != http.StatusOK {
				t.Fatalf("status %d", rec.Code)
			}
			if data, found, _ := cs.Store.Get(t.Context(), id); found {
				t.Errorf("the old id still holds %s", data)
			}
		})
	}
}
