package interop

import (
	"context"
	"math"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/pgstore"
)

// pgTable is the table both apps keep their sessions in, connect-pg-simple's
// format under another name, in the shared server's postgres database.
const pgTable = "interop_session"

// pgShared is the Express app on connect-pg-simple, one per test binary like
// the Redis one.
var pgShared struct {
	once sync.Once
	p    *peer
	dsn  string
	err  error
}

func stopPgPeer() {
	if pgShared.p != nil {
		pgShared.p.stop()
	}
}

// pgWorld is a world whose Go and Express apps share a PostgreSQL table.
type pgWorld struct {
	*world
	pool *pgxpool.Pool
}

// newPgWorld starts (or reuses) PostgreSQL and the Express app on
// connect-pg-simple, and starts a Go app on pgstore on the same table.
func newPgWorld(t *testing.T, options func(*session.Options)) *pgWorld {
	t.Helper()
	srv := testserver.SharedPostgres(t)
	pgShared.once.Do(func() {
		pgShared.dsn = srv.DSN("postgres")
		pgShared.p, pgShared.err = startPgPeer(pgShared.dsn)
	})
	checkStarted(t, pgShared.err)
	pool, err := pgxpool.New(context.Background(), pgShared.dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	st, err := pgstore.New(pool, pgstore.WithTable(pgTable))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	goApp := newGoAppOn(t, st, options)
	return &pgWorld{world: &world{t: t, node: pgShared.p, goApp: goApp}, pool: pool}
}

// startPgPeer creates the table (connect-pg-simple's, made by pgstore) and
// starts the Express app on it.
func startPgPeer(dsn string) (*peer, error) {
	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	st, err := pgstore.New(pool, pgstore.WithTable(pgTable), pgstore.WithCreateTable(), pgstore.WithCleanupInterval(0))
	if err != nil {
		return nil, err
	}
	st.Close()
	return startPeerEnv("SESSION_STORE=pg", "PG_URL="+dsn, "PG_TABLE="+pgTable, "PASSPORT=1", "FLASH=1")
}

// raw returns the stored document of session id and its expire as an instant.
func (w *pgWorld) raw(id string) (doc string, expire time.Time) {
	w.t.Helper()
	err := w.pool.QueryRow(context.Background(), `SELECT sess::text, expire::timestamptz FROM `+pgTable+` WHERE sid = $1`, id).Scan(&doc, &expire)
	if err != nil {
		w.t.Fatalf("row %s: %v", id, err)
	}
	return doc, expire
}

// exists reports whether session id has a row.
func (w *pgWorld) exists(id string) bool {
	w.t.Helper()
	var n int
	if err := w.pool.QueryRow(context.Background(), `SELECT count(*) FROM `+pgTable+` WHERE sid = $1`, id).Scan(&n); err != nil {
		w.t.Fatal(err)
	}
	return n == 1
}

func TestPgExpressSessionContinuesInGoAndBack(t *testing.T) {
	w := newPgWorld(t, nil)
	expressSessionContinuesInGo(t, w.browser(), nil)
}

func TestPgGoSessionContinuesInExpress(t *testing.T) {
	w := newPgWorld(t, nil)
	goSessionContinuesInExpress(t, w.browser())
}

// expiresOf returns the cookie.expires of a stored document.
func expiresOf(t *testing.T, doc string) time.Time {
	t.Helper()
	m := regexp.MustCompile(`"expires":"(` + isoMillis + `)"`).FindStringSubmatch(doc)
	if m == nil {
		t.Fatalf("no cookie.expires in %s", doc)
	}
	e, err := time.Parse(time.RFC3339, m[1])
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestPgBothSidesAgreeOnTheExpiryInstant: expire is a timestamp without
// time zone on a server whose zone is not UTC; the row each app writes
// expires at its cookie's expiry (connect-pg-simple rounds it up to the
// second), read as an instant in the connection's zone.
func TestPgBothSidesAgreeOnTheExpiryInstant(t *testing.T) {
	w := newPgWorld(t, nil)
	var tz string
	if err := w.pool.QueryRow(context.Background(), `SELECT current_setting('TimeZone')`).Scan(&tz); err != nil || tz == "UTC" {
		t.Fatalf("TimeZone %q, %v: the test needs a server zone other than UTC", tz, err)
	}
	b := w.browser()
	b.nodeViews()
	// The id from the cookie, not from a request to /session: connect-pg-simple
	// touches on such a read, moving the row's expiry but not the document's.
	id := b.sessionID()
	doc, expire := w.raw(id)
	cookie := expiresOf(t, doc)
	if want := time.Unix(int64(math.Ceil(float64(cookie.UnixMilli())/1000)), 0); !expire.Equal(want) {
		t.Fatalf("Express's row expires at %v, want its cookie's %v rounded up to the second", expire, cookie)
	}
	b.goViews()
	doc, expire = w.raw(id)
	cookie = expiresOf(t, doc)
	if d := expire.Sub(cookie); d < 0 || d >= time.Millisecond {
		t.Fatalf("Go's row expires at %v, want its cookie's %v", expire, cookie)
	}
	if left := time.Until(expire); left < maxAge-time.Minute || left > maxAge {
		t.Fatalf("Go's row expires in %v, want about %v", left, maxAge)
	}
}

func TestPgLogoutOnOneIsLogoutOnTheOther(t *testing.T) {
	w := newPgWorld(t, nil)
	logoutOnEitherSideEndsTheSession(t, w.browser, w.goApp.URL, w.node.URL, w.exists)
}

// TestPgExpressWriteDuringGoRequestIsNotLost: the Go app's compare-and-swap
// on xmin notices connect-pg-simple's upsert made while a Go request was
// running, and keeps both changes.
func TestPgExpressWriteDuringGoRequestIsNotLost(t *testing.T) {
	w := newPgWorld(t, nil)
	b := w.browser()
	b.goViews()
	id := b.goSession().ID

	expressWritesDuringSlowGoRequest(t, b, w.goApp, w.node)
	doc, _ := w.raw(id)
	bothWritesKept(t, b, doc)
}
