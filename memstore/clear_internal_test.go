package memstore

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"
)

// TestClearDuringALoginKeepsTheNewSessionsIndexEntry: a login that stores
// its session in a shard Clear has emptied already, then records its
// entry, while Clear is still on the other shards, keeps both. Clear
// emptied the shards first and the user index last, so it dropped the
// entry of a session that outlived it: the session stayed live, unlisted
// by UserSessions and out of DestroyUserSessions' reach ("log out
// everywhere" left it logged in). The index is emptied first now, as
// mongostore's Clear does: an entry it drops belongs to a session stored
// before the shards are emptied, which go with it.
func TestClearDuringALoginKeepsTheNewSessionsIndexEntry(t *testing.T) {
	st := New(WithSweepInterval(0))
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	first, last := &st.shards[0], &st.shards[numShards-1]
	idIn := func(sh *shard, prefix string) string {
		for i := 0; ; i++ {
			if id := fmt.Sprintf("%s%d", prefix, i); st.shard(id) == sh {
				return id
			}
		}
	}
	old, login := idIn(first, "old"), idIn(first, "login")
	if err := st.Set(ctx, old, []byte("{}"), exp); err != nil {
		t.Fatal(err)
	}

	// Clear empties the first shard and waits for the last one.
	last.mu.Lock()
	cleared := make(chan error, 1)
	go func() { cleared <- st.Clear(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		first.mu.RLock()
		n := len(first.m)
		first.mu.RUnlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			last.mu.Unlock()
			t.Fatal("Clear did not empty the first shard in 10s")
		}
		runtime.Gosched()
	}
	// The login: its session, then its entry, as the manager writes them.
	if _, swapped, err := st.CompareAndSwap(ctx, login, "", []byte("{}"), exp); err != nil || !swapped {
		last.mu.Unlock()
		t.Fatalf("storing the login's session: swapped %v, %v", swapped, err)
	}
	if err := st.IndexUserSession(ctx, "alice", login, time.Now(), exp); err != nil {
		last.mu.Unlock()
		t.Fatal(err)
	}
	last.mu.Unlock()
	if err := <-cleared; err != nil {
		t.Fatal(err)
	}

	if _, found, err := st.Get(ctx, login); err != nil || !found {
		t.Fatalf("the login's session after Clear: found %v, %v; want it stored", found, err)
	}
	var listed []string
	if err := st.UserSessions(ctx, "alice", func(id string, _, _ time.Time, data []byte) {
		if data != nil {
			listed = append(listed, id)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 1 || listed[0] != login {
		t.Errorf("UserSessions(alice) after Clear lists %q; want the live session %q", listed, login)
	}
}
