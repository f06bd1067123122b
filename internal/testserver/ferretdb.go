package testserver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// There is no MongoDB package for Debian, so the MongoDB tests run against
// FerretDB, a MongoDB wire-protocol server written in Go, with its SQLite
// backend. internal/ferretdb is a small separate module (its dependencies
// stay out of the library's go.mod) with a main around FerretDB's embeddable
// package; it is built once per source version into the user's cache
// directory and reused by every test binary afterwards.

// FerretDBBuildTimeout bounds the build of the FerretDB binary. A cold build
// compiles FerretDB and its dependencies (about a minute on two cores);
// later builds are cached.
const FerretDBBuildTimeout = 8 * time.Minute

// ferretdbSources are the files of internal/ferretdb whose content decides
// the binary; their hash names its cache directory.
var ferretdbSources = []string{"go.mod", "go.sum", "main.go"}

// ferretdbTags leaves out the backends the tests do not use, which
// shortens the build.
const ferretdbTags = "ferretdb_no_postgresql"

// unavailableError reports a server that cannot run on this machine for a
// reason other than a missing package (no Go toolchain, a failed build).
// Like a missing binary it skips the test locally and fails it under
// SESSIONKIT_REQUIRE_SERVERS=1.
type unavailableError struct{ msg string }

func (e *unavailableError) Error() string { return e.msg }

// ferretdbSourceDir returns internal/ferretdb, found next to this file's
// directory in the source tree.
func ferretdbSourceDir() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", &unavailableError{"testserver: cannot locate the internal/ferretdb sources (runtime.Caller failed)"}
	}
	dir := filepath.Join(filepath.Dir(file), "..", "ferretdb")
	if _, err := os.Stat(filepath.Join(dir, "main.go")); err != nil {
		return "", &unavailableError{fmt.Sprintf("testserver: FerretDB sources not found: %v", err)}
	}
	return dir, nil
}

// ferretdbCacheDir returns the directory under base for the binary built
// from src: it is named by a hash of the sources, so a change to them builds anew.
func ferretdbCacheDir(base, src string) (string, error) {
	h := sha256.New()
	for _, name := range ferretdbSources {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			return "", &unavailableError{fmt.Sprintf("testserver: read FerretDB sources: %v", err)}
		}
		fmt.Fprintf(h, "%s %d\n", name, len(b))
		h.Write(b)
	}
	fmt.Fprintf(h, "tags %s\n", ferretdbTags)
	return filepath.Join(base, hex.EncodeToString(h.Sum(nil))[:16]), nil
}

// FerretDBBinary returns the path of the FerretDB binary, building it first
// if this version of internal/ferretdb has not been built yet. Test binaries
// running in parallel take a file lock, so one builds and the others wait
// for it; the binary appears under its final name only once complete.
func FerretDBBinary() (string, error) {
	src, err := ferretdbSourceDir()
	if err != nil {
		return "", err
	}
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	return buildFerretDB(src, filepath.Join(base, "sessionkit-ferretdb"))
}

// buildFerretDB returns the binary built from the module in src, cached
// under base.
func buildFerretDB(src, base string) (string, error) {
	dir, err := ferretdbCacheDir(base, src)
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "ferretdb")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", &unavailableError{"testserver: the go command is not in PATH; it is needed to build FerretDB (internal/ferretdb) for the MongoDB tests"}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("testserver: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", fmt.Errorf("testserver: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("testserver: lock %s: %w", lock.Name(), err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if _, err := os.Stat(bin); err == nil {
		return bin, nil // built by another test binary while we waited
	}

	tmp := bin + ".tmp" + strconv.Itoa(os.Getpid())
	ctx, cancel := context.WithTimeout(context.Background(), FerretDBBuildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "build", "-tags", ferretdbTags, "-o", tmp, ".")
	cmd.Dir = src
	// The build belongs to internal/ferretdb's own module, whatever
	// workspace or flags the test run has.
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-buildvcs=false")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		_ = os.Remove(tmp)
		return "", &unavailableError{fmt.Sprintf("testserver: build FerretDB (cd %s && go build -tags %s) failed after %s: %v\n%s",
			src, ferretdbTags, time.Since(start).Round(time.Second), err, out)}
	}
	if err := os.Rename(tmp, bin); err != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("testserver: %w", err)
	}
	return bin, nil
}

// ferretdbBuild remembers the outcome of FerretDBBinary for this test binary.
var ferretdbBuild once[string]

// Mongo is a FerretDB server speaking the MongoDB wire protocol on a loopback
// port, with its data in SQLite files in its directory (kept across Kill and
// Restart).
type Mongo struct {
	*Server
	seq atomic.Int64
}

// URI returns the server's connection string, without a database:
// mongodb://127.0.0.1:PORT/.
func (m *Mongo) URI() string { return "mongodb://" + m.Addr + "/" }

// NewDatabase returns the server's URI and the name of a database no other
// test of this binary gets, for a test that shares the server.
func (m *Mongo) NewDatabase(t testing.TB) (uri, db string) {
	t.Helper()
	return m.URI(), fmt.Sprintf("test%d", m.seq.Add(1))
}

// mongoReady reports whether the server at addr accepts connections. The
// FerretDB main builds its SQLite backend before it listens, so a listening
// server is ready to serve.
func mongoReady(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	return c.Close()
}

// newMongo builds FerretDB if needed and starts it in a new directory under base.
func newMongo(base, name string) (*Mongo, error) {
	bin, err := FerretDBBinary()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(base, name+"-")
	if err != nil {
		return nil, fmt.Errorf("testserver: %w", err)
	}
	s, err := launch(name, bin, dir, func(port int) ([]string, error) {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		return []string{"-listen", addr, "-dir", filepath.Join(dir, "data")}, nil
	}, mongoReady)
	if s == nil {
		return nil, err
	}
	return &Mongo{Server: s}, err
}

// ferretdbBinaryOnce builds the FerretDB binary if needed, at most once per
// test binary, and ends t if it cannot.
func ferretdbBinaryOnce(t testing.TB) {
	t.Helper()
	ferretdbBuild.get(t, func(string) (string, error) { return FerretDBBinary() })
}

// StartMongo starts a FerretDB server for this test and stops it in
// t.Cleanup. It can be killed and restarted on the same port.
func StartMongo(t testing.TB) *Mongo {
	t.Helper()
	ferretdbBinaryOnce(t)
	m, err := newMongo(t.TempDir(), "ferretdb")
	if m != nil {
		t.Cleanup(m.Kill)
	}
	check(t, err)
	return m
}

var sharedMongo once[*Mongo]

// SharedMongo returns a FerretDB server shared by every test of this test
// binary. Tests must not drop its databases other than their own, and take
// one with [Mongo.NewDatabase].
func SharedMongo(t testing.TB) *Mongo {
	t.Helper()
	ferretdbBinaryOnce(t)
	return sharedMongo.get(t, func(base string) (*Mongo, error) {
		m, err := newMongo(base, "ferretdb-shared")
		if m != nil {
			onStop(m.Kill)
		}
		return m, err
	})
}

// isUnavailable reports whether err says a server cannot run here (as
// opposed to failing while it runs).
func isUnavailable(err error) bool {
	var missing *missingBinaryError
	var unavailable *unavailableError
	return errors.As(err, &missing) || errors.As(err, &unavailable)
}
