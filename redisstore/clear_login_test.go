package redisstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/redisstore"
	"github.com/sessionkit/session/storetest"
)

// TestClearDuringALoginLeavesNoLiveSessionUnlisted: a login during Clear
// stores its session, then records its index entry. Clear deleted the
// sessions' keys first and the index keys after: a login whose session
// came after the sessions' SCAN and whose entry came before the index's
// lost its entry, and the session outlived Clear, live, unlisted by
// UserSessions and out of DestroyUserSessions' reach ("log out everywhere"
// left it logged in) until its next touch. The index keys go first now: an
// entry Clear deletes belongs to a session stored before the sessions' SCAN
// began, which finds it and deletes it too.
//
// The login runs as the server has answered the first SCAN of the index
// keys (the proxy then loses that answer, and go-redis sends the SCAN
// again).
func TestClearDuringALoginLeavesNoLiveSessionUnlisted(t *testing.T) {
	ctx := t.Context()
	direct := standalone(t)
	p := testserver.StartProxy(t, direct.Options().Addr)
	viaProxy := redis.NewClient(&redis.Options{Addr: p.Addr})
	t.Cleanup(func() { viaProxy.Close() })
	prefix := redisstore.WithPrefix(testserver.UniquePrefix() + "sess:")
	st, app := redisstore.New(viaProxy, prefix), redisstore.New(direct, prefix)
	exp := time.Now().Add(time.Hour)
	old := storetest.NewID()
	if err := app.Set(ctx, old, []byte(`{}`), exp); err != nil {
		t.Fatal(err)
	}
	if err := app.IndexUserSession(ctx, "bob", old, time.Now(), exp); err != nil {
		t.Fatal(err)
	}

	login := storetest.NewID()
	var (
		stored   bool
		loginErr error
	)
	p.LoseReply("{user:*", func() {
		_, stored, loginErr = app.CompareAndSwap(context.Background(), login, "", []byte(`{"u":"alice"}`), exp)
		if stored && loginErr == nil {
			loginErr = app.IndexUserSession(context.Background(), "alice", login, time.Now(), exp)
		}
	})
	if err := st.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	if !stored || loginErr != nil {
		t.Fatalf("the login during Clear: stored %v, %v", stored, loginErr)
	}
	if n := p.LostReplies(); n != 1 {
		t.Fatalf("the proxy lost %d answers, want the index SCAN's 1", n)
	}

	_, live, err := app.Get(ctx, login)
	if err != nil {
		t.Fatal(err)
	}
	listed := false
	if err := app.UserSessions(ctx, "alice", func(id string, _, _ time.Time, data []byte) {
		listed = listed || (id == login && data != nil)
	}); err != nil {
		t.Fatal(err)
	}
	if live && !listed {
		t.Errorf("the login's session outlived Clear, live, and UserSessions(alice) does not list it")
	}
}
