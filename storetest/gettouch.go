package storetest

import (
	"testing"
	"time"

	"github.com/sessionkit/session"
)

// testGetAndTouch pins session.GetToucher: GetAndTouch reads what GetVersion
// reads, with the same version, and creates nothing. Its expiry is checked
// in testExpiry.
func testGetAndTouch(t *testing.T, newStore func(*testing.T) session.Store, cfg *config) {
	st := newStore(t)
	gt := capability[session.GetToucher](t, st)
	t.Run("ReadsTheBytes", func(t *testing.T) {
		id, data := NewID(), Document(300)
		mustSet(t, st, id, data, later())
		got, _, found, err := gt.GetAndTouch(ctx(t), id, later())
		if err != nil || !found {
			t.Fatalf("GetAndTouch: found %v, %v; want the stored session", found, err)
		}
		if string(got) != string(data) {
			t.Fatalf("GetAndTouch = %s, want %s", short(got), short(data))
		}
		mustGet(t, st, id, data)
	})
	t.Run("VersionWorksForTheNextSwap", func(t *testing.T) {
		vs := capability[session.VersionedStore](t, st)
		id, next := NewID(), Document(200)
		mustSet(t, st, id, Document(100), later())
		_, v, found, err := gt.GetAndTouch(ctx(t), id, later())
		if err != nil || !found || v == "" {
			t.Fatalf("GetAndTouch: version %q, found %v, %v; want a version", v, found, err)
		}
		if _, swapped, err := vs.CompareAndSwap(ctx(t), id, v, next, later()); err != nil || !swapped {
			t.Fatalf("CompareAndSwap from GetAndTouch's version: swapped %v, %v", swapped, err)
		}
		mustGet(t, st, id, next)
	})
	t.Run("MissingSessionIsNotFoundAndNotCreated", func(t *testing.T) {
		id := NewID()
		if data, _, found, err := gt.GetAndTouch(ctx(t), id, later()); err != nil || found || data != nil {
			t.Fatalf("GetAndTouch of a missing session = %s, found %v, %v; want nothing", short(data), found, err)
		}
		mustBeMissing(t, st, id)
	})
	t.Run("DestroyedSessionIsNotFoundAndNotCreated", func(t *testing.T) {
		// A touch carried on a load that reaches the store after another
		// request's destroy (a logout) must not bring the session back.
		id := NewID()
		mustSet(t, st, id, Document(100), later())
		if err := st.Destroy(ctx(t), id); err != nil {
			t.Fatal(err)
		}
		if data, _, found, err := gt.GetAndTouch(ctx(t), id, later()); err != nil || found || data != nil {
			t.Fatalf("GetAndTouch of a destroyed session = %s, found %v, %v; want nothing", short(data), found, err)
		}
		mustBeMissing(t, st, id)
	})
	t.Run("PastExpiresDeletes", func(t *testing.T) {
		id := NewID()
		mustSet(t, st, id, Document(100), later())
		if _, _, found, err := gt.GetAndTouch(ctx(t), id, time.Now().Add(-time.Minute)); err != nil || found {
			t.Fatalf("GetAndTouch with a past expiry: found %v, %v; want not found, no error", found, err)
		}
		mustBeMissing(t, st, id)
	})
}
