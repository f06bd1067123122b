package redisstore_test

import (
	"strings"
	"testing"
	"time"

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

func BenchmarkRawGet(b *testing.B) {
	c := standalone(b)
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
	c := standalone(b)
	key, doc := testserver.UniquePrefix()+"raw", storetest.Document(benchDocSize)
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Set(b.Context(), key, doc, time.Hour).Err(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRawGetSet(b *testing.B) {
	c := standalone(b)
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
	st := newStore(standalone(b))
	st.Set(b.Context(), "id", storetest.Document(benchDocSize), time.Now().Add(time.Hour))
	b.ReportAllocs()
	for b.Loop() {
		if _, found, err := st.Get(b.Context(), "id"); err != nil || !found {
			b.Fatal(err)
		}
	}
}

func BenchmarkStoreGetVersion(b *testing.B) {
	st := newStore(standalone(b))
	st.Set(b.Context(), "id", storetest.Document(benchDocSize), time.Now().Add(time.Hour))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, _, err := st.GetVersion(b.Context(), "id"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStoreSet(b *testing.B) {
	st := newStore(standalone(b))
	doc := storetest.Document(benchDocSize)
	b.ReportAllocs()
	for b.Loop() {
		if err := st.Set(b.Context(), "id", doc, time.Now().Add(time.Hour)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStoreCompareAndSwap(b *testing.B) {
	st := newStore(standalone(b))
	doc := storetest.Document(benchDocSize)
	st.Set(b.Context(), "id", doc, time.Now().Add(time.Hour))
	_, v, _, _ := st.GetVersion(b.Context(), "id")
	b.ReportAllocs()
	for b.Loop() {
		var (
			swapped bool
			err     error
		)
		if v, swapped, err = st.CompareAndSwap(b.Context(), "id", v, doc, time.Now().Add(time.Hour)); err != nil || !swapped {
			b.Fatal(swapped, err)
		}
	}
}

func BenchmarkStoreTouch(b *testing.B) {
	st := newStore(standalone(b))
	st.Set(b.Context(), "id", storetest.Document(benchDocSize), time.Now().Add(time.Hour))
	b.ReportAllocs()
	for b.Loop() {
		if found, err := st.Touch(b.Context(), "id", time.Now().Add(time.Hour)); err != nil || !found {
			b.Fatal(err)
		}
	}
}

// benchApp returns an app on a fresh store whose session (with a 400-byte
// value) was just saved; TouchAfter keeps read-only requests from touching.
func benchApp(b *testing.B, st *redisstore.Store) (*apptest.App, apptest.Response) {
	app := apptest.New(b, st, apptest.HourCookieTouchAfterMinute)
	first := app.MustDo(b, "/set?k=pad&v="+strings.Repeat("x", benchDocSize-100), nil)
	return app, first
}

func BenchmarkRequestNoSession(b *testing.B) {
	app, first := benchApp(b, newStore(standalone(b)))
	b.ReportAllocs()
	for b.Loop() {
		app.Serve(b, "/none", first.Cookies)
	}
}

func BenchmarkRequestReadOnly(b *testing.B) {
	app, first := benchApp(b, newStore(standalone(b)))
	b.ReportAllocs()
	for b.Loop() {
		app.Serve(b, "/get?k=pad", first.Cookies)
	}
}

func BenchmarkRequestModifying(b *testing.B) {
	app, first := benchApp(b, newStore(standalone(b)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		app.Serve(b, "/set?k=n&v="+string(rune('a'+i%26)), first.Cookies)
	}
}

// BenchmarkOverhead: a request through the middleware next to the raw
// client call doing the same store work (see apptest.BenchmarkOverhead).
func BenchmarkOverhead(b *testing.B) {
	c := standalone(b)
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
	apptest.BenchmarkOverhead(b, newStore(c), benchDocSize, rawGet, rawGetSet)
}

// BenchmarkStoreGetAndTouchWithAReplica is the load of a read-only request
// whose touch is due (GETEX) against a master with one replica, without
// and with WithReplicas(1, ...): the difference is what the WAIT in the
// same pipeline costs, the replica's acknowledgement.
func BenchmarkStoreGetAndTouchWithAReplica(b *testing.B) {
	master, _ := replicatedPair(b, testserver.StartRedis)
	c := clientOf(b, master)
	for _, bc := range []struct {
		name string
		opts []redisstore.Option
	}{
		{"wait=none", nil},
		{"wait=WithReplicas(1,1s)", []redisstore.Option{redisstore.WithReplicas(1, time.Second)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			st := newStore(c, bc.opts...)
			if err := st.Set(b.Context(), "id", storetest.Document(benchDocSize), time.Now().Add(time.Hour)); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, _, found, err := st.GetAndTouch(b.Context(), "id", time.Now().Add(time.Hour)); err != nil || !found {
					b.Fatal(found, err)
				}
			}
		})
	}
}
