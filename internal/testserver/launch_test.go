package testserver

import (
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeServer is a launch of /bin/sh running the script script(attempt) for
// its attempt-th start (0 first), whose readiness probe never succeeds,
// with a start-up timeout of timeout. It returns launch's error and how
// many starts launch made.
//
// A script that runs until killed gets the short timeout, so that the test
// is quick; one that exits gets StartTimeout, since an exit ends the start
// at once: with 300 ms, a shell that took that long to start and exit on a
// loaded machine was reported not ready, and not as the exit under test.
func fakeServer(t *testing.T, timeout time.Duration, script func(attempt int) string) (error, int) {
	t.Helper()
	defer func(d time.Duration) { startTimeout = d }(startTimeout)
	startTimeout = timeout
	var starts atomic.Int32
	s, err := launch("fake", "/bin/sh", t.TempDir(), func(int) ([]string, error) {
		return []string{"-c", script(int(starts.Add(1)) - 1)}, nil
	}, func(string) error { return errors.New("no answer") })
	if s != nil {
		s.Kill()
		t.Fatal("a server that never answers started")
	}
	return err, int(starts.Load())
}

// A server that runs but never answers (a broken binary, a bad
// configuration) is not a port race: launch tried it five times, with the
// start-up timeout each, so a broken redis-server took over a minute to
// report.
func TestAServerThatNeverGetsReadyFailsAtOnce(t *testing.T) {
	err, starts := fakeServer(t, 300*time.Millisecond, func(int) string { return "exec sleep 60" })
	if starts != 1 {
		t.Errorf("started %d times, want 1", starts)
	}
	if err == nil || !strings.Contains(err.Error(), "not ready after") || !strings.Contains(err.Error(), "no answer") {
		t.Errorf("err = %v, want the timeout and the probe's last error", err)
	}
}

// A server that exits during start-up for a reason of its own fails at
// once, with its log.
func TestAServerThatExitsAtStartUpFailsAtOnceWithItsLog(t *testing.T) {
	err, starts := fakeServer(t, StartTimeout, func(int) string { return "echo 'FATAL: bad option --nope' >&2; exit 1" })
	if starts != 1 {
		t.Errorf("started %d times, want 1", starts)
	}
	if err == nil || !strings.Contains(err.Error(), "exited during start-up") || !strings.Contains(err.Error(), "FATAL: bad option --nope") {
		t.Errorf("err = %v, want the exit and the server's log", err)
	}
}

// A server that could not bind its port, which another process took after
// it was found free, is tried again on another port; only that (the second
// start fails otherwise, and is not tried again).
func TestAServerThatLostItsPortIsTriedOnAnother(t *testing.T) {
	err, starts := fakeServer(t, StartTimeout, func(attempt int) string {
		if attempt == 0 {
			return "echo 'Could not create server TCP listening socket 127.0.0.1:1234: bind: Address already in use' >&2; exit 1"
		}
		return "echo 'FATAL: bad option --nope' >&2; exit 1"
	})
	if starts != 2 {
		t.Errorf("started %d times, want 2: a retry after the lost port, none after another failure", starts)
	}
	if err == nil || !strings.Contains(err.Error(), "exited during start-up") || !strings.Contains(err.Error(), "FATAL: bad option --nope") {
		t.Errorf("err = %v, want the second start's exit and log", err)
	}
	if strings.Contains(err.Error(), "Address already in use") {
		t.Errorf("err = %v shows the first start's log, not the second's", err)
	}
}

// Restart tries a server that exits during start-up again (what the killed
// processes held may take a moment to go), but not one that runs without
// answering: three tries of the start-up timeout each. The starts are
// counted by the processes the readiness probe is asked about, not by a
// line the server writes: a shell descheduled for the 300 ms of its
// start-up timeout on a loaded machine was killed before it wrote one.
func TestRestartDoesNotRetryAServerThatNeverGetsReady(t *testing.T) {
	defer func(d time.Duration) { startTimeout = d }(startTimeout)
	startTimeout = 300 * time.Millisecond
	dir := t.TempDir()
	started := map[int]bool{} // the pids probed; start probes before its deadline
	var s *Server
	s = &Server{
		Name: "fake", Addr: "127.0.0.1:1", Port: 1, Dir: dir,
		bin: "/bin/sh", args: []string{"-c", "exec sleep 60"},
		logPath: filepath.Join(dir, "fake.log"),
		ready: func(string) error {
			s.mu.Lock()
			started[s.cmd.Process.Pid] = true
			s.mu.Unlock()
			return errors.New("no answer")
		},
	}
	r := &recorder{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Restart(r)
	}()
	<-done
	if !strings.Contains(r.failed, "not ready after") {
		t.Errorf("Restart failed with %q, want the timeout", r.failed)
	}
	if n := len(started); n != 1 {
		t.Errorf("started %d times, want 1", n)
	}
}
