package boltstore_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/boltstore"
	"github.com/sessionkit/session/memstore"
	"github.com/sessionkit/session/storetest"
)

// benchStores are the stores compared in each benchmark: memstore is the
// baseline, in the same run.
var benchStores = []struct {
	name string
	new  func(b *testing.B) session.VersionedStore
}{
	{"memstore", func(b *testing.B) session.VersionedStore {
		st := memstore.New()
		b.Cleanup(func() { st.Close() })
		return st
	}},
	{"boltstore", func(b *testing.B) session.VersionedStore {
		st, err := boltstore.Open(filepath.Join(b.TempDir(), "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
		return st
	}},
}

// fillReads stores the 1,000 sessions "id0" to "id999" that the read
// benchmarks read in turn, each of 300 bytes, for an hour.
func fillReads(b *testing.B, st session.Store) {
	for i := range 1000 {
		if err := st.Set(context.Background(), fmt.Sprint("id", i), storetest.Document(300), time.Now().Add(time.Hour)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGet(b *testing.B) {
	for _, bs := range benchStores {
		b.Run(bs.name, func(b *testing.B) {
			st := bs.new(b)
			ctx := context.Background()
			fillReads(b, st)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, found, err := st.Get(ctx, fmt.Sprint("id", i%1000)); err != nil || !found {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkGetWithDeadline is BenchmarkGet's boltstore read under a context
// with a deadline, as every request's load under the default StoreTimeout:
// the read transaction then runs in a goroutine of its own, so that a read
// waiting behind a commit that remaps the file gives up at the deadline.
func BenchmarkGetWithDeadline(b *testing.B) {
	st, err := boltstore.Open(filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	fillReads(b, st)
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, found, err := st.Get(ctx, fmt.Sprint("id", i%1000)); err != nil || !found {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkSet(b *testing.B) {
	for _, bs := range benchStores {
		b.Run(bs.name, func(b *testing.B) {
			st := bs.new(b)
			ctx := context.Background()
			data := storetest.Document(300)
			exp := time.Now().Add(time.Hour)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := st.Set(ctx, fmt.Sprint("id", i%1000), data, exp); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkParallelSet writes from 32 goroutines per CPU, as a busy server
// would. bbolt has one writer at a time and each commit fsyncs; boltstore
// commits the writes that queue up meanwhile together. "bbolt-update" is the
// baseline without that: one bbolt Update (and one fsync) per write.
func BenchmarkParallelSet(b *testing.B) {
	type setter func(ctx context.Context, id string, data []byte, exp time.Time) error
	variants := []struct {
		name string
		new  func(b *testing.B) setter
	}{
		{"memstore", func(b *testing.B) setter { return benchStores[0].new(b).Set }},
		{"boltstore", func(b *testing.B) setter { return benchStores[1].new(b).Set }},
		{"bbolt-update", func(b *testing.B) setter {
			st := benchStores[1].new(b).(*boltstore.Store)
			db := st.DB()
			return func(_ context.Context, id string, data []byte, exp time.Time) error {
				return db.Update(func(tx *bbolt.Tx) error {
					bk := tx.Bucket([]byte(boltstore.DefaultBucket))
					seq, _ := bk.NextSequence()
					v := make([]byte, 16+len(data))
					binary.BigEndian.PutUint64(v, uint64(exp.UnixNano()))
					binary.BigEndian.PutUint64(v[8:], seq)
					copy(v[16:], data)
					return bk.Put([]byte(id), v)
				})
			}
		}},
	}
	for _, bv := range variants {
		b.Run(bv.name, func(b *testing.B) {
			set := bv.new(b)
			ctx := context.Background()
			data := storetest.Document(300)
			exp := time.Now().Add(time.Hour)
			var n atomic.Int64
			b.SetParallelism(32)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				id := fmt.Sprint("id", n.Add(1))
				for pb.Next() {
					if err := set(ctx, id, data, exp); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkCompareAndSwap is one successful swap per iteration, from the
// version the previous swap returned.
func BenchmarkCompareAndSwap(b *testing.B) {
	for _, bs := range benchStores {
		b.Run(bs.name, func(b *testing.B) {
			st := bs.new(b)
			ctx := context.Background()
			data := storetest.Document(300)
			exp := time.Now().Add(time.Hour)
			v, swapped, err := st.CompareAndSwap(ctx, "id", "", data, exp)
			if err != nil || !swapped {
				b.Fatal(swapped, err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if v, swapped, err = st.CompareAndSwap(ctx, "id", v, data, exp); err != nil || !swapped {
					b.Fatal(swapped, err)
				}
			}
		})
	}
}

// BenchmarkRequest is a full request through the middleware on an existing
// session, one kind of request per sub-benchmark:
//
//	write             loads, changes and saves it (compare-and-swap)
//	write-touchafter  write with TouchAfter
//	read              only reads it; the store touch is due on every request
//	                  (no TouchAfter), so it can ride on the load
//	read-rolling      read with Rolling: the touch is at the end of the request
//	read-rememberme   read of a session whose own cookie lasts 30 days (a
//	                  "remember me") where the options' lasts an hour: the
//	                  end of the request sets the session's own expiry
//	read-touchafter   read with TouchAfter: no touch is due, a plain read
//	read-user         read of a session with a user (session.SetUser): each
//	                  touch records the user's index entry too
//	read-user-rolling read-user with Rolling
//	stale-cookie      a request whose cookie names a destroyed session
//
// On boltstore it also reports the commits (bbolt write transactions, each
// two fdatasyncs: the pages, then the meta page) and the read transactions
// per request.
func BenchmarkRequest(b *testing.B) {
	views := func(w http.ResponseWriter, r *http.Request) {
		s := session.From(r)
		n, _ := session.GetAs[int](s, "views")
		s.Set("views", n+1)
	}
	read := func(w http.ResponseWriter, r *http.Request) {
		s := session.From(r)
		n, _ := session.GetAs[int](s, "views")
		fmt.Fprint(w, n)
	}
	login := func(w http.ResponseWriter, r *http.Request) {
		views(w, r)
		session.From(r).SetUser("ada")
	}
	kinds := []struct {
		name    string
		opts    session.Options
		first   http.HandlerFunc // the request that creates the session
		handler http.HandlerFunc
		destroy bool // destroy the session before the loop
	}{
		{name: "write", first: views, handler: views},
		{name: "write-touchafter", opts: session.Options{TouchAfter: time.Hour}, first: views, handler: views},
		{name: "read", first: views, handler: read},
		{name: "read-rolling", opts: session.Options{Rolling: true}, first: views, handler: read},
		{name: "read-rememberme", first: func(w http.ResponseWriter, r *http.Request) {
			views(w, r)
			session.From(r).Cookie().SetMaxAge(30 * 24 * time.Hour)
		}, handler: read},
		{name: "read-touchafter", opts: session.Options{TouchAfter: time.Hour}, first: views, handler: read},
		{name: "read-user", first: login, handler: read},
		{name: "read-user-rolling", opts: session.Options{Rolling: true}, first: login, handler: read},
		{name: "stale-cookie", first: views, handler: read, destroy: true},
	}
	for _, kind := range kinds {
		for _, bs := range benchStores {
			b.Run(kind.name+"/"+bs.name, func(b *testing.B) {
				st := bs.new(b)
				opts := kind.opts
				opts.Secrets = []string{"bench secret"}
				opts.Store = st
				opts.Cookie = session.CookieOptions{MaxAge: time.Hour}
				opts.Logger = slog.New(slog.DiscardHandler)
				m, err := session.New(opts)
				if err != nil {
					b.Fatal(err)
				}
				h := m.Handler(kind.handler)
				rec := httptest.NewRecorder()
				m.Handler(kind.first).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
				cookies := rec.Result().Cookies()
				if len(cookies) != 1 {
					b.Fatalf("first request set %d cookies", len(cookies))
				}
				req := httptest.NewRequest("GET", "/", nil)
				req.AddCookie(cookies[0])
				if kind.destroy {
					ids, err := st.(session.Lister).IDs(context.Background())
					if err != nil || len(ids) != 1 {
						b.Fatalf("ids %v, %v", ids, err)
					}
					if err := st.Destroy(context.Background(), ids[0]); err != nil {
						b.Fatal(err)
					}
				}
				bolt, _ := st.(*boltstore.Store)
				var before txCounts
				if bolt != nil {
					before = countTx(b, bolt)
				}
				b.ReportAllocs()
				for b.Loop() {
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK {
						b.Fatalf("status %d: %s", rec.Code, rec.Body)
					}
				}
				if bolt != nil {
					after := countTx(b, bolt)
					b.ReportMetric(float64(after.commits-before.commits)/float64(b.N), "commits/op")
					// countTx's own read transaction is not the requests'.
					b.ReportMetric(float64(after.reads-before.reads-1)/float64(b.N), "readtx/op")
				}
			})
		}
	}
}

// txCounts is what bbolt counts of a database's transactions.
type txCounts struct {
	commits uint64 // committed write transactions: the meta page's txid
	reads   int    // read transactions begun (DB.Stats().TxN)
}

// countTx reads st's transaction counts, in a read transaction of its own
// (which TxN counts, once it has begun).
func countTx(b *testing.B, st *boltstore.Store) txCounts {
	var c txCounts
	if err := st.DB().View(func(tx *bbolt.Tx) error { c.commits = uint64(tx.ID()); return nil }); err != nil {
		b.Fatal(err)
	}
	c.reads = st.DB().Stats().TxN
	return c
}

// BenchmarkParallelRequest is BenchmarkRequest's "write" from 32 goroutines
// per CPU, each on its own session, as a busy server sees it.
func BenchmarkParallelRequest(b *testing.B) {
	views := func(w http.ResponseWriter, r *http.Request) {
		s := session.From(r)
		n, _ := session.GetAs[int](s, "views")
		s.Set("views", n+1)
	}
	for _, bs := range benchStores {
		b.Run("write/"+bs.name, func(b *testing.B) {
			m, err := session.New(session.Options{
				Secrets: []string{"bench secret"},
				Store:   bs.new(b),
				Cookie:  session.CookieOptions{MaxAge: time.Hour},
			})
			if err != nil {
				b.Fatal(err)
			}
			h := m.Handler(http.HandlerFunc(views))
			b.SetParallelism(32)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
				cookies := rec.Result().Cookies()
				if len(cookies) != 1 {
					b.Errorf("first request set %d cookies", len(cookies))
					return
				}
				req := httptest.NewRequest("GET", "/", nil)
				req.AddCookie(cookies[0])
				for pb.Next() {
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK {
						b.Errorf("status %d: %s", rec.Code, rec.Body)
						return
					}
				}
			})
		})
	}
}

// BenchmarkIndexUserSession rewrites the index entries of a user's
// sessions (as each touch or save of a session with a user does), for a
// user with 10 and 10,000 live sessions indexed: one write at a time, each
// a commit and an fsync of its own, and from 32 goroutines per CPU, whose
// writes share commits (the work of each write in the transaction then
// counts for more than the fsync).
func BenchmarkIndexUserSession(b *testing.B) {
	for _, bc := range []struct {
		n        int
		parallel bool
	}{{10, false}, {10000, false}, {10, true}, {10000, true}} {
		name := fmt.Sprint("entries=", bc.n)
		if bc.parallel {
			name += "/parallel"
		}
		n := bc.n
		b.Run(name, func(b *testing.B) {
			st, err := boltstore.Open(filepath.Join(b.TempDir(), "bench.db"), boltstore.WithSweepInterval(0))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { st.Close() })
			ctx := context.Background()
			now := time.Now()
			ids := make([]string, n)
			for i := range ids {
				ids[i] = fmt.Sprintf("session-%026d", i)
			}
			// Index them from many goroutines, so that the commit queue
			// groups the writes and the setup costs few fsyncs.
			var wg sync.WaitGroup
			const workers = 64
			for w := range workers {
				wg.Go(func() {
					for i := w; i < n; i += workers {
						if err := st.IndexUserSession(ctx, "alice", ids[i], now, now.Add(time.Hour)); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			if b.Failed() {
				b.FailNow()
			}
			b.ReportAllocs()
			if bc.parallel {
				var next atomic.Int64
				b.SetParallelism(32)
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := st.IndexUserSession(ctx, "alice", ids[int(next.Add(1))%n], now, now.Add(time.Hour)); err != nil {
							b.Error(err)
							return
						}
					}
				})
				return
			}
			i := 0
			for b.Loop() {
				if err := st.IndexUserSession(ctx, "alice", ids[i%n], now, now.Add(time.Hour)); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkPurgeExpiredWithUsersNotDue sweeps a store whose user index
// holds 1,000 or 10,000 users with 3 entries each, none of them past its
// deadline, and no session: the sweep's whole cost is the user index.
func BenchmarkPurgeExpiredWithUsersNotDue(b *testing.B) {
	for _, users := range []int{1000, 10000} {
		b.Run(fmt.Sprint("users=", users), func(b *testing.B) {
			st, err := boltstore.Open(filepath.Join(b.TempDir(), "bench.db"), boltstore.WithSweepInterval(0))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { st.Close() })
			ctx := context.Background()
			now := time.Now()
			// Index them from many goroutines, so that the commit queue
			// groups the writes and the setup costs few fsyncs.
			var wg sync.WaitGroup
			const workers = 64
			for w := range workers {
				wg.Go(func() {
					for u := w; u < users; u += workers {
						for j := range 3 {
							id := fmt.Sprintf("session-%020d-%d", u, j)
							if err := st.IndexUserSession(ctx, fmt.Sprint("user-", u), id, now, now.Add(time.Hour)); err != nil {
								b.Error(err)
								return
							}
						}
					}
				})
			}
			wg.Wait()
			if b.Failed() {
				b.FailNow()
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := st.PurgeExpired(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
