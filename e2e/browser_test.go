// Package e2e drives a real browser, Debian's Chromium through chromedp,
// against sessionkit's demo on loopback. It is a module of its own, so that
// chromedp stays out of the library's dependencies; it builds the
// sessiondemo command from the parent module and runs it as a visitor's
// browser would meet it, so it needs nothing from the library's go.mod.
//
//	apt-get install chromium
//	cd e2e && go test ./...
//	cd e2e && go test ./... -update-screenshot   # also rewrites ../docs/demo.png
package e2e

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

var updateScreenshot = flag.Bool("update-screenshot", false, "write the screenshot the README shows to ../docs/demo.png")

// screenshotFile is the README's picture of the demo, relative to this package.
const screenshotFile = "../docs/demo.png"

// findChromium returns the browser to drive: $SESSIONKIT_CHROMIUM, or the
// first of chromium, chromium-browser, google-chrome on the PATH. Without one
// the test is skipped, or fails when SESSIONKIT_REQUIRE_SERVERS=1.
func findChromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("SESSIONKIT_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no Chromium found (install it with `apt-get install chromium`, or set SESSIONKIT_CHROMIUM to a Chrome binary)"
	if os.Getenv("SESSIONKIT_REQUIRE_SERVERS") == "1" {
		t.Fatal(msg + "; SESSIONKIT_REQUIRE_SERVERS=1 requires it")
	}
	t.Skip(msg)
	return ""
}

// startBrowser launches a fresh headless Chromium (its own profile in a
// temporary directory) and returns a tab's context, closed when the test ends.
func startBrowser(t *testing.T, execPath string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(execPath),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox, // the tests run as root in CI
		chromedp.DisableGPU,
		chromedp.WindowSize(1100, 900),
		// No traffic beyond loopback: without these, Chromium keeps trying
		// to reach Google's services and logs every refused connection.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("lang", "en-US"),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	// Start the browser on a context without a deadline: the first Run binds
	// the browser's life to its context.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", execPath, err)
	}
	return ctx
}

// tab wraps a browser tab with the steps this test takes, each failing the
// test on error and bounded by a timeout.
type tab struct {
	t    *testing.T
	ctx  context.Context
	base string
}

func (b *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// submit runs the steps (a click on a submit button) and waits for the page
// the form post redirects to.
func (b *tab) submit(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, steps...)
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	if resp.Status != http.StatusOK || !strings.HasSuffix(resp.URL, "/") {
		b.t.Fatalf("%s: landed on %s with status %d, want 200 from /", what, resp.URL, resp.Status)
	}
}

func run[T any](b *tab, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	return v
}

func (b *tab) text(id string) string {
	b.t.Helper()
	return strings.TrimSpace(run(b, "read #"+id, chromedp.Text(chromedp.ID(id))))
}

// count returns how many elements match a CSS selector.
func (b *tab) count(css string) int {
	b.t.Helper()
	js, _ := json.Marshal(css)
	return run(b, "count "+css, chromedp.Evaluate[int](`document.querySelectorAll(`+string(js)+`).length`))
}

