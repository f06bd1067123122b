// Package testserver starts real database servers (redis-server,
// valkey-server 8.1, memcached, PostgreSQL, FerretDB for MongoDB) on free
// loopback ports for the stores' tests, and stops them afterwards.
//
// Nothing here relies on a server that happens to run on the machine: every
// server is a child process with its own port and its own directory. A
// missing binary skips the test with a message naming the package to
// install; with SESSIONKIT_REQUIRE_SERVERS=1 (as in CI) it fails it instead.
//
// The Start functions tie a server to one test (stopped in t.Cleanup). The
// Shared functions start one server per test binary, for the many tests that
// only need a place to put keys; such tests must keep to their own key
// prefix. A package using them calls [Main] from its TestMain so the shared
// servers are stopped when the tests end.
package testserver

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RequireEnv is the environment variable that turns a missing server binary
// from a skipped test into a failed one.
const RequireEnv = "SESSIONKIT_REQUIRE_SERVERS"

// StartTimeout bounds how long a server may take to accept connections.
const StartTimeout = 15 * time.Second

// startTimeout is StartTimeout, shorter in this package's tests of a server
// that never gets ready.
var startTimeout = StartTimeout

// Install is the command that installs every binary this package runs, on Debian/Ubuntu.
const Install = "apt-get install -y redis-server memcached postgresql"

// missingBinaryError reports a server binary that is not installed.
type missingBinaryError struct{ name, pkg string }

func (e *missingBinaryError) Error() string {
	return fmt.Sprintf("testserver: %s not found in PATH; install it with: apt-get install -y %s", e.name, e.pkg)
}

// lookBinary finds name in PATH, or returns a *missingBinaryError naming pkg.
func lookBinary(name, pkg string) (string, error) {
	path, err := exec.LookPath(name)
	if err != nil {
		return "", &missingBinaryError{name, pkg}
	}
	return path, nil
}

