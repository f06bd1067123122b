package pgstore_test

import (
	"fmt"
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

// TestUserIndexOfDailyLoginsForAYearStaysBounded indexes one session of one
// user per day of the past year, each living 30 days: every index write
// prunes the entries that expired more than IndexGrace ago, so the table
// never holds more than one lifetime's entries.
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
