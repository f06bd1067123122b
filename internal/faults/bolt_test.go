package faults_test

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/boltstore"
	"github.com/sessionkit/session/internal/faults"
	"github.com/sessionkit/session/internal/testserver"
)

// The child process: the test binary run again with boltChildEnv set to
// the database path (and boltPortsEnv to the ports of a restart) serves the
// two app instances of one bbolt file and prints "listening URL1 URL2".
const (
	boltChildEnv = "FAULTS_BOLT_CHILD"
	boltPortsEnv = "FAULTS_BOLT_PORTS"
	// boltCapEnv, when set, is the apps' MaxSessionsPerUser (fault 9e).
	boltCapEnv = "FAULTS_BOLT_CAP"
)

// boltChild runs the app process; it returns only on an error (the parent
// ends it with SIGKILL).
func boltChild() int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "bolt child:", err)
		return 1
	}
	st, err := boltstore.Open(os.Getenv(boltChildEnv), boltstore.WithOpenTimeout(10*time.Second))
	if err != nil {
		return fail(err)
	}
	ports := strings.Split(os.Getenv(boltPortsEnv), ",")
	var urls []string
	errs := make(chan error, 2)
	for i := range 2 {
		o := session.Options{Secrets: []string{faults.Secret}, Store: st, Logger: slog.New(slog.DiscardHandler), StoreTimeout: storeTimeout}
		if c := os.Getenv(boltCapEnv); c != "" {
			if o.MaxSessionsPerUser, err = strconv.Atoi(c); err != nil {
				return fail(err)
			}
			o.ErrorHandler = errorInAnswer
		}
		m, err := session.New(o)
		if err != nil {
			return fail(err)
		}
		port := "0"
		if i < len(ports) && ports[i] != "" {
			port = ports[i]
		}
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", port))
		if err != nil {
			return fail(err)
		}
		urls = append(urls, "http://"+ln.Addr().String())
		go func() { errs <- http.Serve(ln, faults.App(m)) }()
	}
	fmt.Println("listening", strings.Join(urls, " "))
	return fail(<-errs)
}

// boltApp is the child process as the parent sees it.
type boltApp struct {
	db     string
	env    []string // more environment of the child
	urls   []string
	cmd    *exec.Cmd
	stderr testserver.Output
}

// start runs the child on ports (none: fresh ones) and waits until it listens.
func (a *boltApp) start(ports string) error {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), a.env...), boltChildEnv+"="+a.db, boltPortsEnv+"="+ports)
	cmd.Stderr = &a.stderr
	// Kill the app if the test binary dies without cleaning up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	a.cmd = cmd
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
				line <- rest
				break
			}
		}
		io.Copy(io.Discard, out)
		close(line)
	}()
	select {
	case l, ok := <-line:
		if !ok {
			cmd.Wait()
			return fmt.Errorf("the app exited before it listened: %s\n%s", cmd.ProcessState, a.stderr.String())
		}
		a.urls = strings.Fields(l)
		return nil
	case <-time.After(30 * time.Second):
		return fmt.Errorf("the app did not listen within 30s\n%s", a.stderr.String())
	}
}

// kill ends the child with SIGKILL, as a crash would, and waits for it.
func (a *boltApp) kill() {
	if a.cmd != nil {
		a.cmd.Process.Kill()
		a.cmd.Wait()
		a.cmd = nil
	}
}

// killAndRestart is the injection of a crash: the child killed (SIGKILL)
// and started again on its ports and its file.
func (a *boltApp) killAndRestart(*faults.Live) error {
	ports := a.ports()
	a.kill()
	// The app is down now: a request finds no one listening. (Whether one
	// of the load's requests meets that is timing: net/http's client sends
	// an idempotent request that met a dead connection again, and on a
	// loaded machine the restart can come before any other is sent.)
	if resp, err := http.Get(a.urls[0] + "/read"); err == nil {
		resp.Body.Close()
		return fmt.Errorf("the app at %s answered %s after it was killed", a.urls[0], resp.Status)
	}
	// The ports were the app's a moment ago; a short retry covers a slow release.
	var err error
	for range 5 {
		if err = a.start(ports); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

// ports returns the ports the child listens on, for a restart on the same.
func (a *boltApp) ports() string {
	var p []string
	for _, u := range a.urls {
		_, port, _ := net.SplitHostPort(strings.TrimPrefix(u, "http://"))
		p = append(p, port)
	}
	return strings.Join(p, ",")
}

func TestBoltAppKilledDuringWritesLosesNothing(t *testing.T) {
	app := &boltApp{db: filepath.Join(t.TempDir(), "sessions.db")}
	t.Cleanup(app.kill)
	if err := app.start(""); err != nil {
		t.Fatal(err)
	}
	rep := run(t, "5. bbolt: the app killed (SIGKILL) during writes and restarted", "bbolt", config(app.urls), app.killAndRestart)
	checkNothingLost(t, rep)
	// killAndRestart checked that the app was down; the load's requests
	// may all have missed that moment (see there).
	t.Logf("%d requests failed while the app was down", rep.Errors)
}