// check ends t when err is not nil: a missing binary or a server that cannot
// be built skips it (fails it with SESSIONKIT_REQUIRE_SERVERS=1), any other
// error fails it.
func check(t testing.TB, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if isUnavailable(err) {
		if os.Getenv(RequireEnv) == "1" {
			t.Fatalf("%v (%s=1)", err, RequireEnv)
		}
		t.Skipf("%v (set %s=1 to make this a failure)", err, RequireEnv)
	}
	t.Fatal(err)
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("testserver: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// pickPort is the port launch tries next: freePort, but for tests.
var pickPort = freePort

// Server is one server process on a fixed loopback port. It can be killed and
// restarted on the same port to simulate an outage.
type Server struct {
	// Name says what the server is, for messages ("redis", "memcached", ...).
	Name string
	// Addr is host:port of the server, on 127.0.0.1.
	Addr string
	// Port is the port of Addr.
	Port int
	// Dir is the server's own directory (data, config, log).
	Dir string
	// CertPEM is the self-signed certificate of a TLS server, else nil.
	CertPEM []byte

	bin     string
	args    []string
	logPath string
	ready   func(addr string) error
	// cred, when set, runs the process as another user (postgres refuses root).
	cred *syscall.Credential

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd exits
}

// errPortTaken marks a start that failed because another process had the
// server's port: found free, it was taken before the server bound it (by
// another test binary's server, say). Only such a start is worth a retry on
// another port; any other failure would fail again the same way.
var errPortTaken = errors.New("the port was taken by another process")

// errNotReady marks a start that timed out: the server ran but did not
// answer within startTimeout. Trying again would most likely cost as long
// for nothing.
var errNotReady = errors.New("not ready")

// start runs the process and waits until ready accepts it. An error wraps
// errPortTaken when the server could not have the port, errNotReady when it
// ran without answering until startTimeout.
func (s *Server) start() error {
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("testserver: %w", err)
	}
	// The log of this start only: the file keeps those of earlier ones.
	var logStart int64
	if fi, err := logf.Stat(); err == nil {
		logStart = fi.Size()
	}
	cmd := exec.Command(s.bin, s.args...)
	cmd.Dir = s.Dir
	cmd.Stdout = logf
	cmd.Stderr = logf
	// Kill the server if the test binary dies without cleaning up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true, Credential: s.cred}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("testserver: start %s: %w", s.Name, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(done)
	}()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()

	deadline := time.Now().Add(startTimeout)
	var lastErr error
	answered := false // by someone else: ready, but not listensOn
	for {
		select {
		case <-done:
			log := s.logSince(logStart)
			if answered || strings.Contains(strings.ToLower(log), "address already in use") {
				return fmt.Errorf("testserver: %s on %s exited during start-up (%w): %s\n%s", s.Name, s.Addr, errPortTaken, cmd.ProcessState, log)
			}
			return fmt.Errorf("testserver: %s on %s exited during start-up: %s\n%s", s.Name, s.Addr, cmd.ProcessState, log)
		default:
		}
		// Ready, and ours: the port was free when picked, but another
		// server may have bound it first and answered the probe.
		if lastErr = s.ready(s.Addr); lastErr == nil {
			if lastErr = listensOn(cmd.Process.Pid, s.Port); lastErr == nil {
				return nil
			}
			answered = true
		}
		if time.Now().After(deadline) {
			s.Kill()
			log := s.logSince(logStart)
			if answered {
				return fmt.Errorf("testserver: %s on %s %w after %s (%w): %v\n%s", s.Name, s.Addr, errNotReady, startTimeout, errPortTaken, lastErr, log)
			}
			return fmt.Errorf("testserver: %s on %s %w after %s: %v\n%s", s.Name, s.Addr, errNotReady, startTimeout, lastErr, log)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Kill stops the server at once (SIGKILL to its whole process group, so the
// worker processes of a forking server such as postgres go too), as a crash
// would, and waits for the process to be gone. Killing a stopped server does nothing.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // Setpgid: the group id is the pid
	_ = cmd.Process.Kill()
	<-done
}

// Restart starts a killed server again on the same port and directory, and
// waits until it accepts connections. It fails t if it cannot.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Kill()
	var err error
	// The port was ours a moment ago, and what the killed processes held
	// may take a moment to go (PostgreSQL's backends keep its shared
	// memory): a short retry covers a server that exits during start-up.
	// One that runs without answering is not tried again.
	for range 3 {
		if err = s.start(); err == nil {
			return
		}
		if errors.Is(err, errNotReady) && !errors.Is(err, errPortTaken) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("testserver: restart: %v", err)
}

// Running reports whether the server process is alive.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return false
	}
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// logSince returns the end of the server's log from byte offset on.
func (s *Server) logSince(offset int64) string {
	b, err := os.ReadFile(s.logPath)
	if err != nil || offset > int64(len(b)) {
		return ""
	}
	b = b[offset:]
	const max = 2000
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return string(b)
}

// Log returns the end of the server's log so far, for failure messages.
func (s *Server) Log() string { return s.logSince(0) }

// launch creates a Server listening on a fresh port and starts it. args
// builds the command line for a port. A port taken by someone else between
// finding and binding it is retried with another port; any other failure
// (a server that exits or never answers) is returned at once.
func launch(name, bin, dir string, args func(port int) ([]string, error), ready func(string) error) (*Server, error) {
	return launchAs(nil, name, bin, dir, args, ready)
}

// launchAs is launch running the process with cred (nil: as this process).
func launchAs(cred *syscall.Credential, name, bin, dir string, args func(port int) ([]string, error), ready func(string) error) (*Server, error) {
	var lastErr error
	for range 5 {
		port, err := pickPort()
		if err != nil {
			return nil, err
		}
		a, err := args(port)
		if err != nil {
			return nil, err
		}
		s := &Server{
			Name:    name,
			Addr:    net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
			Port:    port,
			Dir:     dir,
			bin:     bin,
			args:    a,
			logPath: dir + "/" + name + ".log",
			ready:   ready,
			cred:    cred,
		}
		if lastErr = s.start(); lastErr == nil {
			return s, nil
		}
		s.Kill()
		if !errors.Is(lastErr, errPortTaken) {
			break
		}
	}
	return nil, lastErr
}

// roundTrip sends req on a fresh connection to addr and returns the first
// line of the answer.
func roundTrip(addr, req string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte(req)); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// redisCommand runs one command (words joined as an inline command) on a fresh
// connection and returns the whole bulk or simple reply.
func redisCommand(addr string, words ...string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	var req bytes.Buffer
	fmt.Fprintf(&req, "*%d\r\n", len(words))
	for _, w := range words {
		fmt.Fprintf(&req, "$%d\r\n%s\r\n", len(w), w)
	}
	if _, err := c.Write(req.Bytes()); err != nil {
		return "", err
	}
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	switch {
	case strings.HasPrefix(line, "-"):
		return "", errors.New(line[1:])
	case strings.HasPrefix(line, "$"):
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", err
		}
		buf := make([]byte, n+2)
		if _, err := readFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	default:
		return strings.TrimLeft(line, "+:"), nil
	}
}

func readFull(r *bufio.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
