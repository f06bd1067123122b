package memstore_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/memstore"
	"github.com/sessionkit/session/storetest"
)

// mutexStore is the baseline: one map behind one mutex, copying like memstore.
type mutexStore struct {
	mu sync.Mutex
	m  map[string]mutexEntry
}

type mutexEntry struct {
	data    []byte
	expires time.Time
}

func newMutexStore() *mutexStore { return &mutexStore{m: map[string]mutexEntry{}} }

func (s *mutexStore) Get(ctx context.Context, id string) ([]byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[id]
	if !ok || !time.Now().Before(e.expires) {
		return nil, false, nil
	}
	return append([]byte(nil), e.data...), true, nil
}

func (s *mutexStore) Set(ctx context.Context, id string, data []byte, expires time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.m[id]
	s.m[id] = mutexEntry{append(e.data[:0], data...), expires} // reuses the buffer, as memstore does
	return nil
}

func (s *mutexStore) Destroy(ctx context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, id)
	return nil
}

// BenchmarkParallelDifferentSessions loads and saves a session per
// goroutine, each on its own session: memstore's shards against one mutex.
func BenchmarkParallelDifferentSessions(b *testing.B) {
	stores := []struct {
		name string
		new  func(b *testing.B) session.Store
	}{
		{"memstore", func(b *testing.B) session.Store { return newStore(b) }},
		{"mutexmap", func(b *testing.B) session.Store { return newMutexStore() }},
	}
	for _, st := range stores {
		b.Run(st.name, func(b *testing.B) {
			s := st.new(b)
			ctx := context.Background()
			data := storetest.Document(300)
			var n atomic.Int64
			b.SetParallelism(4) // 4 goroutines per CPU
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				id := fmt.Sprint("session-", n.Add(1))
				expires := time.Now().Add(time.Hour)
				s.Set(ctx, id, data, expires)
				for pb.Next() {
					got, _, err := s.Get(ctx, id)
					if err != nil {
						b.Error(err)
						return
					}
					s.Set(ctx, id, got, expires)
				}
			})
		})
	}
}

// BenchmarkBytesPerLiveSession stores b.N sessions of a 300-byte document
// and reports the live heap they take, per session, with the document's own
// size subtracted (the store's overhead), against a plain map.
func BenchmarkBytesPerLiveSession(b *testing.B) {
	ctx := context.Background()
	data := storetest.Document(300)
	stores := []struct {
		name string
		new  func(b *testing.B) session.Store
	}{
		{"memstore", func(b *testing.B) session.Store { return newStore(b, memstore.WithSweepInterval(0)) }},
		{"mutexmap", func(b *testing.B) session.Store { return newMutexStore() }},
	}
	for _, st := range stores {
		b.Run(st.name, func(b *testing.B) {
			n := max(b.N, 10_000)
			ids := make([]string, n)
			for i := range ids {
				ids[i] = storetest.NewID()
			}
			expires := time.Now().Add(time.Hour)
			before := liveHeap()
			s := st.new(b)
			b.ResetTimer()
			for i := range n {
				// A copy of the id, as each request's cookie gives one: the
				// store keeps it, and ids was allocated before the measure.
				s.Set(ctx, strings.Clone(ids[i]), data, expires)
			}
			b.StopTimer()
			after := liveHeap()
			perSession := float64(after-before) / float64(n)
			b.ReportMetric(perSession, "B/session")
			b.ReportMetric(perSession-float64(len(data)), "overhead-B/session")
			runtime.KeepAlive(s)
			runtime.KeepAlive(ids) // measured in before: not to be freed in between
		})
	}
}

func liveHeap() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkGetVersionAndSwap is the manager's save path on one goroutine.
func BenchmarkGetVersionAndSwap(b *testing.B) {
	s := newStore(b)
	ctx := context.Background()
	data := storetest.Document(300)
	s.Set(ctx, "x", data, time.Now().Add(time.Hour))
	b.ReportAllocs()
	for b.Loop() {
		got, v, _, err := s.GetVersion(ctx, "x")
		if err != nil {
			b.Fatal(err)
		}
		if _, swapped, err := s.CompareAndSwap(ctx, "x", v, got, time.Now().Add(time.Hour)); err != nil || !swapped {
			b.Fatal(err)
		}
	}
}

// BenchmarkIndexUserSession rewrites the index entry of one of a user's
// sessions (as each touch or save of a session with a user does), for a
// user with 10, 1,000 and 10,000 sessions indexed.
func BenchmarkIndexUserSession(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		b.Run(fmt.Sprint("entries=", n), func(b *testing.B) {
			ctx := context.Background()
			s := memstore.New()
			defer s.Close()
			now := time.Now()
			ids := make([]string, n)
			for i := range ids {
				ids[i] = fmt.Sprintf("session-%026d", i)
				if err := s.IndexUserSession(ctx, "alice", ids[i], now, now.Add(time.Hour)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := s.IndexUserSession(ctx, "alice", ids[i%n], now, now.Add(time.Hour)); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkGetAndTouch reads and touches sessions in turn, each to the
// same lifetime from now, as the middleware's load of a read-only request
// does: every touch moves a session's expiry past all the others'.
func BenchmarkGetAndTouch(b *testing.B) {
	for _, n := range []int{300, 100_000} {
		b.Run(fmt.Sprint("sessions=", n), func(b *testing.B) {
			s := newStore(b)
			ctx := context.Background()
			data := storetest.Document(300)
			ids := make([]string, n)
			for i := range ids {
				ids[i] = storetest.NewID()
				s.Set(ctx, ids[i], data, time.Now().Add(24*time.Hour))
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, _, found, err := s.GetAndTouch(ctx, ids[i], time.Now().Add(24*time.Hour)); !found || err != nil {
					b.Fatal(found, err)
				}
				if i++; i == n {
					i = 0
				}
			}
		})
	}
}
