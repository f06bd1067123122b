package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sessionkit/session/internal/testserver"
)

// TestSIGTERMStopsGracefully runs the real command, as `go run
// ./cmd/sessiondemo` would, in an empty working directory: it creates its
// bbolt file and secret there, serves, and on SIGTERM shuts down, closes the
// store and exits 0.
func TestSIGTERMStopsGracefully(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command; skipped with -short")
	}
	bin := buildDemo(t)
	work := t.TempDir()
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0")
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "SESSION_SECRET=", "SESSION_STORE=")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	// Read the log as it comes; the listening line tells the address.
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var log strings.Builder
	url := waitFor(t, lines, &log, regexp.MustCompile(`msg="sessiondemo listening" url=(\S+)`))

	resp, err := http.Get(url + "/")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if len(resp.Cookies()) != 1 {
		t.Errorf("first visit set %d cookies, want 1", len(resp.Cookies()))
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitFor(t, lines, &log, regexp.MustCompile(`store closed`))
	for range lines { // drain until the pipe closes
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit: %v\n%s", err, log.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("still running 15s after SIGTERM\n%s", log.String())
	}

	for _, f := range []string{"sessiondemo.db", "sessiondemo.secret"} {
		if _, err := os.Stat(filepath.Join(work, f)); err != nil {
			t.Errorf("%s not in the working directory: %v", f, err)
		}
	}
	if !strings.Contains(log.String(), "level=WARN") || !strings.Contains(log.String(), "sessiondemo.secret") {
		t.Errorf("no warning about the generated secret:\n%s", log.String())
	}
}

var built struct {
	once sync.Once
	bin  string
	err  error
	out  []byte
}

// buildDemo builds the command once for all the tests of this binary and
// returns its path.
func buildDemo(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		dir, err := os.MkdirTemp("", "sessiondemo-test-")
		if err != nil {
			built.err = err
			return
		}
		built.bin = filepath.Join(dir, "sessiondemo")
		built.out, built.err = exec.Command("go", "build", "-o", built.bin, ".").CombinedOutput()
	})
	if built.err != nil {
		t.Fatalf("go build: %v\n%s", built.err, built.out)
	}
	return built.bin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.bin != "" {
		os.RemoveAll(filepath.Dir(built.bin))
	}
	os.Exit(code)
}

// A command-line mistake is reported once, before the usage, and exits 2,
// as the flag package does for other commands; the error came twice, the
// second time after the usage, with exit status 1. Mistakes in the
// environment, which the usage does not explain, are reported once, after
// "sessiondemo:", with exit status 1.
func TestCommandLineMistakesAreReportedOnceAndExitTwo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command; skipped with -short")
	}
	bin := buildDemo(t)
	for _, c := range []struct {
		args, env []string
		msg       string
		code      int
	}{
		{args: []string{"-max-age", "24"}, msg: `invalid value "24" for flag -max-age`, code: 2},
		{args: []string{"-bogus"}, msg: "flag provided but not defined: -bogus", code: 2},
		{args: []string{"extra"}, msg: `unexpected argument "extra"`, code: 2},
		{env: []string{"SESSION_MAX_AGE=24"}, msg: `SESSION_MAX_AGE: time: missing unit in duration "24"`, code: 1},
		{args: []string{"-max-age", "-1h"}, msg: "-max-age must not be negative", code: 1},
		{args: []string{"-trusted-proxies", "10.0.0.0/8,proxy"}, msg: `invalid value "10.0.0.0/8,proxy" for flag -trusted-proxies: "proxy" is neither a CIDR prefix nor an IP address`, code: 2},
		{args: []string{"-trusted-proxy-hops", "one"}, msg: `invalid value "one" for flag -trusted-proxy-hops`, code: 2},
		{env: []string{"SESSION_TRUSTED_PROXY_HOPS=one"}, msg: `SESSION_TRUSTED_PROXY_HOPS: "one" is not a number of proxies`, code: 1},
		{args: []string{"-trusted-proxies", "10.0.0.1", "-trusted-proxy-hops", "1"}, msg: "-trusted-proxies and -trusted-proxy-hops are both set", code: 1},
	} {
		cmd := exec.Command(bin, c.args...)
		cmd.Dir = t.TempDir()
		cmd.Env = append(os.Environ(), append([]string{"SESSION_SECRET=", "SESSION_STORE=", "SESSION_MAX_AGE=", "SESSION_TRUSTED_PROXIES=", "SESSION_TRUSTED_PROXY_HOPS="}, c.env...)...)
		out, err := cmd.CombinedOutput()
		code := cmd.ProcessState.ExitCode()
		if err != nil && code < 0 {
			t.Fatal(err)
		}
		if n := strings.Count(string(out), c.msg); code != c.code || n != 1 {
			t.Errorf("sessiondemo %q with %q: exit %d, the message %d times; want exit %d, the message once:\n%s", c.args, c.env, code, n, c.code, out)
		}
		if c.code == 2 && !strings.HasPrefix(string(out), c.msg) {
			t.Errorf("sessiondemo %q: the message does not come first, before the usage:\n%s", c.args, out)
		}
	}
}

