package session

import (
	"context"
	"fmt"
	"net/http"
	"testing"
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
