package session

import (
	"net/http"
	"strings"
	"testing"
)

// A user agent or forwarded client IP longer than its bound is recorded
// cut between two characters: the longest start of it, whole characters
// only, that fits. A cut inside a 4-byte character (an emoji) left 3 bytes
// of it, which became one U+FFFD of 3 bytes, within the bound, so the
// recorded user agent ended in a replacement character the client never
// sent.
func TestARecordedClientCutAtItsBoundEndsBetweenCharacters(t *testing.T) {
	const emoji = "\U0001F600" // 4 bytes
	for name, c := range map[string]struct{ ua, ip, wantUA, wantIP string }{
		"emoji at the bound": {
			ua:     strings.Repeat("a", maxUserAgent-1) + emoji,
			ip:     strings.Repeat("1", maxClientIP-1) + emoji,
			wantUA: strings.Repeat("a", maxUserAgent-1),
			wantIP: strings.Repeat("1", maxClientIP-1),
		},
		"emoji 3 bytes over the bound": {
			ua:     strings.Repeat("a", maxUserAgent-3) + emoji,
			ip:     strings.Repeat("1", maxClientIP-3) + emoji,
			wantUA: strings.Repeat("a", maxUserAgent-3),
			wantIP: strings.Repeat("1", maxClientIP-3),
		},
		"emoji that ends at the bound, then more": {
			ua:     strings.Repeat("a", maxUserAgent-4) + emoji + "b",
			ip:     strings.Repeat("1", maxClientIP-4) + emoji + "2",
			wantUA: strings.Repeat("a", maxUserAgent-4) + emoji,
			wantIP: strings.Repeat("1", maxClientIP-4) + emoji,
		},
		"3-byte character 2 bytes over the bound": {
			ua:     strings.Repeat("a", maxUserAgent-1) + "€",
			ip:     strings.Repeat("1", maxClientIP-1) + "€",
			wantUA: strings.Repeat("a", maxUserAgent-1),
			wantIP: strings.Repeat("1", maxClientIP-1),
		},
		"a byte that is no character's start just past the bound": {
			ua:     strings.Repeat("a", maxUserAgent) + "\xa9",
			ip:     strings.Repeat("1", maxClientIP) + "\xa9",
			wantUA: strings.Repeat("a", maxUserAgent),
			wantIP: strings.Repeat("1", maxClientIP),
		},
	} {
		t.Run(name, func(t *testing.T) {
			m, _ := newTestManager(t, Options{RecordClient: true, TrustProxy: true})
			b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
				s.SetUser("ada")
			})))
			b.header = http.Header{"User-Agent": {c.ua}, "X-Forwarded-For": {c.ip}}
			if rec := b.get("/"); rec.Code != http.StatusOK {
				t.Fatalf("status %d", rec.Code)
			}
			infos, err := m.UserSessions(t.Context(), "ada")
			if err != nil || len(infos) != 1 {
				t.Fatalf("UserSessions = %+v, %v", infos, err)
			}
			if got := infos[0].UserAgent; got != c.wantUA {
				t.Errorf("recorded user agent %q (%d bytes), want %q (%d bytes)", got, len(got), c.wantUA, len(c.wantUA))
			}
			if got := infos[0].IP; got != c.wantIP {
				t.Errorf("recorded IP %q (%d bytes), want %q (%d bytes)", got, len(got), c.wantIP, len(c.wantIP))
			}
		})
	}
}
