package memcachedstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
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

func TestMain(m *testing.M) { os.Exit(testserver.Main(m)) }

// shared returns a client of the two shared memcached servers. Its dials and
// reads wait up to 10 s, not gomemcache's default 500 ms, which a loaded
// machine missed ("memcache: connect timeout", "i/o timeout") when
// TestParallelRequestsThroughTwoManagersLoseNothing opened 100 connections
// at once: these tests pin what is stored, not how fast (a test of the
// timeouts makes a client of its own).
func shared(t testing.TB) *memcache.Client {
	t.Helper()
	c := memcache.New(testserver.Addrs(testserver.SharedMemcacheds(t))...)
	c.MaxIdleConns = 100
	c.Timeout = 10 * time.Second
	t.Cleanup(func() { c.Close() })
	return c
}

// newStore returns a store of its own (a unique prefix) on client.
func newStore(client *memcache.Client, opts ...memcachedstore.Option) *memcachedstore.Store {
	return memcachedstore.New(client, append([]memcachedstore.Option{memcachedstore.WithPrefix(testserver.UniquePrefix() + "sessions:")}, opts...)...)
}

func TestConformance(t *testing.T) {
	t.Parallel()
	client := shared(t)
	// Memcached's expiry, to the second, is the only one: a session ends
	// 1 to 3 s before its expiry, never after.
	storetest.Run(t, func(t *testing.T) session.Store { return newStore(client) }, storetest.EarlyExpiry(3*time.Second))
}

// TestStoresWhatConnectMemcachedStores: the store's items are
// connect-memcached's (the document as given, flags 2: the Node memcached
// client's JSON, which it parses back into the object express-session
// needs), and it reads connect-memcached's items, and documents stored as
// strings (flags 0), as sessions; a Buffer or a number (flags 4, 8) is not one.
func TestStoresWhatConnectMemcachedStores(t *testing.T) {
	ctx := t.Context()
	client := shared(t)
	st := newStore(client)
	data := []byte(`{"cookie":{"originalMaxAge":60000,"expires":"2030-01-01T00:00:00.000Z","httpOnly":true,"path":"/"},"views":3}`)
	raw := func(op string) *memcache.Item {
		t.Helper()
		it, err := client.Get(st.Prefix() + "abc")
		if err != nil || !bytes.Equal(it.Value, data) || it.Flags != 2 {
			t.Fatalf("after %s, get %sabc = %+v, %v; want the document as given, flags 2", op, st.Prefix(), it, err)
		}
		return it
	}
	if err := st.Set(ctx, "abc", data, time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	raw("Set")
	if found, err := st.Touch(ctx, "abc", time.Now().Add(time.Hour)); err != nil || !found {
		t.Fatalf("Touch: %v, %v", found, err)
	}
	raw("Touch")
	_, v, _, _ := st.GetVersion(ctx, "abc")
	if _, swapped, err := st.CompareAndSwap(ctx, "abc", v, data, time.Now().Add(time.Minute)); err != nil || !swapped {
		t.Fatalf("CompareAndSwap: %v, %v", swapped, err)
	}
	raw("CompareAndSwap")
	st.Destroy(ctx, "abc")
	if _, swapped, err := st.CompareAndSwap(ctx, "abc", "", data, time.Now().Add(time.Minute)); err != nil || !swapped {
		t.Fatalf("CompareAndSwap create: %v, %v", swapped, err)
	}
	raw("CompareAndSwap create")

	express := []byte(`{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"from":"express"}`)
	for flags, want := range map[uint32]bool{2: true, 0: true, 4: false, 8: false} {
		key := fmt.Sprintf("flags%d", flags)
		client.Set(&memcache.Item{Key: st.Prefix() + key, Value: express, Flags: flags, Expiration: 10})
		got, found, err := st.Get(ctx, key)
		if err != nil || found != want || (want && !bytes.Equal(got, express)) {
			t.Errorf("Get of an item with flags %d = %s, found %v, %v; want found %v", flags, got, found, err, want)
		}
	}
}

// TestItemsOfEarlierVersionsAreHonoured: an item an earlier version of the
// store wrote, with its exact expiry in the flags, is read until that expiry
// and not after, however long Memcached keeps it; a touch rewrites it in the
// current format (which a touch command alone would not: the flags would
// still end it at its old expiry), and a create takes the place of an
// expired one.
func TestItemsOfEarlierVersionsAreHonoured(t *testing.T) {
	ctx := t.Context()
	client := shared(t)
	st := newStore(client)
	quarters := func(t time.Time) uint32 {
		return uint32(t.Sub(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)) / (time.Second / 4))
	}
	data := []byte(`{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"v":1}`)
	legacy := func(id string, expires time.Time) {
		t.Helper()
		if err := client.Set(&memcache.Item{Key: st.Prefix() + id, Value: data, Flags: quarters(expires), Expiration: 120}); err != nil {
			t.Fatal(err)
		}
	}
	flagsOf := func(id string) uint32 {
		t.Helper()
		it, err := client.Get(st.Prefix() + id)
		if err != nil {
			t.Fatalf("get %s: %v", id, err)
		}
		return it.Flags
	}

	legacy("live", time.Now().Add(time.Minute))
	legacy("expired", time.Now().Add(-time.Second))
	if got, found, err := st.Get(ctx, "live"); err != nil || !found || !bytes.Equal(got, data) {
		t.Fatalf("Get of a live legacy item = %s, %v, %v; want it", got, found, err)
	}
	if _, found, err := st.Get(ctx, "expired"); err != nil || found {
		t.Fatalf("Get of a legacy item past its exact expiry: found %v, %v; want none", found, err)
	}
	if found, err := st.Touch(ctx, "expired", time.Now().Add(time.Hour)); err != nil || found {
		t.Fatalf("Touch of a legacy item past its exact expiry: found %v, %v; want not found", found, err)
	}
	if _, swapped, err := st.CompareAndSwap(ctx, "expired", "", data, time.Now().Add(time.Hour)); err != nil || !swapped {
		t.Fatalf("CompareAndSwap create over an expired legacy item: %v, %v; want created", swapped, err)
	}
	if f := flagsOf("expired"); f != 2 {
		t.Fatalf("created over an expired legacy item with flags %d, want 2", f)
	}

	if found, err := st.Touch(ctx, "live", time.Now().Add(time.Hour)); err != nil || !found {
		t.Fatalf("Touch of a live legacy item: found %v, %v", found, err)
	}
	if f := flagsOf("live"); f != 2 {
		t.Fatalf("a touched legacy item has flags %d, want 2 (rewritten, so that the touch holds)", f)
	}

	legacy("versioned", time.Now().Add(time.Minute))
	got, v, _, err := st.GetVersion(ctx, "versioned")
	if err != nil {
		t.Fatal(err)
	}
	if found, err := st.TouchVersion(ctx, "versioned", v, got, time.Now().Add(time.Hour)); err != nil || !found {
		t.Fatalf("TouchVersion of a live legacy item: found %v, %v", found, err)
	}
	if f := flagsOf("versioned"); f != 2 {
		t.Fatalf("a version-touched legacy item has flags %d, want 2", f)
	}
}

