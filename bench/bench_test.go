package bench

import (
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
)

// discardWriter is a ResponseWriter that keeps nothing, so that the
// benchmarks measure the middleware and not a recorder.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header {
	if d.h == nil {
		d.h = http.Header{}
	}
	return d.h
}
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}

// serve sends a shallow copy of proto through h. gorilla/sessions stores its
// registry in *r, so serving one *http.Request twice would hand it the
// session cached by the first request; every library, and the bare
// baseline, pays for the same copy.
func serve(h http.Handler, w *discardWriter, proto *http.Request) {
	clear(w.h)
	r := *proto
	h.ServeHTTP(w, &r)
}

// bodyOf serves a copy of proto through h and returns the body as a number.
func bodyOf(tb testing.TB, h http.Handler, proto *http.Request) int {
	tb.Helper()
	rec := httptest.NewRecorder()
	r := *proto
	h.ServeHTTP(rec, &r)
	n, err := strconv.Atoi(rec.Body.String())
	if rec.Code != http.StatusOK || err != nil {
		tb.Fatalf("status %d, body %q", rec.Code, rec.Body)
	}
	return n
}

// withSession returns a request that carries the cookie of a new stored
// session with views = 1, created through incr.
func withSession(tb testing.TB, incr http.Handler) *http.Request {
	tb.Helper()
	rec := httptest.NewRecorder()
	incr.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 {
		tb.Fatalf("creating a session: want one cookie, got %d", len(cookies))
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(cookies[0])
	return r
}

// parallelism makes RunParallel use 8 goroutines (when GOMAXPROCS divides 8).
func parallelism() int { return max(1, 8/runtime.GOMAXPROCS(0)) }

// BenchmarkRequest measures one request through each library's session
// handling, next to the same handler without sessions (lib=none), in one run.
// Each scenario checks once that it measures what it says before timing.
func BenchmarkRequest(b *testing.B) {
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "1") })
	plain := httptest.NewRequest("GET", "/", nil)
	loop := func(b *testing.B, h http.Handler, r *http.Request) {
		w := &discardWriter{}
		b.ReportAllocs()
		for b.Loop() {
			serve(h, w, r)
		}
	}
	b.Run("scenario=bare/lib=none", func(b *testing.B) { loop(b, bare, plain) })
	b.Run("scenario=parallel8-bare/lib=none", func(b *testing.B) {
		b.SetParallelism(parallelism())
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			w := &discardWriter{}
			for pb.Next() {
				serve(bare, w, plain)
			}
		})
	})
	for _, lib := range libraries(b) {
		b.Run("scenario=new/lib="+lib.name, func(b *testing.B) {
			if n := bodyOf(b, lib.read, plain); n != 0 {
				b.Fatalf("new session read views = %d, want 0", n)
			}
			loop(b, lib.read, plain)
		})
		b.Run("scenario=load-read/lib="+lib.name, func(b *testing.B) {
			r := withSession(b, lib.incr)
			if n := bodyOf(b, lib.read, r); n != 1 {
				b.Fatalf("stored session read views = %d, want 1", n)
			}
			loop(b, lib.read, r)
		})
		b.Run("scenario=load-increment-save/lib="+lib.name, func(b *testing.B) {
			r := withSession(b, lib.incr)
			if n := bodyOf(b, lib.incr, r); n != 2 {
				b.Fatalf("increment of a stored session answered %d, want 2", n)
			}
			loop(b, lib.incr, r)
		})
		b.Run("scenario=parallel8-load-increment-save/lib="+lib.name, func(b *testing.B) {
			reqs := make([]*http.Request, 64) // more than there are goroutines: one session each
			for i := range reqs {
				reqs[i] = withSession(b, lib.incr)
			}
			var next atomic.Int64
			b.SetParallelism(parallelism())
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				r := reqs[(next.Add(1)-1)%int64(len(reqs))]
				w := &discardWriter{}
				for pb.Next() {
					serve(lib.incr, w, r)
				}
			})
		})
	}
}
