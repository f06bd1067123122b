package memcachedstore_test

import (
	"strings"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/internal/testserver/apptest"
	"github.com/sessionkit/session/storetest"
)

// The benchmarks run against one memcached, started for the run. The Raw
// ones are gomemcache alone, the baseline of the others.

const benchDocSize = 400

func benchClient(b *testing.B) *memcache.Client {
	srv := testserver.SharedMemcacheds(b)[0]
	c := memcache.New(srv.Addr)
	b.Cleanup(func() { c.Close() })
	return c
}

func BenchmarkRawGet(b *testing.B) {
	c := benchClient(b)
	key := testserver.UniquePrefix() + "raw"
	c.Set(&memcache.Item{Key: key, Value: storetest.Document(benchDocSize), Expiration: 3600})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Get(key); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRawSet(b *testing.B) {
	c := benchClient(b)
	it := &memcache.Item{Key: testserver.UniquePrefix() + "raw", Value: storetest.Document(benchDocSize), Expiration: 3600}
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Set(it); err != nil {
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

func BenchmarkStoreGetVersionCompareAndSwap(b *testing.B) {
	st := newStore(benchClient(b))
	doc := storetest.Document(benchDocSize)
	st.Set(b.Context(), "id", doc, time.Now().Add(time.Hour))
	b.ReportAllocs()
	for b.Loop() {
		_, v, err := st.GetVersion(b.Context(), "id")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := st.CompareAndSwap(b.Context(), "id", v, doc, time.Now().Add(time.Hour)); err != nil {
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

// BenchmarkOverhead alternates a raw gomemcache call with the same work
// through the middleware, so that the machine's load affects both alike
// (see the redisstore benchmark of the same name for the metrics).
func BenchmarkOverhead(b *testing.B) {
	c := benchClient(b)
	app := apptest.New(b, newStore(c), func(o *session.Options) {
		o.Cookie.MaxAge = time.Hour
		o.TouchAfter = time.Minute
	})
	first := app.MustDo(b, "/set?k=pad&v="+strings.Repeat("x", benchDocSize-100), nil)
	it := &memcache.Item{Key: testserver.UniquePrefix() + "raw", Value: storetest.Document(benchDocSize), Expiration: 3600}
	c.Set(it)
	rawGet := func() {
		if _, err := c.Get(it.Key); err != nil {
			b.Fatal(err)
		}
	}
	rawGetSet := func() {
		rawGet()
		if err := c.Set(it); err != nil {
			b.Fatal(err)
		}
	}
	i := 0
	for _, bc := range []struct {
		name     string
		raw, req func()
	}{
		{"ReadOnlyRequestVsRawGet", rawGet, func() { app.Serve(b, "/get?k=pad", first.Cookies) }},
		{"ModifyingRequestVsRawGetSet", rawGetSet, func() {
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
