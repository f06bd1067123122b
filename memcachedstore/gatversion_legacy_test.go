package memcachedstore_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
)

// TestGetAndTouchVersionOfALegacyItemWrittenSinceAnswersTheWrite: a read
// loaded a session that an earlier version of the store wrote (its exact
// expiry in the flags: the first requests after an upgrade), and another
// request saved it since in the current format (a "remember me" login in
// another tab). The read's end-of-request touch (GetAndTouchVersion) must
// answer that write, as it does for a session read in the current format,
// so that the manager touches it with that write's cookie: answering
// nothing says "still what you read", and the manager leaves the session
// at the expiry of the cookie the read loaded.
func TestGetAndTouchVersionOfALegacyItemWrittenSinceAnswersTheWrite(t *testing.T) {
	ctx := t.Context()
	client := shared(t)
	st := newStore(client)
	quarters := func(t time.Time) uint32 {
		return uint32(t.Sub(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)) / (time.Second / 4))
	}
	loaded := []byte(`{"cookie":{"originalMaxAge":3600000,"expires":"2030-01-01T00:00:00.000Z","httpOnly":true,"path":"/"},"v":1}`)
	saved := []byte(`{"cookie":{"originalMaxAge":2592000000,"expires":"2030-01-30T00:00:00.000Z","httpOnly":true,"path":"/"},"v":1}`)
	if err := client.Set(&memcache.Item{Key: st.Prefix() + "s", Value: loaded, Flags: quarters(time.Now().Add(time.Hour)), Expiration: 3600}); err != nil {
		t.Fatal(err)
	}
	read, v, found, err := st.GetVersion(ctx, "s")
	if err != nil || !found || !bytes.Equal(read, loaded) {
		t.Fatalf("GetVersion of a legacy item = %s, %v, %v", read, found, err)
	}
	if err := st.Set(ctx, "s", saved, time.Now().Add(30*24*time.Hour)); err != nil { // the other request's save
		t.Fatal(err)
	}
	cur, found, err := st.GetAndTouchVersion(ctx, "s", v, read, time.Now().Add(time.Hour))
	if err != nil || !found || !bytes.Equal(cur, saved) {
		t.Fatalf("GetAndTouchVersion from a legacy version after another write = %q, found %v, %v; want that write's bytes, found", cur, found, err)
	}
	if got, found, err := st.Get(ctx, "s"); err != nil || !found || !bytes.Equal(got, saved) {
		t.Fatalf("after the touch, Get = %q, %v, %v; want the other request's write", got, found, err)
	}

	// Unchanged since the read: rewritten in the current format, nothing
	// answered.
	if err := client.Set(&memcache.Item{Key: st.Prefix() + "u", Value: loaded, Flags: quarters(time.Now().Add(time.Hour)), Expiration: 3600}); err != nil {
		t.Fatal(err)
	}
	read, v, _, _ = st.GetVersion(ctx, "u")
	if cur, found, err := st.GetAndTouchVersion(ctx, "u", v, read, time.Now().Add(time.Hour)); err != nil || !found || cur != nil {
		t.Fatalf("GetAndTouchVersion of an unchanged legacy item = %q, found %v, %v; want nil, found", cur, found, err)
	}
	if it, err := client.Get(st.Prefix() + "u"); err != nil || it.Flags != 2 || !bytes.Equal(it.Value, loaded) {
		t.Fatalf("the touched legacy item: %+v, %v; want it rewritten with flags 2", it, err)
	}
}
