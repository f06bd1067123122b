package storetest

import (
	"bytes"
	"testing"

	"github.com/sessionkit/session"
)

// testTouchVersion pins session.VersionToucher: a touch from the version and
// bytes a load read keeps the session as stored, and never writes those
// bytes over a session that changed since. Its expiry is checked in
// testExpiry.
func testTouchVersion(t *testing.T, newStore func(*testing.T) session.Store, cfg *config) {
	st := newStore(t)
	vt := capability[session.VersionToucher](t, st)
	vs, ok := st.(session.VersionedStore)
	if !ok {
		t.Fatal("store is a session.VersionToucher but not a session.VersionedStore, whose versions it takes")
	}
	t.Run("UnchangedSessionKeepsItsBytes", func(t *testing.T) {
		id, data := NewID(), Document(300)
		mustSet(t, st, id, data, later())
		read, v := getVersion(t, vs, id)
		if found, err := vt.TouchVersion(ctx(t), id, v, read, later()); err != nil || !found {
			t.Fatalf("TouchVersion: found %v, %v; want found", found, err)
		}
		mustGet(t, st, id, data)
	})
	t.Run("SessionWrittenSinceIsTouchedNotOverwritten", func(t *testing.T) {
		id, first, second := NewID(), Document(300), Document(200)
		mustSet(t, st, id, first, later())
		read, v := getVersion(t, vs, id)
		mustSet(t, st, id, second, later()) // another request's write
		if found, err := vt.TouchVersion(ctx(t), id, v, read, later()); err != nil || !found {
			t.Fatalf("TouchVersion after another write: found %v, %v; want found", found, err)
		}
		mustGet(t, st, id, second)
	})
	t.Run("DestroyedSessionIsNotFoundAndNotCreated", func(t *testing.T) {
		id := NewID()
		mustSet(t, st, id, Document(100), later())
		read, v := getVersion(t, vs, id)
		if err := st.Destroy(ctx(t), id); err != nil {
			t.Fatal(err)
		}
		if found, err := vt.TouchVersion(ctx(t), id, v, read, later()); err != nil || found {
			t.Fatalf("TouchVersion of a destroyed session: found %v, %v; want not found, no error", found, err)
		}
		mustBeMissing(t, st, id)
	})
	t.Run("VersionOfNoKnownFormIsATouch", func(t *testing.T) {
		id, data := NewID(), Document(100)
		mustSet(t, st, id, data, later())
		if found, err := vt.TouchVersion(ctx(t), id, "not a version", Document(50), later()); err != nil || !found {
			t.Fatalf("TouchVersion with a foreign version: found %v, %v; want found", found, err)
		}
		mustGet(t, st, id, data)
	})
}

// testGetAndTouchVersion pins session.VersionGetToucher: its touch answers
// nothing for the session the caller read, and what is stored now, which
// it touched and did not overwrite, when another request wrote it since.
func testGetAndTouchVersion(t *testing.T, newStore func(*testing.T) session.Store, cfg *config) {
	st := newStore(t)
	vt := capability[session.VersionGetToucher](t, st)
	vs, ok := st.(session.VersionedStore)
	if !ok {
		t.Fatal("store is a session.VersionGetToucher but not a session.VersionedStore, whose versions it takes")
	}
	t.Run("UnchangedSessionAnswersNothing", func(t *testing.T) {
		id, data := NewID(), Document(300)
		mustSet(t, st, id, data, later())
		read, v := getVersion(t, vs, id)
		if cur, found, err := vt.GetAndTouchVersion(ctx(t), id, v, read, later()); err != nil || !found || cur != nil {
			t.Fatalf("GetAndTouchVersion = %s, found %v, %v; want nil, found", short(cur), found, err)
		}
		mustGet(t, st, id, data)
	})
	t.Run("SessionWrittenSinceIsAnswered", func(t *testing.T) {
		id, first, second := NewID(), Document(300), Document(200)
		mustSet(t, st, id, first, later())
		read, v := getVersion(t, vs, id)
		mustSet(t, st, id, second, later()) // another request's write
		cur, found, err := vt.GetAndTouchVersion(ctx(t), id, v, read, later())
		if err != nil || !found || !bytes.Equal(cur, second) {
			t.Fatalf("GetAndTouchVersion after another write = %s, found %v, %v; want that write's bytes, found", short(cur), found, err)
		}
		mustGet(t, st, id, second)
	})
	t.Run("DestroyedSessionIsNotFoundAndNotCreated", func(t *testing.T) {
		id, data := NewID(), Document(100)
		mustSet(t, st, id, data, later())
		read, v := getVersion(t, vs, id)
		if err := st.Destroy(ctx(t), id); err != nil {
			t.Fatal(err)
		}
		if cur, found, err := vt.GetAndTouchVersion(ctx(t), id, v, read, later()); err != nil || found || cur != nil {
			t.Fatalf("GetAndTouchVersion of a destroyed session = %s, found %v, %v; want nil, not found", short(cur), found, err)
		}
		mustBeMissing(t, st, id)
	})
}
