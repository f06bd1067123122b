package redisstore_test

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/testclock"
	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/internal/testserver/apptest"
	"github.com/sessionkit/session/redisstore"
	"github.com/sessionkit/session/storetest"
)

func TestUserSessionScenariosStandalone(t *testing.T) {
	client := standalone(t)
	apptest.Users(t, func(t *testing.T) session.Store { return newStore(client) })
}

func TestUserSessionScenariosCluster(t *testing.T) {
	client := cluster(t)
	apptest.Users(t, func(t *testing.T) session.Store { return newStore(client) })
}

// TestUserSessionsListsAnEntryWithAnUnreadableLastUse spoils the last-use
// time of an index entry (not a number, or missing from the hash): the
// entry is listed with a zero LastUsed and its session can be destroyed,
// where the listing used to fail whole.
func TestUserSessionsListsAnEntryWithAnUnreadableLastUse(t *testing.T) {
	client := standalone(t)
	for name, spoil := range map[string]func(key, id string) error{
		"NotANumber": func(key, id string) error { return client.HSet(t.Context(), key, id, "yesterday").Err() },
		"Missing":    func(key, id string) error { return client.HDel(t.Context(), key, id).Err() },
	} {
		t.Run(name, func(t *testing.T) {
			st := newStore(client)
			apptest.UnreadableLastUseIsListedAndDestroyed(t, st, func(user, id string) error {
				return spoil(st.UserIndexPrefix()+"{user:"+user+"}used", id)
			})
		})
	}
}

