package session

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"
)

// userCallsStore is a counting memstore that also counts its listings of a
// user's index.
type userCallsStore struct{ *countingStore }

func (u userCallsStore) UserSessions(ctx context.Context, user string, yield func(id string, used, expires time.Time, data []byte)) error {
	u.count("UserSessions")
	return u.countingStore.UserSessions(ctx, user, yield)
}

// "" is no user, as SetUser("") unbinds the session and User answers ""
// for a session without one: no session is indexed under it, so
// UserSessions("") lists nothing and DestroyUserSessions("") ends nothing,
// without asking the store (a logout-others handler that passes the User()
// of a session that has none costs no listing). They asked the store for
// the index of user "", a scan of whatever a store keeps under an empty
// key.
func TestTheEmptyUserHasNoSessionsAndCostsNoStoreCall(t *testing.T) {
	cs := newCountingStore(t)
	st := userCallsStore{cs}
	m, _ := newTestManager(t, Options{Store: st})
	m.now = cs.clock.Now
	b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		switch r.URL.Path {
		case "/login":
			s.SetUser("ada")
		case "/logout":
			s.SetUser("")
		}
	})))
	b.get("/login")
	b.get("/logout") // a session that had a user and has none now
	cs.reset()
	infos, err := m.UserSessions(t.Context(), "")
	if err != nil || len(infos) != 0 {
		t.Errorf(`UserSessions("") = %v, %v; want none, no error`, infos, err)
	}
	n, err := m.DestroyUserSessions(t.Context(), "")
	if err != nil || n != 0 {
		t.Errorf(`DestroyUserSessions("") = %d, %v; want 0, no error`, n, err)
	}
	if calls := cs.total(); calls != 0 {
		t.Errorf(`UserSessions("") and DestroyUserSessions("") made %d store calls (%v), want none`, calls, cs.calls)
	}
	if _, found, _ := cs.Store.Get(t.Context(), mustID(t, m, b.cookie)); !found {
		t.Error(`DestroyUserSessions("") ended the session without a user`)
	}
}

// A store without a user index says so whatever the user: "" is no way
// around the configuration error.
func TestTheEmptyUserOnAStoreWithoutAnIndexIsNotSupported(t *testing.T) {
	m, _ := newTestManager(t, Options{Store: noUserIndex{newCountingStore(t)}})
	if _, err := m.UserSessions(t.Context(), ""); !errors.Is(err, ErrNotSupported) {
		t.Errorf(`UserSessions("") without an index: %v, want ErrNotSupported`, err)
	}
	if _, err := m.DestroyUserSessions(t.Context(), ""); !errors.Is(err, ErrNotSupported) {
		t.Errorf(`DestroyUserSessions("") without an index: %v, want ErrNotSupported`, err)
	}
}

// noUserIndex hides the user index of a store.
type noUserIndex struct{ Store }
