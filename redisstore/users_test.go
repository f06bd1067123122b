package redisstore_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/testclock"
	"github.com/sessionkit/session/internal/testserver/apptest"
	"github.com/sessionkit/session/redisstore"
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