// An entry whose score (its expiry) is inf, set by hand, is listed with a
// zero Expires, as the UserIndex contract says, so that its session can be
// ended like any other, and it fails none of the user's index writes.
func TestUserSessionsListsAnEntryWithAnInfiniteExpiry(t *testing.T) {
	client := standalone(t)
	st := newStore(client)
	ctx := t.Context()
	live, spoiled := storetest.NewID(), storetest.NewID()
	exp := time.Now().Add(time.Hour)
	for _, id := range []string{live, spoiled} {
		if err := st.IndexUserSession(ctx, "inf", id, time.Now(), exp); err != nil {
			t.Fatal(err)
		}
		if err := st.Set(ctx, id, []byte(`{}`), exp); err != nil {
			t.Fatal(err)
		}
	}
	if err := client.ZAdd(ctx, st.UserIndexPrefix()+"{user:inf}", redis.Z{Score: math.Inf(1), Member: spoiled}).Err(); err != nil {
		t.Fatal(err)
	}
	got := map[string]time.Time{}
	if err := st.UserSessions(ctx, "inf", func(id string, _, expires time.Time, data []byte) {
		if data != nil {
			got[id] = expires
		}
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !got[spoiled].IsZero() || got[live].IsZero() {
		t.Fatalf("listed %v; want both, the one with an infinite score with a zero Expires", got)
	}
	// The user's next index write still works (the keys' own expiry comes
	// from the latest entry's), and keeps the keys as long as that entry.
	if err := st.IndexUserSession(ctx, "inf", storetest.NewID(), time.Now(), exp); err != nil {
		t.Fatalf("IndexUserSession after an entry with an infinite score: %v", err)
	}
	if ttl := client.PTTL(ctx, st.UserIndexPrefix()+"{user:inf}").Val(); ttl != -1 {
		t.Fatalf("the index key's TTL is %v; want none while an entry never expires", ttl)
	}
}

// TestUserIndexOfDailyLoginsForAYearStaysBounded logs one user in every day
// for a year (on the index's clock), each session living 30 days: the index
// keys never hold more than one lifetime's entries, on a single server and
// on a Cluster.
func TestUserIndexOfDailyLoginsForAYearStaysBounded(t *testing.T) {
	for name, client := range map[string]redis.UniversalClient{"standalone": standalone(t), "cluster": cluster(t)} {
		t.Run(name, func(t *testing.T) {
			st := newStore(client)
			clock := testclock.New(time.Now())
			redisstore.SetClock(st, clock.Now)
			const life = 30 * 24 * time.Hour
			key := st.UserIndexPrefix() + "{user:u}"
			for day := range 365 {
				now := clock.Now()
				if err := st.IndexUserSession(t.Context(), "u", fmt.Sprintf("s%03d", day), now, now.Add(life)); err != nil {
					t.Fatal(err)
				}
				n, err := client.ZCard(t.Context(), key).Result()
				if err != nil {
					t.Fatal(err)
				}
				m, err := client.HLen(t.Context(), key+"used").Result()
				if err != nil {
					t.Fatal(err)
				}
				if n > 31 || m != n {
					t.Fatalf("day %d: %d entries, %d last-use times; want at most 31, as many", day, n, m)
				}
				clock.Advance(24 * time.Hour)
			}
			ttl, err := client.PTTL(t.Context(), key).Result()
			if err != nil || ttl <= 0 {
				t.Fatalf("the index key's TTL = %v, %v; want one (it must expire with the last session)", ttl, err)
			}
		})
	}
}

func BenchmarkUsers(b *testing.B) {
	apptest.BenchmarkUsers(b, newUserBenchStore(b))
}

func newUserBenchStore(b *testing.B) session.Store { return newStore(standalone(b)) }

func TestUserIndexPrefixDefaultsBesideTheSessionPrefix(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialled
	t.Cleanup(func() { client.Close() })
	for _, c := range []struct {
		opts []redisstore.Option
		want string
	}{
		{nil, redisstore.DefaultUserIndexPrefix},
		{[]redisstore.Option{redisstore.WithPrefix("myapp:sess:")}, "myapp:sessuser:"},
		{[]redisstore.Option{redisstore.WithPrefix("a:"), redisstore.WithUserIndexPrefix("users:")}, "users:"},
		{[]redisstore.Option{redisstore.WithPrefix("a:"), redisstore.WithUserIndexPrefix("")}, "auser:"},
	} {
		if got := redisstore.New(client, c.opts...).UserIndexPrefix(); got != c.want {
			t.Errorf("UserIndexPrefix with %d options = %q, want %q", len(c.opts), got, c.want)
		}
	}
	if redisstore.DefaultUserIndexPrefix != "sessuser:" {
		t.Errorf("DefaultUserIndexPrefix = %q", redisstore.DefaultUserIndexPrefix)
	}
}

// connectRedisKeys returns the keys connect-redis 9 takes for sessions
// (getAllKeys in its index.ts: SCAN MATCH prefix + "*" on the client, or on
// every master of a Cluster), which its length() counts and ids() lists.
func connectRedisKeys(t *testing.T, client redis.UniversalClient, prefix string) []string {
	t.Helper()
	var (
		mu   sync.Mutex
		keys []string
	)
	scan := func(ctx context.Context, c redis.UniversalClient) error {
		iter := c.Scan(ctx, 0, prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			mu.Lock()
			keys = append(keys, iter.Val())
			mu.Unlock()
		}
		return iter.Err()
	}
	var err error
	if cc, ok := client.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(t.Context(), func(ctx context.Context, n *redis.Client) error { return scan(ctx, n) })
	} else {
		err = scan(t.Context(), client)
	}
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

// TestExpressSeesNoPhantomSessionsOfTheUserIndex logs a user in on two
// devices: connect-redis, sharing the prefix, finds the two sessions and
// nothing else under it, where it used to count the user's two index keys
// as two sessions more (its all() skipped them: MGET gives nil for them).
func TestExpressSeesNoPhantomSessionsOfTheUserIndex(t *testing.T) {
	for name, client := range map[string]redis.UniversalClient{"standalone": standalone(t), "cluster": cluster(t)} {
		t.Run(name, func(t *testing.T) {
			st := newStore(client)
			a := apptest.New(t, st, nil)
			var want []string
			for range 2 {
				want = append(want, st.Prefix()+a.MustDo(t, "/login?u=alice", nil).Body)
			}
			slices.Sort(want)
			if got := connectRedisKeys(t, client, st.Prefix()); !slices.Equal(got, want) {
				t.Errorf("connect-redis's keys under %q: %q; want the two sessions only", st.Prefix(), got)
			}
			if n, err := st.Count(t.Context()); n != 2 || err != nil {
				t.Errorf("Count = %d, %v; want 2", n, err)
			}
			if infos, err := a.Manager.UserSessions(t.Context(), "alice"); len(infos) != 2 || err != nil {
				t.Errorf("UserSessions = %d sessions, %v; want 2", len(infos), err)
			}
			idx := connectRedisKeys(t, client, st.UserIndexPrefix())
			if wantIdx := []string{st.UserIndexPrefix() + "{user:alice}", st.UserIndexPrefix() + "{user:alice}used"}; !slices.Equal(idx, wantIdx) {
				t.Errorf("keys under the user index prefix: %q, want %q", idx, wantIdx)
			}
		})
	}
}

// TestUserIndexOfAnEarlierVersionIsMovedAndEndsItsSessions upgrades a
// deployment whose index keys are under the session prefix, as earlier
// versions kept them (WithUserIndexPrefix of the session prefix writes that
// layout): before any index call the old keys are no sessions to IDs and
// Count; the first listing of a user, or the first index write (a login),
// moves the user's old entries to the new keys, merged with any there;
// DestroyUserSessions ends every session indexed before the upgrade;
// UnindexUserSession removes an entry the old keys still hold.
func TestUserIndexOfAnEarlierVersionIsMovedAndEndsItsSessions(t *testing.T) {
	for name, client := range map[string]redis.UniversalClient{"standalone": standalone(t), "cluster": cluster(t)} {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			prefix := testserver.UniquePrefix() + "sess:"
			before := apptest.New(t, redisstore.New(client, redisstore.WithPrefix(prefix), redisstore.WithUserIndexPrefix(prefix)), nil)
			login := func(a *apptest.App, user string) ([]*http.Cookie, string) {
				r := a.MustDo(t, "/login?u="+user, nil)
				return r.Cookies, r.Body
			}
			aliceCookies := make([][]*http.Cookie, 2)
			aliceIDs := make([]string, 2)
			for i := range 2 {
				aliceCookies[i], aliceIDs[i] = login(before, "alice")
			}
			_, bobOld := login(before, "bob")
			_, carolID := login(before, "carol")
			exists := func(key string) bool {
				t.Helper()
				n, err := client.Exists(ctx, key).Result()
				if err != nil {
					t.Fatal(err)
				}
				return n == 1
			}
			for _, u := range []string{"alice", "bob", "carol"} {
				if !exists(prefix + "{user:" + u + "}") {
					t.Fatalf("the earlier layout left no key %s{user:%s}", prefix, u)
				}
			}

			st := redisstore.New(client, redisstore.WithPrefix(prefix))
			after := apptest.New(t, st, nil)
			if n, err := st.Count(ctx); n != 4 || err != nil {
				t.Errorf("Count over the earlier layout = %d, %v; want the 4 sessions", n, err)
			}
			ids, err := st.IDs(ctx)
			if err != nil || len(ids) != 4 {
				t.Errorf("IDs over the earlier layout = %q, %v; want the 4 sessions", ids, err)
			}

			// alice: moved by the first listing.
			infos, err := after.Manager.UserSessions(ctx, "alice")
			if err != nil || len(infos) != 2 {
				t.Fatalf("UserSessions(alice) after the upgrade = %d sessions, %v; want her 2", len(infos), err)
			}
			newKey := st.UserIndexPrefix() + "{user:alice}"
			if exists(prefix+"{user:alice}") || exists(prefix+"{user:alice}used") {
				t.Errorf("alice's keys of the earlier layout are still there after a listing")
			}
			if ttl := client.PTTL(ctx, newKey).Val(); ttl <= 0 || ttl > redisstore.DefaultTTL+session.IndexGrace {
				t.Errorf("PTTL of %s = %v; want the latest session's expiry plus IndexGrace", newKey, ttl)
			}
			if ttl := client.PTTL(ctx, newKey+"used").Val(); ttl <= 0 {
				t.Errorf("PTTL of %sused = %v; want one", newKey, ttl)
			}
			for _, info := range infos {
				if info.LastUsed.IsZero() || info.Expires.IsZero() {
					t.Errorf("moved entry %s: LastUsed %v, Expires %v; want both kept", info.ShortID(), info.LastUsed, info.Expires)
				}
			}
			n, err := after.Manager.DestroyUserSessions(ctx, "alice")
			if err != nil || n != 2 {
				t.Fatalf("DestroyUserSessions(alice) = %d, %v; want 2", n, err)
			}
			for i, c := range aliceCookies {
				if u := after.MustDo(t, "/whoami", c).Body; u != "" {
					t.Errorf("alice's session %d after DestroyUserSessions: user %q, want none", i, u)
				}
			}

			// bob: a new login merges his old entry with the new one.
			_, bobNew := login(after, "bob")
			if exists(prefix + "{user:bob}") {
				t.Errorf("bob's key of the earlier layout is still there after a login")
			}
			infos, err = after.Manager.UserSessions(ctx, "bob")
			got := make([]string, len(infos))
			for i, info := range infos {
				got[i] = info.ID
			}
			slices.Sort(got)
			want := []string{bobOld, bobNew}
			slices.Sort(want)
			if err != nil || !slices.Equal(got, want) {
				t.Errorf("UserSessions(bob) = %d sessions, %v; want the one from before the upgrade and the new one", len(got), err)
			}

			// carol: removing her entry (as an unbinding save does, with no
			// index write before it) removes it from the old keys too.
			if err := st.UnindexUserSession(ctx, "carol", carolID); err != nil {
				t.Fatal(err)
			}
			if exists(prefix + "{user:carol}") {
				t.Errorf("carol's entry is still in the earlier layout's keys after UnindexUserSession")
			}
			if infos, err := after.Manager.UserSessions(ctx, "carol"); err != nil || len(infos) != 0 {
				t.Errorf("UserSessions(carol) after UnindexUserSession = %d sessions, %v; want none", len(infos), err)
			}
		})
	}
}

