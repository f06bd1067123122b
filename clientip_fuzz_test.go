package session

import (
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzRecordedClientReadsBackAsTheNextRequestSeesIt sends any User-Agent
// and X-Forwarded-For (with RecordClient and TrustProxy) at a login and
// checks what is recorded: UTF-8 within its bound, the header as sent when
// it is UTF-8 and fits, its longest start of whole characters that fits
// when it is UTF-8 and does not (no U+FFFD for a character the bound
// cuts), the first X-Forwarded-For entry as the IP (the remote address
// without one), listed as such by UserSessions; and a second request of
// the same client is no change, so that a session is not written again on
// every request.
func FuzzRecordedClientReadsBackAsTheNextRequestSeesIt(f *testing.F) {
	f.Add("Mozilla/5.0", "203.0.113.7, 10.0.0.1")
	f.Add("", "")
	f.Add(strings.Repeat("a", maxUserAgent-1)+"é", " , 10.0.0.1")
	f.Add(strings.Repeat("a", maxUserAgent-3)+"\U0001F600", strings.Repeat("1", maxClientIP-1)+"é")
	f.Add("browser/\xe9t\xe9", "10.0.0.\xff1")
	f.Add("\x00<&>\u2028", "\t")
	f.Fuzz(func(t *testing.T, ua, forwarded string) {
		m, st := newTestManager(t, Options{RecordClient: true, TrustProxy: true})
		b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
			if r.URL.Path == "/login" {
				s.SetUser("ada")
			}
		})))
		b.header = http.Header{"User-Agent": {ua}, "X-Forwarded-For": {forwarded}}
		if rec := b.get("/login"); rec.Code != http.StatusOK {
			t.Fatalf("login with User-Agent %q, X-Forwarded-For %q: status %d", ua, forwarded, rec.Code)
		}
		infos, err := m.UserSessions(t.Context(), "ada")
		if err != nil || len(infos) != 1 {
			t.Fatalf("UserSessions after a login with User-Agent %q, X-Forwarded-For %q = %+v, %v", ua, forwarded, infos, err)
		}
		wantIP := "192.0.2.1" // httptest's remote address, unless an entry is not empty
		for _, e := range strings.Split(forwarded, ",") {
			if e = strings.Trim(e, " "); e != "" {
				wantIP = e
				break
			}
		}
		for _, c := range []struct {
			what, sent, got string
			limit           int
		}{{"user agent", ua, infos[0].UserAgent, maxUserAgent}, {"IP", wantIP, infos[0].IP, maxClientIP}} {
			if len(c.got) > c.limit || !utf8.ValidString(c.got) {
				t.Fatalf("recorded %s %q of %q: over %d bytes or not UTF-8", c.what, c.got, c.sent, c.limit)
			}
			if utf8.ValidString(c.sent) && len(c.sent) <= c.limit && c.got != c.sent {
				t.Fatalf("recorded %s %q, want %q as sent", c.what, c.got, c.sent)
			}
			if utf8.ValidString(c.sent) && len(c.sent) > c.limit {
				_, next := utf8.DecodeRuneInString(c.sent[len(c.got):])
				if !strings.HasPrefix(c.sent, c.got) || len(c.got)+next <= c.limit {
					t.Fatalf("recorded %s %q of %q, want its longest start of whole characters within %d bytes", c.what, c.got, c.sent, c.limit)
				}
			}
		}
		st.reset()
		b.get("/")
		if w := st.writes(); w != 0 {
			t.Fatalf("the next request of the client with User-Agent %q, X-Forwarded-For %q wrote %d times: %v", ua, forwarded, w, st.calls)
		}
	})
}
