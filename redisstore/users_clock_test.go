package redisstore_test

import (
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/redisstore"
)

// TestUserIndexOutlivesItsSessionsWhenTheAppClockIsBehindTheServers plays
// an app whose clock is ten minutes behind the Redis server's, with
// five-minute sessions. The session key's TTL is relative (SET PX, counted
// from when Redis receives it), so the session lives its five minutes
// whatever the two clocks say. The user index's keys must live as long:
// their expiry used to be absolute (PEXPIREAT of the latest entry's expiry
// plus IndexGrace, a time of the app's clock), which the server's clock had
// passed already, so it deleted the index at once and DestroyUserSessions
// ("log out everywhere") found nothing to end while the session lived on.
//
// The store's clock (SetClock) is the app's, from which Set's TTL counts
// too; the process clock stands for the server's.
func TestUserIndexOutlivesItsSessionsWhenTheAppClockIsBehindTheServers(t *testing.T) {
	const skew, life = 10 * time.Minute, 5 * time.Minute
	for _, sv := range servers {
		t.Run(sv.name, func(t *testing.T) {
			ctx := t.Context()
			client := sv.client(t)
			st := newStore(client)
			appNow := func() time.Time { return time.Now().Add(-skew) }
			redisstore.SetClock(st, appNow)

			now := appNow()
			if err := st.IndexUserSession(ctx, "alice", "s1", now, now.Add(life)); err != nil {
				t.Fatal(err)
			}
			if err := st.Set(ctx, "s1", []byte(`{"v":1}`), now.Add(life)); err != nil {
				t.Fatal(err)
			}

			var listed []string
			if err := st.UserSessions(ctx, "alice", func(id string, _, _ time.Time, data []byte) {
				if data != nil {
					listed = append(listed, id)
				}
			}); err != nil {
				t.Fatal(err)
			}
			if len(listed) != 1 || listed[0] != "s1" {
				t.Errorf("UserSessions listed %q with the session stored for another %v, want [s1]", listed, life)
			}
			key := st.UserIndexPrefix() + "{user:alice}"
			ttl, err := client.PTTL(ctx, key).Result()
			if err != nil {
				t.Fatal(err)
			}
			if want := life + session.IndexGrace; ttl <= life || ttl > want {
				t.Errorf("index key %s has TTL %v, want within (%v, %v]", key, ttl, life, want)
			}
		})
	}
}