// TestClearDeletesTheUserIndexOfBothLayouts: Clear deletes the sessions,
// the index keys under the session prefix (an earlier version's) and under
// the user index prefix, and leaves a key that only starts with the user
// index prefix.
func TestClearDeletesTheUserIndexOfBothLayouts(t *testing.T) {
	client := standalone(t)
	ctx := t.Context()
	prefix := testserver.UniquePrefix() + "sess:"
	apptest.New(t, redisstore.New(client, redisstore.WithPrefix(prefix), redisstore.WithUserIndexPrefix(prefix)), nil).MustDo(t, "/login?u=alice", nil)
	st := redisstore.New(client, redisstore.WithPrefix(prefix))
	apptest.New(t, st, nil).MustDo(t, "/login?u=bob", nil)
	other := st.UserIndexPrefix() + "not-an-index-key"
	if err := client.Set(ctx, other, "x", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	if err := st.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	if left := connectRedisKeys(t, client, prefix); len(left) != 0 {
		t.Errorf("under the session prefix after Clear: %q", left)
	}
	if left := connectRedisKeys(t, client, st.UserIndexPrefix()); !slices.Equal(left, []string{other}) {
		t.Errorf("under the user index prefix after Clear: %q; want only %q", left, other)
	}
}

// TestFirstListingMovesALargeIndexOfAnEarlierVersionWhole upgrades a user
// with many sessions indexed under the earlier layout: the first listing
// lists every entry with its expiry and last use, and moves the two keys
// whole (RENAME) into a user index that has none yet, so that it costs the
// server about what a listing costs. The move copied the hash field by
// field (an HGET and an HSET per entry) and the sorted set with a
// ZUNIONSTORE, in the script that blocks the server: about 13 µs an entry,
// some 2.7 s for a user with 200,000 sessions, past go-redis's default
// read timeout and, for a few hundred thousand, Redis's busy-script limit
// (5 s), after which it answers every other client BUSY.
func TestFirstListingMovesALargeIndexOfAnEarlierVersionWhole(t *testing.T) {
	srv := testserver.StartRedis(t) // commandstats: the server to itself
	client := clientOf(t, srv)
	ctx := t.Context()
	st := newStore(client)
	now := time.Now().Truncate(time.Millisecond)
	exp, used := now.Add(time.Hour), now.Add(-time.Minute)
	old := st.Prefix() + "{user:bot}"
	const n = 10_000
	p := client.Pipeline()
	for i := range n {
		id := fmt.Sprintf("s%05d", i)
		p.ZAdd(ctx, old, redis.Z{Score: float64(exp.UnixMilli()), Member: id})
		p.HSet(ctx, old+"used", id, used.UnixMilli())
	}
	if _, err := p.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	list := func() (listed, commands int) {
		t.Helper()
		calls := testserver.RedisCommandsDuring(t, srv.Addr, func() {
			err := st.UserSessions(ctx, "bot", func(id string, u, e time.Time, _ []byte) {
				if !u.Equal(used) || !e.Equal(exp) {
					t.Errorf("entry %s: last use %v, expiry %v; want %v, %v", id, u, e, used, exp)
				}
				listed++
			})
			if err != nil {
				t.Fatal(err)
			}
		})
		for _, c := range calls {
			commands += c
		}
		return listed, commands
	}
	var second int
	listed, first := list()
	if listed != n {
		t.Errorf("the first listing after the upgrade listed %d entries, want %d", listed, n)
	}
	if client.Exists(ctx, old, old+"used").Val() != 0 {
		t.Error("the keys of the earlier layout are still there after the first listing")
	}
	if listed, second = list(); listed != n {
		t.Errorf("the second listing listed %d entries, want %d", listed, n)
	}
	if first > second+20 {
		t.Errorf("the first listing after the upgrade ran %d commands, the next one %d; want the keys moved whole, not entry by entry", first, second)
	}
}

// TestUserIndexMergesWhatAnEarlierVersionIndexedAfterTheMove runs an
// instance of an earlier version (the old layout) beside a new one, as in a
// rolling upgrade: entries that the earlier one writes after the new one
// moved the user's keys are merged into the new keys by the next listing,
// an entry in both keeping the later expiry and the later last use.
func TestUserIndexMergesWhatAnEarlierVersionIndexedAfterTheMove(t *testing.T) {
	for name, client := range map[string]redis.UniversalClient{"standalone": standalone(t), "cluster": cluster(t)} {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			prefix := testserver.UniquePrefix() + "sess:"
			st := redisstore.New(client, redisstore.WithPrefix(prefix))
			now := time.Now().Truncate(time.Millisecond)
			for _, id := range []string{"both", "new"} {
				if err := st.IndexUserSession(ctx, "u", id, now, now.Add(time.Hour)); err != nil {
					t.Fatal(err)
				}
			}
			// What the earlier version's index script writes.
			old := prefix + "{user:u}"
			earlier := func(id string, used, expires time.Time) {
				t.Helper()
				_, err := client.TxPipelined(ctx, func(p redis.Pipeliner) error {
					p.ZAdd(ctx, old, redis.Z{Score: float64(expires.UnixMilli()), Member: id})
					p.HSet(ctx, old+"used", id, used.UnixMilli())
					p.PExpireAt(ctx, old, expires.Add(session.IndexGrace))
					p.PExpireAt(ctx, old+"used", expires.Add(session.IndexGrace))
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			earlier("both", now.Add(-time.Minute), now.Add(2*time.Hour))
			earlier("old", now, now.Add(time.Hour))

			type entry struct{ used, expires time.Time }
			got := map[string]entry{}
			if err := st.UserSessions(ctx, "u", func(id string, used, expires time.Time, _ []byte) { got[id] = entry{used, expires} }); err != nil {
				t.Fatal(err)
			}
			want := map[string]entry{
				"both": {now, now.Add(2 * time.Hour)},
				"new":  {now, now.Add(time.Hour)},
				"old":  {now, now.Add(time.Hour)},
			}
			if len(got) != len(want) {
				t.Errorf("UserSessions listed %v, want %v", got, want)
			}
			for id, w := range want {
				if g, ok := got[id]; !ok || !g.used.Equal(w.used) || !g.expires.Equal(w.expires) {
					t.Errorf("entry %s: %v (listed %v), want last use %v and expiry %v", id, g, ok, w.used, w.expires)
				}
			}
			if n := client.Exists(ctx, old, old+"used").Val(); n != 0 {
				t.Errorf("%d keys of the earlier layout left after the listing", n)
			}
			key := st.UserIndexPrefix() + "{user:u}"
			for _, k := range []string{key, key + "used"} {
				if ttl := client.PTTL(ctx, k).Val(); ttl <= time.Hour+session.IndexGrace || ttl > 2*time.Hour+session.IndexGrace {
					t.Errorf("PTTL of %s = %v, want the latest expiry (2h) plus IndexGrace", k, ttl)
				}
			}
		})
	}
}

// TestRollingUpgradeThroughTheEarlierLayoutMissesNoSession follows the
// upgrade that WithUserIndexPrefix documents for a deployment that must
// not miss a session while instances of two versions run side by side:
// first every instance keeps the earlier layout (WithUserIndexPrefix of the
// session prefix), then, instance by instance, none. While both kinds run,
// a user logs in on either, and "log out everywhere" on either ends every
// session: each lists, and moves into its own layout, the keys of the
// other. The instances that kept the earlier layout read its keys only, so
// once a new instance had moved a user's keys, their DestroyUserSessions
// ended none of that user's sessions.
func TestRollingUpgradeThroughTheEarlierLayoutMissesNoSession(t *testing.T) {
	for name, client := range map[string]redis.UniversalClient{"standalone": standalone(t), "cluster": cluster(t)} {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			for _, prefix := range []string{testserver.UniquePrefix() + "sess:", testserver.UniquePrefix() + "sess"} {
				earlier := redisstore.New(client, redisstore.WithPrefix(prefix), redisstore.WithUserIndexPrefix(prefix))
				phase1 := apptest.New(t, earlier, nil)
				st := redisstore.New(client, redisstore.WithPrefix(prefix))
				phase2 := apptest.New(t, st, nil)
				for i, c := range []struct {
					login, logout *apptest.App
				}{{phase1, phase2}, {phase2, phase1}, {phase1, phase1}, {phase2, phase2}} {
					user := fmt.Sprint("u", i)
					var cookies [][]*http.Cookie
					for _, a := range []*apptest.App{c.login, phase1, phase2, c.login} {
						cookies = append(cookies, a.MustDo(t, "/login?u="+user, nil).Cookies)
						// A listing on the other kind of instance between
						// the logins moves the keys there.
						if _, err := phase1.Manager.UserSessions(ctx, user); err != nil {
							t.Fatal(err)
						}
					}
					if _, err := phase2.Manager.UserSessions(ctx, user); err != nil {
						t.Fatal(err)
					}
					if n, err := c.logout.Manager.DestroyUserSessions(ctx, user); err != nil || n != len(cookies) {
						t.Errorf("prefix %q, case %d: DestroyUserSessions = %d, %v; want all %d sessions of %s", prefix, i, n, err, len(cookies), user)
					}
					for j, ck := range cookies {
						if u := phase2.MustDo(t, "/whoami", ck).Body; u != "" {
							t.Errorf("prefix %q, case %d: session %d still logged in as %q after DestroyUserSessions", prefix, i, j, u)
						}
					}
				}
				// Neither kind of instance takes the other's index keys for
				// sessions (with a session prefix without a final colon,
				// the default user index prefix starts with it), and
				// Clear deletes both layouts.
				for _, a := range []*apptest.App{phase1, phase2, phase1} {
					a.MustDo(t, "/login?u=last", nil)
				}
				if _, err := phase2.Manager.UserSessions(ctx, "last"); err != nil {
					t.Fatal(err) // the index keys are now in phase 2's layout
				}
				for _, s := range []*redisstore.Store{earlier, st} {
					if n, err := s.Count(ctx); err != nil || n != 3 {
						t.Errorf("prefix %q: Count of the store with user index prefix %q = %d, %v; want the 3 sessions", prefix, s.UserIndexPrefix(), n, err)
					}
				}
				if err := earlier.Clear(ctx); err != nil {
					t.Fatal(err)
				}
				for _, p := range []string{prefix, st.UserIndexPrefix()} {
					if keys := connectRedisKeys(t, client, p); len(keys) != 0 {
						t.Errorf("prefix %q: keys under %q after Clear: %q", prefix, p, keys)
					}
				}
			}
		})
	}
}

