package session

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// With StoreTimeout off, a login saved by hand (Session.Save with the
// request's context) whose destroy of the old id fails checks the old id on
// a context that the client's hang-up ends: nothing else bounds that read,
// and one that the store never answers would hang the Save, and its
// request, for good.
func TestRenewIDSavedByHandWithoutStoreTimeoutEndsItsCleanUpWhenTheClientHangsUp(t *testing.T) {
	_, fs, app, b, oldID := renewSetupWith(t, "ada", -1)
	app.save = true
	ctx, hangUp := context.WithCancel(t.Context())
	defer hangUp()
	var failed, checked atomic.Bool
	fs.on(func(c context.Context, op, id string) error {
		switch {
		case op == "Destroy" && id == oldID && !failed.Load():
			failed.Store(true)
			return errors.New("connection reset") // not applied
		case op == "Get" && id == oldID && failed.Load() && !checked.Load():
			checked.Store(true)
			hangUp() // the client leaves while the login checks the old id
			select {
			case <-c.Done():
			default:
				t.Error("the read of the old id after the client hung up runs on a context that nothing ends: a store that does not answer would hang the Save for good")
				return errors.New("no answer")
			}
		}
		return c.Err()
	})
	b.do(httptest.NewRequest(http.MethodGet, "/login?u=bob", nil).WithContext(ctx))
	fs.on(nil)
	if !checked.Load() {
		t.Fatal("the login read no old id after a failed destroy (the test's premise)")
	}
	t.Logf("Session.Save: %v", app.saveErr)
}

// passedDeadline is a context whose deadline has passed while its Done is
// not yet closed, as a context.WithTimeout's is between its deadline and
// its timer's firing, when a driver that set its connection's deadline
// from the context's (go-redis, pgx) has already given up.
type passedDeadline struct{ context.Context }

func (passedDeadline) Deadline() (time.Time, bool) { return time.Now().Add(-time.Millisecond), true }

// A login saved by hand whose destroy of the old id gave up at its
// deadline, before the context's timer marked the context done, cleans up
// on a StoreTimeout of its own, as after a context already done: on the
// spent deadline, the read of the old id and the undo would fail unsent.
func TestRenewIDWhoseDestroyGaveUpAtItsDeadlineCleansUpOnAFreshStoreTimeout(t *testing.T) {
	_, fs, app, b, oldID := renewSetup(t, "ada")
	app.save = true
	var failed, checked atomic.Bool
	fs.on(func(c context.Context, op, id string) error {
		switch {
		case op == "Destroy" && id == oldID && !failed.Load():
			failed.Store(true)
			return context.DeadlineExceeded // the driver's connection deadline passed
		case op == "Get" && id == oldID && failed.Load() && !checked.Load():
			checked.Store(true)
			if c.Err() != nil {
				t.Errorf("the clean-up's read of the old id went out on a spent context: %v", c.Err())
			}
		}
		return c.Err()
	})
	b.do(httptest.NewRequest(http.MethodGet, "/login?u=bob", nil).WithContext(passedDeadline{t.Context()}))
	fs.on(nil)
	if !checked.Load() {
		t.Fatal("the login read no old id after a failed destroy (the test's premise)")
	}
	t.Logf("Session.Save: %v", app.saveErr)
}
