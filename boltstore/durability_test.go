package boltstore_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	berrors "go.etcd.io/bbolt/errors"

	"github.com/sessionkit/session/boltstore"
)

func sessionData(i int) []byte { return fmt.Appendf(nil, `{"cookie":{},"n":%d}`, i) }

func TestSessionsWrittenBeforeACleanCloseAreThereAfterReopening(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sessions.db")
	s, err := boltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	for i := range n {
		exp := time.Now().Add(time.Hour)
		if i%2 == 1 {
			exp = time.Time{} // browser-session cookie: the default lifetime
		}
		if err := s.Set(ctx, fmt.Sprint("id", i), sessionData(i), exp); err != nil {
			t.Fatal(err)
		}
	}
	_, version, _, _ := s.GetVersion(ctx, "id7")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = boltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, err := s.Count(ctx); err != nil || got != n {
		t.Fatalf("Count after reopen = %d, %v; want %d", got, err, n)
	}
	for i := range n {
		got, _, err := s.Get(ctx, fmt.Sprint("id", i))
		if err != nil || string(got) != string(sessionData(i)) {
			t.Fatalf("id%d after reopen: %q, %v", i, got, err)
		}
	}
	if _, swapped, err := s.CompareAndSwap(ctx, "id7", version, []byte("{}"), time.Time{}); err != nil || !swapped {
		t.Fatalf("version from before the reopen no longer matches: %v", err)
	}
	if err := s.Set(ctx, "fresh", []byte("{}"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, swapped, _ := s.CompareAndSwap(ctx, "fresh", version, []byte("{}"), time.Time{}); swapped {
		t.Fatal("a new session reused a version from before the reopen")
	}
}

const crashChildEnv = "BOLTSTORE_CRASH_CHILD_DB"

// TestAcknowledgedSessionsSurviveSIGKILL runs a child process whose
// goroutines save sessions (so writes are committed in groups) and print
// "saved N" after each Set returned, kills it with SIGKILL in the middle of
// its writes, and checks that every acknowledged session is in the file.
func TestAcknowledgedSessionsSurviveSIGKILL(t *testing.T) {
	if path := os.Getenv(crashChildEnv); path != "" {
		crashChild(path)
		return
	}
	path := filepath.Join(t.TempDir(), "sessions.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestAcknowledgedSessionsSurviveSIGKILL$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked []int
	killed := false
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		n, ok := strings.CutPrefix(sc.Text(), "saved ")
		if !ok {
			continue // the test framework's own output, if any
		}
		i, err := strconv.Atoi(n)
		if err != nil {
			t.Fatalf("bad line from child: %q", sc.Text())
		}
		acked = append(acked, i)
		if !killed && len(acked) >= 300 {
			if err := cmd.Process.Kill(); err != nil { // SIGKILL on Unix
				t.Fatal(err)
			}
			killed = true // keep reading: lines already in the pipe were acknowledged too
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("child exited before it was killed (%d acks): %v", len(acked), err)
	}
	if ee := (*exec.ExitError)(nil); !errors.As(err, &ee) || ee.ExitCode() != -1 {
		t.Fatalf("child was not killed by a signal: %v", err)
	}

	s, err := boltstore.Open(path, boltstore.WithOpenTimeout(5*time.Second))
	if err != nil {
		t.Fatalf("reopening after SIGKILL: %v", err)
	}
	defer s.Close()
	ctx := context.Background()
	for _, i := range acked {
		got, _, err := s.Get(ctx, fmt.Sprint("id", i))
		if err != nil || string(got) != string(sessionData(i)) {
			t.Fatalf("acknowledged session id%d lost after SIGKILL: %q, %v", i, got, err)
		}
	}
	n, _ := s.Count(ctx)
	t.Logf("all %d acknowledged sessions survived SIGKILL (%d in the file)", len(acked), n)
}

// crashChild saves sessions from 8 goroutines until it is killed. It stops
// by itself after a while in case the parent died without killing it.
func crashChild(path string) {
	s, err := boltstore.Open(path, boltstore.WithSweepInterval(10*time.Millisecond))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(3)
	}
	ctx := context.Background()
	stop := time.Now().Add(time.Minute)
	var next atomic.Int64
	for range 8 {
		go func() {
			for time.Now().Before(stop) {
				i := int(next.Add(1))
				if err := s.Set(ctx, fmt.Sprint("id", i), sessionData(i), time.Now().Add(time.Hour)); err != nil {
					fmt.Fprintln(os.Stderr, "child:", err)
					os.Exit(3)
				}
				fmt.Printf("saved %d\n", i) // one write(2) on an unbuffered pipe: the parent sees it at once
			}
		}()
	}
	time.Sleep(time.Until(stop))
	os.Exit(4)
}

func TestOpenOfALockedFileFailsWithAClearErrorInsteadOfHanging(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	s, err := boltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// bbolt's flock is per open file, so a second Open in this process
	// meets the lock exactly as another process would.
	s2, err := boltstore.Open(path, boltstore.WithOpenTimeout(100*time.Millisecond))
	if err == nil {
		s2.Close()
		t.Fatal("second Open of a locked file succeeded")
	}
	// The error names both holders: a second Open in one process (two
	// Managers, a test that forgot Close) is the likelier one.
	if !errors.Is(err, berrors.ErrTimeout) || !strings.Contains(err.Error(), "locked by another process, or by another Open of it in this one") || !strings.Contains(err.Error(), path) {
		t.Fatalf("unclear error: %v", err)
	}
}
