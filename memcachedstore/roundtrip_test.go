package memcachedstore_test

import (
	"bufio"
	"maps"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/internal/testserver/apptest"
	"github.com/sessionkit/session/memcachedstore"
)

// roundTripStats are the counters of Memcached's "stats" that tell the
// commands apart: every get and gets is a cmd_get, every set, add and cas a
// cmd_set, and a cas that stored a cas_hits.
var roundTripStats = []string{"cmd_get", "cmd_set", "cas_hits", "cas_badval", "cmd_touch", "delete_hits"}

// memcachedStats reads roundTripStats from the server at addr.
func memcachedStats(t *testing.T, addr string) map[string]int {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("stats\r\n")); err != nil {
		t.Fatal(err)
	}
	stats := map[string]int{}
	sc := bufio.NewScanner(conn)
	for sc.Scan() && sc.Text() != "END" {
		f := strings.Fields(sc.Text()) // STAT name value
		if len(f) == 3 {
			if n, err := strconv.Atoi(f[2]); err == nil {
				stats[f[1]] = n
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return stats
}

// commandsOf returns the roundTripStats that fn moved, and by how much.
func commandsOf(t *testing.T, addr string, fn func()) map[string]int {
	t.Helper()
	before := memcachedStats(t, addr)
	fn()
	after := memcachedStats(t, addr)
	got := map[string]int{}
	for _, k := range roundTripStats {
		if d := after[k] - before[k]; d != 0 {
			got[k] = d
		}
	}
	return got
}

func TestRoundTripsPerRequestKind(t *testing.T) {
	srv := testserver.StartMemcached(t) // its own server: the counts are server-wide
	client := memcache.New(srv.Addr)
	t.Cleanup(func() { client.Close() })
	st := memcachedstore.New(client)
	// TouchAfter leaves a read-only request alone right after a save; the
	// others touch on every unmodified request, as express does.
	reader := apptest.New(t, st, apptest.HourCookieTouchAfterMinute)
	toucher := apptest.New(t, st, apptest.HourCookie)
	browserSession := apptest.New(t, st, nil)

	first := reader.MustDo(t, "/set?k=a&v=1", nil)
	browserFirst := browserSession.MustDo(t, "/set?k=a&v=1", nil)
	gets := map[string]int{"cmd_get": 1}
	getsCas := map[string]int{"cmd_get": 1, "cmd_set": 1, "cas_hits": 1}
	getsTouch := map[string]int{"cmd_get": 1, "cmd_touch": 1}
	cases := []struct {
		name    string
		app     *apptest.App
		path    string
		cookies []*http.Cookie
		want    map[string]int
	}{
		{"new session", reader, "/set?k=a&v=1", nil, map[string]int{"cmd_set": 1}}, // add
		{"read-only, no touch due", reader, "/get?k=a", first.Cookies, gets},
		{"modifying", reader, "/set?k=b&v=3", first.Cookies, getsCas},
		// The touch is memcached's touch command: the load's version tells
		// that the item is in the current format.
		{"read-only, touch due", toucher, "/get?k=a", first.Cookies, getsTouch},
		{"browser-session read-only", browserSession, "/get?k=a", browserFirst.Cookies, getsTouch},
		{"browser-session modifying", browserSession, "/set?k=b&v=4", browserFirst.Cookies, getsCas},
	}
	for _, c := range cases {
		got := commandsOf(t, srv.Addr, func() { c.app.MustDo(t, c.path, c.cookies) })
		if !maps.Equal(got, c.want) {
			t.Errorf("%s: commands %v, want %v", c.name, got, c.want)
		}
	}
}

// TestTouchIsOneCommand: Touch is gat (counted as a touch), TouchVersion the
// touch command, each one round trip; neither rewrites the session.
func TestTouchIsOneCommand(t *testing.T) {
	srv := testserver.StartMemcached(t) // its own server: the counts are server-wide
	client := memcache.New(srv.Addr)
	t.Cleanup(func() { client.Close() })
	st := memcachedstore.New(client)
	ctx := t.Context()
	if err := st.Set(ctx, "s", []byte(`{}`), time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	data, v, _, err := st.GetVersion(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"cmd_touch": 1}
	for name, touch := range map[string]func() (bool, error){
		"Touch":        func() (bool, error) { return st.Touch(ctx, "s", time.Now().Add(time.Hour)) },
		"TouchVersion": func() (bool, error) { return st.TouchVersion(ctx, "s", v, data, time.Now().Add(time.Hour)) },
	} {
		got := commandsOf(t, srv.Addr, func() {
			if found, err := touch(); err != nil || !found {
				t.Fatalf("%s: found %v, %v", name, found, err)
			}
		})
		if !maps.Equal(got, want) {
			t.Errorf("%s: commands %v, want %v", name, got, want)
		}
	}
}
