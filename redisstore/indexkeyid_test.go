package redisstore_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/internal/testserver/apptest"
	"github.com/sessionkit/session/memstore"
	"github.com/sessionkit/session/redisstore"
	"github.com/sessionkit/session/storetest"
)

// indexKeyStores returns two stores with one session prefix: one with the
// default user index prefix, and one that keeps the earlier layout (the
// index under the session prefix, "<prefix>{user:<user>}"), where a
// session id "{user:<user>}" makes exactly the key of user's index.
func indexKeyStores(t *testing.T) map[string]*redisstore.Store {
	client := standalone(t)
	prefix := testserver.UniquePrefix() + "sess:"
	return map[string]*redisstore.Store{
		"default layout": redisstore.New(client, redisstore.WithPrefix(prefix)),
		"earlier layout": redisstore.New(client, redisstore.WithPrefix(prefix), redisstore.WithUserIndexPrefix(prefix)),
	}
}

// TestAnIDWhoseKeyIsAUserIndexKeyIsNoSession: a session id that makes a
// user index key ("{user:alice}", which a custom GenerateID may make)
// names no session: its reads, touches and destroys answer "no session",
// its writes fail, and alice's index is left alone. A Set of it wrote a
// session that IDs and Count skipped and that alice's next index call
// moved over her index (every index call of hers then failed with
// WRONGTYPE, the session gone); with the earlier layout its Get failed
// with WRONGTYPE (500 to every request with the cookie) and its Destroy
// deleted alice's index.
func TestAnIDWhoseKeyIsAUserIndexKeyIsNoSession(t *testing.T) {
	for layout, st := range indexKeyStores(t) {
		t.Run(layout, func(t *testing.T) {
			ctx, later := t.Context(), time.Now().Add(time.Hour)
			user, own, data := "u"+storetest.NewID(), storetest.NewID(), []byte(`{"n":1}`)
			id := "{user:" + user + "}"
			if err := st.Set(ctx, own, data, later); err != nil {
				t.Fatal(err)
			}
			if err := st.IndexUserSession(ctx, user, own, time.Now(), later); err != nil {
				t.Fatal(err)
			}
			storetest.CheckRefusedID(t, ctx, st, id)
			_, swapped, createErr := st.CompareAndSwap(ctx, id, "", data, later)
			if swapped {
				t.Error("CompareAndSwap create swapped")
			}
			for op, err := range map[string]error{
				"Set":                   st.Set(ctx, id, data, later),
				"CompareAndSwap create": createErr,
				"IndexUserSession":      st.IndexUserSession(ctx, user, id, time.Now(), later),
			} {
				if err == nil || !strings.Contains(err.Error(), "user index key") {
					t.Errorf("%s = %v; want an error saying the id makes a user index key", op, err)
				}
			}
			listed := map[string][]byte{}
			err := st.UserSessions(ctx, user, func(id string, _, _ time.Time, data []byte) { listed[id] = data })
			if err != nil || len(listed) != 1 || string(listed[own]) != string(data) {
				t.Errorf("UserSessions = %q, %v; want only %q with its data", listed, err, own)
			}
		})
	}
}

// TestCookieOfAnIDWhoseKeyIsAUserIndexKeyGetsANewSession: a request whose
// cookie (signed with the app's secret) carries such an id, issued before
// the app moved to Redis, starts a new session, and leaves the user's
// index alone; with the earlier layout it was answered 500, on every
// request until the cookie expired.
func TestCookieOfAnIDWhoseKeyIsAUserIndexKeyGetsANewSession(t *testing.T) {
	for layout, st := range indexKeyStores(t) {
		t.Run(layout, func(t *testing.T) {
			user := "u" + storetest.NewID()
			if err := st.IndexUserSession(t.Context(), user, storetest.NewID(), time.Now(), time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			gen := func(*http.Request) string { return "{user:" + user + "}" }
			before := apptest.New(t, memstore.New(), func(o *session.Options) { apptest.HourCookie(o); o.GenerateID = gen })
			first := before.MustDo(t, "/set?k=a&v=1", nil)
			after := apptest.New(t, st, apptest.HourCookie)
			r, err := after.Do("/values", first.Cookies)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != http.StatusOK || !strings.Contains(r.Body, `"new":true`) {
				t.Fatalf("request with the cookie of an id that makes a user index key: %d %s; want 200 and a new session", r.Status, r.Body)
			}
			n := 0
			if err := st.UserSessions(t.Context(), user, func(string, time.Time, time.Time, []byte) { n++ }); err != nil || n != 1 {
				t.Errorf("UserSessions after the request: %d entries, %v; want the one indexed", n, err)
			}
		})
	}
}
