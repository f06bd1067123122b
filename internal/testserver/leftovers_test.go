package testserver

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// leftoverChildEnv makes TestLeftoverChild, run in a child test binary,
// start servers and die as a panicking test does.
const leftoverChildEnv = "TESTSERVER_LEFTOVER_CHILD"

// TestLeftoverChild is not a test of its own: run by
// TestDirsOfADeadTestBinaryAreRemovedByTheNext in a child process, it starts
// a shared Redis and, where PostgreSQL is installed, a shared and a
// per-test PostgreSQL, prints their directories and panics, so that
// neither Main nor the cleanups of the shared servers run.
func TestLeftoverChild(t *testing.T) {
	switch os.Getenv(leftoverChildEnv) {
	case "":
		t.Skip("run by TestDirsOfADeadTestBinaryAreRemovedByTheNext")
	case "clean":
		// A test binary that uses a shared server and ends normally.
		SharedRedis(t)
		return
	}
	dirs := []string{SharedRedis(t).Dir}
	if PostgresAvailable() == nil {
		dirs = append(dirs, SharedPostgres(t).Dir, getPostgresSetup(t).template)
	}
	for _, d := range dirs {
		os.Stdout.WriteString("DIR " + d + "\n")
	}
	panic("a test panics")
}

// A test binary that dies before Main stops its shared servers (a panic, a
// timeout, a kill, or a package without TestMain) left its servers' files
// in the temporary directory for good: about 40 MB for each PostgreSQL
// data directory, the template and the shared server's. The next test
// binary that starts a server now removes them, and leaves the files of
// the binaries still running alone.
func TestDirsOfADeadTestBinaryAreRemovedByTheNext(t *testing.T) {
	if testing.Short() {
		t.Skip("runs this test binary twice; skipped with -short")
	}
	mine := SharedRedis(t).Dir // this binary's, running: must stay

	dead := exec.Command(os.Args[0], "-test.run", "^TestLeftoverChild$", "-test.count=1")
	dead.Env = append(os.Environ(), leftoverChildEnv+"=panic")
	out, err := dead.CombinedOutput()
	if err == nil {
		t.Fatalf("the child did not die:\n%s", out)
	}
	var left []string
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "DIR "); ok {
			left = append(left, d)
		}
	}
	if len(left) == 0 {
		t.Fatalf("the child printed no directories:\n%s", out)
	}
	for _, d := range left {
		if _, err := os.Stat(d); err != nil {
			t.Fatalf("%s is gone before the next test binary ran: %v", d, err)
		}
	}

	next := exec.Command(os.Args[0], "-test.run", "^TestLeftoverChild$", "-test.count=1")
	next.Env = append(os.Environ(), leftoverChildEnv+"=clean")
	if out, err := next.CombinedOutput(); err != nil {
		t.Fatalf("the next test binary: %v\n%s", err, out)
	}
	for _, d := range left {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s, left by a dead test binary, is still there after the next one ran (%v)", d, err)
			os.RemoveAll(d)
		}
	}
	if _, err := os.Stat(mine); err != nil {
		t.Errorf("the next test binary removed the directory of this one, still running: %v", err)
	}
}
