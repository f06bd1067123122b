package pgstore_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/internal/testserver/apptest"
	"github.com/sessionkit/session/memstore"
	"github.com/sessionkit/session/storetest"
)

// nulID is a session id that the manager takes (a custom GenerateID may
// make one: UTF-8, up to 978 bytes) but that no PostgreSQL text, and so no
// sid, can hold: a NUL byte.
func nulID() string { return "id\x00" + storetest.NewID() }

// TestAnIDWithANULByteIsNoSession: an id with a NUL byte names no session,
// since no sid can hold one: the reads, touches and destroys of one answer
// "no session", as for any id the table does not hold, where each failed
// with PostgreSQL's "invalid byte sequence for encoding UTF8: 0x00", which
// made the manager answer 500 to every request with such a cookie (one an
// earlier store, which keeps any id, issued) instead of starting a new
// session. A write of one fails with an error that says what is wrong with
// the id, before a round trip.
func TestAnIDWithANULByteIsNoSession(t *testing.T) {
	checkIDNoSidHolds(t, nulID(), "a NUL byte at offset 2")
}

// TestAnIDThatIsNotUTF8IsNoSession: an id whose bytes are not UTF-8 (a
// caller of the Store's methods may pass one; the manager refuses such a
// cookie) names no session either, since PostgreSQL's text refuses it
// ("invalid byte sequence for encoding UTF8", 22021), as it refuses a NUL:
// the same answers, and no statement sent with it.
func TestAnIDThatIsNotUTF8IsNoSession(t *testing.T) {
	checkIDNoSidHolds(t, "id\xff"+storetest.NewID(), "byte 0xff at offset 2 is not UTF-8")
}

// idTracer records the statements sent with an argument equal to id.
type idTracer struct {
	id   string
	mu   sync.Mutex
	sent []string
}

func (d *idTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	for _, a := range data.Args {
		if a == any(d.id) {
			d.mu.Lock()
			d.sent = append(d.sent, data.SQL)
			d.mu.Unlock()
		}
	}
	return ctx
}

func (d *idTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// checkIDNoSidHolds checks that every method of a store that takes an id
// answers for id, which no sid can hold, as for an id the table does not
// hold, or (a write) fails with an error saying why, and that none sends a
// statement with it.
func checkIDNoSidHolds(t *testing.T, id, why string) {
	t.Helper()
	ctx := t.Context()
	tracer := &idTracer{id: id}
	st := newStore(t, poolOn(t, testserver.SharedPostgres(t).NewDatabase(t), func(cfg *pgxpool.Config) { cfg.ConnConfig.Tracer = tracer }))
	later := time.Now().Add(time.Hour)
	data := []byte(`{"cookie":{}}`)
	storetest.CheckRefusedID(t, ctx, st, id)
	if found, err := st.Touch(ctx, id, time.Now().Add(-time.Second)); found || err != nil {
		t.Errorf("Touch to the past = found %v, %v; want no session", found, err)
	}
	if _, swapped, err := st.CompareAndSwap(ctx, id, "", data, time.Now().Add(-time.Second)); !swapped || err != nil {
		t.Errorf("CompareAndSwap of nothing to nothing = swapped %v, %v; want swapped (no session there)", swapped, err)
	}
	_, swapped, createErr := st.CompareAndSwap(ctx, id, "", data, later)
	if swapped {
		t.Error("CompareAndSwap create swapped")
	}
	for op, err := range map[string]error{
		"Set":                   st.Set(ctx, id, data, later),
		"CompareAndSwap create": createErr,
		"IndexUserSession":      st.IndexUserSession(ctx, "alice", id, time.Now(), later),
	} {
		if err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("%s = %v; want an error that says the id holds %s", op, err, why)
		}
	}
	if n, err := st.Count(ctx); n != 0 || err != nil {
		t.Errorf("Count = %d, %v; want nothing stored", n, err)
	}
	if len(tracer.sent) > 0 {
		t.Errorf("statements sent with the id: %q; want none", tracer.sent)
	}
}

// TestCookieOfAnIDWithANULByteGetsANewSession: a request whose cookie
// (signed with the app's secret) carries an id with a NUL byte, issued
// before the app moved to PostgreSQL, starts a new session, as for any
// cookie of a session the store does not hold; it was answered 500, on
// every request until the cookie expired.
func TestCookieOfAnIDWithANULByteGetsANewSession(t *testing.T) {
	gen := func(*http.Request) string { return nulID() }
	before := apptest.New(t, memstore.New(), func(o *session.Options) { apptest.HourCookie(o); o.GenerateID = gen })
	first := before.MustDo(t, "/set?k=a&v=1", nil)
	after := apptest.New(t, newStore(t, newPool(t)), apptest.HourCookie)
	r, err := after.Do("/values", first.Cookies)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != http.StatusOK || !strings.Contains(r.Body, `"new":true`) {
		t.Fatalf("request with the cookie of an id with a NUL byte: %d %s; want 200 and a new session", r.Status, r.Body)
	}
}
