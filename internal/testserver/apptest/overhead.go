package apptest

import (
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/session"
)

// BenchmarkOverhead measures requests through the middleware on st against
// the raw client calls that do the same store work, alternated in one loop
// so that the machine's load affects both alike: a read-only request against
// rawGet, a modifying one against rawGetSet. The app uses a 1-hour cookie and
// TouchAfter, so a read-only request is one store read. It reports each one's
// mean, the request's cost as a percentage of the raw call's, and the same
// without the cost of the request itself (an httptest request through the
// same handler that does not use its session: what any handler costs).
func BenchmarkOverhead(b *testing.B, st session.Store, docSize int, rawGet, rawGetSet func()) {
	app := New(b, st, func(o *session.Options) {
		o.Cookie.MaxAge = time.Hour
		o.TouchAfter = time.Minute
	})
	first := app.MustDo(b, "/set?k=pad&v="+strings.Repeat("x", docSize-100), nil)
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
