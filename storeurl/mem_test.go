package storeurl_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/session/memstore"
	"github.com/sessionkit/session/storeurl"
)

// openMem opens rawURL, which must give a memstore, and closes it with the test.
func openMem(t *testing.T, rawURL string) *memstore.Store {
	t.Helper()
	st, closer, err := storeurl.Open(context.Background(), rawURL)
	if err != nil {
		t.Fatalf("Open(%q): %v", rawURL, err)
	}
	t.Cleanup(func() {
		if err := closer.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	ms, ok := st.(*memstore.Store)
	if !ok {
		t.Fatalf("Open(%q) gave a %T, want a *memstore.Store", rawURL, st)
	}
	return ms
}

func TestMemURLOpensAWorkingMemstore(t *testing.T) {
	for _, u := range []string{"mem://", "mem:", "MEM://", "mem:///", "mem://?"} {
		t.Run(u, func(t *testing.T) {
			ctx := context.Background()
			st := openMem(t, u)
			if err := st.Set(ctx, "a", []byte(`{"cookie":{}}`), time.Time{}); err != nil {
				t.Fatal(err)
			}
			if got, _, err := st.Get(ctx, "a"); err != nil || string(got) != `{"cookie":{}}` {
				t.Fatalf("Get = %s, %v", got, err)
			}
		})
	}
}

func TestMemURLMaxSessionsCapsTheStore(t *testing.T) {
	ctx := context.Background()
	st := openMem(t, "mem://?max_sessions=2")
	for i, id := range []string{"a", "b", "c"} {
		st.Set(ctx, id, []byte("{}"), time.Now().Add(time.Duration(i+1)*time.Hour))
	}
	if n, _ := st.Count(ctx); n != 2 {
		t.Fatalf("Count = %d with max_sessions=2", n)
	}
	if _, found, err := st.Get(ctx, "a"); err != nil || found {
		t.Fatalf("the session closest to expiry was not evicted: %v", err)
	}
}

func TestMemURLDefaultLifetimeAppliesToBrowserSessions(t *testing.T) {
	ctx := context.Background()
	// Real time (a URL cannot carry a clock). A Get that ends after the
	// lifetime and finds nothing proves nothing (a loaded machine): that
	// try is made again with a lifetime twice as long.
	for ttl := 400 * time.Millisecond; ; ttl *= 2 {
		st := openMem(t, "mem://?default_ttl="+ttl.String())
		start := time.Now()
		st.Set(ctx, "a", []byte("{}"), time.Time{})
		_, found, err := st.Get(ctx, "a")
		if err != nil {
			t.Fatalf("Get right after Set: %v", err)
		}
		if !found {
			if took := time.Since(start); took < ttl {
				t.Fatalf("Get right after Set, %v after it, with default_ttl=%v: not found", took, ttl)
			}
			if ttl >= 6400*time.Millisecond {
				t.Fatalf("the Set and Get took longer than default_ttl=%v, in every try", ttl)
			}
			continue
		}
		time.Sleep(ttl + 100*time.Millisecond)
		if _, found, err := st.Get(ctx, "a"); err != nil || found {
			t.Fatalf("Get after default_ttl=%v: found %v, %v; want not found", ttl, found, err)
		}
		return
	}
}

func TestMemURLSweepInterval(t *testing.T) {
	ctx := context.Background()
	// purgedByHand stores a session living life, waits until wait past its
	// expiry and returns how many sessions PurgeExpired still finds to
	// remove. It reports false, having checked nothing, when the Set may
	// have come after the expiry (a loaded machine), since such a Set
	// stores nothing.
	purgedByHand := func(st *memstore.Store, life, wait time.Duration) (int, bool) {
		expires := time.Now().Add(life)
		st.Set(ctx, "a", []byte("{}"), expires)
		if !time.Now().Before(expires) {
			return 0, false
		}
		time.Sleep(time.Until(expires) + wait)
		n, err := st.PurgeExpired(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n, true
	}
	// The sweeper runs every 5 ms, but on a loaded machine its goroutine
	// may wait longer than the 100 ms for its turn: a session it left is
	// tried again with waits twice as long, up to seconds, still far from
	// the default minute that an ignored parameter would leave.
	for life, wait := 5*time.Millisecond, 100*time.Millisecond; ; life, wait = 2*life, 2*wait {
		n, stored := purgedByHand(openMem(t, "mem://?sweep_interval=5ms"), life, wait)
		if stored && n == 0 {
			break
		}
		if wait >= 3200*time.Millisecond {
			t.Errorf("with sweep_interval=5ms, %d expired sessions were left for PurgeExpired %v after their expiry, want 0 (the sweeper's job)", n, wait)
			break
		}
	}
	for life := 5 * time.Millisecond; ; life *= 2 {
		n, stored := purgedByHand(openMem(t, "mem://?sweep_interval=0"), life, 100*time.Millisecond)
		if !stored && life < time.Second {
			continue
		}
		if n != 1 {
			t.Errorf("with sweep_interval=0, PurgeExpired removed %d, want 1 (nothing sweeps)", n)
		}
		break
	}
}

func TestMemURLRejectsBadInput(t *testing.T) {
	for _, c := range []struct{ url, want string }{
		{"mem://?max_session=10", `unknown parameter "max_session" (known: default_ttl, max_sessions, sweep_interval)`},
		{"mem://?max_sessions=ten", `max_sessions="ten": not a count`},
		{"mem://?max_sessions=-1", `max_sessions="-1": not a count`},
		{"mem://?max_sessions=1&max_sessions=2", `parameter "max_sessions" given 2 times`},
		{"mem://?sweep_interval=10", `sweep_interval="10": not a duration`},
		{"mem://?sweep_interval=-1s", `sweep_interval="-1s": must not be negative`},
		{"mem://?sweep_interval=", `sweep_interval="": empty duration`},
		{"mem://?default_ttl=0", `default_ttl="0": must be positive`},
		{"mem://?default_ttl=1d", `default_ttl="1d": not a duration`},
		{"mem://localhost", "mem URLs take no host, user or path"},
		{"mem:///some/path", "mem URLs take no host, user or path"},
		{"mem:opaque", "mem URLs take no host, user or path"},
	} {
		t.Run(c.url, func(t *testing.T) {
			st, closer, err := storeurl.Open(context.Background(), c.url)
			if err == nil {
				closer.Close()
				t.Fatalf("Open(%q) = %T, nil; want an error", c.url, st)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Open(%q) error %q, want it to say %q", c.url, err, c.want)
			}
		})
	}
}

func TestMemIsAKnownScheme(t *testing.T) {
	for _, s := range storeurl.Schemes() {
		if s == "mem" {
			return
		}
	}
	t.Fatalf("Schemes() = %q, want it to list mem", storeurl.Schemes())
}
