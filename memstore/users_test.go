package memstore_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/testclock"
	"github.com/sessionkit/session/internal/testserver/apptest"
	"github.com/sessionkit/session/memstore"
)

var (
	_ session.UserIndex        = (*memstore.Store)(nil)
	_ session.UserIndexRemover = (*memstore.Store)(nil)
)

func TestUserSessionScenarios(t *testing.T) {
	apptest.Users(t, func(t *testing.T) session.Store {
		st := memstore.New()
		t.Cleanup(func() { st.Close() })
		return st
	})
}

func BenchmarkUsers(b *testing.B) {
	apptest.BenchmarkUsers(b, newUserBenchStore(b))
}

func newUserBenchStore(b *testing.B) session.Store {
	st := memstore.New()
	b.Cleanup(func() { st.Close() })
	return st
}

// TestDestroyUserSessionsEndsASessionExpiringAfterYear2262 logs a user in
// with a "never expires" cookie, far past what int64 nanoseconds count: its
// index entry's prune deadline (expiry plus IndexGrace) wrapped into the
// past, the entry was pruned at once, and DestroyUserSessions missed it.
func TestDestroyUserSessionsEndsASessionExpiringAfterYear2262(t *testing.T) {
	ctx := context.Background()
	clock := testclock.New(testclock.Epoch())
	st := memstore.New(memstore.WithSweepInterval(0), memstore.WithClock(clock.Now))
	defer st.Close()
	m, err := session.New(session.Options{Secrets: []string{apptest.Secret}, Store: st, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	var id string
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.From(r)
		s.Cookie().SetExpires(clock.Now().AddDate(8000, 0, 0))
		s.SetUser("alice")
		id = s.ID()
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if _, found, err := st.Get(ctx, id); err != nil || !found {
		t.Fatalf("the login's session is not stored: %v", err)
	}
	clock.Set(clock.Now().AddDate(1, 0, 0))
	if _, err := st.PurgeExpired(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := m.DestroyUserSessions(ctx, "alice"); err != nil || n != 1 {
		t.Fatalf("DestroyUserSessions(alice) = %d, %v; want 1", n, err)
	}
	if _, found, _ := st.Get(ctx, id); found {
		t.Fatal("alice's session still works after DestroyUserSessions(alice)")
	}
}

// TestClearDeletesTheUserIndex: Clear deletes every session of the store,
// and its user index with them, where it left every user's entries: each
// listed without data until its expiry and grace (a month after a
// "remember me" login), held in memory all that time. (redisstore's Clear
// deletes its index keys too.)
func TestClearDeletesTheUserIndex(t *testing.T) {
	ctx := t.Context()
	st := memstore.New()
	t.Cleanup(func() { st.Close() })
	exp := time.Now().Add(30 * 24 * time.Hour)
	for _, id := range []string{"s1", "s2"} {
		if err := st.Set(ctx, id, []byte(`{}`), exp); err != nil {
			t.Fatal(err)
		}
		if err := st.IndexUserSession(ctx, "alice", id, time.Now(), exp); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	var listed []string
	if err := st.UserSessions(ctx, "alice", func(id string, _, _ time.Time, _ []byte) { listed = append(listed, id) }); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 0 {
		t.Errorf("UserSessions(alice) after Clear lists %q; want none", listed)
	}
}
