package storetest

import (
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sessionkit/session"
)

// UserIndexStore is a store that keeps a user index.
type UserIndexStore interface {
	session.Store
	session.UserIndex
}

// base64Codec is a custom Codec whose documents the default one cannot
// read, as an app's own Codec is to sessionctl.
type base64Codec struct{}

func (base64Codec) Encode(d *session.Document) ([]byte, error) {
	j, err := session.JSONCodec{}.Encode(d)
	return base64.StdEncoding.AppendEncode(nil, j), err
}

func (base64Codec) Decode(b []byte) (*session.Document, error) {
	j, err := base64.StdEncoding.AppendDecode(nil, b)
	if err != nil {
		return nil, err
	}
	return session.JSONCodec{}.Decode(j)
}

// TouchOfReboundSession checks, through the manager, on a fresh store from
// newStore each time, that a request that loaded a session of ada's and
// only touches it (Rolling; or a "remember me" session, whose own cookie
// differs from the options', so that the end of the request sets its own
// expiry, also when the request unsets the session), while another request
// of the same client moves the session to bob or logs it out by SetUser
// alone, leaves no index entry of ada's: such an entry says the session is
// ada's until its expiry, and DestroyUserSessions(ada) from a manager that
// cannot read the session (sessionctl over an app with a custom Codec),
// which takes the entry's word, ends it. A store passes when it reads and
// touches in one round trip (session.GetToucher), which tells the manager
// that the session is no longer ada's. It is not part of Run: a store
// without GetAndTouch keeps such entries until they expire (see the
// package notes on users in package session), and its documents must be
// any bytes (the app's Codec here is not JSON).
func TouchOfReboundSession(t *testing.T, newStore func(t *testing.T) UserIndexStore) {
	t.Helper()
	for _, kind := range []struct {
		name       string
		rolling    bool
		rememberMe time.Duration // the session's own cookie max age; the options' is an hour
		unset      bool          // the request unsets the session: the end of it sets back the expiry
	}{
		{name: "Rolling", rolling: true},
		{name: "RememberMe", rememberMe: 30 * 24 * time.Hour},
		{name: "RememberMeUnset", rememberMe: 30 * 24 * time.Hour, unset: true},
	} {
		for _, rebind := range []struct{ name, user string }{{"ToBob", "bob"}, {"LoggedOut", ""}} {
			t.Run(kind.name+"/"+rebind.name, func(t *testing.T) {
				st := newStore(t)
				newManager := func(opts session.Options) *session.Manager {
					opts.Store, opts.Secrets, opts.Logger = st, []string{"s"}, slog.New(slog.DiscardHandler)
					m, err := session.New(opts)
					if err != nil {
						t.Fatal(err)
					}
					return m
				}
				app := newManager(session.Options{Codec: base64Codec{}, Rolling: kind.rolling, Cookie: session.CookieOptions{MaxAge: time.Hour}})
				op := newManager(session.Options{}) // the default Codec: sessionctl's
				loaded, release := make(chan struct{}), make(chan struct{})
				h := app.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					s := session.From(r)
					switch r.URL.Path {
					case "/bind":
						if s.User() == "" && kind.rememberMe > 0 {
							s.Cookie().SetMaxAge(kind.rememberMe)
						}
						s.Set("cart", "1")
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
				var cookie *http.Cookie
				do := func(path string) string {
					req := httptest.NewRequest(http.MethodGet, path, nil)
					if cookie != nil {
						req.AddCookie(cookie)
					}
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					for _, c := range rec.Result().Cookies() {
						cookie = c
					}
					b, _ := io.ReadAll(rec.Body)
					return string(b)
				}
				do("/bind?u=ada")
				done := make(chan struct{})
				go func() {
					defer close(done)
					req := httptest.NewRequest(http.MethodGet, "/read", nil)
					req.AddCookie(cookie)
					h.ServeHTTP(httptest.NewRecorder(), req)
				}()
				<-loaded
				do("/bind?u=" + rebind.user)
				close(release)
				<-done
				want := rebind.user + " 1"
				if got := do("/whoami"); got != want {
					t.Fatalf("setting up: the session answers %q, want %q", got, want)
				}
				var entries int
				if err := st.UserSessions(t.Context(), "ada", func(string, time.Time, time.Time, []byte) { entries++ }); err != nil {
					t.Fatal(err)
				}
				if entries != 0 {
					t.Errorf("ada's index holds %d entries, want none: the session is no longer ada's", entries)
				}
				if n, err := op.DestroyUserSessions(t.Context(), "ada"); err != nil || n != 0 {
					t.Errorf("DestroyUserSessions(ada) = %d, %v; want 0: ada has no session", n, err)
				}
				if got := do("/whoami"); got != want {
					t.Fatalf("DestroyUserSessions(ada) ended the session (it answers %q now, want %q)", got, want)
				}
			})
		}
	}
}
