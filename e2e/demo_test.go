package e2e

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// cookieName is the session cookie's name; the demo is started with it.
const cookieName = "sid"

// demoLog collects the demo's log lines, for failure messages.
type demoLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *demoLog) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, line)
}

func (l *demoLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

var reListening = regexp.MustCompile(`msg="sessiondemo listening" url=(\S+)`)

// startDemo builds the sessiondemo command of the parent module and runs it
// in an empty working directory with its defaults (a bbolt file and a
// generated secret there), on a free loopback port. It returns the demo's
// base URL. When the test ends the demo gets SIGTERM and must exit cleanly.
func startDemo(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "sessiondemo")
	build := exec.Command("go", "build", "-o", bin, "./cmd/sessiondemo")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the demo: %v\n%s", err, out)
	}

	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-name", cookieName, "-max-age", "24h")
	cmd.Dir = t.TempDir()
	// The defaults, whatever the environment says.
	cmd.Env = append(os.Environ(), "SESSION_STORE=", "SESSION_SECRET=", "SESSIONDEMO_ADDR=")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	log := &demoLog{}
	urls := make(chan string, 1)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			log.add(sc.Text())
			if m := reListening.FindStringSubmatch(sc.Text()); m != nil {
				urls <- m[1]
			}
		}
	}()
	exited := make(chan error, 1)
	go func() {
		<-readDone // Wait closes the pipe: read it to the end first
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("the demo did not stop cleanly on SIGTERM: %v\n%s", err, log)
			}
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			t.Errorf("the demo still ran 15s after SIGTERM\n%s", log)
		}
	})

	select {
	case u := <-urls:
		return u
	case err := <-exited:
		t.Fatalf("the demo exited: %v\n%s", err, log)
	case <-time.After(20 * time.Second):
		t.Fatalf("the demo did not start listening within 20s\n%s", log)
	}
	return ""
}
