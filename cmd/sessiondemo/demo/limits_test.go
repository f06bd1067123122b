package demo

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
)

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// repeatByte is an endless stream of one byte.
type repeatByte byte

func (b repeatByte) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}

// A form post over the body limit gets 413 and leaves the session alone; a
// multipart upload is refused before it is read, so nothing is spooled to
// disk whatever its size (#10.13).
func TestTooLargeFormPostsAreRefusedAndNothingIsSpooled(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // where mime/multipart would spool an upload
	s := startDemo(t, t.TempDir())
	b := newBrowser(t, s)
	b.home()

	big := strings.Repeat("x", maxBody)
	for path, form := range map[string]url.Values{
		"/set":    {"key": {"k"}, "value": {big}},
		"/delete": {"key": {big}},
		"/login":  {"name": {big}},
	} {
		resp, err := b.c.PostForm(s.URL()+path, form)
		if err != nil {
			t.Fatal(err)
		}
		body := readBody(t, resp)
		if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(body, "larger than 64 KiB") {
			t.Errorf("POST %s of %d bytes: %d %.80q, want 413", path, len(form.Encode()), resp.StatusCode, body)
		}
	}
	var r apiResult
	b.api("GET", "/api/session", "", &r)
	if _, ok := r.Data["k"]; ok || r.Data["user"] != nil {
		t.Errorf("a refused post changed the session: %v", r.Data)
	}

	// Straight to the handler, with bodies far over the limit that count
	// what the demo reads of them.
	const huge = 40 << 20 // more than ParseMultipartForm keeps in memory
	for _, c := range []struct {
		name, ctype string
		body        io.Reader
		want        int
	}{
		{"urlencoded", "application/x-www-form-urlencoded",
			io.MultiReader(strings.NewReader("key=k&value="), io.LimitReader(repeatByte('x'), huge)), http.StatusRequestEntityTooLarge},
		{"multipart", "multipart/form-data; boundary=B",
			io.MultiReader(
				strings.NewReader("--B\r\nContent-Disposition: form-data; name=\"value\"; filename=\"big\"\r\n\r\n"),
				io.LimitReader(repeatByte('x'), huge),
				strings.NewReader("\r\n--B--\r\n")),
			http.StatusUnsupportedMediaType},
	} {
		body := &countingReader{r: c.body}
		req := httptest.NewRequest("POST", "/set", body)
		req.Header.Set("Content-Type", c.ctype)
		rec := httptest.NewRecorder()
		s.srv.Handler.ServeHTTP(rec, req)
		if rec.Code != c.want {
			t.Errorf("%s: status %d, want %d", c.name, rec.Code, c.want)
		}
		if body.n > 2*maxBody {
			t.Errorf("%s: the demo read %d bytes of the body, limit %d", c.name, body.n, maxBody)
		}
		if len(rec.Result().Cookies()) != 0 {
			t.Errorf("%s: the refused post set a cookie", c.name)
		}
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("spooled to disk: %v", left)
	}
}

// jsonObject writes n members "<prefix><i>": value as a JSON object.
func jsonObject(prefix string, from, n int, value string) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "%q:%q", prefix+strconv.Itoa(from+i), value)
	}
	b.WriteString("}")
	return b.String()
}

// A session holds at most maxKeys keys and maxDataSize bytes of data; a PUT
// or a form that would go over is refused with a clear message and changes
// nothing (#10.14).
func TestSessionKeysAndSizeAreCapped(t *testing.T) {
	s := startDemo(t, t.TempDir())

	t.Run("keys", func(t *testing.T) {
		b := newBrowser(t, s)
		var r apiResult
		if code := b.api("PUT", "/api/session", jsonObject("k", 0, maxKeys, "v"), &r); code != http.StatusOK || len(r.Data) != maxKeys {
			t.Fatalf("PUT of %d keys: status %d, %d keys", maxKeys, code, len(r.Data))
		}
		code, msg := apiError(t, b, "PUT", "/api/session", `{"one":"more"}`)
		if code != http.StatusUnprocessableEntity || !strings.Contains(msg, "at most 100") {
			t.Errorf("PUT of key %d: %d %q, want 422 saying the cap", maxKeys+1, code, msg)
		}
		// Replacing and deleting still work on a full session.
		if code := b.api("PUT", "/api/session", `{"k0":null,"new":"v","k1":"w"}`, &r); code != http.StatusOK || len(r.Data) != maxKeys || r.Data["k1"] != "w" {
			t.Errorf("PUT that keeps %d keys: status %d, %d keys", maxKeys, code, len(r.Data))
		}
		// The form says so too, and stores nothing.
		p := b.post("/set", url.Values{"key": {"formkey"}, "value": {"v"}})
		if len(p.errors) != 1 || !strings.Contains(p.errors[0], "at most 100") {
			t.Errorf("form set on a full session: errors %q", p.errors)
		}
		b.api("GET", "/api/session", "", &r)
		if _, ok := r.Data["formkey"]; ok || r.Data["one"] != nil {
			t.Errorf("a refused change was stored: %d keys", len(r.Data))
		}
	})

	t.Run("size", func(t *testing.T) {
		b := newBrowser(t, s)
		value := strings.Repeat("x", maxValueLen-2) // with its quotes, maxValueLen bytes of JSON
		n := maxDataSize / (maxValueLen + 10)       // just under the cap
		var r apiResult
		if code := b.api("PUT", "/api/session", jsonObject("k", 0, n, value), &r); code != http.StatusOK {
			t.Fatalf("PUT of %d keys of %d bytes: status %d", n, maxValueLen, code)
		}
		code, msg := apiError(t, b, "PUT", "/api/session", jsonObject("k", n, 5, value))
		if code != http.StatusUnprocessableEntity || !strings.Contains(msg, "at most 65536") {
			t.Errorf("PUT over %d bytes: %d %q, want 422 saying the cap", maxDataSize, code, msg)
		}
		b.api("GET", "/api/session", "", &r)
		if len(r.Data) != n {
			t.Errorf("after the refused PUT the session holds %d keys, want %d", len(r.Data), n)
		}
	})
}

// apiError sends a JSON request that should fail and returns its status and
// the "error" member of its answer.
func apiError(t *testing.T, b *browser, method, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, b.base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Error string `json:"error"`
	}
	json.Unmarshal([]byte(readBody(t, resp)), &out)
	return resp.StatusCode, out.Error
}
