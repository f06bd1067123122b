package session

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// gatStore is the counting memstore with memstore's GetAndTouch back,
// counted as the one call it is (getTouchingStore counts a GetVersion and a
// Touch).
type gatStore struct{ *countingStore }

func (g gatStore) GetAndTouch(ctx context.Context, id string, exp time.Time) ([]byte, string, bool, error) {
	g.count("GetAndTouch")
	return g.countingStore.Store.GetAndTouch(ctx, id, exp)
}

// A request that loaded a session of ada's and only touches it at its end
// (Rolling, or a session whose own cookie differs from the options', a
// "remember me", whose expiry the end of the request sets back after the
// load's touch, also when the request unsets the session) while another request of the same client moved the
// session to bob or logged it out by SetUser alone: the touch recorded
// ada's index entry again, after the rebinding save had removed it. The
// entry said the session was ada's while the store held it as bob's (or no
// one's), and DestroyUserSessions(ada) from a manager that cannot read the
// session (sessionctl over an app with a custom Codec), which takes the
// entry's word, ended it.
func TestTouchOfASessionReboundMeanwhileLeavesNoEntryForTheFormerUser(t *testing.T) {
	for _, kind := range []struct {
		name       string
		rolling    bool
		rememberMe time.Duration // the session's own cookie max age; the options' is an hour
		unset      bool          // the request unsets the session: restoreExpiry touches it
	}{
		{name: "Rolling", rolling: true},
		{name: "RememberMe", rememberMe: 30 * 24 * time.Hour},
		{name: "RememberMeUnset", rememberMe: 30 * 24 * time.Hour, unset: true},
	} {
		for _, rebind := range []struct{ name, path, want string }{
			{"ToBob", "/bind?u=bob", "bob"},
			{"LoggedOut", "/bind?u=", ""},
		} {
			t.Run(kind.name+"/"+rebind.name, func(t *testing.T) {
				st := gatStore{newCountingStore(t)}
				app, _ := newTestManager(t, Options{Store: st, Codec: base64Codec{}, Rolling: kind.rolling, Cookie: CookieOptions{MaxAge: time.Hour}})
				op, _ := newTestManager(t, Options{Store: st})
				app.now, op.now = st.clock.Now, st.clock.Now
				loaded, release := make(chan struct{}), make(chan struct{})
				h := app.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
					switch r.URL.Path {
					case "/bind":
						if s.User() == "" && kind.rememberMe > 0 {
							s.Cookie().SetMaxAge(kind.rememberMe)
						}
						if s.Get("cart") == nil {
							s.Set("cart", 1)
						}
						s.SetUser(r.FormValue("u"))
					case "/read": // loads the session, and ends once it was rebound
						s.Get("cart")
						close(loaded)
						<-release
						if kind.unset {
							s.Unset()
						}
					case "/whoami":
						fmt.Fprintf(w, "%s %v", s.User(), s.Get("cart"))
					}
				}))
				b := newBrowser(t, h)
				b.get("/bind?u=ada")
				st.clock.Advance(time.Minute)
				done := make(chan struct{})
				go func() {
					defer close(done)
					req := httptest.NewRequest(http.MethodGet, "/read", nil)
					req.AddCookie(&http.Cookie{Name: "sid", Value: b.cookie})
					h.ServeHTTP(httptest.NewRecorder(), req)
				}()
				<-loaded
				b.get(rebind.path)
				close(release)
				<-done
				want := rebind.want + " 1"
				if got := b.get("/whoami").Body.String(); got != want {
					t.Fatalf("setting up: the session answers %q, want %q", got, want)
				}
				if idx := indexOf(t, app, "ada"); len(idx) != 0 {
					t.Errorf("ada's index %v, want empty: the session is no longer ada's", short(idx))
				}
				if n, err := op.DestroyUserSessions(t.Context(), "ada"); err != nil || n != 0 {
					t.Errorf("DestroyUserSessions(ada) = %d, %v; want 0: ada has no session", n, err)
				}
				if got := b.get("/whoami").Body.String(); got != want {
					t.Fatalf("DestroyUserSessions(ada) ended the session (it answers %q now, want %q)", got, want)
				}
			})
		}
	}
}

// The touch of a session that, since the request loaded it, another app
// instance sharing the store rewrote as the same user's in a format this
// one cannot decode (an instance with another Codec, during a configuration
// change) keeps the user's index entry: its user cannot be told, and
// removed, the entry would leave the session out of a "log out everywhere"
// by the instance that serves it.
func TestTouchKeepsTheEntryOfASessionRewrittenInAFormatItCannotRead(t *testing.T) {
	st := gatStore{newCountingStore(t)}
	app, _ := newTestManager(t, Options{Store: st, Rolling: true, Cookie: CookieOptions{MaxAge: time.Hour}})
	other, _ := newTestManager(t, Options{Store: st, Codec: base64Codec{}})
	app.now, other.now = st.clock.Now, st.clock.Now
	var id string
	h := app.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		switch r.URL.Path {
		case "/login":
			s.SetUser("ada")
		case "/read": // the other instance rewrites the session meanwhile
			s.Get("cart")
			id = s.ID()
			data, err := base64Codec{}.Encode(&Document{Values: map[string]json.RawMessage{UserKey: json.RawMessage(`"ada"`), "cart": json.RawMessage(`2`)}})
			if err != nil {
				t.Fatal(err)
			}
			if err := st.Set(r.Context(), id, data, st.clock.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
	}))
	b := newBrowser(t, h)
	b.get("/login")
	st.clock.Advance(time.Minute)
	b.get("/read")
	if idx := indexOf(t, app, "ada"); len(idx) != 1 || idx[0] != id {
		t.Fatalf("ada's index %v, want the session: it is still ada's", short(idx))
	}
	if n, err := other.DestroyUserSessions(t.Context(), "ada"); err != nil || n != 1 {
		t.Fatalf("DestroyUserSessions(ada) from the instance that reads the session = %d, %v; want 1", n, err)
	}
}
