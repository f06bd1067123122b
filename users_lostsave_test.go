package session

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
)

// lostSaveUsers is the setting of the tests below: a manager with a custom
// Codec (am), whose sessions another manager on the same store (om, the
// default Codec: sessionctl over the app, say) cannot read, so that om's
// DestroyUserSessions takes the index entries' word for them. The app
// binds a session to ?u= at /bind, answers its user at /whoami and does
// what do says at /do.
func lostSaveUsers(t *testing.T, st VersionedStore, cs *countingStore, do func(r *http.Request, s *Session)) (am, om *Manager, b *browser) {
	t.Helper()
	am, _ = newTestManager(t, Options{Store: st, Codec: base64Codec{}})
	om, _ = newTestManager(t, Options{Store: cs})
	am.now, om.now = cs.clock.Now, cs.clock.Now
	b = newBrowser(t, am.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		switch r.URL.Path {
		case "/bind":
			s.SetUser(r.FormValue("u"))
		case "/whoami":
			io.WriteString(w, s.User())
		case "/do":
			do(r, s)
		}
	})))
	b.get("/bind?u=ada")
	return am, om, b
}

// checkNotUsers fails t unless the session of b is want's, and neither
// user's index lists it, nor does om's DestroyUserSessions of that user end it.
func checkNotUsers(t *testing.T, am, om *Manager, b *browser, want string, users ...string) {
	t.Helper()
	if u := b.get("/whoami").Body.String(); u != want {
		t.Fatalf("setting up: the session is %q's, want %s's", u, want)
	}
	for _, user := range users {
		if idx := indexOf(t, am, user); len(idx) != 0 {
			t.Errorf("%s's index %v, want empty: the session is %s's", user, short(idx), want)
		}
		if n, err := om.DestroyUserSessions(t.Context(), user); err != nil || n != 0 {
			t.Errorf("DestroyUserSessions(%s) = %d, %v; want 0: %s has no session", user, n, err, user)
		}
		if u := b.get("/whoami").Body.String(); u != want {
			t.Fatalf("DestroyUserSessions(%s) ended %s's session (it answers %q now)", user, want, u)
		}
	}
}

// A Session.Save that binds ada's session to bob, whose reply was lost
// though the store applied it, and that another request of the client
// writes over (bob's still) before the end of the request re-reads it:
// the end of the request, which cannot tell the write its own, writes the
// session as bob's, and removes ada's index entry, as the Save would have
// had its reply come back. The entry stayed, and DestroyUserSessions(ada)
// from a manager that cannot read the session ended bob's session.
func TestALostSaveThatReboundTheSessionLeavesNoEntryForTheFormerUserWhenOverwritten(t *testing.T) {
	cs := newCountingStore(t)
	st := &lostReplyStore{countingStore: cs}
	var parallel *browser
	am, om, b := lostSaveUsers(t, st, cs, func(r *http.Request, s *Session) {
		if r.FormValue("step") == "parallel" {
			s.Set("y", 1)
			return
		}
		s.SetUser("bob")
		saveReplyLost(t, r, s, st)
		if rec := parallel.get("/do?step=parallel"); rec.Code != http.StatusOK {
			t.Errorf("the parallel request: status %d", rec.Code)
		}
		s.Set("step", "end")
	})
	parallel = &browser{t: t, cookie: b.cookie, h: b.h}
	if rec := b.get("/do"); rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	checkNotUsers(t, am, om, b, "bob", "ada")
}

// A Session.Save that binds ada's session to bob and fails before its
// write went out, followed by a SetUser("cat") of the same request: the
// end of the request writes the session as cat's, and removes the entry
// the failed Save recorded for bob. It stayed, and
// DestroyUserSessions(bob) from a manager that cannot read the session
// ended cat's session.
func TestAFailedSaveThatReboundTheSessionLeavesNoEntryAfterAnotherSetUser(t *testing.T) {
	cs := newCountingStore(t)
	fs := &faultStore{countingStore: cs}
	am, om, b := lostSaveUsers(t, fs, cs, func(r *http.Request, s *Session) {
		s.SetUser("bob")
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
		s.SetUser("cat")
	})
	if rec := b.get("/do"); rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	checkNotUsers(t, am, om, b, "cat", "bob", "ada")
}

// A Reload after a Session.Save that binds ada's session to bob: whether
// the store applied the Save, whose reply was lost, or not (it failed
// before its write went out), the session is then what the store holds,
// and the user it is not has no index entry for it. The entry of ada
// (applied) or bob (not) stayed, and DestroyUserSessions of that user from
// a manager that cannot read the session ended the other's session.
func TestReloadAfterAFailedSaveThatReboundTheSessionLeavesNoEntryForTheOtherUser(t *testing.T) {
	for _, applied := range []bool{true, false} {
		name, want, other := "not applied", "ada", "bob"
		if applied {
			name, want, other = "applied", "bob", "ada"
		}
		t.Run(name, func(t *testing.T) {
			cs := newCountingStore(t)
			fs := &faultStore{countingStore: cs}
			st := &lostReplyStore{countingStore: cs}
			var store VersionedStore = fs
			if applied {
				store = st
			}
			am, om, b := lostSaveUsers(t, store, cs, func(r *http.Request, s *Session) {
				s.SetUser("bob")
				if applied {
					saveReplyLost(t, r, s, st)
				} else {
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
				}
				if err := s.Reload(r.Context()); err != nil {
					t.Errorf("Reload: %v", err)
				}
			})
			if rec := b.get("/do"); rec.Code != http.StatusOK {
				t.Fatalf("status %d", rec.Code)
			}
			checkNotUsers(t, am, om, b, want, other)
		})
	}
}
