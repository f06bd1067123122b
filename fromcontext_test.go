package session

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"
)

// A function that takes only the request's context, or one derived from
// it, reads and changes the request's session, and the change is saved.
func TestFromContextIsTheRequestsSessionAndItsChangesAreSaved(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	b := stored(t, m) // views = 1
	setPlan := func(ctx context.Context, plan string) { FromContext(ctx).Set("plan", plan) }
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		if got := FromContext(ctx); got != s {
			t.Errorf("FromContext = %p, want From's %p", got, s)
		}
		setPlan(ctx, "pro")
	}))
	b.get("/")
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		fmt.Fprintf(w, "%v %v", s.Get("views"), s.Get("plan"))
	}))
	if got := b.get("/").Body.String(); got != "1 pro" {
		t.Fatalf("next request read %q, want the change made through FromContext", got)
	}
}

func TestFromContextOutsideTheMiddlewareIsNil(t *testing.T) {
	if s := FromContext(context.Background()); s != nil {
		t.Fatalf("FromContext of a context of no request = %v", s)
	}
	FromContext(context.Background()).Set("k", "v") // nil-safe, as From's
}

// Two Managers' Handlers nested over the same paths, each with its own
// cookie (a login session inside long-lived preferences): each Manager's
// From reaches its own session, whose keys are saved under its own cookie,
// and a logout of the inner one leaves the outer one.
func TestManagerFromReachesEachOfTwoNestedSessionsOnOnePath(t *testing.T) {
	prefs, _ := newTestManager(t, Options{Name: "prefs", Cookie: CookieOptions{MaxAge: 30 * 24 * time.Hour}})
	login, _ := newTestManager(t, Options{})
	other, _ := newTestManager(t, Options{Name: "other"})
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if From(r) != login.From(r) {
			t.Error("From is not the innermost Handler's session")
		}
		if other.From(r) != nil || other.FromContext(r.Context()) != nil {
			t.Error("a Manager whose Handler the request did not go through has a session")
		}
		prefs.FromContext(r.Context()).Set("theme", "dark")
		login.From(r).Set("user", "ada")
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := login.From(r).Destroy(r.Context()); err != nil {
			t.Error(err)
		}
	})
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, prefs.From(r).Keys(), login.From(r).Keys())
	})
	srv, c := serve(t, prefs.Handler(login.Handler(mux)))
	read := func() string {
		resp, err := c.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	for _, path := range []string{"/login", "/logout"} {
		resp, err := c.Post(srv.URL+path, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := map[string]string{"/login": "[theme] [user]", "/logout": "[theme] []"}[path]
		if got := read(); got != want {
			t.Fatalf("after %s: keys of the two sessions %s, want %s", path, got, want)
		}
	}
}
