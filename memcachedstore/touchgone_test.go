package memcachedstore_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/memcachedstore"
)

// TestTouchToANearExpiryEndsOnlyASession: a touch to an expiry too near for
// Memcached to keep the session by (less than 2 s away, or past) ends the
// session, but leaves alone what is not one under its key, and reports it
// missing, as a read does: another app's value of the shared key space (a
// Node Buffer or number, flags 4 or 8), or an item of an earlier version of
// the store past its exact expiry. The store deleted whatever was under the
// key, and reported a session found. TouchVersion, from the version of a
// session read before another app wrote the key, leaves that value too.
func TestTouchToANearExpiryEndsOnlyASession(t *testing.T) {
	ctx := t.Context()
	client := shared(t)
	st := newStore(client)
	session := []byte(`{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"}}`)
	put := func(id string, value []byte, flags uint32) {
		t.Helper()
		if err := client.Set(&memcache.Item{Key: st.Prefix() + id, Value: value, Flags: flags, Expiration: 120}); err != nil {
			t.Fatal(err)
		}
	}
	kept := func(id string, value []byte, flags uint32) {
		t.Helper()
		it, err := client.Get(st.Prefix() + id)
		if err != nil {
			t.Fatalf("%s after the touch: %v; want it kept", id, err)
		}
		if !bytes.Equal(it.Value, value) || it.Flags != flags {
			t.Fatalf("%s after the touch = %q, flags %d; want %q, flags %d", id, it.Value, it.Flags, value, flags)
		}
	}
	expiredLegacy := uint32(time.Since(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)) / (time.Second / 4)) // now, in quarter seconds since 2024
	for _, near := range []time.Time{time.Now().Add(time.Second), time.Now().Add(-time.Hour)} {
		for _, c := range []struct {
			name  string
			value []byte
			flags uint32
		}{
			{"buffer", []byte("\x00\x01binary"), 4},
			{"number", []byte("42"), 8},
			{"expiredlegacy", session, expiredLegacy},
		} {
			put(c.name, c.value, c.flags)
			if found, err := st.Touch(ctx, c.name, near); err != nil || found {
				t.Errorf("Touch of %s to %v from now: found %v, %v; want not found", c.name, time.Until(near).Round(time.Second), found, err)
			}
			kept(c.name, c.value, c.flags)
		}

		put("session", session, 2)
		if found, err := st.Touch(ctx, "session", near); err != nil || !found {
			t.Fatalf("Touch of a session to %v from now: found %v, %v; want found", time.Until(near).Round(time.Second), found, err)
		}
		if _, err := client.Get(st.Prefix() + "session"); err != memcache.ErrCacheMiss {
			t.Fatalf("a session touched to %v from now is still stored (%v); want it deleted", time.Until(near).Round(time.Second), err)
		}

		put("rewritten", session, 2)
		data, v, _, err := st.GetVersion(ctx, "rewritten")
		if err != nil {
			t.Fatal(err)
		}
		put("rewritten", []byte("42"), 8) // another app's value, after the read
		if found, err := st.TouchVersion(ctx, "rewritten", v, data, near); err != nil || found {
			t.Errorf("TouchVersion to %v from now over another app's value: found %v, %v; want not found", time.Until(near).Round(time.Second), found, err)
		}
		kept("rewritten", []byte("42"), 8)
	}
}

// TestTouchToANearExpiryEndsASessionOnAServerWithoutCAS: on a memcached
// that keeps no CAS ids (-C), where the store cannot compare-and-swap, a
// touch to an expiry too near still ends the session (a delete after the
// read), as touching works there.
func TestTouchToANearExpiryEndsASessionOnAServerWithoutCAS(t *testing.T) {
	srv := testserver.StartMemcached(t, "-C")
	client := memcache.New(srv.Addr)
	t.Cleanup(func() { client.Close() })
	st := memcachedstore.New(client)
	ctx := t.Context()
	for _, touch := range []string{"Touch", "TouchVersion"} {
		if err := st.Set(ctx, touch, []byte(`{"a":1}`), time.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		data, v, _, err := st.GetVersion(ctx, touch)
		if err != nil {
			t.Fatal(err)
		}
		var found bool
		if touch == "Touch" {
			found, err = st.Touch(ctx, touch, time.Now().Add(time.Second))
		} else {
			found, err = st.TouchVersion(ctx, touch, v, data, time.Now().Add(time.Second))
		}
		if err != nil || !found {
			t.Fatalf("%s to a near expiry on a server without CAS ids: found %v, %v; want found", touch, found, err)
		}
		if _, found, err := st.Get(ctx, touch); err != nil || found {
			t.Fatalf("after %s to a near expiry: found %v, %v; want the session gone", touch, found, err)
		}
	}
}
