package redisstore_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/redisstore"
)

// RenewID re-reads a session with a user before it moves it to a new id,
// so that one another request ended meanwhile (DestroyUserSessions) does
// not come back. Here the server runs that re-read, DestroyUserSessions
// ends the session on another instance, and the re-read's answer is lost
// (the connection reset; the client does not retry): RenewID cannot tell
// whether the session is still there, and must fail, leaving it as it was.
// It moved the values it had loaded, and the end of the request stored
// them under the new id, logged in, with its cookie, after "log out
// everywhere" had returned.
func TestRenewIDWhoseRereadLostItsReplyDoesNotBringBackASessionEndedMeanwhile(t *testing.T) {
	direct := standalone(t)
	p := testserver.StartProxy(t, direct.Options().Addr)
	viaProxy := redis.NewClient(&redis.Options{Addr: p.Addr, MaxRetries: -1})
	t.Cleanup(func() { viaProxy.Close() })
	prefix := testserver.UniquePrefix() + "sess:"
	newManager := func(client redis.UniversalClient) *session.Manager {
		m, err := session.New(session.Options{Secrets: []string{"renewid lost re-read test secret"},
			Store: redisstore.New(client, redisstore.WithPrefix(prefix)), Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	m, other := newManager(viaProxy), newManager(direct)
	var destroyed int
	var destroyErr, renewErr error
	ended := make(chan struct{}) // closed once DestroyUserSessions returned, on the proxy's goroutine
	mux := http.NewServeMux()
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		s := session.From(r)
		if err := s.RenewID(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		s.SetUser("ada")
	})
	mux.HandleFunc("/rotate", func(w http.ResponseWriter, r *http.Request) {
		s := session.From(r)                // loaded: ada's session
		p.LoseReply(prefix+s.ID(), func() { // the re-read, which the server has run
			destroyed, destroyErr = other.DestroyUserSessions(t.Context(), "ada")
			close(ended)
		})
		if renewErr = s.RenewID(r.Context()); renewErr != nil {
			http.Error(w, "try again", http.StatusServiceUnavailable) // as the README's login handler
			return
		}
		io.WriteString(w, s.User())
	})
	mux.HandleFunc("/whoami", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, session.From(r).User()) })
	srv := httptest.NewServer(m.Handler(mux))
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	get := func(path string) string {
		t.Helper()
		res, err := c.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}
	get("/login")
	if u := get("/whoami"); u != "ada" {
		t.Fatalf("after the login: user %q, want ada", u)
	}
	get("/rotate")
	select {
	case <-ended:
	default:
		t.Fatal("the RenewID sent no re-read of the session: the proxy lost no answer")
	}
	if destroyed != 1 || destroyErr != nil {
		t.Fatalf("DestroyUserSessions during the re-read = %d, %v; want 1", destroyed, destroyErr)
	}
	if renewErr == nil {
		t.Errorf("RenewID whose re-read lost its answer returned nil")
	}
	if infos, err := other.UserSessions(t.Context(), "ada"); err != nil || len(infos) != 0 {
		t.Errorf("UserSessions(ada) after DestroyUserSessions and the RenewID = %d sessions, %v; want none", len(infos), err)
	}
	if u := get("/whoami"); u != "" {
		t.Errorf("the browser whose session DestroyUserSessions ended is logged in as %q after a RenewID whose re-read lost its answer", u)
	}
}
