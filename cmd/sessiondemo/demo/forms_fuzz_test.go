package demo

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzFormsAnswerNo5xx posts any key, value and name to the page's forms
// (set, then login) and the API's login, as a visitor can, and checks that
// the demo never answers 5xx to what a visitor sends; that the API shows
// the session afterwards; and that what a form accepted is in it:
// the key and value as sent (a key trimmed of spaces) and the user's name.
// It drives the server's handler in-process: no network round trip.
func FuzzFormsAnswerNo5xx(f *testing.F) {
	srv := startForFuzz(f)
	h := srv.srv.Handler

	f.Add("color", "teal", "ada")
	f.Add(" k ", "", " ")
	f.Add("user", "x", "é")
	f.Add("__sessionkit_user", "x", strings.Repeat("n", maxNameLen+1))
	f.Add("cookie", "\x00", "ada")
	f.Add("a", "v", "bob\u202e")
	f.Fuzz(func(t *testing.T, key, value, name string) {
		if len(key) > 4*maxKeyLen+4 || len(name) > 4*maxNameLen+4 || len(value) > 256 {
			// The length limits are plain rune counts, which need no
			// fuzzing; a long input that found new coverage would take
			// Go's minimizer up to a minute of these runs to shrink.
			t.Skip("longer than the limits")
		}
		var cookies []*http.Cookie
		do := func(method, target, contentType, body string) *httptest.ResponseRecorder {
			t.Helper()
			req := httptest.NewRequest(method, target, strings.NewReader(body))
			if contentType != "" {
				req.Header.Set("Content-Type", contentType)
			}
			for _, c := range cookies {
				req.AddCookie(c)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code >= 500 {
				t.Fatalf("%s %s %q (key %q, value %q, name %q): %d %s", method, target, body, key, value, name, rec.Code, rec.Body)
			}
			if c := rec.Result().Cookies(); len(c) > 0 {
				cookies = c
			}
			return rec
		}
		const form = "application/x-www-form-urlencoded"
		do(http.MethodPost, "/set", form, url.Values{"key": {key}, "value": {value}}.Encode())
		do(http.MethodPost, "/login", form, url.Values{"name": {name}}.Encode())
		var got apiSession
		if rec := do(http.MethodGet, "/api/session", "", ""); rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &got) != nil {
			t.Fatalf("GET /api/session after the forms (key %q, value %q, name %q): %d %s", key, value, name, rec.Code, rec.Body)
		}
		k, n := strings.TrimSpace(key), strings.TrimSpace(name)
		if keyProblem(k) == "" && valueProblem(value) == "" && utf8.ValidString(k) && utf8.ValidString(value) {
			if v, ok := got.Data[k]; !ok || v != value {
				t.Fatalf("after setting %q = %q the session holds %q: %#v", k, value, k, v)
			}
		}
		if nameProblem(n) == "" && utf8.ValidString(n) {
			if u := got.Data[keyUser]; u != n {
				t.Fatalf("after a login as %q the session's user is %#v", n, u)
			}
		}
		body, _ := json.Marshal(map[string]string{"name": name})
		do(http.MethodPost, "/api/login", "application/json", string(body))
	})
}
