package session

import (
	"bytes"
	"context"
	"net/http"
	"sync"
	"testing"
	"time"
)

// versionTouchStore is a counting memstore that is also a VersionToucher, as
// memcachedstore is. It records what each TouchVersion was given and checks
// that those were the stored bytes at that version.
type versionTouchStore struct {
	*countingStore
	mu          sync.Mutex
	gotData     []byte
	gotVersion  string
	wasUnstored bool // the bytes or version given were not what the store held
}

func (v *versionTouchStore) TouchVersion(ctx context.Context, id, version string, data []byte, exp time.Time) (bool, error) {
	v.count("TouchVersion")
	cur, curVersion, found, err := v.Store.GetVersion(ctx, id)
	if err != nil {
		return false, err
	}
	v.mu.Lock()
	v.gotData, v.gotVersion = bytes.Clone(data), version
	v.wasUnstored = found && (curVersion != version || !bytes.Equal(cur, data))
	v.mu.Unlock()
	return v.Store.Touch(ctx, id, exp)
}

// versionGetTouchStore is a versionTouchStore that is also a
// VersionGetToucher, as memcachedstore is.
type versionGetTouchStore struct{ *versionTouchStore }

// GetAndTouchVersion is TouchVersion that answers what it touched when
// that is not data at version, as memcachedstore's gat does.
func (v versionGetTouchStore) GetAndTouchVersion(ctx context.Context, id, version string, data []byte, exp time.Time) ([]byte, bool, error) {
	v.count("GetAndTouchVersion")
	cur, curVersion, found, err := v.Store.GetVersion(ctx, id)
	if err != nil || !found {
		return nil, false, err
	}
	if found, err = v.Store.Touch(ctx, id, exp); err != nil || !found {
		return nil, false, err
	}
	v.mu.Lock()
	v.gotData, v.gotVersion = bytes.Clone(data), version
	v.mu.Unlock()
	if curVersion == version && bytes.Equal(cur, data) {
		return nil, true, nil
	}
	return cur, true, nil
}

// newVersionTouchManager returns a manager on a fresh versionTouchStore
// whose cookie lasts an hour, so that a read-only request touches the store.
func newVersionTouchManager(t *testing.T) (*Manager, *versionTouchStore) {
	st := &versionTouchStore{countingStore: newCountingStore(t)}
	m, _ := newTestManager(t, Options{Store: st, Cookie: CookieOptions{MaxAge: time.Hour}})
	m.now = st.clock.Now
	return m, st
}

// requestAMinuteLater makes b's request a minute later, with the counts
// reset, and reports whether a TouchVersion was given what the store no
// longer held.
func (v *versionTouchStore) requestAMinuteLater(b *browser) (unstored bool) {
	v.clock.Advance(time.Minute)
	v.reset()
	b.get("/")
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.wasUnstored
}

func TestReadOnlyRequestTouchesAVersionToucherWithWhatItsLoadRead(t *testing.T) {
	m, st := newVersionTouchManager(t)
	b := stored(t, m)
	b.h = m.Handler(readViews)
	st.clock.Advance(time.Minute)
	st.reset()
	b.get("/")
	if st.n("GetVersion") != 1 || st.n("TouchVersion") != 1 || st.n("Touch") != 0 || st.writes() != 0 {
		t.Fatalf("calls %v, want one GetVersion and one TouchVersion", st.calls)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.wasUnstored || st.gotVersion == "" || len(st.gotData) == 0 {
		t.Fatalf("TouchVersion got version %q and %d bytes, not the stored session's", st.gotVersion, len(st.gotData))
	}
}

// A session saved during the request had its stored expiry pushed by that
// write, and a Reload afterwards does not undo that: the end of the request
// neither touches again nor hands the store the bytes from before the save.
func TestSessionSavedDuringTheRequestIsNotVersionTouchedWithStaleBytes(t *testing.T) {
	m, st := newVersionTouchManager(t)
	b := stored(t, m)
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Set("n", 2)
		if err := s.Save(r.Context()); err != nil {
			t.Error(err)
		}
		if err := s.Reload(r.Context()); err != nil { // loads the saved bytes again
			t.Error(err)
		}
	}))
	if unstored := st.requestAMinuteLater(b); st.n("TouchVersion") != 0 || st.n("Touch") != 0 || st.n("CompareAndSwap") != 1 || unstored {
		t.Fatalf("calls %v; TouchVersion given what the store no longer held: %v; want the one save and no touch", st.calls, unstored)
	}
}

// A Reload that reads another request's write leaves the end-of-request
// touch the bytes it read, which are what the store holds.
func TestReloadOfAnotherRequestsWriteVersionTouchesWithTheReloadedBytes(t *testing.T) {
	m, st := newVersionTouchManager(t)
	b := stored(t, m)
	other := newBrowser(t, m.Handler(incrViews))
	other.cookie = b.cookie
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Get("views")
		other.get("/") // writes views = 2 meanwhile
		if err := s.Reload(r.Context()); err != nil {
			t.Error(err)
		}
	}))
	if unstored := st.requestAMinuteLater(b); st.n("TouchVersion") != 1 || unstored {
		t.Fatalf("calls %v; TouchVersion given what the store no longer held: %v; want one TouchVersion with the reloaded bytes", st.calls, unstored)
	}
}

func TestModifyingRequestDoesNotVersionTouch(t *testing.T) {
	m, st := newVersionTouchManager(t)
	b := stored(t, m)
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) { s.Set("n", 3) }))
	st.clock.Advance(time.Minute)
	st.reset()
	b.get("/")
	if st.n("TouchVersion") != 0 || st.n("Touch") != 0 || st.n("CompareAndSwap") != 1 {
		t.Fatalf("calls %v, want one CompareAndSwap and no touch", st.calls)
	}
}