// flashes returns the texts of the flash messages on the page.
func (b *tab) flashes() []string {
	b.t.Helper()
	return run(b, "read flashes", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('.flash'), e => e.textContent.trim())`))
}

// dataValue returns the value the data table shows for key, or "" if none.
func (b *tab) dataValue(key string) string {
	b.t.Helper()
	js, _ := json.Marshal(`tr[data-key="` + key + `"] .value`)
	return run(b, "read data "+key, chromedp.Evaluate[string](`(document.querySelector(`+string(js)+`) || {textContent: ""}).textContent`))
}

// sessionCookie returns the demo's session cookie as the browser holds it,
// read through the DevTools protocol (which sees HttpOnly cookies), or nil.
func (b *tab) sessionCookie() *network.Cookie {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{b.base + "/"}})
	if err != nil {
		b.t.Fatalf("read cookies: %v", err)
	}
	for _, c := range res.Cookies {
		if c.Name == cookieName {
			return c
		}
	}
	return nil
}

// TestDemoInChromium walks through the demo as a visitor would, in a real
// browser: the counter, the cookie, setting data, flash messages, log in and
// log out.
func TestDemoInChromium(t *testing.T) {
	chromium := findChromium(t)
	shot, err := filepath.Abs(screenshotFile)
	if err != nil {
		t.Fatal(err)
	}

	// The default setup, as `go run ./cmd/sessiondemo` has it: a bbolt file
	// and a generated secret in the working directory.
	base := startDemo(t)
	b := &tab{t: t, ctx: startBrowser(t, chromium), base: base}

	// The counter goes up on reload, under the same session id.
	b.do("open the demo", chromedp.Navigate(b.base+"/"), chromedp.WaitVisible(chromedp.ID("visits")))
	if v := b.text("visits"); v != "1" {
		t.Fatalf("first visit: counter shows %q, want 1", v)
	}
	firstID := b.text("session-id")
	b.do("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("visits")))
	if v := b.text("visits"); v != "2" {
		t.Errorf("after reload: counter shows %q, want 2", v)
	}
	if id := b.text("session-id"); id != firstID {
		t.Errorf("after reload: session id %s, was %s", id, firstID)
	}

	// The cookie is HttpOnly: the browser holds it, scripts cannot see it.
	anon := b.sessionCookie()
	if anon == nil {
		t.Fatal("the browser holds no session cookie")
	}
	if !anon.HTTPOnly || anon.SameSite != network.CookieSameSiteLax || anon.Session {
		t.Errorf("cookie: httpOnly %v, sameSite %q, session %v; want HttpOnly, Lax, persistent", anon.HTTPOnly, anon.SameSite, anon.Session)
	}
	if dc := run(b, "read document.cookie", chromedp.Evaluate[string](`document.cookie`)); strings.Contains(dc, cookieName+"=") {
		t.Errorf("document.cookie shows the session cookie: %q", dc)
	}

	// Set a key with the form; the flash message shows once.
	b.do("fill in the set form", chromedp.SendKeys(chromedp.ID("key"), "color"), chromedp.SendKeys(chromedp.ID("value"), "teal"))
	b.submit("set color", chromedp.Click(chromedp.CSS("#set button")))
	if f := b.flashes(); len(f) != 1 || !strings.Contains(f[0], `"color"`) {
		t.Errorf("after set: flashes %q, want one about color", f)
	}
	if v := b.dataValue("color"); v != "teal" {
		t.Errorf("after set: color shows %q, want teal", v)
	}
	b.do("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("visits")))
	if f := b.flashes(); len(f) != 0 {
		t.Errorf("after reload: flashes %q, want none", f)
	}

	// Log in: the name shows, the session id changes, the data stays.
	beforeLogin := b.text("session-id")
	b.do("fill in the name", chromedp.SendKeys(chromedp.ID("name"), "Ada"))
	b.submit("log in", chromedp.Click(chromedp.ID("login")))
	if u := b.text("user"); u != "Ada" {
		t.Errorf("after login: user shows %q, want Ada", u)
	}
	if id := b.text("session-id"); id == beforeLogin {
		t.Errorf("login kept the session id %s", id)
	}
	loggedIn := b.sessionCookie()
	if loggedIn == nil {
		t.Fatal("after login: the browser holds no session cookie")
	}
	if loggedIn.Value == anon.Value {
		t.Errorf("login kept the session cookie")
	}
	if v := b.dataValue("color"); v != "teal" {
		t.Errorf("after login: color shows %q, want the data kept", v)
	}
	if f := b.flashes(); len(f) != 1 || !strings.Contains(f[0], "Welcome, Ada") {
		t.Errorf("after login: flashes %q, want the welcome", f)
	}
	saveScreenshot(t, b, shot)

	// The session id known before the login does not work any more.
	if s := apiSession(t, b.base, anon.Value); !s.New || len(s.Data) != 0 {
		t.Errorf("the pre-login cookie still loads a session: new %v, data %v", s.New, s.Data)
	}

	// Log out: the logged-in session is gone, a fresh one carries the flash.
	b.submit("log out", chromedp.Click(chromedp.ID("logout")))
	if n := b.count("#user"); n != 0 {
		t.Errorf("after logout: still shows a user")
	}
	if v := b.text("visits"); v != "1" {
		t.Errorf("after logout: counter shows %q, want a fresh session", v)
	}
	if c := b.sessionCookie(); c != nil && c.Value == loggedIn.Value {
		t.Error("after logout: the browser still holds the logged-in cookie")
	}
	if s := apiSession(t, b.base, loggedIn.Value); !s.New || len(s.Data) != 0 {
		t.Errorf("the logged-in cookie still loads a session: new %v, data %v", s.New, s.Data)
	}
	if f := b.flashes(); len(f) != 1 || !strings.Contains(f[0], "logged out") {
		t.Errorf("after logout: flashes %q, want one saying so", f)
	}
	b.do("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("visits")))
	if f := b.flashes(); len(f) != 0 {
		t.Errorf("after reload: flashes %q, want none", f)
	}
}

// apiSessionAnswer is what the demo's GET /api/session says of a session.
type apiSessionAnswer struct {
	ID   string         `json:"id"`
	New  bool           `json:"new"` // no stored session had the cookie's id
	Data map[string]any `json:"data"`
}

// apiSession asks the demo's API, outside the browser, for the session
// that the cookie value names. Anything but a 200 with a session fails the
// test: an error answer has no data either, and would pass for a session
// that is gone.
func apiSession(t *testing.T, base, cookie string) apiSessionAnswer {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "GET", base+"/api/session", nil)
	req.AddCookie(&http.Cookie{Name: cookieName, Value: cookie})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var s apiSessionAnswer
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &s) != nil || s.ID == "" {
		t.Fatalf("GET /api/session: status %d, want 200 with a session: %s", resp.StatusCode, body)
	}
	return s
}

// saveScreenshot saves the page as a PNG: into the test's artifact directory
// (kept with go test -artifacts), and into docs (../docs/demo.png) with
// -update-screenshot.
func saveScreenshot(t *testing.T, b *tab, docs string) {
	t.Helper()
	png := run(b, "screenshot", chromedp.FullScreenshot(100))
	paths := []string{filepath.Join(t.ArtifactDir(), "demo.png")}
	if *updateScreenshot {
		paths = append(paths, docs)
	}
	for _, p := range paths {
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot saved to %s", p)
	}
}
