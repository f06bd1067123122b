package session

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A custom GenerateID whose id cannot make a cookie that comes back (not
// UTF-8, which the cookie's percent-decoding refuses as express's does, or
// too long for the value the middleware verifies, or for the 4096 bytes
// browsers keep of a cookie) fails the request with an error naming
// GenerateID, instead of sending a cookie that never brings the session
// back: a new session on every request, and a stored one each time. An id
// of the longest length that fits works.
func TestGenerateIDThatCannotMakeACookieFailsTheRequest(t *testing.T) {
	longest := strings.Repeat("a", maxCookieValue-len("s:.")-sigLen)
	for _, tc := range []struct {
		name, cookieName, id string
		ok                   bool
	}{
		{"not UTF-8", "", "\xff\xfe" + strings.Repeat("x", 30), false},
		{"longer than a verified cookie value", "", longest + "a", false},
		{"the longest that fits", "", longest, true},
		{"cookie over 4096 bytes", strings.Repeat("n", 2000), strings.Repeat("/", 700), false},
		{"a long name and an id that fit", strings.Repeat("n", 2000), strings.Repeat("a", 700), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var handled error
			m, st := newTestManager(t, Options{
				Name:       tc.cookieName,
				GenerateID: func(*http.Request) string { return tc.id },
				ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
					handled = err
					w.WriteHeader(http.StatusInternalServerError)
				},
			})
			h := m.Handler(incrViews)
			name := m.opts.Name
			req := func(cookie string) (*httptest.ResponseRecorder, string) {
				r := httptest.NewRequest(http.MethodGet, "/", nil)
				if cookie != "" {
					r.Header.Set("Cookie", name+"="+cookie)
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, r)
				for _, c := range rec.Result().Cookies() {
					if c.Name == name {
						return rec, c.Value
					}
				}
				return rec, ""
			}
			res, cookie := req("")
			if !tc.ok {
				if res.Code != http.StatusInternalServerError || handled == nil || !strings.Contains(handled.Error(), "GenerateID") || cookie != "" || st.writes() != 0 {
					t.Fatalf("status %d, error %v, cookie %q, %d writes; want the ErrorHandler's answer with an error naming GenerateID, no cookie and nothing stored",
						res.Code, handled, cookie, st.writes())
				}
				return
			}
			if res.Code != http.StatusOK || cookie == "" {
				t.Fatalf("first request: status %d (error %v), cookie %q", res.Code, handled, cookie)
			}
			if len(name)+1+len(cookie) > 4096 {
				t.Fatalf("cookie of %d bytes, over browsers' 4096", len(name)+1+len(cookie))
			}
			if res, _ := req(cookie); res.Code != http.StatusOK || res.Body.String() != "2" {
				t.Fatalf("second request with the cookie: status %d, views %q; want 2 (the session came back)", res.Code, res.Body.String())
			}
		})
	}
}
