package demo

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// A delete of a key that no session can hold (longer than maxKeyLen) does
// not copy it into the error message kept in the session: the form's key
// is as long as the 64 KiB body allows, and the message quoted it whole,
// so that eight posts not followed by a page view (a client that does not
// follow redirects) took the session over the manager's 512 KiB and every
// request after them got 500.
func TestDeleteOfAnOverlongKeyKeepsTheFlashShort(t *testing.T) {
	s := startDemo(t, t.TempDir())
	b := newBrowser(t, s)
	noRedirect := &http.Client{Jar: b.c.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	key := strings.Repeat("k", 60000)
	for i := range 9 {
		resp, err := noRedirect.PostForm(s.URL()+"/delete", url.Values{"key": {key}})
		if err != nil {
			t.Fatal(err)
		}
		body := readBody(t, resp)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("post %d of a %d-byte key to /delete: status %d %.200s; want 303", i+1, len(key), resp.StatusCode, body)
		}
	}
	p := b.home()
	if len(p.errors) != 9 {
		t.Fatalf("the page shows %d error messages, want 9", len(p.errors))
	}
	for _, e := range p.errors {
		if len(e) > 200 {
			t.Fatalf("an error message of %d bytes: %.100s...", len(e), e)
		}
	}
}
