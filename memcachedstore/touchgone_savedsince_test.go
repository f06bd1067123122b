package memcachedstore_test

import (
	"bytes"
	"testing"
	"time"
)

// TestTouchVersionToANearExpiryLeavesASessionSavedSince: a touch from the
// version a request read, to an expiry too near for Memcached to keep the
// session by (the end of a session with a fixed expiry), ends that copy
// only. Another request that saved the session since (a "remember me"
// login, with a cookie of its own) keeps its save, which GetAndTouchVersion
// answers, so that the manager sets the expiry from that save's cookie. The
// store's cas from the version failed, and it then read what was stored and
// ended that: the fresh save, and the user was logged out.
func TestTouchVersionToANearExpiryLeavesASessionSavedSince(t *testing.T) {
	ctx := t.Context()
	st := newStore(shared(t))
	read := []byte(`{"cookie":{"originalMaxAge":null,"expires":"fixed","httpOnly":true,"path":"/"}}`)
	saved := []byte(`{"cookie":{"originalMaxAge":2592000000,"httpOnly":true,"path":"/"},"user":"u"}`)
	for _, touch := range []string{"TouchVersion", "GetAndTouchVersion"} {
		id := touch
		if err := st.Set(ctx, id, read, time.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		data, v, _, err := st.GetVersion(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Set(ctx, id, saved, time.Now().Add(time.Hour)); err != nil { // another request's save
			t.Fatal(err)
		}
		near := time.Now().Add(time.Second)
		var current []byte
		var found bool
		if touch == "TouchVersion" {
			found, err = st.TouchVersion(ctx, id, v, data, near)
		} else {
			current, found, err = st.GetAndTouchVersion(ctx, id, v, data, near)
		}
		if err != nil || !found {
			t.Errorf("%s to a near expiry of a session saved since: found %v, %v; want found", touch, found, err)
		}
		if touch == "GetAndTouchVersion" && !bytes.Equal(current, saved) {
			t.Errorf("GetAndTouchVersion to a near expiry of a session saved since answered %q; want the save, %q", current, saved)
		}
		got, found, err := st.Get(ctx, id)
		if err != nil || !found || !bytes.Equal(got, saved) {
			t.Errorf("after %s to a near expiry from the version read before a save: %q, found %v, %v; want the save kept", touch, got, found, err)
		}
	}
}
