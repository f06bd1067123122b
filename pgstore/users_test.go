package pgstore_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/testserver/apptest"
	"github.com/sessionkit/session/pgstore"
	"github.com/sessionkit/session/storetest"
)

func TestUserSessionScenarios(t *testing.T) {
	pool := newPool(t)
	apptest.Users(t, func(t *testing.T) session.Store { return newStore(t, pool) })
}

// indexRows counts the rows of st's user index table.
func indexRows(t *testing.T, pool *pgxpool.Pool, st *pgstore.Store, where string, args ...any) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(t.Context(), `SELECT count(*) FROM `+st.UsersTable()+` `+where, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCreateTableMakesTheUserIndexTable(t *testing.T) {
	pool := newPool(t)
	if _, err := pgstore.New(pool, pgstore.WithCreateTable(), pgstore.WithCleanupInterval(0)); err != nil {
		t.Fatal(err)
	}
	got := describeTable(t, pool, "public", "session_users")
	want := []string{
		`column user_id bytea null=NO precision=-1 collation=""`,
		`column sid character varying null=NO precision=-1 collation=""`,
		`column used timestamp with time zone null=NO precision=6 collation=""`,
		`column expire timestamp with time zone null=NO precision=6 collation=""`,
		`constraint session_users_pkey PRIMARY KEY (user_id, sid)`,
		`index CREATE INDEX "IDX_session_users_expire" ON public.session_users USING btree (expire)`,
		`index CREATE UNIQUE INDEX session_users_pkey ON public.session_users USING btree (user_id, sid)`,
	}
	if !slices.Equal(got, want) {
		t.Fatalf("user index table made by WithCreateTable:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestUserIndexTableFollowsSchemaAndTable(t *testing.T) {
	pool := newPool(t)
	st, err := pgstore.New(pool, pgstore.WithSchema("My App"), pgstore.WithTable(`web "sessions"`), pgstore.WithCreateTable(), pgstore.WithCleanupInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	if want := `"My App"."web ""sessions""_users"`; st.UsersTable() != want {
		t.Fatalf("UsersTable() = %s, want %s", st.UsersTable(), want)
	}
	exp := time.Now().Add(time.Hour)
	if err := st.IndexUserSession(t.Context(), "u", "id1", time.Now(), exp); err != nil {
		t.Fatal(err)
	}
	if n := indexRows(t, pool, st, `WHERE user_id = 'u'`); n != 1 {
		t.Fatalf("%d rows in the named index table, want 1", n)
	}
}

func TestMissingUserIndexTableIsAClearError(t *testing.T) {
	pool := newPool(t)
	// A session table made for connect-pg-simple, without the index table.
	exec(t, pool, `CREATE TABLE "session" ("sid" varchar NOT NULL PRIMARY KEY, "sess" json NOT NULL, "expire" timestamp(6) NOT NULL)`)
	st, err := pgstore.New(pool, pgstore.WithCleanupInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	err = st.IndexUserSession(t.Context(), "u", storetest.NewID(), time.Now(), time.Now().Add(time.Hour))
	if err == nil || !strings.Contains(err.Error(), "no user index table") || !strings.Contains(err.Error(), "WithCreateTable") {
		t.Fatalf("IndexUserSession without the index table: %v", err)
	}
	err = st.UserSessions(t.Context(), "u", func(string, time.Time, time.Time, []byte) {})
	if err == nil || !strings.Contains(err.Error(), "no user index table") {
		t.Fatalf("UserSessions without the index table: %v", err)
	}
	// The sessions' cleanup still works: it has no index to prune.
	if _, err := st.PurgeExpired(t.Context()); err != nil {
		t.Fatalf("PurgeExpired without the index table: %v", err)
	}
}

// TestUserSessionsListsAnEntryWithAnUnreadableLastUse spoils the last-use
// time of an index entry ('infinity', which no time.Time holds): the entry
// is listed with a zero LastUsed and its session can be destroyed, where
// the listing used to fail whole.
func TestUserSessionsListsAnEntryWithAnUnreadableLastUse(t *testing.T) {
	pool := newPool(t)
	st := newStore(t, pool)
	apptest.UnreadableLastUseIsListedAndDestroyed(t, st, func(user, id string) error {
		tag, err := pool.Exec(t.Context(), `UPDATE `+st.UsersTable()+` SET used = 'infinity' WHERE user_id = $1 AND sid = $2`, []byte(user), id)
		if err == nil && tag.RowsAffected() != 1 {
			err = fmt.Errorf("spoiled %d index entries, want 1", tag.RowsAffected())
		}
		return err
	})
}

// TestUserSessionsListsAnEntryWithAnInfiniteExpiry spoils the expiry of an
// index entry ('infinity', which no time.Time holds): the entry is listed
// with a zero Expires, the cap and DestroyUserSessions still end its
// session, and the cleanup keeps working, where the listing used to fail
// whole and so blocked all three for the user.
func TestUserSessionsListsAnEntryWithAnInfiniteExpiry(t *testing.T) {
	ctx := t.Context()
	pool := newPool(t)
	st := newStore(t, pool)
	a := apptest.New(t, st, func(o *session.Options) { o.MaxSessionsPerUser = 2 })
	var cookies [][]*http.Cookie
	var ids []string
	login := func() {
		r := a.MustDo(t, "/login?u=frank", nil)
		cookies, ids = append(cookies, r.Cookies), append(ids, r.Body)
	}
	login()
	login()
	exec(t, pool, `UPDATE `+st.UsersTable()+` SET expire = 'infinity' WHERE user_id = 'frank' AND sid = $1`, ids[1])
	login() // over the cap: ends the least recently used, ids[0]
	infos, err := a.Manager.UserSessions(ctx, "frank")
	if err != nil || len(infos) != 2 {
		t.Fatalf("UserSessions with an infinite expiry = %d sessions, %v; want the last two logins", len(infos), err)
	}
	if infos[0].ID != ids[2] || infos[0].Expires.IsZero() || infos[1].ID != ids[1] || !infos[1].Expires.IsZero() {
		t.Fatalf("UserSessions = %+v; want the intact session first, then the spoiled one with a zero Expires", infos)
	}
	if _, err := st.PurgeExpired(ctx); err != nil {
		t.Fatalf("PurgeExpired with an infinite expiry in the index: %v", err)
	}
	if n, err := a.Manager.DestroyUserSessions(ctx, "frank"); err != nil || n != 2 {
		t.Fatalf("DestroyUserSessions = %d, %v; want 2", n, err)
	}
	for i, id := range ids {
		if v := a.Values(t, cookies[i]); v.ID == id || !v.New {
			t.Errorf("login %d still has its session %.6s… after the cap and DestroyUserSessions", i, id)
		}
	}
}

// TestUserIndexOfDailyLoginsForAYearStaysBounded indexes one session of one
// user per day of the past year, each living 30 days: every index write
// prunes the entries that expired more than IndexGrace ago, so the table
// never holds more than one lifetime's entries.
func TestUserIndexOfDailyLoginsForAYearStaysBounded(t *testing.T) {
	pool := newPool(t)
	st := newStore(t, pool)
	const life = 30 * 24 * time.Hour
	start := time.Now().Add(-365 * 24 * time.Hour)
	for day := range 366 {
		login := start.Add(time.Duration(day) * 24 * time.Hour)
		if err := st.IndexUserSession(t.Context(), "u", fmt.Sprintf("s%03d", day), login, login.Add(life)); err != nil {
			t.Fatal(err)
		}
		if n := indexRows(t, pool, st, `WHERE user_id = 'u'`); n > 32 {
			t.Fatalf("day %d: %d index entries, want at most 32", day, n)
		}
	}
	var listed int
	if err := st.UserSessions(t.Context(), "u", func(string, time.Time, time.Time, []byte) { listed++ }); err != nil {
		t.Fatal(err)
	}
	if listed < 29 || listed > 31 {
		t.Fatalf("%d entries listed, want the last 30 days'", listed)
	}
}

func TestPurgeExpiredPrunesTheUserIndex(t *testing.T) {
	ctx := t.Context()
	pool := newPool(t)
	st := newStore(t, pool)
	now := time.Now()
	for user, expires := range map[string]time.Time{
		"gone":   now.Add(-2 * session.IndexGrace), // past the grace: pruned
		"recent": now.Add(-session.IndexGrace / 2), // within it: kept
		"live":   now.Add(time.Hour),
	} {
		if err := st.IndexUserSession(ctx, user, "id-"+user, now, expires); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.PurgeExpired(ctx); err != nil {
		t.Fatal(err)
	}
	var users []string
	rows, err := pool.Query(ctx, `SELECT convert_from(user_id, 'UTF8') FROM `+st.UsersTable()+` ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var u string
		if err := rows.Scan(&u); err != nil {
			t.Fatal(err)
		}
		users = append(users, u)
	}
	if want := []string{"live", "recent"}; !slices.Equal(users, want) {
		t.Fatalf("index entries after PurgeExpired: %v, want %v", users, want)
	}
}

func TestCleanupPrunesTheUserIndex(t *testing.T) {
	pool := newPool(t)
	st := newStore(t, pool, pgstore.WithCleanupInterval(20*time.Millisecond))
	if err := st.IndexUserSession(t.Context(), "u", "old", time.Now(), time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); indexRows(t, pool, st, "") != 0; {
		if time.Now().After(deadline) {
			t.Fatal("the expired index entry is still there 10s into a 20ms cleanup")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func BenchmarkUsers(b *testing.B) {
	apptest.BenchmarkUsers(b, newStore(b, newPool(b)))
}
