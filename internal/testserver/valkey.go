package testserver

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Valkey 8.1 is the first server of the Redis family with a native
// compare-and-set, SET key value IFEQ old (Redis has it from 8.4), which
// redisstore uses where the server has it. Debian 12 has none: its Redis is
// 7.0. fetch-valkey.sh, which make deps runs, puts Debian 13's valkey-server
// with its own libraries into the user's cache directory, where
// valkeyBinary finds it.

// ValkeyFetch is the command that provides a valkey-server for these tests.
const ValkeyFetch = "bash internal/testserver/fetch-valkey.sh"

// valkeyMin is the oldest Valkey with SET IFEQ.
var valkeyMin = [2]int{8, 1}

var valkeyFound struct {
	once sync.Once
	bin  string
	err  error
}

// valkeyBinary returns a valkey-server of version 8.1 or later: the one in
// PATH, or else the one fetch-valkey.sh put into the user's cache directory.
func valkeyBinary() (string, error) {
	valkeyFound.once.Do(func() {
		var candidates, seen []string
		if p, err := exec.LookPath("valkey-server"); err == nil {
			candidates = append(candidates, p)
		}
		if base, err := os.UserCacheDir(); err == nil {
			candidates = append(candidates, filepath.Join(base, "sessionkit-valkey", "valkey-server"))
		}
		for _, bin := range candidates {
			if _, err := os.Stat(bin); err != nil {
				continue
			}
			v, err := valkeyVersion(bin)
			if err == nil && (v[0] > valkeyMin[0] || v[0] == valkeyMin[0] && v[1] >= valkeyMin[1]) {
				valkeyFound.bin = bin
				return
			}
			if err != nil {
				seen = append(seen, fmt.Sprintf("%s: %v", bin, err))
			} else {
				seen = append(seen, fmt.Sprintf("%s is %d.%d", bin, v[0], v[1]))
			}
		}
		msg := fmt.Sprintf("testserver: no valkey-server %d.%d or later (the first with SET IFEQ) in PATH or in the user's cache directory; fetch Debian 13's with: %s (make deps runs it)",
			valkeyMin[0], valkeyMin[1], ValkeyFetch)
		if len(seen) > 0 {
			msg += " (found: " + strings.Join(seen, "; ") + ")"
		}
		valkeyFound.err = &unavailableError{msg}
	})
	return valkeyFound.bin, valkeyFound.err
}

var valkeyVersionRE = regexp.MustCompile(`\bv=(\d+)\.(\d+)\.`)

// valkeyVersion returns the major and minor version bin --version prints
// ("Valkey server v=8.1.1 sha=...").
func valkeyVersion(bin string) ([2]int, error) {
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		return [2]int{}, fmt.Errorf("%s --version: %w: %s", bin, err, strings.TrimSpace(string(out)))
	}
	m := valkeyVersionRE.FindSubmatch(out)
	if m == nil || !strings.HasPrefix(string(out), "Valkey") {
		return [2]int{}, fmt.Errorf("%s --version printed %q, not a Valkey version", bin, strings.TrimSpace(string(out)))
	}
	major, _ := strconv.Atoi(string(m[1]))
	minor, _ := strconv.Atoi(string(m[2]))
	return [2]int{major, minor}, nil
}

// ValkeyAvailable returns nil when [StartValkey] has a server to start, and
// otherwise the reason it would skip (or fail) the test: for a benchmark
// that runs its Valkey parts only where there is one.
func ValkeyAvailable() error {
	_, err := valkeyBinary()
	return err
}

// newValkey starts a valkey-server (8.1 or later) in a new directory under base.
func newValkey(base, name string, extra func(port int) ([]string, error)) (*Server, error) {
	bin, err := valkeyBinary()
	if err != nil {
		return nil, err
	}
	return newRedisWith(bin, base, name, extra)
}

// StartValkey starts a standalone valkey-server, 8.1 or later, for this
// test and stops it in t.Cleanup. extra are more server arguments
// ("--replicaof", "127.0.0.1", port).
func StartValkey(t testing.TB, extra ...string) *Server {
	t.Helper()
	return startStandalone(t, newValkey, "valkey", extra)
}

// StartValkeyCluster starts a three-master Valkey Cluster (8.1 or later)
// for this test, as [StartRedisCluster] does with redis-server.
func StartValkeyCluster(t testing.TB) *RedisCluster {
	t.Helper()
	return startCluster(t, "valkey", newValkey)
}

// StartValkeySentinel starts a Valkey master (8.1 or later), a replica in
// sync with it and a Valkey sentinel watching them, as [StartRedisSentinel]
// does with redis-server.
func StartValkeySentinel(t testing.TB) *RedisSentinel {
	t.Helper()
	return startSentinel(t, "valkey", newValkey, valkeyBinary)
}

var sharedValkey once[*Server]

// SharedValkey returns a standalone valkey-server (8.1 or later) shared by
// every test of this test binary. Tests must not flush it and should use
// [UniquePrefix] for their keys.
func SharedValkey(t testing.TB) *Server {
	t.Helper()
	return sharedStandalone(t, &sharedValkey, newValkey, "valkey-shared")
}