// A user index prefix whose keys would hash to another Cluster slot than
// the earlier layout's (a session prefix with a hash tag of its own, and a
// user index prefix without it) is refused: the earlier layout's keys could
// never be moved, and DestroyUserSessions would miss their sessions. New
// panics, naming both prefixes; CheckUserIndexPrefix says so beforehand.
func TestNewRefusesAUserIndexPrefixInAnotherSlotThanTheEarlierLayout(t *testing.T) {
	for _, c := range []struct {
		prefix, userPrefix string
		ok                 bool
	}{
		{"{app}:sess:", "appuser:", false},
		{"{app}:sess:", "{other}:users:", false},
		{"sess:", "{app}users:", false},
		{"sess:", "users{", false},
		{"app{sess:", "appuser:", false},
		{"{}sess:", "users:", false},
		{"{app}:sess:", "{app}:users:", true},
		{"{app}:sess:", "", true},
		{"{app}:sess:", "{app}:sess:", true},
		{"sess:", "users:", true},
		{"app{sess:", "", true},
		{"app{sess:", "idx{sess:", true},
		{"{}sess:", "", true},
	} {
		err := redisstore.CheckUserIndexPrefix(c.prefix, c.userPrefix)
		if c.ok != (err == nil) {
			t.Errorf("CheckUserIndexPrefix(%q, %q) = %v; want ok %v", c.prefix, c.userPrefix, err, c.ok)
			continue
		}
		if err != nil && (!strings.Contains(err.Error(), fmt.Sprintf("%q", c.prefix)) || !strings.Contains(err.Error(), fmt.Sprintf("%q", c.userPrefix))) {
			t.Errorf("CheckUserIndexPrefix(%q, %q) = %v; want both prefixes named", c.prefix, c.userPrefix, err)
		}
	}

	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialled
	t.Cleanup(func() { client.Close() })
	defer func() {
		msg := fmt.Sprint(recover())
		if !strings.Contains(msg, `"{app}:sess:"`) || !strings.Contains(msg, `"appuser:"`) {
			t.Errorf("New with session prefix {app}:sess: and user index prefix appuser: panicked with %q; want an error naming both", msg)
		}
	}()
	redisstore.New(client, redisstore.WithPrefix("{app}:sess:"), redisstore.WithUserIndexPrefix("appuser:"))
}

