package interop

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sessionkit/session/internal/testserver"
)

// peerDir is the Express app, relative to this package.
const peerDir = "peer"

// npmCI is the install command; the lockfile pins every package.
var npmCI = []string{"ci", "--no-audit", "--no-fund", "--loglevel=error"}

// peerStartTimeout bounds how long the Express app may take to connect to
// Redis and open its port (the machine may be busy).
const peerStartTimeout = 30 * time.Second

// peer is the running Express app.
type peer struct {
	// URL is the app's base URL on loopback.
	URL string

	cmd  *exec.Cmd
	done chan struct{}      // closed when the process has exited
	log  *testserver.Output // its stdout and stderr
}

// Log returns what the Express app printed so far, for failure messages.
func (p *peer) Log() string { return p.log.String() }

// stop ends the app: SIGTERM, then SIGKILL if it lingers.
func (p *peer) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(3 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// shared is the one Express app of this test binary; starting Node costs
// most of a second, so every test shares it (and the Redis it uses).
var shared struct {
	once sync.Once
	p    *peer
	skip string // why the tests cannot run here, if they cannot
	err  error
}

// stopPeer stops the shared Express app, if it was started.
func stopPeer() {
	if shared.p != nil {
		shared.p.stop()
	}
}

// errEnvironment marks a missing tool: a skip, unless SESSIONKIT_REQUIRE_SERVERS=1.
var errEnvironment = errors.New("interop: missing tool")

// sharedPeer returns the Express app connected to redisAddr, starting it
// (and running npm ci first if its packages are not installed) on first use.
func sharedPeer(t *testing.T, redisAddr string) *peer {
	t.Helper()
	shared.once.Do(func() {
		shared.p, shared.err = startPeer(redisAddr)
	})
	checkStarted(t, shared.err)
	return shared.p
}

// checkStarted ends the test if a Node app could not be started: a skip
// for a missing tool (a failure with SESSIONKIT_REQUIRE_SERVERS=1), a
// failure otherwise.
func checkStarted(t *testing.T, err error) {
	t.Helper()
	if errors.Is(err, errEnvironment) {
		if os.Getenv(testserver.RequireEnv) == "1" {
			t.Fatalf("%v (%s=1)", err, testserver.RequireEnv)
		}
		t.Skipf("%v (set %s=1 to make this a failure)", err, testserver.RequireEnv)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// startPeer installs the app's packages if needed and starts it on a free
// loopback port, with Redis at redisAddr, the test secret, passport and
// connect-flash (whose middlewares leave a session without their keys alone).
func startPeer(redisAddr string) (*peer, error) {
	return startPeerEnv("REDIS_URL=redis://"+redisAddr, "SESSION_PREFIX=sess:", "PASSPORT=1", "FLASH=1")
}

// startPeerEnv starts the Express app (server.js) with the test secret,
// connect-flash (FLASH=1: the flash tests run on every store) and env added
// to the environment (the store and its settings; see stores.js).
func startPeerEnv(env ...string) (*peer, error) {
	return startNode("server.js", append([]string{"SESSION_SECRET=" + secret, "FLASH=1"}, env...)...)
}

// startNode installs the peer's packages if needed and starts script (in
// the peer's directory) with node on a free loopback port, with env added
// to the environment, and waits for it to print "listening <port>".
func startNode(script string, env ...string) (*peer, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("%w: node not found in PATH; install it with: apt-get install -y nodejs npm", errEnvironment)
	}
	if err := installPackages(); err != nil {
		return nil, err
	}
	cmd := exec.Command(node, script)
	cmd.Dir = peerDir
	cmd.Env = append(os.Environ(),
		"PORT=0", // the app picks a free port and prints it
		"HOST=127.0.0.1",
	)
	cmd.Env = append(cmd.Env, env...)
	// Kill Node if the test binary dies without cleaning up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	log := &testserver.Output{}
	cmd.Stderr = log
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("interop: start express: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("interop: start express: %w", err)
	}
	p := &peer{cmd: cmd, done: make(chan struct{}), log: log}
	port := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(log, line)
			if rest, ok := strings.CutPrefix(line, "listening "); ok {
				select {
				case port <- rest:
				default:
				}
			}
		}
		_, _ = io.Copy(log, stdout) // after a line too long for the scanner
		_ = cmd.Wait()
		close(p.done)
	}()
	select {
	case pt := <-port:
		p.URL = "http://127.0.0.1:" + pt
		return p, nil
	case <-p.done:
		return nil, fmt.Errorf("interop: express exited during start-up:\n%s", log)
	case <-time.After(peerStartTimeout):
		p.stop()
		return nil, fmt.Errorf("interop: express did not print \"listening <port>\" within %s:\n%s", peerStartTimeout, log)
	}
}

// installMu serializes installPackages.
var installMu sync.Mutex

// installPackages runs npm ci in the peer's directory unless the packages of
// the current lockfile are installed already (npm writes
// node_modules/.package-lock.json when an install completes).
func installPackages() error {
	installMu.Lock() // two peers starting at once must not both run npm ci
	defer installMu.Unlock()
	lock, err := os.Stat(filepath.Join(peerDir, "package-lock.json"))
	if err != nil {
		return fmt.Errorf("interop: %w", err)
	}
	done, err := os.Stat(filepath.Join(peerDir, "node_modules", ".package-lock.json"))
	if err == nil && !done.ModTime().Before(lock.ModTime()) {
		return nil
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return fmt.Errorf("%w: npm not found in PATH; install it with: apt-get install -y npm", errEnvironment)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, npmCI...)
	cmd.Dir = peerDir
	if out, err := cmd.CombinedOutput(); err != nil {
		// Most likely no access to the npm registry: the packages are missing.
		return fmt.Errorf("%w: npm %s in interop/peer failed (%v); run it by hand to install the Express app's packages:\n%s",
			errEnvironment, strings.Join(npmCI, " "), err, out)
	}
	return nil
}
