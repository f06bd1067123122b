package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/session/internal/testserver"
)

// startDemo runs the demo in-process on a free loopback port, with its bbolt
// file and secret in dir, and shuts it down when the test ends.
func startDemo(t *testing.T, dir string) *Server {
	t.Helper()
	s, err := Start(t.Context(), Config{
		Addr:   "127.0.0.1:0",
		Dir:    dir,
		MaxAge: time.Hour,
		Logger: slog.New(slog.NewTextHandler(t.Output(), nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return s
}

// browser is an HTTP client with a cookie jar, like a browser without
// JavaScript.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newBrowser(t *testing.T, s *Server) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, base: s.URL(), c: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
}

// page is what the demo's HTML page shows.
type page struct {
	visits string
	id     string
	user   string
	store  string
	infos  []string
	errors []string
	rows   map[string]string
	body   string
}

var (
	reVisits = regexp.MustCompile(`id="visits">(\d+)<`)
	reID     = regexp.MustCompile(`id="session-id">([^<]*)<`)
	reUser   = regexp.MustCompile(`id="user">([^<]*)<`)
	reStore  = regexp.MustCompile(`id="store">([^<]*)<`)
	reInfo   = regexp.MustCompile(`class="flash flash-info"[^>]*>([^<]*)<`)
	reError  = regexp.MustCompile(`class="flash flash-error"[^>]*>([^<]*)<`)
	reRow    = regexp.MustCompile(`(?s)<tr data-key="([^"]*)">.*?<td class="value">([^<]*)</td>`)
)

func (b *browser) home() page {
	b.t.Helper()
	resp, err := b.c.Get(b.base + "/")
	if err != nil {
		b.t.Fatal(err)
	}
	return b.readPage(resp)
}

// post submits a form and follows the redirect back to the page.
func (b *browser) post(path string, form url.Values) page {
	b.t.Helper()
	resp, err := b.c.PostForm(b.base+path, form)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.readPage(resp)
}

func (b *browser) readPage(resp *http.Response) page {
	b.t.Helper()
	body := readBody(b.t, resp)
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/" {
		b.t.Fatalf("%s %s: status %d, want 200 from /\n%s", resp.Request.Method, resp.Request.URL, resp.StatusCode, body)
	}
	p := page{body: body, rows: map[string]string{}}
	first := func(re *regexp.Regexp) string {
		if m := re.FindStringSubmatch(body); m != nil {
			return html.UnescapeString(m[1])
		}
		return ""
	}
	all := func(re *regexp.Regexp) []string {
		var out []string
		for _, m := range re.FindAllStringSubmatch(body, -1) {
			out = append(out, html.UnescapeString(m[1]))
		}
		return out
	}
	p.visits, p.id, p.user, p.store = first(reVisits), first(reID), first(reUser), first(reStore)
	p.infos, p.errors = all(reInfo), all(reError)
	for _, m := range reRow.FindAllStringSubmatch(body, -1) {
		p.rows[html.UnescapeString(m[1])] = html.UnescapeString(m[2])
	}
	return p
}

// api sends a JSON API request and decodes the answer into out (if not nil).
func (b *browser) api(method, path, body string, out any) int {
	b.t.Helper()
	req, err := http.NewRequest(method, b.base+path, strings.NewReader(body))
	if err != nil {
		b.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	data := readBody(b.t, resp)
	if out != nil && resp.StatusCode < 300 {
		reflect.ValueOf(out).Elem().SetZero() // decode afresh, not merged into the last answer
		if err := json.Unmarshal([]byte(data), out); err != nil {
			b.t.Fatalf("%s %s: %v in %s", method, path, err, data)
		}
	}
	return resp.StatusCode
}

// sessionCookie returns the value of the browser's session cookie, or "".
func (b *browser) sessionCookie() string {
	u, _ := url.Parse(b.base)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == DefaultName {
			return c.Value
		}
	}
	return ""
}

// withCookie returns a new browser that holds only the given session cookie.
func (b *browser) withCookie(value string) *browser {
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(b.base)
	jar.SetCookies(u, []*http.Cookie{{Name: DefaultName, Value: value}})
	return &browser{t: b.t, base: b.base, c: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

type apiResult struct {
	ID     string         `json:"id"`
	New    bool           `json:"new"`
	Data   map[string]any `json:"data"`
	Cookie struct {
		Name    string     `json:"name"`
		Expires *time.Time `json:"expires"`
		MaxAge  *float64   `json:"maxAge"`
	} `json:"cookie"`
}

func TestVisitCounterGoesUpOnReloadUnderTheSameID(t *testing.T) {
	b := newBrowser(t, startDemo(t, t.TempDir()))
	first := b.home()
	if first.visits != "1" || first.id == "" {
		t.Fatalf("first visit: visits %q, id %q", first.visits, first.id)
	}
	for want := 2; want <= 3; want++ {
		p := b.home()
		if p.visits != strconv.Itoa(want) {
			t.Errorf("visit %d: counter shows %q", want, p.visits)
		}
		if p.id != first.id {
			t.Errorf("visit %d: session id %q, was %q", want, p.id, first.id)
		}
	}
	if got := b.home().rows["views"]; got != "4" {
		t.Errorf("data table: views = %q, want 4", got)
	}
}

func TestPageShowsShortenedIDAndCookieExpiry(t *testing.T) {
	b := newBrowser(t, startDemo(t, t.TempDir()))
	p := b.home()
	var s apiResult
	b.api("GET", "/api/session", "", &s)
	if !strings.HasSuffix(p.id, "…") || !strings.HasPrefix(s.ID, strings.TrimSuffix(p.id, "…")) || len(p.id) >= len(s.ID) {
		t.Errorf("page shows id %q for session %q, want a prefix of it", p.id, s.ID)
	}
	if s.Cookie.Expires == nil {
		t.Fatal("api: no cookie expiry with a one-hour max age")
	}
	if want := s.Cookie.Expires.UTC().Format("15:04 UTC"); !strings.Contains(p.body, want) {
		t.Errorf("page does not show the expiry %s", want)
	}
}

func TestFormPostsRedirectWith303(t *testing.T) {
	s := startDemo(t, t.TempDir())
	b := newBrowser(t, s)
	b.c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for path, form := range map[string]url.Values{
		"/set":    {"key": {"a"}, "value": {"b"}},
		"/delete": {"key": {"a"}},
		"/login":  {"name": {"ada"}},
		"/logout": nil,
	} {
		resp, err := b.c.PostForm(s.URL()+path, form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
			t.Errorf("POST %s: %d to %q, want 303 to /", path, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
}

func TestFormSetsAndDeletesKeys(t *testing.T) {
	b := newBrowser(t, startDemo(t, t.TempDir()))
	b.home()
	p := b.post("/set", url.Values{"key": {"color"}, "value": {"teal <b>"}})
	if got := p.rows["color"]; got != "teal <b>" {
		t.Fatalf("after set: color = %q; rows %v", got, p.rows)
	}
	if strings.Contains(p.body, "teal <b>") {
		t.Error("the value reached the page unescaped")
	}
	p = b.post("/delete", url.Values{"key": {"color"}})
	if _, ok := p.rows["color"]; ok {
		t.Fatalf("after delete: color still there; rows %v", p.rows)
	}
	if _, ok := p.rows["views"]; !ok {
		t.Errorf("delete removed more than its key; rows %v", p.rows)
	}
}

func TestFormRefusesBadKeysWithAnErrorFlash(t *testing.T) {
	b := newBrowser(t, startDemo(t, t.TempDir()))
	for _, key := range []string{"", "flash", "cookie", strings.Repeat("k", maxKeyLen+1)} {
		p := b.post("/set", url.Values{"key": {key}, "value": {"v"}})
		if len(p.errors) != 1 || len(p.infos) != 0 {
			t.Errorf("set %q: errors %q, infos %q; want one error", key, p.errors, p.infos)
		}
		if _, ok := p.rows[key]; ok {
			t.Errorf("set %q: stored anyway", key)
		}
	}
	if p := b.post("/delete", url.Values{"key": {"nope"}}); len(p.errors) != 1 {
		t.Errorf("delete of a missing key: errors %q, want one", p.errors)
	}
}

func TestAPISetsAndDeletesKeys(t *testing.T) {
	b := newBrowser(t, startDemo(t, t.TempDir()))
	var s apiResult
	if code := b.api("PUT", "/api/session", `{"color":"teal","n":3,"tags":["a","b"]}`, &s); code != http.StatusOK {
		t.Fatalf("PUT: status %d", code)
	}
	if s.Data["color"] != "teal" || s.Data["n"] != 3.0 || len(s.Data["tags"].([]any)) != 2 {
		t.Fatalf("PUT answered data %v", s.Data)
	}
	id := s.ID

	// The page shows what the API stored: one session behind both.
	if p := b.home(); p.rows["color"] != "teal" || p.rows["tags"] != `["a","b"]` {
		t.Errorf("page rows %v", p.rows)
	}

	// Merge: other keys stay, null deletes.
	b.api("PUT", "/api/session", `{"n":null,"size":"xl"}`, &s)
	if _, ok := s.Data["n"]; ok || s.Data["color"] != "teal" || s.Data["size"] != "xl" {
		t.Errorf("after merge: data %v", s.Data)
	}
	if code := b.api("DELETE", "/api/session/color", "", &s); code != http.StatusOK {
		t.Fatalf("DELETE: status %d", code)
	}
	if _, ok := s.Data["color"]; ok {
		t.Errorf("after DELETE: data %v", s.Data)
	}
	if code := b.api("DELETE", "/api/session/color", "", nil); code != http.StatusNotFound {
		t.Errorf("DELETE of a missing key: status %d, want 404", code)
	}

	b.api("GET", "/api/session", "", &s)
	if s.ID != id || s.New || s.Data["size"] != "xl" || s.Data["views"] != 1.0 {
		t.Errorf("GET: %+v, want id %s with size and views", s, id)
	}
	if s.Cookie.Name != DefaultName || s.Cookie.Expires == nil || s.Cookie.MaxAge == nil || *s.Cookie.MaxAge <= 0 || *s.Cookie.MaxAge > 3600 {
		t.Errorf("GET: cookie %+v", s.Cookie)
	}
}

func TestAPIRefusesBadRequests(t *testing.T) {
	s := startDemo(t, t.TempDir())
	b := newBrowser(t, s)
	for _, tc := range []struct {
		name, method, path, ctype, body string
		want                            int
	}{
		{"form content type", "PUT", "/api/session", "application/x-www-form-urlencoded", `{"a":1}`, http.StatusUnsupportedMediaType},
		{"not an object", "PUT", "/api/session", "application/json", `[1]`, http.StatusBadRequest},
		{"reserved key", "PUT", "/api/session", "application/json", `{"flash":1}`, http.StatusBadRequest},
		{"too big", "PUT", "/api/session", "application/json", `{"a":"` + strings.Repeat("x", maxBody) + `"}`, http.StatusRequestEntityTooLarge},
		{"login without name", "POST", "/api/login", "application/json", `{"name":" "}`, http.StatusBadRequest},
		{"login as a form", "POST", "/api/login", "text/plain", `{"name":"ada"}`, http.StatusUnsupportedMediaType},
		{"wrong method", "POST", "/api/session", "application/json", `{}`, http.StatusMethodNotAllowed},
	} {
		req, _ := http.NewRequest(tc.method, s.URL()+tc.path, strings.NewReader(tc.body))
		req.Header.Set("Content-Type", tc.ctype)
		resp, err := b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
	}
	var r apiResult
	b.api("GET", "/api/session", "", &r)
	if len(r.Data) != 0 {
		t.Errorf("refused requests stored %v", r.Data)
	}
}

func TestLoginChangesTheIDAndKeepsTheData(t *testing.T) {
	b := newBrowser(t, startDemo(t, t.TempDir()))
	before := b.post("/set", url.Values{"key": {"cart"}, "value": {"3 apples"}})
	oldCookie := b.sessionCookie()

	p := b.post("/login", url.Values{"name": {"Ada"}})
	if p.user != "Ada" {
		t.Errorf("after login: user %q, want Ada", p.user)
	}
	if p.id == before.id {
		t.Errorf("login kept the session id %s", p.id)
	}
	if p.rows["cart"] != "3 apples" || p.rows["user"] != "Ada" {
		t.Errorf("after login: rows %v, want cart kept and user set", p.rows)
	}
	if p.visits != "2" {
		t.Errorf("after login: %s visits, want the counter kept (2)", p.visits)
	}
	if len(p.infos) != 1 || !strings.Contains(p.infos[0], "Welcome, Ada") {
		t.Errorf("after login: flash %q", p.infos)
	}

	// The id known before the login is worth nothing now.
	var old apiResult
	b.withCookie(oldCookie).api("GET", "/api/session", "", &old)
	if !old.New || len(old.Data) != 0 {
		t.Errorf("the pre-login cookie still loads a session: %+v", old)
	}
}

func TestAPILoginChangesTheIDAndKeepsTheData(t *testing.T) {
	b := newBrowser(t, startDemo(t, t.TempDir()))
	var s apiResult
	b.api("PUT", "/api/session", `{"cart":3}`, &s)
	id := s.ID
	if code := b.api("POST", "/api/login", `{"name":"Ada"}`, &s); code != http.StatusOK {
		t.Fatalf("login: status %d", code)
	}
	if s.ID == id || s.Data["user"] != "Ada" || s.Data["cart"] != 3.0 {
		t.Errorf("login answered %+v; before it the id was %s", s, id)
	}
	b.api("GET", "/api/session", "", &s)
	if s.Data["user"] != "Ada" || s.Data["cart"] != 3.0 {
		t.Errorf("after login: %+v", s)
	}
}

// Only logging in logs in: the key "user", which the login sets, cannot be
// set or deleted through the form or the API, and the page decides
// "Logged in as" from the session's bound user, not from a value.
func TestTheUserKeyNeitherLogsInNorOut(t *testing.T) {
	b := newBrowser(t, startDemo(t, t.TempDir()))
	p := b.post("/set", url.Values{"key": {"user"}, "value": {"Mallory"}})
	if p.user != "" || strings.Contains(p.body, "Logged in as") || len(p.errors) != 1 || !strings.Contains(p.errors[0], "kept by the login") {
		t.Errorf("set user=Mallory: user %q, errors %q; want not logged in and an error", p.user, p.errors)
	}
	var s apiResult
	if code := b.api("PUT", "/api/session", `{"user":"Mallory"}`, &s); code != http.StatusBadRequest {
		t.Errorf("PUT {\"user\":\"Mallory\"}: status %d, want 400", code)
	}
	for _, k := range []string{"__sessionkit_user", "__sessionkit_client", "__sessionkit_login"} {
		if p := b.post("/set", url.Values{"key": {k}, "value": {"Mallory"}}); len(p.errors) != 1 || !strings.Contains(p.errors[0], "reserved") {
			t.Errorf("set %s: errors %q, want one saying it is reserved", k, p.errors)
		}
	}
	if p := b.home(); p.user != "" || strings.Contains(p.body, "Logged in as") {
		t.Fatalf("logged in as %q without a login", p.user)
	}

	b.post("/login", url.Values{"name": {"Ada"}})
	p = b.post("/delete", url.Values{"key": {"user"}})
	if p.user != "Ada" || p.rows["user"] != "Ada" || len(p.errors) != 1 || !strings.Contains(p.errors[0], "log out to end it") {
		t.Errorf("delete user: user %q, rows %v, errors %q; want still Ada and an error", p.user, p.rows, p.errors)
	}
	if code := b.api("DELETE", "/api/session/user", "", &s); code != http.StatusBadRequest {
		t.Errorf("DELETE /api/session/user: status %d, want 400", code)
	}
	if code := b.api("PUT", "/api/session", `{"user":null}`, &s); code != http.StatusBadRequest {
		t.Errorf("PUT {\"user\":null}: status %d, want 400", code)
	}
	if p := b.home(); p.user != "Ada" || len(p.errors) != 0 {
		t.Errorf("after the refused deletes: user %q, errors %q; want Ada", p.user, p.errors)
	}
}

func TestLogoutDestroysTheSession(t *testing.T) {
	b := newBrowser(t, startDemo(t, t.TempDir()))
	b.post("/set", url.Values{"key": {"cart"}, "value": {"3 apples"}})
	in := b.post("/login", url.Values{"name": {"Ada"}})
	loggedIn := b.sessionCookie()

	p := b.post("/logout", nil)
	if p.user != "" || strings.Contains(p.body, "Logged in as") {
		t.Errorf("after logout: still logged in as %q", p.user)
	}
	if _, ok := p.rows["cart"]; ok || p.visits != "1" {
		t.Errorf("after logout: rows %v, visits %s; want a fresh session", p.rows, p.visits)
	}
	if p.id == in.id || b.sessionCookie() == loggedIn {
		t.Errorf("after logout: same session id %s", p.id)
	}
	var old apiResult
	b.withCookie(loggedIn).api("GET", "/api/session", "", &old)
	if !old.New || len(old.Data) != 0 {
		t.Errorf("the logged-in cookie still loads a session: %+v", old)
	}
}

func TestAPILogoutDestroysTheSession(t *testing.T) {
	b := newBrowser(t, startDemo(t, t.TempDir()))
	b.api("POST", "/api/login", `{"name":"Ada"}`, nil)
	loggedIn := b.sessionCookie()
	if code := b.api("POST", "/api/logout", "", nil); code != http.StatusNoContent {
		t.Fatalf("logout: status %d", code)
	}
	if c := b.sessionCookie(); c != "" {
		t.Errorf("after logout the browser still holds the cookie %q", c)
	}
	var s apiResult
	b.withCookie(loggedIn).api("GET", "/api/session", "", &s)
	if !s.New || len(s.Data) != 0 {
		t.Errorf("after logout the old cookie loads %+v", s)
	}
}

func TestFlashShowsOnce(t *testing.T) {
	b := newBrowser(t, startDemo(t, t.TempDir()))
	p := b.post("/set", url.Values{"key": {"color"}, "value": {"teal"}})
	if len(p.infos) != 1 || !strings.Contains(p.infos[0], `"color"`) {
		t.Fatalf("after set: flashes %q, want one about color", p.infos)
	}
	if _, ok := p.rows["flash"]; ok {
		t.Error("the page lists the flash key among the data")
	}
	if p := b.home(); len(p.infos) != 0 {
		t.Errorf("on reload: flashes %q, want none", p.infos)
	}
	if p := b.post("/login", url.Values{"name": {"Ada"}}); len(p.infos) != 1 {
		t.Errorf("after login: flashes %q, want one", p.infos)
	}
	if p := b.post("/logout", nil); len(p.infos) != 1 || !strings.Contains(p.infos[0], "You are logged out") {
		t.Errorf("after logout: flashes %q, want one saying so", p.infos)
	}
	if p := b.home(); len(p.infos)+len(p.errors) != 0 {
		t.Errorf("on reload: flashes %q %q, want none", p.infos, p.errors)
	}
}

func TestHealthChecksAndStaticFilesLeaveTheSessionAlone(t *testing.T) {
	s := startDemo(t, t.TempDir())
	b := newBrowser(t, s)
	for _, path := range []string{"/healthz", "/readyz", "/static/style.css"} {
		resp, err := b.c.Get(s.URL() + path)
		if err != nil {
			t.Fatal(err)
		}
		body := readBody(t, resp)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: status %d", path, resp.StatusCode)
		}
		if c := resp.Header.Values("Set-Cookie"); len(c) != 0 {
			t.Errorf("GET %s without a session set cookies %q", path, c)
		}
		if path == "/healthz" && body != "ok\n" || path == "/readyz" && body != "ready\n" {
			t.Errorf("GET %s: %q", path, body)
		}
	}
	b.home()
	cookie := b.sessionCookie()
	resp, err := b.c.Get(s.URL() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if c := resp.Header.Values("Set-Cookie"); len(c) != 0 {
		t.Errorf("GET /healthz with a session set cookies %q", c)
	}
	if b.sessionCookie() != cookie {
		t.Error("healthz changed the session cookie")
	}
}

func TestCookieIsHTTPOnlyAndLax(t *testing.T) {
	s := startDemo(t, t.TempDir())
	resp, err := http.Get(s.URL() + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cookies := resp.Cookies()
	if len(cookies) != 1 {
		t.Fatalf("first visit set %d cookies, want 1", len(cookies))
	}
	c := cookies[0]
	if c.Name != DefaultName || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure || c.Path != "/" {
		t.Errorf("cookie %s", c)
	}
}

func TestSecretFileIsCreatedOnceAndReused(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, SecretFile)
	s := startDemo(t, dir)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("secret file mode %v, want 0600", fi.Mode().Perm())
	}
	first, _ := os.ReadFile(path)
	if len(strings.TrimSpace(string(first))) != 64 {
		t.Errorf("secret file holds %q, want 64 hex digits", first)
	}
	if err := s.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}

	startDemo(t, dir)
	again, _ := os.ReadFile(path)
	if !bytes.Equal(first, again) {
		t.Errorf("restart replaced the secret %q with %q", first, again)
	}

	// Another directory gets another secret.
	otherDir := t.TempDir()
	startDemo(t, otherDir)
	other, _ := os.ReadFile(filepath.Join(otherDir, SecretFile))
	if bytes.Equal(first, other) {
		t.Error("two directories share a secret")
	}
}

func TestSecretFromConfigWritesNoFile(t *testing.T) {
	dir := t.TempDir()
	s, err := Start(t.Context(), Config{Addr: "127.0.0.1:0", Dir: dir, Secrets: []string{"from the flag"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	if _, err := os.Stat(filepath.Join(dir, SecretFile)); !os.IsNotExist(err) {
		t.Errorf("secret file exists although a secret was given (stat: %v)", err)
	}
}

func TestConcurrentStartsAgreeOnTheSecret(t *testing.T) {
	path := filepath.Join(t.TempDir(), SecretFile)
	var wg sync.WaitGroup
	secrets := make([]string, 8)
	created := make([]bool, 8)
	for i := range secrets {
		wg.Go(func() {
			var err error
			secrets[i], created[i], err = loadOrCreateSecret(path)
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := len(slices.Compact(slices.Clone(secrets))); n != 1 {
		t.Errorf("got %d different secrets: %q", n, secrets)
	}
	if n := len(slices.DeleteFunc(created, func(c bool) bool { return !c })); n != 1 {
		t.Errorf("%d callers report creating the file, want 1", n)
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".sessiondemo-secret-*"))
	if len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

func TestSessionsSurviveARestartOnTheSameFile(t *testing.T) {
	dir := t.TempDir()
	s := startDemo(t, dir)
	b := newBrowser(t, s)
	b.post("/set", url.Values{"key": {"color"}, "value": {"teal"}})
	before := b.post("/login", url.Values{"name": {"Ada"}})
	if err := s.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}

	// Same jar: cookies do not depend on the port.
	s2 := startDemo(t, dir)
	b.base = s2.URL()
	p := b.home()
	if p.id != before.id || p.user != "Ada" || p.rows["color"] != "teal" {
		t.Errorf("after restart: id %s user %q rows %v; before: id %s", p.id, p.user, p.rows, before.id)
	}
	if p.visits != "3" {
		t.Errorf("after restart: %s visits, want 3", p.visits)
	}
}

func TestParseConfig(t *testing.T) {
	env := map[string]string{
		"SESSIONDEMO_ADDR": "127.0.0.1:9000",
		"SESSION_STORE":    "mem://",
		"SESSION_SECRET":   "new, old",
		"SESSION_NAME":     "app.sid",
		"SESSION_MAX_AGE":  "2h",
	}
	getenv := func(k string) string { return env[k] }

	cfg, err := ParseConfig(nil, getenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Addr: "127.0.0.1:9000", StoreURL: "mem://", Secrets: []string{"new", "old"}, Name: "app.sid", MaxAge: 2 * time.Hour}
	if !equalConfig(cfg, want) {
		t.Errorf("from the environment: %+v, want %+v", cfg, want)
	}

	cfg, err = ParseConfig([]string{"-addr", ":1", "-store", "bolt:///x.db", "-secret", "s", "-name", "n", "-max-age", "0"}, getenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want = Config{Addr: ":1", StoreURL: "bolt:///x.db", Secrets: []string{"s"}, Name: "n"}
	if !equalConfig(cfg, want) {
		t.Errorf("flags over the environment: %+v, want %+v", cfg, want)
	}

	cfg, err = ParseConfig(nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want = Config{Addr: DefaultAddr, Name: DefaultName, MaxAge: DefaultMaxAge}
	if !equalConfig(cfg, want) {
		t.Errorf("defaults: %+v, want %+v", cfg, want)
	}

	for _, args := range [][]string{{"-max-age", "-1h"}, {"-max-age", "soon"}, {"extra"}, {"-nope"}} {
		if _, err := ParseConfig(args, func(string) string { return "" }, io.Discard); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
	if _, err := ParseConfig(nil, func(k string) string { return map[string]string{"SESSION_MAX_AGE": "soon"}[k] }, io.Discard); err == nil {
		t.Error("a bad SESSION_MAX_AGE gave no error")
	}
}

// A flag wins over its environment variable, so a bad SESSION_MAX_AGE
// does not matter when -max-age is given; without the flag, an error
// names the variable.
func TestMaxAgeFlagWinsOverABadEnvironmentVariable(t *testing.T) {
	for _, v := range []string{"1day", "-2h"} {
		getenv := func(k string) string { return map[string]string{"SESSION_MAX_AGE": v}[k] }
		cfg, err := ParseConfig([]string{"-max-age", "1h"}, getenv, io.Discard)
		if err != nil || cfg.MaxAge != time.Hour {
			t.Errorf("-max-age 1h with SESSION_MAX_AGE=%s: MaxAge %v, err %v; want 1h", v, cfg.MaxAge, err)
		}
		if _, err := ParseConfig(nil, getenv, io.Discard); err == nil || !strings.HasPrefix(err.Error(), "SESSION_MAX_AGE") {
			t.Errorf("SESSION_MAX_AGE=%s alone: err %v, want one that names SESSION_MAX_AGE", v, err)
		}
	}
}

// The usage that -h and every flag error print lists each flag's default,
// which is its environment variable's value: the cookie secret does not
// show, and the store URL shows with its secrets hidden. Both showed as
// they were, so that a mistyped flag wrote the secret that signs every
// cookie, and the store's password, to stderr.
func TestUsageNeverShowsTheSecretOrTheStoresPassword(t *testing.T) {
	env := map[string]string{
		"SESSION_SECRET": "topsecret1, topsecret2",
		"SESSION_STORE":  "redis://:hunter2@127.0.0.1:1/0?sentinel_password=hunter3",
	}
	getenv := func(k string) string { return env[k] }
	for _, args := range [][]string{{"-h"}, {"-nope"}, {"extra"}, {"-max-age", "soon"}} {
		var out strings.Builder
		if _, err := ParseConfig(args, getenv, &out); err == nil {
			t.Errorf("%q: no error", args)
		}
		if strings.Contains(out.String(), "topsecret") || strings.Contains(out.String(), "hunter") {
			t.Errorf("%q: the usage shows a secret:\n%s", args, out.String())
		}
		if !strings.Contains(out.String(), "-secret") {
			t.Errorf("%q: no usage printed", args)
		}
	}
	// The values still come from the environment, and a flag still wins.
	cfg, err := ParseConfig(nil, getenv, io.Discard)
	if err != nil || !slices.Equal(cfg.Secrets, []string{"topsecret1", "topsecret2"}) || cfg.StoreURL != env["SESSION_STORE"] {
		t.Errorf("from the environment: %+v, %v", cfg, err)
	}
	cfg, err = ParseConfig([]string{"-secret", "s", "-store", "mem://"}, getenv, io.Discard)
	if err != nil || !slices.Equal(cfg.Secrets, []string{"s"}) || cfg.StoreURL != "mem://" {
		t.Errorf("flags over the environment: %+v, %v", cfg, err)
	}
}

func equalConfig(a, b Config) bool {
	return a.Addr == b.Addr && a.StoreURL == b.StoreURL && slices.Equal(a.Secrets, b.Secrets) &&
		a.Name == b.Name && a.MaxAge == b.MaxAge &&
		slices.Equal(a.TrustedProxies, b.TrustedProxies) && a.TrustedProxyHops == b.TrustedProxyHops
}

func TestStartReportsABadStoreURL(t *testing.T) {
	_, err := Start(t.Context(), Config{Addr: "127.0.0.1:0", StoreURL: "nosuch://x", Secrets: []string{"s"}})
	if err == nil || !strings.Contains(err.Error(), "nosuch") {
		t.Errorf("err = %v, want one naming the scheme", err)
	}
}

var reListening = regexp.MustCompile(`url=(http://\S+)`)

func TestRunServesUntilTheContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	var logs testserver.Output
	done := make(chan error, 1)
	go func() {
		store := "bolt://" + filepath.Join(t.TempDir(), "run.db")
		done <- Run(ctx, []string{"-addr", "127.0.0.1:0", "-store", store, "-secret", "s"}, func(string) string { return "" }, &logs)
	}()
	var base string
	for deadline := time.Now().Add(10 * time.Second); base == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := reListening.FindStringSubmatch(logs.String()); m != nil {
			base = m[1]
		}
		select {
		case err := <-done:
			t.Fatalf("Run returned early: %v\n%s", err, logs.String())
		default:
		}
	}
	if base == "" {
		cancel()
		t.Fatalf("no listening line in the log:\n%s", logs.String())
	}
	resp, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after the context ended")
	}
	if !strings.Contains(logs.String(), "store closed") {
		t.Errorf("log does not say the store was closed:\n%s", logs.String())
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("still serving after Run returned")
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		20 * time.Second:              "less than a minute",
		90 * time.Minute:              "1 h 30 min",
		24*time.Hour - 20*time.Second: "1 day",
		49*time.Hour + 5*time.Minute:  "2 days 1 h",
		23*time.Hour + 59*time.Minute: "23 h 59 min",
		-time.Hour:                    "less than a minute",
	} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestFormatDateSaysUnknownForTheZeroTime(t *testing.T) {
	at := time.Date(2026, 11, 30, 3, 4, 5, 0, time.FixedZone("", 3600))
	if got, want := formatDate(at), "Mon 30 Nov 2026, 02:04 UTC"; got != want {
		t.Errorf("formatDate(%v) = %q, want %q", at, got, want)
	}
	if got := formatDate(time.Time{}); got != "unknown" {
		t.Errorf("formatDate of the zero time = %q, want unknown", got)
	}
}

func TestMaxAgeZeroGivesABrowserSessionCookie(t *testing.T) {
	s, err := Start(t.Context(), Config{Addr: "127.0.0.1:0", Dir: t.TempDir(), MaxAge: 0})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	b := newBrowser(t, s)
	resp, err := b.c.Get(s.URL() + "/")
	if err != nil {
		t.Fatal(err)
	}
	body := readBody(t, resp)
	if c := resp.Cookies(); len(c) != 1 || !c[0].Expires.IsZero() || c[0].MaxAge != 0 {
		t.Errorf("cookies %v, want one without expiry", c)
	}
	if !strings.Contains(body, "when the browser closes") {
		t.Error("the page does not say the cookie ends with the browser")
	}
	var r apiResult
	b.api("GET", "/api/session", "", &r)
	if r.Cookie.Expires != nil || r.Cookie.MaxAge != nil || r.Data["views"] != 1.0 {
		t.Errorf("api: %+v, want no expiry and the visit kept", r)
	}
}

func TestPageNeedsNoJavaScript(t *testing.T) {
	b := newBrowser(t, startDemo(t, t.TempDir()))
	p := b.home()
	if strings.Contains(strings.ToLower(p.body), "<script") || regexp.MustCompile(`\son[a-z]+=`).MatchString(p.body) {
		t.Error("the page uses JavaScript")
	}
	for _, form := range []string{`action="/set"`, `action="/delete"`, `action="/login"`} {
		if !strings.Contains(p.body, form) {
			t.Errorf("no plain form with %s", form)
		}
	}
}

func TestPageShowsOnlyTheStoresSchemeAndHosts(t *testing.T) {
	for raw, want := range map[string]string{
		"mem://?max_sessions=10":                              "mem",
		"bolt:///home/alice/app/sessions.db?bucket=b":         "bolt",
		"bolt://./sessiondemo.db":                             "bolt",
		"redis://user:hunter2@cache.internal:6380/2?prefix=p": "redis://cache.internal:6380",
		"rediss+cluster://h1:7000,h2:7001?skip_verify=true":   "rediss+cluster://h1:7000,h2:7001",
		"memcached://m1,m2:11212?auth_token=hunter2":          "memcached://m1,m2:11212",
		"redis://:hunter2@h:bad port":                         "(unparsable store URL)",
	} {
		if got := publicStore(raw); got != want {
			t.Errorf("publicStore(%q) = %q, want %q", raw, got, want)
		}
	}
}

// A form on another site cannot log the visitor out or in (#10.12): browsers
// mark its POST cross-site (Sec-Fetch-Site), or older ones send a foreign
// Origin, and the demo answers 403 without touching the session. The same
// POST from the demo's own page works.
func TestCrossSiteFormPostsAreRefused(t *testing.T) {
	s := startDemo(t, t.TempDir())
	b := newBrowser(t, s)
	b.c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	post := func(path string, form url.Values, header map[string]string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("POST", s.URL()+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		readBody(t, resp)
		return resp
	}
	if code := b.api("POST", "/api/login", `{"name":"Ada"}`, nil); code != http.StatusOK {
		t.Fatalf("login: %d", code)
	}
	cookie := b.sessionCookie()

	for _, header := range []map[string]string{
		{"Sec-Fetch-Site": "cross-site"},
		{"Sec-Fetch-Site": "same-site"}, // a sibling subdomain is another origin too
		{"Origin": "http://evil.example"},
	} {
		for path, form := range map[string]url.Values{
			"/api/logout":     nil,
			"/logout":         nil,
			"/logout-others":  nil,
			"/logout-session": {"session": {"x"}},
			"/login":          {"name": {"Mallory"}},
			"/set":            {"key": {"k"}, "value": {"v"}},
		} {
			resp := post(path, form, header)
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("POST %s with %v: status %d, want 403", path, header, resp.StatusCode)
			}
			if c := resp.Header.Values("Set-Cookie"); len(c) != 0 {
				t.Errorf("POST %s with %v set cookies %q", path, header, c)
			}
		}
	}
	var r apiResult
	b.api("GET", "/api/session", "", &r)
	if b.sessionCookie() != cookie || r.Data["user"] != "Ada" || r.Data["k"] != nil {
		t.Fatalf("after the refused posts: cookie changed %v, data %v; want Ada's session untouched", b.sessionCookie() != cookie, r.Data)
	}

	// From the demo's own page: accepted.
	same := map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": s.URL()}
	if resp := post("/login", url.Values{"name": {"Bob"}}, same); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("same-origin POST /login: status %d, want 303", resp.StatusCode)
	}
	b.api("GET", "/api/session", "", &r)
	if r.Data["user"] != "Bob" {
		t.Errorf("after a same-origin login: user %v, want Bob", r.Data["user"])
	}
	if resp := post("/api/logout", nil, map[string]string{"Origin": s.URL()}); resp.StatusCode != http.StatusNoContent {
		t.Errorf("same-origin POST /api/logout: status %d, want 204", resp.StatusCode)
	}
	if resp := post("/logout", nil, map[string]string{"Sec-Fetch-Site": "same-origin"}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("same-origin POST /logout: status %d, want 303", resp.StatusCode)
	}
}

var reUserSession = regexp.MustCompile(`<tr class="user-session( current)?" data-session="([^"]*)">`)

// reLogoutSession finds the "Log out" buttons of "Your sessions".
var reLogoutSession = regexp.MustCompile(`name="session" value="([^"]*)"`)

// ownPublicID is the PublicID of the session that b's page marks as its own.
func ownPublicID(t *testing.T, p page) string {
	t.Helper()
	for _, row := range reUserSession.FindAllStringSubmatch(p.body, -1) {
		if row[1] == " current" {
			return row[2]
		}
	}
	t.Fatal("the page marks no session as its own")
	return ""
}

// TestYourSessionsListsAndLogsOutTheOthers logs one name in from two
// browsers: each lists both sessions with its own marked, and "Log out
// other sessions" in the first ends the second's on its next request,
// while the first stays logged in.
func TestYourSessionsListsAndLogsOutTheOthers(t *testing.T) {
	srv := startDemo(t, t.TempDir())
	first, second := newBrowser(t, srv), newBrowser(t, srv)
	first.post("/login", url.Values{"name": {"Ada"}})
	p := second.post("/login", url.Values{"name": {"Ada"}})
	rows := reUserSession.FindAllStringSubmatch(p.body, -1)
	if len(rows) != 2 || rows[0][1] != " current" || rows[1][1] != "" {
		t.Fatalf("second browser lists %d sessions (%q), want 2 with its own, the most recent, marked", len(rows), rows)
	}
	if !strings.Contains(p.body, `id="logout-others"`) {
		t.Fatal("no Log out other sessions button")
	}

	p = first.post("/logout-others", nil)
	if len(p.infos) != 1 || !strings.Contains(p.infos[0], "Logged out 1 other session(s)") {
		t.Fatalf("after Log out other sessions: flash %q", p.infos)
	}
	if p.user != "Ada" || len(reUserSession.FindAllString(p.body, -1)) != 1 {
		t.Fatalf("first browser after Log out other sessions: user %q, %d sessions listed; want Ada and one", p.user, len(reUserSession.FindAllString(p.body, -1)))
	}
	if p = second.home(); p.user != "" || len(p.rows) != 1 {
		t.Fatalf("second browser after being logged out: user %q, rows %v; want a fresh session", p.user, p.rows)
	}
}

// Each of the user's other sessions has a "Log out" button, which posts
// the session's PublicID (not its id, nor its ShortID) and ends that
// session alone: the other browsers of the name stay logged in, as does
// the one that pressed it, which has no button of its own ("Log out" is
// there). Another name's PublicID, posted by hand, ends nothing and says
// so, as does anything else; this session's own PublicID logs it out.
func TestYourSessionsLogsOutOneSessionByItsButton(t *testing.T) {
	srv := startDemo(t, t.TempDir())
	first, second, third, bob := newBrowser(t, srv), newBrowser(t, srv), newBrowser(t, srv), newBrowser(t, srv)
	first.post("/login", url.Values{"name": {"Ada"}})
	secondID := ownPublicID(t, second.post("/login", url.Values{"name": {"Ada"}}))
	third.post("/login", url.Values{"name": {"Ada"}})
	bobID := ownPublicID(t, bob.post("/login", url.Values{"name": {"Bob"}}))

	p := first.home()
	buttons := reLogoutSession.FindAllStringSubmatch(p.body, -1)
	if len(buttons) != 2 || !slices.ContainsFunc(buttons, func(b []string) bool { return b[1] == secondID }) {
		t.Fatalf("the first browser's page has buttons %q; want one for each other session of Ada's, the second's %q among them", buttons, secondID)
	}
	if strings.Contains(p.body, `value="`+ownPublicID(t, p)+`"`) {
		t.Error("the page has a Log out button for its own session")
	}

	p = first.post("/logout-session", url.Values{"session": {secondID}})
	if len(p.infos) != 1 || !strings.Contains(p.infos[0], "Logged out one other session of Ada") {
		t.Fatalf("after Log out of the second session: flash %q, errors %q", p.infos, p.errors)
	}
	if n := len(reUserSession.FindAllString(p.body, -1)); p.user != "Ada" || n != 2 {
		t.Errorf("first browser after logging out the second: user %q, %d sessions listed; want Ada and two", p.user, n)
	}
	for name, want := range map[*browser]string{second: "", third: "Ada", bob: "Bob"} {
		if got := name.home().user; got != want {
			t.Errorf("a browser of %q is logged in as %q", want, got)
		}
	}

	for _, posted := range []string{bobID, secondID, "", "not a session"} {
		p = first.post("/logout-session", url.Values{"session": {posted}})
		if len(p.errors) != 1 || !strings.Contains(p.errors[0], "not one of Ada's") || p.user != "Ada" {
			t.Errorf("Log out of %q: errors %q, user %q; want one saying it is not Ada's, still Ada", posted, p.errors, p.user)
		}
	}
	if got := bob.home().user; got != "Bob" {
		t.Errorf("Bob's browser is logged in as %q after Ada posted his PublicID", got)
	}

	p = third.post("/logout-session", url.Values{"session": {ownPublicID(t, third.home())}})
	if p.user != "" || len(p.infos) != 1 || !strings.Contains(p.infos[0], "You are logged out") {
		t.Errorf("the third browser's own PublicID: user %q, flash %q; want logged out as by Log out", p.user, p.infos)
	}
	if got := first.home().user; got != "Ada" {
		t.Errorf("the first browser is logged in as %q, want Ada", got)
	}
}

func TestLogoutSessionNeedsALogin(t *testing.T) {
	b := newBrowser(t, startDemo(t, t.TempDir()))
	if p := b.post("/logout-session", url.Values{"session": {"x"}}); len(p.errors) != 1 || !strings.Contains(p.errors[0], "Log in first") {
		t.Fatalf("Log out of one session without a login: errors %q", p.errors)
	}
}

func TestLogoutOthersNeedsALogin(t *testing.T) {
	b := newBrowser(t, startDemo(t, t.TempDir()))
	if p := b.post("/logout-others", nil); len(p.errors) != 1 || !strings.Contains(p.errors[0], "Log in first") {
		t.Fatalf("Log out other sessions without a login: errors %q", p.errors)
	}
}

// Two demos started in one directory with the default store, the README's
// load-balancing setup without its -store, cannot share the bolt file,
// which one process holds at a time. The second one's error says what to
// do instead; it said only that the file was locked.
func TestASecondDemoInTheSameDirectorySaysHowToRunTwo(t *testing.T) {
	dir := t.TempDir()
	startDemo(t, dir)
	s, err := Start(t.Context(), Config{Addr: "127.0.0.1:0", Dir: dir})
	if err == nil {
		s.Shutdown(context.Background())
		t.Fatal("a second demo opened the bolt file the first one holds")
	}
	for _, want := range []string{"locked by another process", "another sessiondemo", "-store"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

// A demo started on a port another program holds (another demo, the
// README's quick start on 8080) says how to choose another port; it said
// only "bind: address already in use".
func TestStartOnATakenPortSaysHowToChooseAnother(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	s, err := Start(t.Context(), Config{Addr: busy.Addr().String(), Dir: t.TempDir(), Secrets: []string{"s"}})
	if err == nil {
		s.Shutdown(context.Background())
		t.Fatal("a demo listened on a port another listener holds")
	}
	for _, want := range []string{"address already in use", "-addr", "SESSIONDEMO_ADDR"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

// A start that fails, on a bad store URL, cookie name or address, writes
// nothing in the demo's directory: it wrote the generated secret (and,
// with the default store, the bolt file) before finding the mistake.
func TestAFailedStartLeavesNoFileBehind(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"unknown store scheme", Config{Addr: "127.0.0.1:0", StoreURL: "nosuch://x"}, "nosuch"},
		{"bad cookie name", Config{Addr: "127.0.0.1:0", Name: "bad name"}, "cookie name"},
		{"address in use", Config{Addr: busy.Addr().String()}, "address already in use"},
		{"bad address", Config{Addr: "no-port"}, "missing port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.cfg.Dir = dir
			s, err := Start(t.Context(), tc.cfg)
			if err == nil {
				s.Shutdown(context.Background())
				t.Fatal("Start succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				t.Errorf("failed start left %s behind", e.Name())
			}
		})
	}
}

// An empty -addr, -secret, -store or -name, as a script gives it from a
// variable that is not set, is a usage error, even over its environment
// variable. -addr "" listened on every interface, on a port of the
// system's choosing, and -secret "" (or one of commas and blanks) signed
// with the secret generated in the working directory, a different one for
// each directory: demos meant to share sessions did not. -store
// "$REDIS_URL" quietly gave each of two load-balanced demos a bolt file of
// its own (a visitor logged out whenever the other one answers), and
// -name "" the default name.
func TestAnEmptyFlagIsAUsageError(t *testing.T) {
	getenv := func(k string) string {
		return map[string]string{"SESSION_SECRET": "from-env", "SESSIONDEMO_ADDR": "127.0.0.1:9000",
			"SESSION_STORE": "redis://127.0.0.1:6379/0", "SESSION_NAME": "app"}[k]
	}
	for _, args := range [][]string{{"-addr", ""}, {"-addr", " "}, {"-secret", ""}, {"-secret", " , "},
		{"-store", ""}, {"-store", " "}, {"-name", ""}, {"-name", " "}} {
		var out strings.Builder
		cfg, err := ParseConfig(args, getenv, &out)
		var usage *UsageError
		if !errors.As(err, &usage) {
			t.Errorf("%q: config %+v, error %v; want a usage error", args, cfg, err)
			continue
		}
		if !strings.Contains(out.String(), args[0]+" is empty") || !strings.Contains(out.String(), "Usage: sessiondemo") {
			t.Errorf("%q: output %q; want the error and the usage", args, out.String())
		}
	}
	if _, err := ParseConfig(nil, func(k string) string { return map[string]string{"SESSION_SECRET": " , "}[k] }, io.Discard); err == nil || !strings.Contains(err.Error(), "SESSION_SECRET") {
		t.Errorf("SESSION_SECRET of blanks and commas: error %v, want one naming SESSION_SECRET", err)
	}
}

// The demo serves plain HTTP, where its SecureAuto cookie is never Secure,
// and browsers drop a __Host- or __Secure- cookie that is not: with such a
// -name every request started a new session and a login never held. Start
// now refuses the name, saying why, and writes nothing.
func TestACookieNameThatNeedsHTTPSIsRefused(t *testing.T) {
	for _, name := range []string{"__Host-sid", "__Secure-sid", "__host-sid"} {
		dir := t.TempDir()
		s, err := Start(t.Context(), Config{Addr: "127.0.0.1:0", Dir: dir, Name: name})
		if err == nil {
			s.Shutdown(context.Background())
			t.Errorf("%s: Start succeeded", name)
			continue
		}
		for _, want := range []string{name, "plain HTTP", "Secure"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %q does not say %q", name, err, want)
			}
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("%s: the failed start left %d files behind", name, len(entries))
		}
	}
}

// The API shows the cookie's expiry as the stored document keeps it: an ISO
// time to the millisecond, as JavaScript's toISOString writes it and
// express-session's JSON shows it. The answer that created the session
// showed it to the nanosecond (time.Time's JSON), the answers after it,
// read back from the store, to the millisecond: one expiry, two strings.
func TestAPIShowsExpiresToTheMillisecondAsStored(t *testing.T) {
	b := newBrowser(t, startDemo(t, t.TempDir()))
	type answer struct {
		Cookie struct {
			Expires string `json:"expires"`
		} `json:"cookie"`
	}
	var first, later answer
	if code := b.api("PUT", "/api/session", `{"color":"teal"}`, &first); code != http.StatusOK {
		t.Fatalf("PUT: status %d", code)
	}
	getStart := time.Now()
	if code := b.api("GET", "/api/session", "", &later); code != http.StatusOK {
		t.Fatalf("GET: status %d", code)
	}
	getEnd := time.Now()
	iso := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)
	for _, a := range []struct {
		name, expires string
	}{{"the first answer", first.Cookie.Expires}, {"a later answer", later.Cookie.Expires}} {
		if !iso.MatchString(a.expires) {
			t.Errorf("%s: expires %q, want 2006-01-02T15:04:05.000Z", a.name, a.expires)
		}
	}
	if first.Cookie.Expires == later.Cookie.Expires {
		return
	}
	// The GET's load touches the session (an hour from then, to the
	// millisecond, as stored): a millisecond or more after the PUT, the
	// expiry read back is that touch's, not the first one.
	f, err1 := time.Parse(time.RFC3339, first.Cookie.Expires)
	l, err2 := time.Parse(time.RFC3339, later.Cookie.Expires)
	lo, hi := getStart.Add(time.Hour).Truncate(time.Millisecond), getEnd.Add(time.Hour)
	if err1 != nil || err2 != nil || !l.After(f) || l.Before(lo) || l.After(hi) {
		t.Errorf("expires %q when the session was created, %q read back from the store; want the same, or the GET's touch (%v to %v)", first.Cookie.Expires, later.Cookie.Expires, lo, hi)
	}
}

// Without a store URL the log names the bolt file by its absolute path, as
// the README's table gives the default (bolt:///<working directory>/...):
// an operator wants to know which file holds the sessions. It said
// bolt://./sessiondemo.db, which is no absolute path and names no directory.
func TestTheLogNamesTheDefaultBoltFileByItsAbsolutePath(t *testing.T) {
	t.Chdir(t.TempDir())
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	s, err := Start(t.Context(), Config{
		Addr:    "127.0.0.1:0",
		Secrets: []string{"s"},
		Logger:  slog.New(slog.NewTextHandler(&log, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := "store=bolt://" + filepath.ToSlash(filepath.Join(wd, DBFile)) + " "
	if !strings.Contains(log.String(), want) {
		t.Errorf("log does not say %q:\n%s", want, log.String())
	}
}
