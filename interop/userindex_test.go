package interop

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/internal/testserver/apptest"
	"github.com/sessionkit/session/redisstore"
)

// nodeStore calls the Express app's /store/<method> (connect-redis's
// length() or ids()) and decodes the answer into out.
func nodeStore(t *testing.T, node *peer, method string, out any) {
	t.Helper()
	resp, err := http.Get(node.URL + "/store/" + method)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /store/%s: %s\n%s", method, resp.Status, node.Log())
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("GET /store/%s: %v", method, err)
	}
}

// TestExpressCountsGoUsersSessionsAndNoIndexKeys logs a user in twice on
// the Go app (SetUser, so redisstore keeps its user index) and creates one
// session on the Express app: connect-redis's length() is 3 and its ids()
// are those three sessions. With the index keys under the session prefix,
// as before WithUserIndexPrefix, length() was 5 and ids() had
// "{user:alice}" and "{user:alice}used" among them.
func TestExpressCountsGoUsersSessionsAndNoIndexKeys(t *testing.T) {
	srv := testserver.SharedRedis(t)
	prefix := testserver.UniquePrefix() + "sess:"
	node, err := startPeerEnv("REDIS_URL=redis://"+srv.Addr, "SESSION_PREFIX="+prefix)
	checkStarted(t, err)
	t.Cleanup(node.stop)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { rdb.Close() })

	app := apptest.New(t, redisstore.New(rdb, redisstore.WithPrefix(prefix)), nil)
	var want []string
	for range 2 {
		want = append(want, app.MustDo(t, "/login?u=alice", nil).Body)
	}
	if infos, err := app.Manager.UserSessions(t.Context(), "alice"); err != nil || len(infos) != 2 {
		t.Fatalf("UserSessions(alice) = %d sessions, %v; want 2", len(infos), err)
	}
	b := (&world{t: t, node: node}).browser()
	b.nodeViews()
	want = append(want, b.nodeSession().ID)
	slices.Sort(want)

	var length struct{ Length int }
	nodeStore(t, node, "length", &length)
	if length.Length != 3 {
		t.Errorf("connect-redis length() = %d, want 3 (two Go sessions, one Express session)", length.Length)
	}
	var ids struct{ IDs []string }
	nodeStore(t, node, "ids", &ids)
	if !slices.Equal(ids.IDs, want) {
		t.Errorf("connect-redis ids() = %q, want the three sessions %q", ids.IDs, want)
	}
}