// waitFor reads log lines until one matches re, and returns its first group.
func waitFor(t *testing.T, lines <-chan string, log *strings.Builder, re *regexp.Regexp) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("the command ended without logging %s:\n%s", re, log.String())
			}
			log.WriteString(line + "\n")
			if m := re.FindStringSubmatch(line); m != nil {
				if len(m) > 1 {
					return m[1]
				}
				return m[0]
			}
		case <-ctx.Done():
			t.Fatalf("no log line matching %s within 20s:\n%s", re, log.String())
		}
	}
}

// A second Ctrl-C while the demo waits for the requests in flight stops it
// at once, as it does other servers; it was swallowed, and the demo sat out
// its ten-second grace period whatever the user pressed.
func TestSecondInterruptStopsAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command; skipped with -short")
	}
	bin := buildDemo(t)
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-store", "mem://", "-secret", "s")
	cmd.Dir = t.TempDir()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var log strings.Builder
	url := waitFor(t, lines, &log, regexp.MustCompile(`msg="sessiondemo listening" url=(\S+)`))

	// A request in flight that the shutdown waits for: a form post whose
	// body never finishes. Its handler has started once the server asks
	// for the body (100 Continue): before, the connection may still wait
	// to be accepted, and the shutdown, which drops it with the listener,
	// ends at once.
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "POST /set HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(30 * time.Second)) // a demo that never answers fails, not hangs
	if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || !strings.HasPrefix(line, "HTTP/1.1 100 ") {
		t.Fatalf("the demo's answer to a post that expects 100-continue: %q, %v", line, err)
	}
	if _, err := io.WriteString(c, "key=a"); err != nil {
		t.Fatal(err)
	}

	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	waitFor(t, lines, &log, regexp.MustCompile(`shutting down`))
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	for range lines { // until the process closes its stderr
	}
	err = cmd.Wait()
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGINT {
		t.Fatalf("after a second interrupt during the shutdown: %v, want killed by the interrupt\n%s", err, log.String())
	}
}

// A store that cannot be reached is one error line, after "sessiondemo:".
// go-redis logged each failed dial of its retries as well, on lines of its
// own format ("redis: ... pool.go:770: ... failed to dial after 5
// attempts"), four of them before the demo's own error.
func TestAnUnreachableRedisIsOneErrorLine(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command; skipped with -short")
	}
	bin := buildDemo(t)
	closed := testserver.RefusingAddr(t) // nothing listens there, nor can meanwhile
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-secret", "s", "-store", "redis://"+closed+"/0")
	cmd.Dir = t.TempDir()
	out, _ := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "sessiondemo: ") || !strings.Contains(lines[0], "connection refused") {
		t.Errorf("output, want one line saying the connection was refused:\n%s", out)
	}
}