// TestMemcachedEndsTheItemByItsExpiry: Memcached's own expiry, all that an
// Express app on connect-memcached goes by, never keeps a session past its
// expiry.
func TestMemcachedEndsTheItemByItsExpiry(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	client := shared(t)
	st := newStore(client)
	expires := time.Now().Add(2500 * time.Millisecond)
	if err := st.Set(ctx, "short", []byte(`{}`), expires); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(expires))
	if it, err := client.Get(st.Prefix() + "short"); !errors.Is(err, memcache.ErrCacheMiss) {
		t.Fatalf("at its expiry, Memcached still holds the session: %+v, %v", it, err)
	}
	// With less than 2 s left, no expiration ends it in time: a write deletes.
	if err := st.Set(ctx, "short", []byte(`{}`), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := st.Set(ctx, "short", []byte(`{}`), time.Now().Add(1900*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if it, err := client.Get(st.Prefix() + "short"); !errors.Is(err, memcache.ErrCacheMiss) {
		t.Fatalf("after a Set with 1.9 s left, Memcached holds %+v, %v; want nothing", it, err)
	}
}

// TestDefaultPrefixIsConnectMemcached: connect-memcached's prefix defaults
// to the empty string, so the key is the id itself.
func TestDefaultPrefixIsConnectMemcached(t *testing.T) {
	client := shared(t)
	st := memcachedstore.New(client)
	id := "default-prefix-" + storetest.NewID()
	if err := st.Set(t.Context(), id, []byte(`{}`), time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Delete(id) })
	if _, err := client.Get(id); err != nil {
		t.Fatalf("key %s: %v", id, err)
	}
	if _, err := client.Get("sessions:" + id); !errors.Is(err, memcache.ErrCacheMiss) {
		t.Fatalf("key sessions:%s: %v, want none", id, err)
	}
}

func TestExpiryBeyondThirtyDaysIsKept(t *testing.T) {
	// Memcached takes an expiration over 30 days as an absolute Unix time;
	// sent as relative seconds it would be a date in 1970, expired at once.
	ctx := t.Context()
	st := newStore(shared(t))
	for _, d := range []time.Duration{29 * 24 * time.Hour, 31 * 24 * time.Hour, 400 * 24 * time.Hour} {
		if err := st.Set(ctx, "long", []byte(`{}`), time.Now().Add(d)); err != nil {
			t.Fatal(err)
		}
		if _, found, err := st.Get(ctx, "long"); err != nil || !found {
			t.Errorf("session expiring in %v: %v", d, err)
		}
		if found, err := st.Touch(ctx, "long", time.Now().Add(d)); err != nil || !found {
			t.Errorf("Touch to %v: %v", d, err)
		}
		if _, found, err := st.Get(ctx, "long"); err != nil || !found {
			t.Errorf("session touched to expire in %v: %v", d, err)
		}
	}
}

// TestFarFutureExpiryIsKept pins that an expiry in year 9999 (a common
// "never expires", past time.Duration's range) stores the session until
// Memcached's last expiration, 2038, instead of overflowing into a negative
// expiration, which Memcached takes as already expired.
func TestFarFutureExpiryIsKept(t *testing.T) {
	ctx := t.Context()
	st := newStore(shared(t))
	far := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
	mustFind := func(after string) {
		t.Helper()
		if _, found, err := st.Get(ctx, "far"); err != nil || !found {
			t.Fatalf("Get after %s to year 9999: found %v, %v; want found", after, found, err)
		}
	}
	if err := st.Set(ctx, "far", []byte(`{"a":1}`), far); err != nil {
		t.Fatal(err)
	}
	mustFind("Set")
	if found, err := st.Touch(ctx, "far", far); err != nil || !found {
		t.Fatalf("Touch to year 9999: found %v, %v", found, err)
	}
	mustFind("Touch")
	data, v, _, err := st.GetVersion(ctx, "far")
	if err != nil {
		t.Fatal(err)
	}
	if found, err := st.TouchVersion(ctx, "far", v, data, far); err != nil || !found {
		t.Fatalf("TouchVersion to year 9999: found %v, %v", found, err)
	}
	mustFind("TouchVersion")
	_, v, _, _ = st.GetVersion(ctx, "far")
	if _, swapped, err := st.CompareAndSwap(ctx, "far", v, []byte(`{"a":2}`), far); err != nil || !swapped {
		t.Fatalf("CompareAndSwap to year 9999: swapped %v, %v", swapped, err)
	}
	mustFind("CompareAndSwap")
	if err := st.Destroy(ctx, "far"); err != nil {
		t.Fatal(err)
	}
	if _, swapped, err := st.CompareAndSwap(ctx, "far", "", []byte(`{"a":3}`), far); err != nil || !swapped {
		t.Fatalf("CompareAndSwap create to year 9999: swapped %v, %v", swapped, err)
	}
	mustFind("CompareAndSwap create")
}

func TestWithDefaultTTLBoundsBrowserSessions(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	// 3 s: Memcached keeps it for 1 to 2 s (see TestConformance).
	st := newStore(shared(t), memcachedstore.WithDefaultTTL(3*time.Second))
	start := time.Now()
	if err := st.Set(ctx, "browser", []byte(`{}`), time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, found, err := st.Get(ctx, "browser"); err != nil || (!found && time.Since(start) < time.Second) {
		t.Fatalf("browser session right after Set: found %v, %v", found, err)
	}
	time.Sleep(time.Until(start.Add(3 * time.Second)))
	if _, found, err := st.Get(ctx, "browser"); err != nil || found {
		t.Fatalf("browser session after the default TTL: %v, want not found", err)
	}
}

func TestValueOverItemSizeLimitIsAnError(t *testing.T) {
	srv := testserver.StartMemcached(t, "-I", "1m")
	client := memcache.New(srv.Addr)
	t.Cleanup(func() { client.Close() })
	st := memcachedstore.New(client)
	ctx := t.Context()
	big := storetest.Document(1<<20 + 1)
	err := st.Set(ctx, "big", big, time.Now().Add(time.Minute))
	if !errors.Is(err, memcachedstore.ErrTooLarge) || !errors.Is(err, session.ErrTooLarge) || !strings.Contains(err.Error(), "too large") {
		t.Fatalf("Set of %d bytes on a 1 MiB server: %v, want ErrTooLarge", len(big), err)
	}
	if _, _, err := st.CompareAndSwap(ctx, "big", "", big, time.Now().Add(time.Minute)); !errors.Is(err, memcachedstore.ErrTooLarge) {
		t.Fatalf("CompareAndSwap of %d bytes: %v, want ErrTooLarge", len(big), err)
	}
	// Nothing was stored, and the store still works.
	if _, found, err := st.Get(ctx, "big"); err != nil || found {
		t.Fatalf("Get after the failed Set: %v, want not found", err)
	}
	if err := st.Set(ctx, "small", []byte(`{}`), time.Now().Add(time.Minute)); err != nil {
		t.Fatalf("Set after the failed Set: %v", err)
	}
}

// TestTooLargeWriteKeepsTheStoredSession pins ErrTooLarge's "nothing was
// written": memcached's set of a too-large item drops the item stored under
// the key, so Set sends replace first, which keeps it; cas keeps it too.
func TestTooLargeWriteKeepsTheStoredSession(t *testing.T) {
	srv := testserver.StartMemcached(t, "-I", "1m")
	client := memcache.New(srv.Addr)
	t.Cleanup(func() { client.Close() })
	st := memcachedstore.New(client)
	ctx := t.Context()
	stored := []byte(`{"a":1}`)
	if err := st.Set(ctx, "s", stored, time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	big := storetest.Document(1<<20 + 1)
	mustKeep := func(write string, err error) {
		t.Helper()
		if !errors.Is(err, memcachedstore.ErrTooLarge) {
			t.Fatalf("%s of %d bytes on a 1 MiB server: %v, want ErrTooLarge", write, len(big), err)
		}
		if got, found, err := st.Get(ctx, "s"); err != nil || !found || !bytes.Equal(got, stored) {
			t.Fatalf("after a too-large %s, the stored session: %s, found %v, %v; want it as it was", write, got, found, err)
		}
	}
	mustKeep("Set", st.Set(ctx, "s", big, time.Now().Add(time.Minute)))
	_, v, _, err := st.GetVersion(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = st.CompareAndSwap(ctx, "s", v, big, time.Now().Add(time.Minute))
	mustKeep("CompareAndSwap", err)
}

// TestSetIsOneCommandUnlessItCreates pins the cost of Set's replace: one
// command for a stored session, a second (set) only to create one.
func TestSetIsOneCommandUnlessItCreates(t *testing.T) {
	srv := testserver.StartMemcached(t) // its own server: the counts are server-wide
	client := memcache.New(srv.Addr)
	t.Cleanup(func() { client.Close() })
	st := memcachedstore.New(client)
	set := func() {
		if err := st.Set(t.Context(), "s", []byte(`{}`), time.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := commandsOf(t, srv.Addr, set), map[string]int{"cmd_set": 2}; !maps.Equal(got, want) {
		t.Errorf("Set of a new session: commands %v, want %v (replace, set)", got, want)
	}
	if got, want := commandsOf(t, srv.Addr, set), map[string]int{"cmd_set": 1}; !maps.Equal(got, want) {
		t.Errorf("Set of a stored session: commands %v, want %v (replace)", got, want)
	}
}

func TestSessionsSpreadOverBothServers(t *testing.T) {
	servers := testserver.StartMemcacheds(t, 2)
	client := memcache.New(testserver.Addrs(servers)...)
	t.Cleanup(func() { client.Close() })
	st := memcachedstore.New(client)
	ctx := t.Context()
	ids := make([]string, 40)
	for i := range ids {
		ids[i] = storetest.NewID()
		if err := st.Set(ctx, ids[i], []byte(`{}`), time.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	for _, srv := range servers {
		one := memcache.New(srv.Addr)
		n := 0
		for _, id := range ids {
			if _, err := one.Get(st.Prefix() + id); err == nil {
				n++
			}
		}
		one.Close()
		if n == 0 || n == len(ids) {
			t.Errorf("server %s holds %d of %d sessions, want a share", srv.Addr, n, len(ids))
		}
	}
}

func TestParallelRequestsThroughTwoManagersLoseNothing(t *testing.T) {
	apptest.ParallelUpdatesThroughTwoAppsLoseNothing(t, newStore(shared(t)), 100)
}

func TestSessionDestroyedDuringSlowRequestStaysDestroyed(t *testing.T) {
	apptest.DestroyDuringSlowRequestStaysDestroyed(t, newStore(shared(t)))
}

func TestServerKilledMidTraffic(t *testing.T) {
	t.Parallel()
	srv := testserver.StartMemcached(t)
	client := memcache.New(srv.Addr)
	client.Timeout = 200 * time.Millisecond
	t.Cleanup(func() { client.Close() })
	apptest.ServerKilledMidTraffic(t, memcachedstore.New(client), apptest.Outage{
		Kill:       srv.Kill,
		Restart:    func() { srv.Restart(t) },
		MaxLatency: 3 * time.Second,
	})
}

func TestErrorsDoNotShowWholeSessionID(t *testing.T) {
	st := newStore(shared(t))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	id := storetest.NewID()
	_, _, err := st.Get(ctx, id)
	if err == nil || strings.Contains(err.Error(), id) || !strings.Contains(err.Error(), id[:6]) {
		t.Fatalf("Get error %q: want the start of the id, not all of it", err)
	}
}

// TestServerWithoutCASIsAnErrorNotAConflict: a memcached that keeps no CAS
// ids (-C; ElastiCache's cas_disabled) answers gets with the CAS id 0 and
// every cas with EXISTS, so no compare-and-swap of a stored session can
// succeed, though nobody else wrote it. The store says so (ErrNoCAS), and a
// request that modifies its session fails after its load; it reported a
// conflict, and the manager retried it as one, 128 times (gets and cas
// each), before it failed with ErrConflict.
func TestServerWithoutCASIsAnErrorNotAConflict(t *testing.T) {
	srv := testserver.StartMemcached(t, "-C")
	client := memcache.New(srv.Addr)
	t.Cleanup(func() { client.Close() })
	st := memcachedstore.New(client)
	ctx := t.Context()
	stored := []byte(`{"a":1}`)
	if _, swapped, err := st.CompareAndSwap(ctx, "s", "", stored, time.Now().Add(time.Minute)); err != nil || !swapped {
		t.Fatalf("create on a server without CAS ids: swapped %v, %v; want created (add needs none)", swapped, err)
	}
	_, v, _, err := st.GetVersion(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if _, swapped, err := st.CompareAndSwap(ctx, "s", v, []byte(`{"a":2}`), time.Now().Add(time.Minute)); !errors.Is(err, memcachedstore.ErrNoCAS) {
		t.Fatalf("CompareAndSwap from the current version on a server without CAS ids: swapped %v, %v; want ErrNoCAS", swapped, err)
	}
	if got, found, err := st.Get(ctx, "s"); err != nil || !found || !bytes.Equal(got, stored) {
		t.Fatalf("after the failed CompareAndSwap: %s, found %v, %v; want the session as it was", got, found, err)
	}

	failed := make(chan error, 1)
	app := apptest.New(t, st, func(o *session.Options) {
		apptest.HourCookie(o)
		o.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
			failed <- err
			http.Error(w, "save failed", http.StatusInternalServerError)
		}
	})
	first := app.MustDo(t, "/set?k=a&v=1", nil)
	var resp apptest.Response
	got := commandsOf(t, srv.Addr, func() {
		if resp, err = app.Do("/set?k=a&v=2", first.Cookies); err != nil {
			t.Fatal(err)
		}
	})
	if resp.Status != http.StatusInternalServerError {
		t.Fatalf("a modifying request on a server without CAS ids answered %d %q; want the ErrorHandler's 500", resp.Status, resp.Body)
	}
	if err := <-failed; !errors.Is(err, memcachedstore.ErrNoCAS) {
		t.Errorf("the modifying request failed with %v; want ErrNoCAS", err)
	}
	if want := map[string]int{"cmd_get": 1}; !maps.Equal(got, want) {
		t.Errorf("the modifying request sent %v; want %v (its load, and no retries)", got, want)
	}
}
