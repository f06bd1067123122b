package session

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// A store call's context is the request's without its cancellation, as
// context.WithoutCancel makes it, context.Cause included: a store call
// whose StoreTimeout ran out after the client hung up reads
// DeadlineExceeded as its cause, as its Err, and not the request's
// cancellation, so that a store that reports context.Cause(ctx), as the
// context package advises, reports the timeout the manager checks for.
func TestStoreCallThatTimesOutAfterTheClientLeftHasTheTimeoutAsItsCause(t *testing.T) {
	fs := &faultStore{countingStore: newCountingStore(t)}
	m, _ := newTestManager(t, Options{Store: fs, StoreTimeout: 50 * time.Millisecond, Cookie: CookieOptions{MaxAge: time.Hour},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) { w.WriteHeader(http.StatusServiceUnavailable) }})
	m.now = fs.clock.Now
	var errs, causes []error
	fs.on(func(ctx context.Context, op, id string) error {
		<-ctx.Done() // no answer within StoreTimeout
		errs, causes = append(errs, ctx.Err()), append(causes, context.Cause(ctx))
		return context.Cause(ctx)
	})
	ctx, hangUp := context.WithCancel(t.Context())
	defer hangUp()
	m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := From(r)
		hangUp() // the client left while the handler ran
		s.Set("order", "placed")
	})).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx))
	fs.on(nil)
	if len(causes) == 0 {
		t.Fatal("no store call (the test's premise)")
	}
	for i, cause := range causes {
		if !errors.Is(errs[i], context.DeadlineExceeded) || !errors.Is(cause, context.DeadlineExceeded) {
			t.Fatalf("a store call that timed out: Err %v, Cause %v; want DeadlineExceeded for both", errs[i], cause)
		}
	}
}
