package testserver

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// MemcachedItemSize is the largest item the memcached servers started here
// accept (memcached -I). It is above memcached's 1 MiB default so that the
// store conformance suite's large value fits; start a server with a smaller
// "-I" to test the limit itself.
const MemcachedItemSize = "2m"

// memcachedReady reports whether the memcached at addr answers "version".
func memcachedReady(addr string) error {
	line, err := roundTrip(addr, "version\r\n")
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "VERSION ") {
		return fmt.Errorf("version answered %q", line)
	}
	return nil
}

// newMemcached starts a memcached in a new directory under base. extra
// arguments come last, so they override the defaults ("-I", "1m").
func newMemcached(base string, extra ...string) (*Server, error) {
	bin, err := memcachedBinary()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(base, "memcached-")
	if err != nil {
		return nil, fmt.Errorf("testserver: %w", err)
	}
	return launch("memcached", bin, dir, func(port int) ([]string, error) {
		args := []string{
			"-l", "127.0.0.1",
			"-p", strconv.Itoa(port),
			"-U", "0", // no UDP
			"-m", "64",
			"-t", "2",
			"-c", "1024",
			"-I", MemcachedItemSize,
		}
		if os.Geteuid() == 0 {
			args = append(args, "-u", "root") // memcached refuses to run as root otherwise
		}
		return append(args, extra...), nil
	}, memcachedReady)
}

func memcachedBinary() (string, error) { return lookBinary("memcached", "memcached") }

// MemcachedAvailable returns nil when [StartMemcached] has a memcached to
// start, and otherwise the reason it would skip (or fail) the test: for a
// benchmark that runs its Memcached parts only where memcached is installed.
func MemcachedAvailable() error {
	_, err := memcachedBinary()
	return err
}

// StartMemcached starts a memcached for this test and stops it in t.Cleanup.
// extra are more memcached arguments ("-I", "1m").
func StartMemcached(t testing.TB, extra ...string) *Server {
	t.Helper()
	s, err := newMemcached(t.TempDir(), extra...)
	if s != nil {
		t.Cleanup(s.Kill)
	}
	check(t, err)
	return s
}

// StartMemcacheds starts n memcached servers for this test (for a client
// that spreads keys over several servers) and stops them in t.Cleanup.
func StartMemcacheds(t testing.TB, n int) []*Server {
	t.Helper()
	out := make([]*Server, n)
	for i := range out {
		out[i] = StartMemcached(t)
	}
	return out
}

// Addrs returns the addresses of servers, in order.
func Addrs(servers []*Server) []string {
	a := make([]string, len(servers))
	for i, s := range servers {
		a[i] = s.Addr
	}
	return a
}
