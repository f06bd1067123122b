package memcachedstore_test

import (
	"bufio"
	"fmt"
	"maps"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/internal/testserver/apptest"
	"github.com/sessionkit/session/memcachedstore"
	"github.com/sessionkit/session/storetest"
)

// commandCounts reads the command counters of memcached's "stats": gets
// (cmd_get), cas (cas_hits, cas_misses, cas_badval), other writes (set,
// add: cmd_set counts them and cas), touch and delete.
func commandCounts(t *testing.T, addr string) map[string]int {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprint(c, "stats\r\n"); err != nil {
		t.Fatal(err)
	}
	stats := map[string]int{}
	sc := bufio.NewScanner(c)
	for sc.Scan() && sc.Text() != "END" {
		f := strings.Fields(sc.Text())
		if len(f) == 3 && f[0] == "STAT" {
			if n, err := strconv.Atoi(f[2]); err == nil {
				stats[f[1]] = n
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	cas := stats["cas_hits"] + stats["cas_misses"] + stats["cas_badval"]
	return map[string]int{
		"gets":   stats["cmd_get"],
		"cas":    cas,
		"store":  stats["cmd_set"] - cas,
		"touch":  stats["cmd_touch"],
		"delete": stats["delete_hits"] + stats["delete_misses"],
	}
}

// commandsOf returns the memcached commands that do sent, by kind.
func commandsOf(t *testing.T, addr string, do func()) map[string]int {
	t.Helper()
	before := commandCounts(t, addr)
	do()
	delta := map[string]int{}
	for k, n := range commandCounts(t, addr) {
		if d := n - before[k]; d != 0 {
			delta[k] = d
		}
	}
	return delta
}

func TestReadOnlyRequestTouchesInTwoRoundTrips(t *testing.T) {
	srv := testserver.StartMemcached(t) // its own server: the counts are server-wide
	client := memcache.New(srv.Addr)
	t.Cleanup(func() { client.Close() })
	st := memcachedstore.New(client)
	reader := apptest.New(t, st, func(o *session.Options) {
		o.Cookie.MaxAge = time.Hour
		o.TouchAfter = time.Minute
	})
	toucher := apptest.New(t, st, func(o *session.Options) { o.Cookie.MaxAge = time.Hour })
	browserSession := apptest.New(t, st, nil)

	first := reader.MustDo(t, "/set?k=a&v=1", nil)
	browserFirst := browserSession.MustDo(t, "/set?k=a&v=1", nil)
	cases := []struct {
		name    string
		app     *apptest.App
		path    string
		cookies []*http.Cookie
		want    map[string]int
	}{
		{"new session", reader, "/set?k=a&v=1", nil, map[string]int{"store": 1}},
		{"read-only, TouchAfter not due", reader, "/get?k=a", first.Cookies, map[string]int{"gets": 1}},
		{"modifying, no touch at the load", reader, "/set?k=b&v=3", first.Cookies, map[string]int{"gets": 1, "cas": 1}},
		// The touch rides on the load: gets, cas; nothing at the end.
		{"read-only, touch due", toucher, "/get?k=a", first.Cookies, map[string]int{"gets": 1, "cas": 1}},
		{"browser-session read-only", browserSession, "/get?k=a", browserFirst.Cookies, map[string]int{"gets": 1, "cas": 1}},
		// The touched version's CAS id is unknown: the save reads it again.
		{"browser-session modifying", browserSession, "/set?k=b&v=4", browserFirst.Cookies, map[string]int{"gets": 2, "cas": 2}},
		// A session whose own max age (1h, from reader) differs from the
		// app's: the load's touch is not the right one, the end's is.
		{"own max age read-only", browserSession, "/get?k=a", first.Cookies, map[string]int{"gets": 2, "cas": 2}},
	}
	for _, c := range cases {
		got := commandsOf(t, srv.Addr, func() { c.app.MustDo(t, c.path, c.cookies) })
		if !maps.Equal(got, c.want) {
			t.Errorf("%s request: commands %v, want %v", c.name, got, c.want)
		}
	}
}

func TestGetAndTouchSetsTheExactExpiry(t *testing.T) {
	ctx := t.Context()
	st := newStore(shared(t))
	id := storetest.NewID()
	if err := st.Set(ctx, id, []byte(`{"a":1}`), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(1500 * time.Millisecond)
	data, ver, found, err := st.GetAndTouch(ctx, id, exp)
	if err != nil || !found || string(data) != `{"a":1}` || ver == "" {
		t.Fatalf("GetAndTouch = %q, %q, %v, %v; want the value and a version", data, ver, found, err)
	}
	if _, found, _ := st.Get(ctx, id); !found {
		t.Fatal("session missing right after GetAndTouch")
	}
	time.Sleep(time.Until(exp) + 500*time.Millisecond)
	if _, found, err := st.Get(ctx, id); found || err != nil {
		t.Fatalf("Get after the touched expiry: found %v, err %v; want gone", found, err)
	}
}

func TestGetAndTouchOfMissingOrPastExpiryReportsMissing(t *testing.T) {
	ctx := t.Context()
	st := newStore(shared(t))
	id := storetest.NewID()
	if _, _, found, err := st.GetAndTouch(ctx, id, time.Now().Add(time.Hour)); found || err != nil {
		t.Fatalf("GetAndTouch of a missing session: found %v, err %v", found, err)
	}
	if err := st.Set(ctx, id, []byte(`{}`), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, _, found, err := st.GetAndTouch(ctx, id, time.Now().Add(-time.Second)); found || err != nil {
		t.Fatalf("GetAndTouch to a past expiry: found %v, err %v; want missing", found, err)
	}
	if _, found, _ := st.Get(ctx, id); found {
		t.Fatal("session still there after GetAndTouch to a past expiry")
	}
}

func TestTouchedVersionSwapsOnlyIfNobodyWrote(t *testing.T) {
	ctx := t.Context()
	st := newStore(shared(t))
	exp := time.Now().Add(time.Hour)
	for _, between := range []struct {
		name  string
		write func(id string) error
		want  bool
	}{
		{"nothing", func(string) error { return nil }, true},
		{"a write of another value", func(id string) error { return st.Set(ctx, id, []byte(`{"b":2}`), exp) }, false},
		{"a touch to another expiry", func(id string) error {
			_, err := st.Touch(ctx, id, exp.Add(time.Minute))
			return err
		}, false},
		{"a destroy", func(id string) error { return st.Destroy(ctx, id) }, false},
	} {
		id := storetest.NewID()
		if err := st.Set(ctx, id, []byte(`{"a":1}`), exp); err != nil {
			t.Fatal(err)
		}
		_, ver, _, err := st.GetAndTouch(ctx, id, exp)
		if err != nil {
			t.Fatal(err)
		}
		if err := between.write(id); err != nil {
			t.Fatal(err)
		}
		_, swapped, err := st.CompareAndSwap(ctx, id, ver, []byte(`{"a":3}`), exp)
		if err != nil || swapped != between.want {
			t.Errorf("after %s: swapped %v, err %v; want %v", between.name, swapped, err, between.want)
		}
	}
}

func TestGarbageTouchedVersionDoesNotSwap(t *testing.T) {
	ctx := t.Context()
	st := newStore(shared(t))
	id := storetest.NewID()
	exp := time.Now().Add(time.Hour)
	if err := st.Set(ctx, id, []byte(`{}`), exp); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"t.", "t.x.y", "t.1", "t.99999999999.ab", "t.1.00"} {
		if _, swapped, err := st.CompareAndSwap(ctx, id, v, []byte(`{"a":1}`), exp); swapped || err != nil {
			t.Errorf("CompareAndSwap with version %q: swapped %v, err %v; want neither", v, swapped, err)
		}
	}
}
