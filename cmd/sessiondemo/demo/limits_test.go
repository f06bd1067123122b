package demo

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
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
