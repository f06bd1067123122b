package session

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// discardWriter is a ResponseWriter that keeps nothing, so that the
// benchmarks measure the middleware and not the recorder.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header {
	if d.h == nil {
		d.h = http.Header{}
	}
	return d.h
}
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}

// The benchmark handlers write as the bare handler does (no fmt), so that
// the difference to it is the middleware's.
var (
	benchRead = handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		n, _ := GetAs[int](s, "views")
		io.WriteString(w, strconv.Itoa(n))
	})
	benchIncr = handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		n, _ := GetAs[int](s, "views")
		s.Set("views", n+1)
		io.WriteString(w, strconv.Itoa(n+1))
	})
)

// benchRequests returns n requests, each carrying the cookie of its own
// stored session with views = 1.
func benchRequests(b *testing.B, m *Manager, n int) []*http.Request {
	reqs := make([]*http.Request, n)
	h := m.Handler(benchIncr)
	for i := range reqs {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		c := rec.Result().Cookies()
		if len(c) != 1 {
			b.Fatal("no cookie")
		}
		reqs[i] = httptest.NewRequest("GET", "/", nil)
		reqs[i].AddCookie(c[0])
	}
	return reqs
}

// BenchmarkRequest measures one request through the middleware with the
// default memstore, next to the bare handler without the middleware, with a
// browser-session cookie and with a 24-hour cookie (which adds a touch to
// every read and a Set-Cookie to every write).
func BenchmarkRequest(b *testing.B) {
	for _, maxAge := range []time.Duration{0, 24 * time.Hour} {
		b.Run("maxage="+maxAge.String(), func(b *testing.B) { benchmarkRequest(b, maxAge) })
	}
}

func benchmarkRequest(b *testing.B, maxAge time.Duration) {
	m, err := New(Options{Secrets: []string{"keyboard cat"}, Cookie: CookieOptions{MaxAge: maxAge}})
	if err != nil {
		b.Fatal(err)
	}
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "1") })
	run := func(b *testing.B, h http.Handler, r *http.Request) {
		w := &discardWriter{}
		b.ReportAllocs()
		for b.Loop() {
			clear(w.h)
			h.ServeHTTP(w, r)
		}
	}
	plain := httptest.NewRequest("GET", "/", nil)
	withCookie := benchRequests(b, m, 1)[0]
	b.Run("bare", func(b *testing.B) { run(b, bare, plain) })
	b.Run("untouched", func(b *testing.B) { run(b, m.Handler(bare), withCookie) })
	b.Run("new", func(b *testing.B) { run(b, m.Handler(benchRead), plain) })
	b.Run("load-read", func(b *testing.B) { run(b, m.Handler(benchRead), withCookie) })
	b.Run("load-increment-save", func(b *testing.B) { run(b, m.Handler(benchIncr), withCookie) })
	b.Run("parallel8-bare", func(b *testing.B) {
		b.SetParallelism(8)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			w := &discardWriter{}
			for pb.Next() {
				bare.ServeHTTP(w, plain)
			}
		})
	})
	reqs := benchRequests(b, m, 64)
	b.Run("parallel8-load-increment-save", func(b *testing.B) {
		var next atomic.Int64
		b.SetParallelism(8)
		b.ReportAllocs()
		h := m.Handler(benchIncr)
		b.RunParallel(func(pb *testing.PB) {
			r := reqs[next.Add(1)%int64(len(reqs))] // a session of its own
			w := &discardWriter{}
			for pb.Next() {
				clear(w.h)
				h.ServeHTTP(w, r)
			}
		})
	})
}

func BenchmarkCookie(b *testing.B) {
	s := newSigner([]string{"keyboard cat"})
	v := s.cookieValue("tfQ3T7F4N8dgoOLdFY0Dbm-pO7oBv3GZ")
	b.Run("sign", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s.cookieValue("tfQ3T7F4N8dgoOLdFY0Dbm-pO7oBv3GZ")
		}
	})
	b.Run("unsign", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := s.unsign(v); !ok {
				b.Fatal("unsign failed")
			}
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	doc := []byte(`{"cookie":{"originalMaxAge":86400000,"expires":"2026-11-23T10:00:00.000Z","httpOnly":true,"path":"/"},"` + CreatedKey + `":"2026-11-22T09:59:00.000Z","views":3}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := (JSONCodec{}).Decode(doc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeNested decodes a document with a value of some size and
// depth (a cart of 20 items), which scanValue validates byte by byte.
func BenchmarkDecodeNested(b *testing.B) {
	var cart strings.Builder
	cart.WriteString(`{"items":[`)
	for i := range 20 {
		if i > 0 {
			cart.WriteByte(',')
		}
		fmt.Fprintf(&cart, `{"sku":"sku-%04d","qty":%d,"price":%d.99,"tags":["sale","new"],"opts":{"size":"M","gift":false}}`, i, i%3+1, i)
	}
	cart.WriteString(`],"total":123.45}`)
	doc := []byte(`{"cookie":{"originalMaxAge":86400000,"expires":"2026-11-23T10:00:00.000Z","httpOnly":true,"path":"/"},"` + CreatedKey + `":"2026-11-22T09:59:00.000Z","cart":` + cart.String() + `,"views":3}`)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := (JSONCodec{}).Decode(doc); err != nil {
			b.Fatal(err)
		}
	}
}
