package session

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"
)

// lostGTStore is a lostReplyFaultStore that also carries the touch on the
// load (GetAndTouch), as memstore and the Redis store do.
type lostGTStore struct{ *lostReplyFaultStore }

func (l lostGTStore) GetAndTouch(ctx context.Context, id string, exp time.Time) ([]byte, string, bool, error) {
	return gtStore{l.faultStore}.GetAndTouch(ctx, id, exp)
}

// A Session.Save that binds ada's "remember me" session to bob, whose reply
// was lost though the store applied it, and whose end-of-request save
// fails too (its re-read of the session does): the end of the request,
// setting back the stored expiry that the touch on the load took from
// Cookie.MaxAge, does not record ada's index entry again, with the
// session's own, longer expiry. It did, and the stale entry, which would
// have expired with the load's touch, said for a month that bob's session
// was ada's: DestroyUserSessions(ada) from a manager that cannot read the
// session (another Codec) ended it.
func TestALostSaveThatReboundTheSessionLeavesNoLongerEntryForTheFormerUserWhenTheRequestFails(t *testing.T) {
	fs := &faultStore{countingStore: newCountingStore(t)}
	cs := fs.countingStore
	st := lostGTStore{&lostReplyFaultStore{faultStore: fs}}
	am, _ := newTestManager(t, Options{Store: st, Codec: base64Codec{}, Cookie: CookieOptions{MaxAge: time.Hour}})
	om, _ := newTestManager(t, Options{Store: cs})
	am.now, om.now = cs.clock.Now, cs.clock.Now
	b := newBrowser(t, am.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		switch r.URL.Path {
		case "/login":
			s.SetUser("ada")
			s.Cookie().SetMaxAge(30 * 24 * time.Hour) // remember me
		case "/whoami":
			io.WriteString(w, s.User())
		case "/rebind":
			s.SetUser("bob")
			st.lose.Store(true)
			if err := s.Save(r.Context()); err == nil {
				t.Error("Save: no error; want the lost reply's")
			}
			fs.on(func(_ context.Context, op, _ string) error {
				if op == "GetVersion" {
					return errDown
				}
				return nil
			})
		}
	})))
	b.get("/login")
	if rec := b.get("/rebind"); rec.Code == http.StatusOK {
		t.Fatalf("rebind: status %d; want the failed save's error", rec.Code)
	}
	fs.on(nil)
	cs.clock.Advance(2 * time.Hour) // past the load's touch, and IndexGrace
	if u := b.get("/whoami").Body.String(); u != "bob" {
		t.Fatalf("setting up: the session is %q's; want bob's, as the lost Save stored it", u)
	}
	if n, err := om.DestroyUserSessions(t.Context(), "ada"); err != nil || n != 0 {
		t.Errorf("DestroyUserSessions(ada) = %d, %v; want 0: ada has no session", n, err)
	}
	if u := b.get("/whoami").Body.String(); u != "bob" {
		t.Errorf("DestroyUserSessions(ada) ended bob's session (it answers %q now)", u)
	}
}
