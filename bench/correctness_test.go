package bench

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// origin is where the test browser believes it is.
var origin = &url.URL{Scheme: "http", Host: "example.test", Path: "/"}

// browser sends requests straight to a handler and keeps the cookies it is
// sent, as a browser would.
type browser struct {
	t   testing.TB
	jar *cookiejar.Jar
}

func newBrowser(t testing.TB) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, jar: jar}
}

// serve sends GET /?query through h with the browser's cookies, stores the
// cookies of the response, and returns the response and its body.
func (b *browser) serve(h http.Handler, query string) (*http.Response, string, error) {
	req := httptest.NewRequest("GET", "http://example.test/?"+query, nil)
	for _, c := range b.jar.Cookies(origin) {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, "", err
	}
	if res.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("GET /?%s: status %d: %s", query, res.StatusCode, body)
	}
	b.jar.SetCookies(origin, res.Cookies())
	return res, string(body), nil
}

// get is serve that fails the test on an error.
func (b *browser) get(h http.Handler, query string) (*http.Response, string) {
	b.t.Helper()
	res, body, err := b.serve(h, query)
	if err != nil {
		b.t.Fatal(err)
	}
	return res, body
}

// count serves a request through h and returns its body as a number.
func (b *browser) count(h http.Handler) int {
	b.t.Helper()
	_, body := b.get(h, "")
	n, err := strconv.Atoi(body)
	if err != nil {
		b.t.Fatalf("body %q is not a number", body)
	}
	return n
}

// TestIncrementPersistsAcrossRequests pins that every library's increment
// setup really loads and saves the session, so the benchmarks of that
// scenario do not measure a broken setup.
func TestIncrementPersistsAcrossRequests(t *testing.T) {
	for _, lib := range libraries(t) {
		t.Run(lib.name, func(t *testing.T) {
			b := newBrowser(t)
			for want := 1; want <= 3; want++ {
				if got := b.count(lib.incr); got != want {
					t.Fatalf("increment request %d answered %d, want %d", want, got, want)
				}
			}
			if got := b.count(lib.read); got != 3 {
				t.Fatalf("read after three increments answered %d, want 3", got)
			}
			if got := newBrowser(t).count(lib.read); got != 0 {
				t.Fatalf("another browser read %d, want 0 (a session of its own)", got)
			}
		})
	}
}

// TestReadingANewSessionSetsNoCookie pins that the "new session" scenario
// does the same work in every library: a read-only request without a cookie
// stores nothing and sends no cookie.
func TestReadingANewSessionSetsNoCookie(t *testing.T) {
	for _, lib := range libraries(t) {
		t.Run(lib.name, func(t *testing.T) {
			res, _ := newBrowser(t).get(lib.read, "")
			if c := res.Header.Values("Set-Cookie"); len(c) != 0 {
				t.Fatalf("read-only request on a new session sent Set-Cookie %q", c)
			}
		})
	}
}

// TestReadingDoesNotChangeTheSession pins that the load+read scenario reads
// a stored session, in every library, without changing it.
func TestReadingDoesNotChangeTheSession(t *testing.T) {
	for _, lib := range libraries(t) {
		t.Run(lib.name, func(t *testing.T) {
			b := newBrowser(t)
			b.count(lib.incr)
			for range 2 {
				if got := b.count(lib.read); got != 1 {
					t.Fatalf("read answered %d, want 1", got)
				}
			}
		})
	}
}

// TestParallelRequestsKeepEveryKey sends 20 parallel requests on one session,
// each setting its own key after 10 ms of "work" (a stand-in for a database
// call) between loading the session and changing it, then counts the keys
// that survived. sessionkit must keep all 20; scs saves each request's whole
// snapshot of the session, so the last writer wins and keys get lost: its
// count is logged, not asserted.
func TestParallelRequestsKeepEveryKey(t *testing.T) {
	const requests = 20
	for _, lib := range libraries(t) {
		if lib.setKey == nil {
			continue
		}
		t.Run(lib.name, func(t *testing.T) {
			b := newBrowser(t)
			b.count(lib.incr) // creates the session: key "views"
			h := lib.setKey(10 * time.Millisecond)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range requests {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					if _, _, err := b.serve(h, fmt.Sprintf("k=key%02d", i)); err != nil {
						t.Error(err)
					}
				}()
			}
			close(start)
			wg.Wait()

			var kept []string
			_, body := b.get(lib.keys, "")
			for k := range strings.FieldsSeq(body) {
				if strings.HasPrefix(k, "key") {
					kept = append(kept, k)
				}
			}
			t.Logf("%s: %d of %d keys survived %d parallel requests", lib.name, len(kept), requests, requests)
			if lib.name == "sessionkit" && len(kept) != requests {
				t.Fatalf("sessionkit kept %d of %d keys: %q", len(kept), requests, kept)
			}
		})
	}
}
