package session

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// With RecordClient and TrustProxy, the first X-Forwarded-For entry, which
// the client writes, is recorded as the client IP. It is bounded, as the
// user agent is: a client that sends a 100 KB entry does not make every
// save of its session write 100 KB (the recording costs up to about 300
// bytes per document), and one that sends an entry over MaxDocumentBytes
// does not get a 500 from a save that no longer fits.
func TestRecordedForwardedClientIPIsBounded(t *testing.T) {
	m, st := newTestManager(t, Options{RecordClient: true, TrustProxy: true})
	h := m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.SetUser("ada")
	}))
	for _, size := range []int{100 << 10, DefaultMaxDocumentBytes + 1} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("User-Agent", "test-browser/1.0")
		req.Header.Set("X-Forwarded-For", strings.Repeat("a", size)+", 10.0.0.1")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		id := ""
		for _, c := range rec.Result().Cookies() {
			id = mustID(t, m, c.Value)
		}
		if rec.Code != http.StatusOK || id == "" {
			t.Fatalf("X-Forwarded-For of %d bytes: status %d, no session cookie", size, rec.Code)
		}
		data, _, _ := st.Store.Get(t.Context(), id)
		if len(data) > 1024 {
			t.Fatalf("X-Forwarded-For of %d bytes: stored document of %d bytes, want the recorded IP bounded", size, len(data))
		}
	}
}

// A recorded user agent or client IP that is not UTF-8 as sent (a user agent
// cut at its bound inside a character, or with obs-text bytes) is recorded
// as it reads back: the next request of the same client is not a change, so
// that the session is not saved again on every request.
func TestARecordedClientThatIsNotUTF8DoesNotResaveEveryRequest(t *testing.T) {
	for name, ua := range map[string]string{
		"cut inside a character": strings.Repeat("a", maxUserAgent-1) + "é",
		"obs-text bytes":         "browser/\xe9t\xe9",
	} {
		t.Run(name, func(t *testing.T) {
			m, st := newTestManager(t, Options{RecordClient: true, TrustProxy: true})
			b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
				if r.URL.Path == "/login" {
					s.SetUser("ada")
				}
			})))
			b.header = http.Header{"User-Agent": {ua}, "X-Forwarded-For": {"10.0.0.\xff1"}}
			b.get("/login")
			st.reset()
			for range 3 {
				b.get("/")
			}
			if w := st.writes(); w != 0 {
				t.Fatalf("3 requests of the same client wrote %d times: %v", w, st.calls)
			}
		})
	}
}

// With TrustProxy the recorded client IP is the leftmost X-Forwarded-For
// entry that is not empty, over every header line in order, trimmed of
// spaces only: what express's req.ip is with trust proxy true (Node joins
// the lines; proxy-addr skips empty entries). An empty first entry used to
// record the peer.
func TestTrustProxyRecordsTheLeftmostForwardedEntryAsExpress(t *testing.T) {
	for _, tc := range []struct {
		xff  []string
		want string
	}{
		{[]string{"203.0.113.7, 10.0.0.1"}, "203.0.113.7"},
		{[]string{", 203.0.113.7, 10.0.0.1"}, "203.0.113.7"},
		{[]string{" ,  , 203.0.113.7 "}, "203.0.113.7"},
		{[]string{"", " , ", "203.0.113.7, 10.0.0.1"}, "203.0.113.7"},
		{[]string{"\t203.0.113.7, 10.0.0.1"}, "\t203.0.113.7"},
		{[]string{" , "}, "192.0.2.9"},
		{nil, "192.0.2.9"},
	} {
		if got := recordedIP(t, Options{TrustProxy: true}, "192.0.2.9:1234", tc.xff...); got != tc.want {
			t.Errorf("X-Forwarded-For %q: recorded IP %q, want %q", tc.xff, got, tc.want)
		}
	}
}
