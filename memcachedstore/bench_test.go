package memcachedstore_test

import (
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

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
		if _, found, err := st.Get(b.Context(), "id"); err != nil || !found {
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
		_, v, _, err := st.GetVersion(b.Context(), "id")
		if err != nil {
			b.Fatal(err)
		}
		if _, swapped, err := st.CompareAndSwap(b.Context(), "id", v, doc, time.Now().Add(time.Hour)); err != nil || !swapped {
			b.Fatal(err)
		}
	}
}

func BenchmarkStoreTouch(b *testing.B) {
	st := newStore(benchClient(b))
	st.Set(b.Context(), "id", storetest.Document(benchDocSize), time.Now().Add(time.Hour))
	b.ReportAllocs()
	for b.Loop() {
		if found, err := st.Touch(b.Context(), "id", time.Now().Add(time.Hour)); err != nil || !found {
			b.Fatal(err)
		}
	}
}

// BenchmarkOverhead: a request through the middleware next to the raw
// client call doing the same store work (see apptest.BenchmarkOverhead).
func BenchmarkOverhead(b *testing.B) {
	c := benchClient(b)
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
	apptest.BenchmarkOverhead(b, newStore(c), benchDocSize, rawGet, rawGetSet)
}
