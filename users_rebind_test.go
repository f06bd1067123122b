package session

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// A session moved from one user to another by SetUser alone (no new id)
// while another request of the same client, which loaded it with the
// first user, was still running: that request's save recorded the first
// user's index entry before its compare-and-swap, after the rebinding save
// had removed it, then re-merged over the rebinding and wrote the session
// as the second user's. The entry stayed, saying the session was ada's
// while the store held it as bob's, and DestroyUserSessions(ada) from a
// manager that cannot read the session (sessionctl over an app with a
// custom Codec), which takes the entry's word, ended bob's session.
func TestDestroyUserSessionsLeavesASessionReboundDuringAParallelSaveAlone(t *testing.T) {
	cs := newCountingStore(t)
	am, _ := newTestManager(t, Options{Store: cs, Codec: base64Codec{}})
	om, _ := newTestManager(t, Options{Store: cs})
	am.now, om.now = cs.clock.Now, cs.clock.Now
	loaded, release := make(chan struct{}), make(chan struct{})
	h := am.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		switch r.URL.Path {
		case "/bind":
			s.SetUser(r.FormValue("u"))
		case "/cart": // loads the session, and sets a key once bob is bound
			s.Get("cart")
			close(loaded)
			<-release
			s.Set("cart", 1)
		case "/whoami":
			io.WriteString(w, s.User())
		}
	}))
	b := newBrowser(t, h)
	b.get("/bind?u=ada")
	cookie := b.cookie
	done := make(chan struct{})
	go func() {
		defer close(done)
		req := httptest.NewRequest(http.MethodGet, "/cart", nil)
		req.AddCookie(&http.Cookie{Name: "sid", Value: cookie})
		h.ServeHTTP(httptest.NewRecorder(), req)
	}()
	<-loaded
	b.get("/bind?u=bob")
	close(release)
	<-done
	if u := b.get("/whoami").Body.String(); u != "bob" {
		t.Fatalf("setting up: the session is %q's, want bob's", u)
	}
	if idx := indexOf(t, am, "ada"); len(idx) != 0 {
		t.Errorf("ada's index %v, want empty: the session is bob's", short(idx))
	}
	if n, err := om.DestroyUserSessions(t.Context(), "ada"); err != nil || n != 0 {
		t.Errorf("DestroyUserSessions(ada) = %d, %v; want 0: ada has no session", n, err)
	}
	if u := b.get("/whoami").Body.String(); u != "bob" {
		t.Fatalf("DestroyUserSessions(ada) ended bob's session (it answers %q now)", u)
	}
}