// The default user index prefix always keeps a user's keys in the slot of
// the earlier layout's, so that they are moved: with a session prefix that
// has a hash tag, the default keeps it; with one whose '{' is never closed,
// where "<prefix without colon>user:" would hash elsewhere, the default is
// the session prefix itself, and what an earlier version indexed is listed
// and ended, on a single server and on a Cluster.
func TestDefaultUserIndexPrefixReadsTheEarlierLayoutWhateverTheSessionPrefix(t *testing.T) {
	for name, client := range map[string]redis.UniversalClient{"standalone": standalone(t), "cluster": cluster(t)} {
		for _, c := range []struct{ prefix, wantUserPrefix string }{
			{"{app}:sess:", "{app}:sessuser:"},
			{"app{sess:", "app{sess:"},
		} {
			t.Run(name+"/"+c.prefix, func(t *testing.T) {
				ctx := t.Context()
				prefix := testserver.UniquePrefix() + c.prefix
				before := apptest.New(t, redisstore.New(client, redisstore.WithPrefix(prefix), redisstore.WithUserIndexPrefix(prefix)), nil)
				var cookies [][]*http.Cookie
				for range 2 {
					cookies = append(cookies, before.MustDo(t, "/login?u=alice", nil).Cookies)
				}

				st := redisstore.New(client, redisstore.WithPrefix(prefix))
				if want := strings.TrimSuffix(prefix, c.prefix) + c.wantUserPrefix; st.UserIndexPrefix() != want {
					t.Errorf("UserIndexPrefix for session prefix %q = %q, want %q", prefix, st.UserIndexPrefix(), want)
				}
				after := apptest.New(t, st, nil)
				if infos, err := after.Manager.UserSessions(ctx, "alice"); err != nil || len(infos) != 2 {
					t.Fatalf("UserSessions(alice) after the upgrade = %d sessions, %v; want the 2 the earlier layout indexed", len(infos), err)
				}
				if n, err := after.Manager.DestroyUserSessions(ctx, "alice"); err != nil || n != 2 {
					t.Fatalf("DestroyUserSessions(alice) = %d, %v; want 2", n, err)
				}
				for i, ck := range cookies {
					if u := after.MustDo(t, "/whoami", ck).Body; u != "" {
						t.Errorf("alice's session %d after DestroyUserSessions: user %q, want none", i, u)
					}
				}
			})
		}
	}
}

