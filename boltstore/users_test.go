package boltstore_test

import (
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/boltstore"
	"github.com/sessionkit/session/internal/testserver/apptest"
)

func TestUserSessionScenarios(t *testing.T) {
	apptest.Users(t, func(t *testing.T) session.Store {
		st, err := boltstore.Open(filepath.Join(t.TempDir(), "sessions.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	})
}

func newUserStore(t *testing.T) *boltstore.Store {
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "sessions.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// spoilIndexEntry rewrites user's index entry of session id with
// spoil(its value), as a hand edit or another program would.
func spoilIndexEntry(st *boltstore.Store, user, id string, spoil func(v []byte) []byte) error {
	return st.DB().Update(func(tx *bbolt.Tx) error {
		u := tx.Bucket([]byte(st.UsersBucket())).Bucket([]byte(user))
		if u == nil {
			return fmt.Errorf("no index bucket for %q", user)
		}
		v := u.Get([]byte(id))
		if len(v) != 16 {
			return fmt.Errorf("index entry of %q: %d bytes, want 16", id, len(v))
		}
		return u.Put([]byte(id), spoil(append([]byte{}, v...)))
	})
}

// indexedUsers returns the users that have a bucket in st's index.
func indexedUsers(t *testing.T, st *boltstore.Store) []string {
	t.Helper()
	var users []string
	err := st.DB().View(func(tx *bbolt.Tx) error {
		ub := tx.Bucket([]byte(st.UsersBucket()))
		if ub == nil {
			return nil
		}
		return ub.ForEachBucket(func(k []byte) error { users = append(users, string(k)); return nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	return users
}

// TestUserSessionsListsAnEntryWithAnUnreadableLastUse spoils the last use of
// an index entry (its value grows past 16 bytes, the expiry intact): the
// entry is listed with a zero LastUsed and its session can be destroyed,
// where the listing used to skip it and the next index write of the user
// to delete it, leaving a session DestroyUserSessions could not end.
func TestUserSessionsListsAnEntryWithAnUnreadableLastUse(t *testing.T) {
	st := newUserStore(t)
	apptest.UnreadableLastUseIsListedAndDestroyed(t, st, func(user, id string) error {
		return spoilIndexEntry(st, user, id, func(v []byte) []byte { return append(v[:8], "garbage-used"...) })
	})
}

// TestUserSessionsListsAnEntryWithNoReadableExpiry spoils an index entry
// down to 3 bytes, so that neither its expiry nor its last use can be read:
// like pgstore's 'infinity', the entry is listed with a zero Expires (and
// LastUsed), index writes and PurgeExpired keep it while its session lives,
// the cap ends its session first (it was never used, as far as anyone can
// tell), and the manager's removal then takes the entry out. It used to be
// skipped by the listing and deleted by the user's next index write: a live
// session that neither the cap nor DestroyUserSessions could end.
func TestUserSessionsListsAnEntryWithNoReadableExpiry(t *testing.T) {
	ctx := t.Context()
	st := newUserStore(t)
	a := apptest.New(t, st, func(o *session.Options) { o.MaxSessionsPerUser = 3 })
	var cookies [][]*http.Cookie
	var ids []string
	login := func() {
		r := a.MustDo(t, "/login?u=frank", nil)
		cookies, ids = append(cookies, r.Cookies), append(ids, r.Body)
	}
	login()
	login()
	if err := spoilIndexEntry(st, "frank", ids[1], func([]byte) []byte { return []byte("???") }); err != nil {
		t.Fatal(err)
	}
	login() // an index write for frank: prunes his entries
	if _, err := st.PurgeExpired(ctx); err != nil {
		t.Fatalf("PurgeExpired with an unreadable expiry in the index: %v", err)
	}
	infos, err := a.Manager.UserSessions(ctx, "frank")
	if err != nil || len(infos) != 3 {
		t.Fatalf("UserSessions with an unreadable expiry = %d sessions, %v; want all three logins", len(infos), err)
	}
	if last := infos[2]; last.ID != ids[1] || !last.Expires.IsZero() || !last.LastUsed.IsZero() || infos[0].Expires.IsZero() || infos[1].Expires.IsZero() {
		t.Fatalf("UserSessions = %+v; want the intact sessions first, then the spoiled one with a zero Expires and LastUsed", infos)
	}
	login() // over the cap: ends the least recently used, the spoiled one
	if v := a.Values(t, cookies[1]); v.ID == ids[1] || !v.New {
		t.Errorf("the session with the spoiled entry survived the cap")
	}
	if n, err := a.Manager.DestroyUserSessions(ctx, "frank"); err != nil || n != 3 {
		t.Fatalf("DestroyUserSessions = %d, %v; want 3", n, err)
	}
	for i, id := range ids {
		if v := a.Values(t, cookies[i]); v.ID == id || !v.New {
			t.Errorf("login %d still has its session %.6s… after the cap and DestroyUserSessions", i, id)
		}
	}
	if users := indexedUsers(t, st); len(users) != 0 {
		t.Errorf("users left in the index after the manager removed every entry: %q", users)
	}
}

func BenchmarkUsers(b *testing.B) {
	apptest.BenchmarkUsers(b, newUserBenchStore(b))
}

func newUserBenchStore(b *testing.B) session.Store {
	st, err := boltstore.Open(filepath.Join(b.TempDir(), "sessions.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}

// TestClearDeletesTheUserIndex: Clear deletes every session of the store,
// and its user index with them, where it left the index bucket in the
// file: every user's id and their sessions' ids and last uses, listed
// without data until their expiry and grace (a month after a "remember me"
// login). (redisstore's Clear deletes its index keys too.)
func TestClearDeletesTheUserIndex(t *testing.T) {
	ctx := t.Context()
	st := newUserStore(t)
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
	if got := listed(t, st, "alice"); len(got) != 0 {
		t.Errorf("UserSessions(alice) after Clear lists %v; want none", got)
	}
	if users := indexedUsers(t, st); len(users) != 0 {
		t.Errorf("users in the index after Clear: %q; want none", users)
	}
}
