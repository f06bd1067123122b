package redisstore_test

import (
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/internal/testserver/apptest"
	"github.com/sessionkit/session/redisstore"
	"github.com/sessionkit/session/storetest"
)

// The benchmarks run against one redis-server, started for the run. The Raw
// ones are go-redis alone, the baseline of the others: compare
// RequestReadOnly with RawGet, RequestModifying with RawGetSet.

// benchDocSize is about what a session with a user id, a few flags and a
// CSRF token encodes to.
const benchDocSize = 400

func benchClient(b *testing.B) *redis.Client {
	srv := testserver.SharedRedis(b)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr})
	b.Cleanup(func() { c.Close() })
	return c
}

func BenchmarkRawGet(b *testing.B) {
	c := benchClient(b)
	key := testserver.UniquePrefix() + "raw"
	c.Set(b.Context(), key, storetest.Document(benchDocSize), time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Get(b.Context(), key).Bytes(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRawSet(b *testing.B) {
	c := benchClient(b)
	key, doc := testserver.UniquePrefix()+"raw", storetest.Document(benchDocSize)
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Set(b.Context(), key, doc, time.Hour).Err(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRawGetSet(b *testing.B) {
	c := benchClient(b)
	key, doc := testserver.UniquePrefix()+"raw", storetest.Document(benchDocSize)
	c.Set(b.Context(), key, doc, time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Get(b.Context(), key).Bytes(); err != nil {
			b.Fatal(err)
		}
		if err := c.Set(b.Context(), key, doc, time.Hour).Err(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStoreGet(b *testing.B) {
	st := newStore(benchClient(b))
	st.Set(b.Context(), "id", storetest.Document(benchDocSize), time.Now().Add(time.Hour))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := st.Get(b.Context(), "id"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStoreGetVersion(b *testing.B) {
	st := newStore(benchClient(b))
	st.Set(b.Context(), "id", storetest.Document(benchDocSize), time.Now().Add(time.Hour))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := st.GetVersion(b.Context(), "id"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStoreSet(b *testing.B) {
	st := newStore(benchClient(b))
	doc := storetest.Document(benchDocSize)
	b.ReportAllocs()
	for b.Loop() {
		if err := st.Set(b.Context(), "id", doc, time.Now().Add(time.Hour)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStoreCompareAndSwap(b *testing.B) {
	st := newStore(benchClient(b))
	doc := storetest.Document(benchDocSize)
	st.Set(b.Context(), "id", doc, time.Now().Add(time.Hour))
	_, v, _ := st.GetVersion(b.Context(), "id")
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if v, err = st.CompareAndSwap(b.Context(), "id", v, doc, time.Now().Add(time.Hour)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStoreTouch(b *testing.B) {
	st := newStore(benchClient(b))
	st.Set(b.Context(), "id", storetest.Document(benchDocSize), time.Now().Add(time.Hour))
	b.ReportAllocs()
	for b.Loop() {
		if err := st.Touch(b.Context(), "id", time.Now().Add(time.Hour)); err != nil {
			b.Fatal(err)
		}
	}
}

// benchApp returns an app on a fresh store whose session (with a 400-byte
// value) was just saved; TouchAfter keeps read-only requests from touching.
func benchApp(b *testing.B, st *redisstore.Store) (*apptest.App, apptest.Response) {
	app := apptest.New(b, st, func(o *session.Options) {
		o.Cookie.MaxAge = time.Hour
		o.TouchAfter = time.Minute
	})
	first := app.MustDo(b, "/set?k=pad&v="+strings.Repeat("x", benchDocSize-100), nil)
	return app, first
}

func BenchmarkRequestNoSession(b *testing.B) {
	app, first := benchApp(b, newStore(benchClient(b)))
	b.ReportAllocs()
	for b.Loop() {
		app.Serve(b, "/none", first.Cookies)
	}
}

func BenchmarkRequestReadOnly(b *testing.B) {
	app, first := benchApp(b, newStore(benchClient(b)))
	b.ReportAllocs()
	for b.Loop() {
		app.Serve(b, "/get?k=pad", first.Cookies)
	}
}

func BenchmarkRequestModifying(b *testing.B) {
	app, first := benchApp(b, newStore(benchClient(b)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		app.Serve(b, "/set?k=n&v="+string(rune('a'+i%26)), first.Cookies)
	}
}

// BenchmarkOverhead alternates a raw go-redis call with the same work through
// the middleware, on the same server, so that the machine's load affects both
// alike. It reports each one's mean, the request's cost as a percentage of
// the raw call's, and the same without the cost of the request itself (an
// httptest request through the same handler that does not use its session:
// what any handler costs, with or without sessions).
func BenchmarkOverhead(b *testing.B) {
	c := benchClient(b)
	app, first := benchApp(b, newStore(c))
	key, doc := testserver.UniquePrefix()+"raw", storetest.Document(benchDocSize)
	c.Set(b.Context(), key, doc, time.Hour)
	rawGet := func() {
		if _, err := c.Get(b.Context(), key).Bytes(); err != nil {
			b.Fatal(err)
		}
	}
	rawGetSet := func() {
		rawGet()
		if err := c.Set(b.Context(), key, doc, time.Hour).Err(); err != nil {
			b.Fatal(err)
		}
	}
	i := 0
	for _, bc := range []struct {
		name     string
		raw, req func()
	}{
		{"ReadOnlyRequestVsRawGET", rawGet, func() { app.Serve(b, "/get?k=pad", first.Cookies) }},
		{"ModifyingRequestVsRawGETSET", rawGetSet, func() {
			i++
			app.Serve(b, "/set?k=n&v="+string(rune('a'+i%26)), first.Cookies)
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			var rawT, reqT, noneT time.Duration
			for b.Loop() {
				t0 := time.Now()
				bc.raw()
				t1 := time.Now()
				bc.req()
				t2 := time.Now()
				app.Serve(b, "/none", first.Cookies)
				noneT += time.Since(t2)
				reqT += t2.Sub(t1)
				rawT += t1.Sub(t0)
			}
			n := float64(b.N)
			b.ReportMetric(float64(rawT.Nanoseconds())/n, "raw-ns/op")
			b.ReportMetric(float64(reqT.Nanoseconds())/n, "request-ns/op")
			b.ReportMetric(100*float64(reqT)/float64(rawT), "request-%-of-raw")
			b.ReportMetric(100*float64(reqT-noneT)/float64(rawT), "session-%-of-raw")
		})
	}
}
