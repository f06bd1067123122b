package storetest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/sessionkit/session"
)

// testRepeatedGeneratedID pins, through the manager on the store, that a
// custom GenerateID that repeats the id of a stored session does not make a
// new session join it: the manager's create-if-absent (CompareAndSwap from
// "") must fail on the stored session, and the new session then takes
// another id. This needs a session.VersionedStore: without compare-and-swap
// the new session's write replaces the stored one (as express-session's).
func testRepeatedGeneratedID(t *testing.T, newStore func(*testing.T) session.Store, cfg *config) {
	st := newStore(t)
	capability[session.VersionedStore](t, st)
	var (
		mu     sync.Mutex
		repeat = 2 // alice's session, then the new one
		taken  = NewID()
	)
	m, err := session.New(session.Options{
		Secrets: []string{"storetest secret"},
		Store:   st,
		Logger:  testLogger(t),
		GenerateID: func(*http.Request) string {
			mu.Lock()
			defer mu.Unlock()
			if repeat > 0 {
				repeat--
				return taken
			}
			return NewID()
		},
	})
	if err != nil {
		t.Fatalf("session.New: %v", err)
	}
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.From(r)
		switch r.URL.Path {
		case "/login":
			s.SetUser("alice")
		case "/cart":
			s.Set("cart", "socks")
		}
		fmt.Fprintf(w, "%s user=%s keys=%s", s.ID(), s.User(), strings.Join(s.Keys(), ","))
	}))
	get := func(path string, cookies []*http.Cookie) (string, []*http.Cookie) {
		t.Helper()
		req := httptest.NewRequestWithContext(t.Context(), http.MethodGet, path, nil)
		for _, c := range cookies {
			req.AddCookie(c)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
		}
		return rec.Body.String(), rec.Result().Cookies()
	}

	_, alice := get("/login", nil)
	_, other := get("/cart", nil)
	if len(alice) == 0 || len(other) == 0 {
		t.Fatal("a new session got no cookie")
	}
	if got, _ := get("/", alice); got != taken+" user=alice keys=" {
		t.Errorf("alice's session, after a new session was given its id: %q; want %q", got, taken+" user=alice keys=")
	}
	got, _ := get("/", other)
	if id, rest, _ := strings.Cut(got, " "); id == taken || rest != "user= keys=cart" {
		t.Errorf("the new session given alice's id: %q; want another id, user= keys=cart", got)
	}
}
