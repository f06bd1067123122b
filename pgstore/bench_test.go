package pgstore_test

import (
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionkit/session/internal/testserver/apptest"
	"github.com/sessionkit/session/pgstore"
	"github.com/sessionkit/session/storetest"
)

// The benchmarks run against one PostgreSQL server, started for the run (see
// internal/testserver: fsync off). The Raw ones are pgx alone on the same
// table, the baseline of the others: compare StoreGet with RawSelect,
// StoreSet and StoreCompareAndSwap with RawUpdate, and in BenchmarkOverhead
// a read-only request with a raw select.

// benchDocSize is about what a session with a user id, a few flags and a
// CSRF token encodes to.
const benchDocSize = 400

// benchStore returns a pool on a fresh database and a store on a fresh table
// in it, holding a session "id".
func benchStore(b *testing.B) (*pgxpool.Pool, *pgstore.Store) {
	pool := newPool(b)
	st := newStore(b, pool)
	if err := st.Set(b.Context(), "id", storetest.Document(benchDocSize), time.Now().Add(time.Hour)); err != nil {
		b.Fatal(err)
	}
	return pool, st
}

// rawSelect and rawUpdate are what a hand-written pgx program would run.
func rawSelect(b *testing.B, pool *pgxpool.Pool, st *pgstore.Store) func() {
	sql := `SELECT sess::text FROM ` + st.Table() + ` WHERE sid = $1`
	return func() {
		var data []byte
		if err := pool.QueryRow(b.Context(), sql, "id").Scan(&data); err != nil {
			b.Fatal(err)
		}
	}
}

func rawUpdate(b *testing.B, pool *pgxpool.Pool, st *pgstore.Store) func() {
	sql := `UPDATE ` + st.Table() + ` SET sess = $2, expire = $3 WHERE sid = $1`
	doc := storetest.Document(benchDocSize)
	return func() {
		if _, err := pool.Exec(b.Context(), sql, "id", doc, time.Now().Add(time.Hour)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRawSelect(b *testing.B) {
	pool, st := benchStore(b)
	f := rawSelect(b, pool, st)
	b.ReportAllocs()
	for b.Loop() {
		f()
	}
}

func BenchmarkRawUpdate(b *testing.B) {
	pool, st := benchStore(b)
	f := rawUpdate(b, pool, st)
	b.ReportAllocs()
	for b.Loop() {
		f()
	}
}

func BenchmarkStoreGet(b *testing.B) {
	_, st := benchStore(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, found, err := st.Get(b.Context(), "id"); !found || err != nil {
			b.Fatal(found, err)
		}
	}
}

func BenchmarkStoreGetVersion(b *testing.B) {
	_, st := benchStore(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, found, err := st.GetVersion(b.Context(), "id"); !found || err != nil {
			b.Fatal(found, err)
		}
	}
}

func BenchmarkStoreSet(b *testing.B) {
	_, st := benchStore(b)
	doc := storetest.Document(benchDocSize)
	b.ReportAllocs()
	for b.Loop() {
		if err := st.Set(b.Context(), "id", doc, time.Now().Add(time.Hour)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStoreCompareAndSwap(b *testing.B) {
	_, st := benchStore(b)
	doc := storetest.Document(benchDocSize)
	_, v, _, _ := st.GetVersion(b.Context(), "id")
	b.ReportAllocs()
	for b.Loop() {
		var (
			swapped bool
			err     error
		)
		if v, swapped, err = st.CompareAndSwap(b.Context(), "id", v, doc, time.Now().Add(time.Hour)); !swapped || err != nil {
			b.Fatal(swapped, err)
		}
	}
}

func BenchmarkStoreTouch(b *testing.B) {
	_, st := benchStore(b)
	b.ReportAllocs()
	for b.Loop() {
		if found, err := st.Touch(b.Context(), "id", time.Now().Add(time.Hour)); !found || err != nil {
			b.Fatal(found, err)
		}
	}
}

// benchApp returns an app on st whose session (with a 400-byte value) was
// just saved; TouchAfter keeps read-only requests from touching.
func benchApp(b *testing.B, st *pgstore.Store) (*apptest.App, apptest.Response) {
	app := apptest.New(b, st, apptest.HourCookieTouchAfterMinute)
	first := app.MustDo(b, "/set?k=pad&v="+strings.Repeat("x", benchDocSize-100), nil)
	return app, first
}

func BenchmarkRequestReadOnly(b *testing.B) {
	_, st := benchStore(b)
	app, first := benchApp(b, st)
	b.ReportAllocs()
	for b.Loop() {
		app.Serve(b, "/get?k=pad", first.Cookies)
	}
}

func BenchmarkRequestModifying(b *testing.B) {
	_, st := benchStore(b)
	app, first := benchApp(b, st)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		app.Serve(b, "/set?k=n&v="+string(rune('a'+i%26)), first.Cookies)
	}
}

// BenchmarkOverhead: a request through the middleware next to the raw pgx
// calls doing the same store work (see apptest.BenchmarkOverhead): a select
// for a read-only request, a select and an update for a modifying one.
func BenchmarkOverhead(b *testing.B) {
	pool, st := benchStore(b)
	sel, upd := rawSelect(b, pool, st), rawUpdate(b, pool, st)
	apptest.BenchmarkOverhead(b, st, benchDocSize, sel, func() { sel(); upd() })
}
