package memcachedstore_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/testserver/apptest"
	"github.com/sessionkit/session/memstore"
	"github.com/sessionkit/session/storetest"
)

// badKeyIDs are session ids that the manager takes (a custom GenerateID
// may make them: up to 978 bytes, any byte) but that no Memcached key can
// carry, with the start of what the store's error says about each.
func badKeyIDs(prefix string) map[string]string {
	return map[string]string{
		strings.Repeat("i", 251-len(prefix)): "251 bytes",
		strings.Repeat("i", 400):             "bytes",
		"user 42 " + storetest.NewID():       "space or control character at byte 4",
		"id\x01" + storetest.NewID():         "space or control character at byte 2",
		"id\x7f" + storetest.NewID():         "space or control character at byte 2",
	}
}

// TestAnIDNoMemcachedKeyCanCarryIsNoSession: an id that no Memcached key
// can carry (over 250 bytes with the prefix, or with a space or control
// character) names no session: the reads, touches and destroys of one
// answer "no session", as every other store does for an id it does not
// hold, where they failed with gomemcache's ErrMalformedKey, which made
// the manager answer 500 to every request with such a cookie (one an
// earlier store or GenerateID issued) instead of starting a new session.
// A write of one fails with an error that says what is wrong with the id,
// and still wraps ErrMalformedKey.
func TestAnIDNoMemcachedKeyCanCarryIsNoSession(t *testing.T) {
	ctx := t.Context()
	st := newStore(shared(t))
	later := time.Now().Add(time.Hour)
	data := []byte(`{"cookie":{}}`)
	for id, why := range badKeyIDs(st.Prefix()) {
		name := id[:min(len(id), 10)]
		storetest.CheckRefusedID(t, ctx, st, id)
		if found, err := st.Touch(ctx, id, time.Now()); found || err != nil {
			t.Errorf("Touch(%q…) to now = found %v, %v; want no session", name, found, err)
		}
		if found, err := st.TouchVersion(ctx, id, "1.2", data, later); found || err != nil {
			t.Errorf("TouchVersion(%q…) = found %v, %v; want no session", name, found, err)
		}
		if _, swapped, err := st.CompareAndSwap(ctx, id, "1.2", data, later); swapped || err != nil {
			t.Errorf("CompareAndSwap(%q…) from a version = swapped %v, %v; want a conflict (no session)", name, swapped, err)
		}
		for op, err := range map[string]error{
			"Set": st.Set(ctx, id, data, later),
			"CompareAndSwap create": func() error {
				_, swapped, err := st.CompareAndSwap(ctx, id, "", data, later)
				if swapped {
					t.Errorf("CompareAndSwap(%q…, \"\") swapped", name)
				}
				return err
			}(),
		} {
			if !errors.Is(err, memcache.ErrMalformedKey) || !strings.Contains(err.Error(), why) {
				t.Errorf("%s(%q…) = %v; want an error wrapping ErrMalformedKey that says %q", op, name, err, why)
			}
		}
	}
}

// TestAnIDEveryMemcachedKeyCanCarryIsASession: the ids just inside the
// key rules, which gomemcache takes (a key of exactly 250 bytes with the
// prefix, bytes above 0x7e, punctuation), are sessions like any other:
// the store's check refuses exactly what gomemcache's does, no more.
func TestAnIDEveryMemcachedKeyCanCarryIsASession(t *testing.T) {
	ctx := t.Context()
	st := newStore(shared(t))
	later := time.Now().Add(time.Hour)
	for _, id := range []string{
		strings.Repeat("i", 250-len(st.Prefix())),
		"é€\x80\xff" + storetest.NewID(),
		"!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~" + storetest.NewID(),
	} {
		name := id[:min(len(id), 10)]
		data := []byte(`{"n":"` + storetest.NewID() + `"}`)
		if _, swapped, err := st.CompareAndSwap(ctx, id, "", data, later); !swapped || err != nil {
			t.Errorf("CompareAndSwap(%q…, \"\") = swapped %v, %v; want created", name, swapped, err)
			continue
		}
		if got, found, err := st.Get(ctx, id); !found || err != nil || string(got) != string(data) {
			t.Errorf("Get(%q…) = %s, found %v, %v; want %s", name, got, found, err, data)
		}
		if found, err := st.Touch(ctx, id, later); !found || err != nil {
			t.Errorf("Touch(%q…) = found %v, %v; want found", name, found, err)
		}
		if err := st.Destroy(ctx, id); err != nil {
			t.Errorf("Destroy(%q…) = %v", name, err)
		}
		if _, found, err := st.Get(ctx, id); found || err != nil {
			t.Errorf("Get(%q…) after Destroy = found %v, %v; want no session", name, found, err)
		}
	}
}

// TestCookieOfAnIDNoMemcachedKeyCanCarryGetsANewSession: a request whose
// cookie (signed with the app's secret) carries such an id, issued before
// the app moved to Memcached, starts a new session, as for any cookie of
// a session the store does not hold; it was answered 500, on every request
// until the cookie expired.
func TestCookieOfAnIDNoMemcachedKeyCanCarryGetsANewSession(t *testing.T) {
	long := func(*http.Request) string { return "user 42 " + strings.Repeat("i", 300) }
	before := apptest.New(t, memstore.New(), func(o *session.Options) { apptest.HourCookie(o); o.GenerateID = long })
	first := before.MustDo(t, "/set?k=a&v=1", nil)
	after := apptest.New(t, newStore(shared(t)), apptest.HourCookie)
	r, err := after.Do("/values", first.Cookies)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != http.StatusOK || !strings.Contains(r.Body, `"new":true`) {
		t.Fatalf("request with the cookie of an id no Memcached key can carry: %d %s; want 200 and a new session", r.Status, r.Body)
	}
}
