package demo

import (
	"net/http"
	"strings"
	"testing"
)

// A JSON body is one value: what follows it (a second object, say, from a
// client that concatenated two patches) is refused with 400, not dropped
// while the first part is applied and answered with 200.
func TestAPIRefusesDataAfterTheJSONBody(t *testing.T) {
	s := startDemo(t, t.TempDir())
	b := newBrowser(t, s)
	for _, tc := range []struct{ name, method, path, body string }{
		{"second object", "PUT", "/api/session", `{"a":1} {"b":2}`},
		{"garbage", "PUT", "/api/session", `{"a":1}x`},
		{"second login", "POST", "/api/login", `{"name":"ada"}{"name":"bob"}`},
	} {
		code, msg := apiError(t, b, tc.method, tc.path, tc.body)
		if code != http.StatusBadRequest || !strings.Contains(msg, "invalid JSON") {
			t.Errorf("%s: %d %q, want 400 saying invalid JSON", tc.name, code, msg)
		}
	}
	var r apiResult
	b.api("GET", "/api/session", "", &r)
	if len(r.Data) != 0 {
		t.Errorf("refused requests stored %v", r.Data)
	}
	// Blanks after the value are no data.
	if code := b.api("PUT", "/api/session", "{\"a\":1}\n \t", &r); code != http.StatusOK || r.Data["a"] != 1.0 {
		t.Errorf("PUT with a trailing newline: status %d, data %v", code, r.Data)
	}
}
