package demo

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Form posts that no page view follows (a client that does not follow the
// redirect) keep at most maxFlashes messages for the next page view: each
// added one, the session grew by the message (up to 4 KB for a stored
// value of 1,000 four-byte characters, which it quotes), and after 128 such
// posts it was over the manager's 512 KiB and every request got 500.
func TestFormPostsWithoutPageViewsKeepFewFlashMessages(t *testing.T) {
	s := startDemo(t, t.TempDir())
	b := newBrowser(t, s)
	noRedirect := &http.Client{Jar: b.c.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	value := strings.Repeat("😀", maxValueLen)
	for i := range 140 {
		resp, err := noRedirect.PostForm(s.URL()+"/set", url.Values{"key": {"a"}, "value": {value}})
		if err != nil {
			t.Fatal(err)
		}
		body := readBody(t, resp)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("post %d to /set: status %d %.200s; want 303", i+1, resp.StatusCode, body)
		}
	}
	if p := b.home(); len(p.infos) != maxFlashes || p.rows["a"] != value {
		t.Errorf("the page shows %d messages and a = %.20q...; want %d and the value", len(p.infos), p.rows["a"], maxFlashes)
	}
}
