package session

import (
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// base64Codec stores the JSON document base64-encoded: a custom Codec whose
// documents JSONCodec cannot read.
type base64Codec struct{}

func (base64Codec) Encode(d *Document) ([]byte, error) {
	j, err := JSONCodec{}.Encode(d)
	if err != nil {
		return nil, err
	}
	return base64.StdEncoding.AppendEncode(nil, j), nil
}

func (base64Codec) Decode(b []byte) (*Document, error) {
	j, err := base64.StdEncoding.AppendDecode(nil, b)
	if err != nil {
		return nil, err
	}
	return JSONCodec{}.Decode(j)
}

// "Log out everywhere" from a manager that cannot read some of the user's
// sessions (sessionctl logout-user, whose manager has the default options,
// over an app with a custom Codec, MaxDocumentBytes turned off, or no
// AbsoluteTimeout; or one app instance of several during a configuration
// change) ends them all the same: the app that reads them no longer serves
// them. DestroyUserSessions skipped them, as UserSessions does (they are
// not live sessions for the manager that lists them), and answered 0 while
// the user stayed logged in.
func TestDestroyUserSessionsEndsTheSessionsItsManagerCannotRead(t *testing.T) {
	for _, tc := range []struct {
		name        string
		app, op     Options
		big, before time.Duration
	}{
		{name: "a custom Codec", app: Options{Codec: base64Codec{}}},
		{name: "over the operator's MaxDocumentBytes", app: Options{MaxDocumentBytes: -1}, big: 1},
		{name: "past the operator's AbsoluteTimeout", op: Options{AbsoluteTimeout: 12 * time.Hour}, before: 13 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := newCountingStore(t)
			tc.app.Store, tc.op.Store = cs, cs
			app, _ := newTestManager(t, tc.app)
			op, _ := newTestManager(t, tc.op)
			app.now, op.now = cs.clock.Now, cs.clock.Now
			b := newBrowser(t, app.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
				switch r.URL.Path {
				case "/login":
					s.SetUser("ada")
					if tc.big > 0 {
						s.Set("big", strings.Repeat("x", DefaultMaxDocumentBytes))
					}
				case "/whoami":
					io.WriteString(w, s.User())
				}
			})))
			b.get("/login")
			cs.clock.Advance(tc.before)
			if u := b.get("/whoami").Body.String(); u != "ada" {
				t.Fatalf("setting up: the app serves the session as %q, want ada", u)
			}
			n, err := op.DestroyUserSessions(t.Context(), "ada")
			if err != nil || n != 1 {
				t.Errorf("DestroyUserSessions(ada) = %d, %v; want the one session ended", n, err)
			}
			if u := b.get("/whoami").Body.String(); u != "" {
				t.Fatalf("after DestroyUserSessions the app still serves the session as %q", u)
			}
			if idx := indexOf(t, app, "ada"); len(idx) != 0 {
				t.Fatalf("ada's index %v after DestroyUserSessions, want empty", short(idx))
			}
		})
	}
}

// A session its manager cannot read is no live session of the user for
// that manager: UserSessions does not list it (nor, then, does
// MaxSessionsPerUser count it). DestroyUserSessions ends it, but leaves
// alone another user's session whose document the manager can read,
// whatever a stale entry says.
func TestUnreadableSessionsAreNotListedAndReadableOnesOfOthersAreLeftAlone(t *testing.T) {
	cs := newCountingStore(t)
	app, _ := newTestManager(t, Options{Store: cs, Codec: base64Codec{}})
	op, _ := newTestManager(t, Options{Store: cs})
	app.now, op.now = cs.clock.Now, cs.clock.Now
	b := newBrowser(t, app.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) { s.SetUser("ada") })))
	b.get("/login")
	if infos, err := op.UserSessions(t.Context(), "ada"); err != nil || len(infos) != 0 {
		t.Fatalf("UserSessions(ada) from a manager that cannot read the session = %v, %v; want none listed", infos, err)
	}
	// bob's session, readable, with a stale entry in ada's index.
	bob := newBrowser(t, op.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) { s.SetUser("bob") })))
	bob.get("/login")
	bobID := mustID(t, op, bob.cookie)
	if err := cs.Store.IndexUserSession(t.Context(), "ada", bobID, cs.clock.Now(), cs.clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n, err := op.DestroyUserSessions(t.Context(), "ada"); n != 1 || err != nil {
		t.Fatalf("DestroyUserSessions(ada) = %d, %v; want ada's session alone ended", n, err)
	}
	if _, found, _ := cs.Store.Get(t.Context(), bobID); !found {
		t.Fatal("DestroyUserSessions(ada) ended bob's session, which a stale entry listed under ada")
	}
}

// A session over the MaxDocumentBytes of the manager that lists it is
// unreadable for that manager, but not undecodable: DestroyUserSessions
// reads its user before it ends it, and leaves another user's session
// alone whatever a stale entry says (one whose removal failed, say). It
// took the entry's word, as for a document its Codec does not decode.
func TestDestroyUserSessionsChecksTheUserOfASessionOverItsMaxDocumentBytes(t *testing.T) {
	cs := newCountingStore(t)
	app, _ := newTestManager(t, Options{Store: cs, MaxDocumentBytes: -1})
	op, _ := newTestManager(t, Options{Store: cs})
	app.now, op.now = cs.clock.Now, cs.clock.Now
	login := func(user string) string {
		b := newBrowser(t, app.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
			s.SetUser(user)
			s.Set("big", strings.Repeat("x", DefaultMaxDocumentBytes))
		})))
		b.get("/login")
		return mustID(t, app, b.cookie)
	}
	adaID, bobID := login("ada"), login("bob")
	// A stale entry: bob's session listed under ada.
	if err := cs.Store.IndexUserSession(t.Context(), "ada", bobID, cs.clock.Now(), cs.clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n, err := op.DestroyUserSessions(t.Context(), "ada"); n != 1 || err != nil {
		t.Errorf("DestroyUserSessions(ada) = %d, %v; want ada's session alone ended", n, err)
	}
	if _, found, _ := cs.Store.Get(t.Context(), adaID); found {
		t.Error("DestroyUserSessions(ada) left ada's session")
	}
	if _, found, _ := cs.Store.Get(t.Context(), bobID); !found {
		t.Fatal("DestroyUserSessions(ada) ended bob's session, which a stale entry listed under ada")
	}
}