// A user index prefix that starts with the session prefix without being it
// ("sess:users:" for "sess:") is refused: connect-redis, which takes every
// key under its prefix for a session, would count the index keys, and so
// would a store not given the option (an instance of an earlier version, or
// sessionctl without user_index_prefix), whose IDs list them and whose Get
// of them fails (WRONGTYPE). New panics, naming both prefixes;
// CheckUserIndexPrefix says so beforehand. With every prefix it accepts but
// the session prefix itself, the keys under the session prefix are the
// sessions alone.
func TestNewRefusesAUserIndexPrefixUnderTheSessionPrefix(t *testing.T) {
	for _, c := range []struct {
		prefix, userPrefix string
		ok                 bool
	}{
		{"sess:", "sess:users:", false},
		{"app:sess:", "app:sess:idx:", false},
		{"{app}:sess:", "{app}:sess:users:", false},
		{"sess", "sessuser:", false}, // what the default is for this prefix: leave the option out for it
		{"sess:", "sess:", true},     // the earlier layout
		{"sess:", "", true},
		{"sess:", "users:", true},
		{"sess:", "se:", true},
		{"app:sess:", "app:users:", true},
		{"{app}:sess:", "{app}:users:", true},
		{"", "users:", true}, // no prefix: IDs, Count and Clear refuse to run
	} {
		err := redisstore.CheckUserIndexPrefix(c.prefix, c.userPrefix)
		if c.ok != (err == nil) {
			t.Errorf("CheckUserIndexPrefix(%q, %q) = %v; want ok %v", c.prefix, c.userPrefix, err, c.ok)
			continue
		}
		if err != nil && (!strings.Contains(err.Error(), fmt.Sprintf("%q", c.prefix)) || !strings.Contains(err.Error(), fmt.Sprintf("%q", c.userPrefix)) || !strings.Contains(err.Error(), "starts with the session prefix")) {
			t.Errorf("CheckUserIndexPrefix(%q, %q) = %v; want both prefixes named, and why", c.prefix, c.userPrefix, err)
		}
	}

	client := standalone(t)
	func() {
		defer func() {
			if msg := fmt.Sprint(recover()); !strings.Contains(msg, `"sess:users:"`) || !strings.Contains(msg, "starts with the session prefix") {
				t.Errorf("New with session prefix sess: and user index prefix sess:users: panicked with %q; want CheckUserIndexPrefix's error", msg)
			}
		}()
		redisstore.New(client, redisstore.WithPrefix("sess:"), redisstore.WithUserIndexPrefix("sess:users:"))
	}()

	ctx := t.Context()
	for _, userPrefix := range []string{"", "users:", "sess"} {
		t.Run("userPrefix="+userPrefix, func(t *testing.T) {
			unique := testserver.UniquePrefix()
			prefix := unique + "sess:"
			opts := []redisstore.Option{redisstore.WithPrefix(prefix)}
			if userPrefix != "" {
				opts = append(opts, redisstore.WithUserIndexPrefix(unique+userPrefix))
			}
			app := apptest.New(t, redisstore.New(client, opts...), nil)
			for _, u := range []string{"alice", "alice", "bob"} {
				app.MustDo(t, "/login?u="+u, nil)
			}
			// connect-redis's length() and ids(): every key under the prefix.
			keys, err := client.Keys(ctx, prefix+"*").Result()
			if err != nil || len(keys) != 3 {
				t.Errorf("keys under the session prefix %q = %q, %v; want the 3 sessions alone", prefix, keys, err)
			}
			// An earlier version skips only the earlier layout's index keys.
			earlier := redisstore.New(client, redisstore.WithPrefix(prefix), redisstore.WithUserIndexPrefix(prefix))
			if n, err := earlier.Count(ctx); err != nil || n != 3 {
				t.Errorf("Count of a store keeping the earlier layout = %d, %v; want the 3 sessions", n, err)
			}
		})
	}
}

