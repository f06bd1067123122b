package redisstore_test

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/testclock"
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
				return spoil(st.Prefix()+"{user:"+user+"}used", id)
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
	if err := client.ZAdd(ctx, st.Prefix()+"{user:inf}", redis.Z{Score: math.Inf(1), Member: spoiled}).Err(); err != nil {
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
	if ttl := client.PTTL(ctx, st.Prefix()+"{user:inf}").Val(); ttl != -1 {
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
			key := st.Prefix() + "{user:u}"
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
