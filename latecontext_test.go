package session

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/sessionkit/session/internal/testclock"
	"github.com/sessionkit/session/memstore"
)

// newMemManager returns a manager on a plain memstore (the default store,
// which the counting store of newTestManager is not: the manager tells a
// memstore by its type), both on one test clock.
func newMemManager(t *testing.T, opts Options) (*Manager, *memstore.Store) {
	t.Helper()
	clock := testclock.New(time.Now())
	st := memstore.New(memstore.WithClock(clock.Now))
	t.Cleanup(func() { st.Close() })
	opts.Store = st
	m, _ := newTestManager(t, opts)
	m.now = clock.Now
	return m, st
}

// With the default memstore, a goroutine that outlives the handler still
// reads the session with From, as the README promises, though net/http
// has cancelled the request's context by then: the load, like the save,
// does not run on the request's cancellation.
func TestFromAfterTheHandlerReturnedReadsTheSessionOnAMemstore(t *testing.T) {
	m, _ := newMemManager(t, Options{Cookie: CookieOptions{MaxAge: time.Hour}})
	late := make(chan *http.Request, 1)
	srv, c := serve(t, m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/login" {
			From(r).Set("user", "ann")
			return
		}
		late <- r // read by a goroutine that outlives the handler
	})))
	for _, path := range []string{"/login", "/page"} {
		res, err := c.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	r := <-late
	<-r.Context().Done() // net/http cancels it once the handler returned
	if s := From(r); s.Get("user") != "ann" {
		t.Fatalf("From after the handler returned: %v, user %v; want the session of ann", s, s.Get("user"))
	}
}

// With the default memstore, a handler that first asks for the session
// after the client hung up (a slow form post) still gets it, and what it
// changes is saved, as the save runs on the request's context without its
// cancellation too: no 500 for a client that left, and no change lost.
func TestClientThatHangsUpBeforeTheLoadDoesNotLoseTheRequestsChange(t *testing.T) {
	m, st := newMemManager(t, Options{Cookie: CookieOptions{MaxAge: time.Hour}})
	var answered error
	m.opts.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) { answered = err }
	hungUp := make(chan struct{})
	started := make(chan struct{})
	var id string
	srv, c := serve(t, m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/login" {
			From(r).Set("user", "ann")
			return
		}
		close(started)
		<-r.Context().Done() // the client hung up
		s := From(r)
		if s == nil {
			close(hungUp)
			return
		}
		id = s.ID()
		s.Set("order", "placed")
		close(hungUp)
	})))
	res, err := c.Get(srv.URL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	ctx, cancel := context.WithCancel(t.Context())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/order", nil)
	go func() {
		if res, err := c.Do(req); err == nil {
			res.Body.Close()
		}
	}()
	<-started
	cancel()
	<-hungUp
	srv.Config.SetKeepAlivesEnabled(false)
	srv.Close() // waits for the handler, and so for the end of the request's save
	if id == "" {
		t.Fatalf("From after the client hung up returned nil (ErrorHandler: %v)", answered)
	}
	data, found, err := st.Get(t.Context(), id)
	if err != nil || !found {
		t.Fatalf("the session is gone: %v", err)
	}
	var doc loadedDocument
	if err := m.decodeInto(data, &doc); err != nil {
		t.Fatal(err)
	}
	if v, _ := doc.vals.get("order"); v != "placed" {
		t.Fatalf("order = %v after the request, want placed: the change was lost", v)
	}
}