// A session prefix that is the default user index prefix of another
// session prefix ("sessuser:" is "sess:"'s) is refused: the keys of the
// earlier layout of its own user index, "sessuser:{user:<user>}", which it
// moves into its own index on each index write or listing of the user and
// which Clear deletes, are the other store's user index. A second app
// given that prefix deleted the first app's index with its Clear, and
// took a user's index from it at each login of that user, so that the
// first app's DestroyUserSessions ("log out everywhere") ended none of
// its sessions. New panics, naming the other prefix;
// CheckUserIndexPrefix says so beforehand.
func TestNewRefusesASessionPrefixThatIsAnotherStoresDefaultUserIndexPrefix(t *testing.T) {
	for _, c := range []struct {
		prefix, other string // other: the session prefix whose default user index prefix prefix is
	}{
		{"sessuser:", "sess:"},
		{"myapp:sessuser:", "myapp:sess:"},
		{"{app}:sessuser:", "{app}:sess:"},
		{"user:", ":"},
		{"sess:", ""},
		{"sessuser2:", ""},
		{"users:", ""},
		{"app:user:", ""}, // the default of no session prefix but "app::"
		{"app{sessuser:", ""},
	} {
		for _, userPrefix := range []string{"", c.prefix} { // the default, and the earlier layout's
			err := redisstore.CheckUserIndexPrefix(c.prefix, userPrefix)
			if (c.other != "") != (err != nil) {
				t.Errorf("CheckUserIndexPrefix(%q, %q) = %v; want refused %v", c.prefix, userPrefix, err, c.other != "")
				continue
			}
			if err != nil && (!strings.Contains(err.Error(), fmt.Sprintf("%q", c.prefix)) || !strings.Contains(err.Error(), fmt.Sprintf("%q", c.other))) {
				t.Errorf("CheckUserIndexPrefix(%q, %q) = %v; want the prefix and the session prefix it is the user index prefix of named", c.prefix, userPrefix, err)
			}
		}
	}

	ctx := t.Context()
	client := standalone(t)
	unique := testserver.UniquePrefix()
	a := apptest.New(t, redisstore.New(client, redisstore.WithPrefix(unique+"sess:")), nil)
	a.MustDo(t, "/login?u=alice", nil)
	indexKey := unique + "sessuser:{user:alice}"
	if n, err := client.Exists(ctx, indexKey).Result(); err != nil || n != 1 {
		t.Fatalf("app A's index key %s: %d, %v", indexKey, n, err)
	}
	var b *redisstore.Store
	panicked := func() (msg any) {
		defer func() { msg = recover() }()
		b = redisstore.New(client, redisstore.WithPrefix(unique+"sessuser:"))
		return nil
	}()
	if panicked != nil {
		if msg := fmt.Sprint(panicked); !strings.Contains(msg, fmt.Sprintf("%q", unique+"sess:")) {
			t.Errorf("New with A's user index prefix as session prefix panicked with %q; want CheckUserIndexPrefix's error", msg)
		}
		return
	}
	// Not refused: what B then does to A's index. A login of alice in B:
	if err := b.IndexUserSession(ctx, "alice", storetest.NewID(), time.Now(), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if infos, err := a.Manager.UserSessions(ctx, "alice"); err != nil || len(infos) != 1 {
		t.Errorf("New accepted A's user index prefix %q as a session prefix, and after a login of alice in that store A's UserSessions(alice) listed %d sessions, %v; want A's one", unique+"sessuser:", len(infos), err)
	}
	a.MustDo(t, "/login?u=alice", nil)
	if err := b.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := client.Exists(ctx, indexKey).Result(); err != nil || n != 1 {
		t.Errorf("New accepted A's user index prefix %q as a session prefix, and that store's Clear deleted A's index of alice (%s: %d, %v)", unique+"sessuser:", indexKey, n, err)
	}
}
