package interop

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"regexp"
	"strings"
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
	checkPeer(t, pgShared.err)
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
	goApp := newGoApp(t, nil, func(o *session.Options) {
		o.Store = st
		if options != nil {
			options(o)
		}
	})
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
	return startPeerEnv("SESSION_STORE=pg", "PG_URL="+dsn, "PG_TABLE="+pgTable)
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
	b := w.browser()
	if got := b.nodeViews(); got != 1 {
		t.Fatalf("Express: views = %d on a new session, want 1", got)
	}
	expressCookie := b.setCookie
	id := b.nodeSession().ID
	if want := signedCookie(id); expressCookie != want {
		t.Fatalf("Express cookie for id %s:\n got %s\nwant %s", id, expressCookie, want)
	}
	if got := b.goViews(); got != 2 {
		t.Fatalf("Go: views = %d after Express's 1, want 2 (did it find the session?)", got)
	}
	if b.setCookie != expressCookie {
		t.Fatalf("Go re-signed Express's session differently:\n     go %s\nexpress %s", b.setCookie, expressCookie)
	}
	if got := b.nodeViews(); got != 3 {
		t.Fatalf("Express: views = %d after Go's 2, want 3", got)
	}
	if gs := b.goSession(); gs.ID != id || gs.Values["views"] != 3.0 {
		t.Fatalf("Go: id=%s views=%v, want %s with views 3", gs.ID, gs.Values["views"], id)
	}
}

func TestPgGoSessionContinuesInExpress(t *testing.T) {
	w := newPgWorld(t, nil)
	b := w.browser()
	if got := b.goViews(); got != 1 {
		t.Fatalf("Go: views = %d on a new session, want 1", got)
	}
	goCookie := b.setCookie
	id := b.goSession().ID
	if want := signedCookie(id); goCookie != want {
		t.Fatalf("Go cookie for id %s:\n got %s\nwant %s", id, goCookie, want)
	}
	if got := b.nodeViews(); got != 2 {
		t.Fatalf("Express: views = %d after Go's 1, want 2 (did it find the session?)", got)
	}
	if b.setCookie != goCookie {
		t.Fatalf("Express re-signed Go's session differently:\nexpress %s\n     go %s", b.setCookie, goCookie)
	}
	if gs := b.goSession(); gs.New || gs.ID != id || gs.Values["views"] != 2.0 {
		t.Fatalf("Go after Express: id=%s new=%v views=%v, want %s with views 2", gs.ID, gs.New, gs.Values["views"], id)
	}
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
	id := b.nodeSession().ID
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
	t.Run("Express", func(t *testing.T) {
		b := w.browser()
		b.goViews()
		id := b.goSession().ID
		old := b.cookie
		b.do("POST", w.node.URL+"/logout", nil)
		if w.exists(id) {
			t.Fatalf("row %s still there after Express destroyed it", id)
		}
		b.cookie = old
		if gs := b.goSession(); !gs.New || gs.ID == id || len(gs.Keys) != 0 {
			t.Fatalf("Go after Express's logout: id=%s new=%v keys=%v, want a fresh empty session", gs.ID, gs.New, gs.Keys)
		}
	})
	t.Run("Go", func(t *testing.T) {
		b := w.browser()
		b.nodeViews()
		id := b.nodeSession().ID
		old := b.cookie
		b.do("POST", w.goApp.URL+"/logout", nil)
		if w.exists(id) {
			t.Fatalf("row %s still there after Go destroyed it", id)
		}
		b.cookie = old
		if ns := b.nodeSession(); ns.ID == id || ns.Session["views"] != nil {
			t.Fatalf("Express after Go's logout: id=%s session=%v, want a fresh session", ns.ID, ns.Session)
		}
	})
}

// TestPgExpressWriteDuringGoRequestIsNotLost: the Go app's compare-and-swap
// on xmin notices connect-pg-simple's upsert made while a Go request was
// running, and keeps both changes.
func TestPgExpressWriteDuringGoRequestIsNotLost(t *testing.T) {
	w := newPgWorld(t, nil)
	b := w.browser()
	b.goViews()
	id := b.goSession().ID

	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest("POST", w.goApp.URL+"/slow?k=fromGo&v=1", nil)
		req.Header.Set("Cookie", "sid="+b.cookie)
		resp, err := b.client.Do(req)
		if err != nil {
			done <- err
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("/slow: %s: %s", resp.Status, body)
		}
		done <- err
	}()
	select {
	case <-w.goApp.loaded:
	case err := <-done:
		t.Fatalf("/slow ended before loading the session: %v", err)
	}
	b.do("POST", w.node.URL+"/set?k=fromExpress&v=1", nil)
	w.goApp.release <- struct{}{}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	doc, _ := w.raw(id)
	for _, kv := range []string{`"fromExpress":"1"`, `"fromGo":"1"`, `"views":1`} {
		if !strings.Contains(doc, kv) {
			t.Errorf("stored document lacks %s: %s", kv, doc)
		}
	}
	if ns := b.nodeSession(); ns.Session["fromExpress"] != "1" || ns.Session["fromGo"] != "1" {
		t.Errorf("Express sees %v, want both fromExpress and fromGo", ns.Session)
	}
}
