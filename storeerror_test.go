package session

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

var errDown = errors.New("store is down")

// flakyStore is a real memstore that fails every call while down is set,
// like a database server that went away.
type flakyStore struct {
	*countingStore
	down atomic.Bool
}

func (f *flakyStore) fail() error {
	if f.down.Load() {
		return errDown
	}
	return nil
}
func (f *flakyStore) Get(ctx context.Context, id string) ([]byte, bool, error) {
	if err := f.fail(); err != nil {
		return nil, false, err
	}
	return f.countingStore.Get(ctx, id)
}
func (f *flakyStore) GetVersion(ctx context.Context, id string) ([]byte, string, bool, error) {
	if err := f.fail(); err != nil {
		return nil, "", false, err
	}
	return f.countingStore.GetVersion(ctx, id)
}
func (f *flakyStore) CompareAndSwap(ctx context.Context, id, old string, b []byte, exp time.Time) (string, bool, error) {
	if err := f.fail(); err != nil {
		return "", false, err
	}
	return f.countingStore.CompareAndSwap(ctx, id, old, b, exp)
}
func (f *flakyStore) Set(ctx context.Context, id string, b []byte, exp time.Time) error {
	if err := f.fail(); err != nil {
		return err
	}
	return f.countingStore.Set(ctx, id, b, exp)
}
func (f *flakyStore) Destroy(ctx context.Context, id string) error {
	if err := f.fail(); err != nil {
		return err
	}
	return f.countingStore.Destroy(ctx, id)
}
func (f *flakyStore) Touch(ctx context.Context, id string, exp time.Time) (bool, error) {
	if err := f.fail(); err != nil {
		return false, err
	}
	return f.countingStore.Touch(ctx, id, exp)
}

func TestStoreDownAtLoadGivesTheErrorHandlersAnswerAndDiscardsTheHandlersOutput(t *testing.T) {
	fs := &flakyStore{countingStore: newCountingStore(t)}
	m, _ := newTestManager(t, Options{Store: fs})
	b := stored(t, m)
	fs.down.Store(true)
	b.h = m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := From(r)
		if s != nil {
			t.Error("From must be nil when the store failed")
		}
		s.Set("x", 1) // a handler that forgets the nil check does not panic
		w.Header().Set("X-Handler", "ran")
		w.Write([]byte("handler output"))
	}))
	rec := b.get("/")
	if rec.Code != http.StatusInternalServerError || rec.Body.String() != "Internal Server Error\n" || rec.Header().Get("X-Handler") != "" {
		t.Fatalf("status %d body %q headers %v", rec.Code, rec.Body, rec.Header())
	}
	fs.down.Store(false)
	b.h = m.Handler(incrViews)
	if got := b.get("/").Body.String(); got != "2" {
		t.Fatalf("after the store came back: views = %s", got)
	}
}

func TestStoreDownAtSaveAnswersWithTheErrorHandlerInsteadOfTheRedirect(t *testing.T) {
	fs := &flakyStore{countingStore: newCountingStore(t)}
	var handled error
	m, _ := newTestManager(t, Options{Store: fs, ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
		handled = err
		http.Error(w, "try again", http.StatusServiceUnavailable)
	}})
	b := stored(t, m)
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Set("user", "ada")
		fs.down.Store(true)
		http.Redirect(w, r, "/home", http.StatusSeeOther)
	}))
	rec := b.get("/login")
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Location") != "" || !errors.Is(handled, errDown) {
		t.Fatalf("status %d location %q err %v; want the error handler's 503, no redirect", rec.Code, rec.Header().Get("Location"), handled)
	}
}

func TestStoreDownAfterHeadersIsLoggedNotPanicked(t *testing.T) {
	fs := &flakyStore{countingStore: newCountingStore(t)}
	m, _ := newTestManager(t, Options{Store: fs})
	b := stored(t, m)
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		w.Write([]byte("streaming"))
		fs.down.Store(true)
		s.Set("late", 1)
	}))
	if rec := b.get("/"); rec.Code != 200 || rec.Body.String() != "streaming" {
		t.Fatalf("status %d body %s", rec.Code, rec.Body)
	}
}

func TestErrorsWrapTheStoresError(t *testing.T) {
	fs := &flakyStore{countingStore: newCountingStore(t)}
	var got error
	m, _ := newTestManager(t, Options{Store: fs, ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) { got = err }})
	b := stored(t, m)
	fs.down.Store(true)
	b.get("/")
	if !errors.Is(got, errDown) {
		t.Fatalf("error %v does not wrap the store's error", got)
	}
}
