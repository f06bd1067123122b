package testserver

import (
	"strconv"
	"strings"
	"testing"
)

// RedisCommandCalls returns the calls per command ("get", "evalsha") of the
// Redis or Valkey server at addr, from INFO commandstats. A script's own
// commands count too, under their names.
func RedisCommandCalls(t testing.TB, addr string) map[string]int {
	t.Helper()
	info, err := redisCommand(addr, "INFO", "commandstats")
	if err != nil {
		t.Fatalf("testserver: INFO commandstats on %s: %v", addr, err)
	}
	calls := map[string]int{}
	for _, line := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":calls=")
		if !ok {
			continue
		}
		n, _, _ := strings.Cut(rest, ",")
		calls[strings.TrimPrefix(name, "cmdstat_")], _ = strconv.Atoi(n)
	}
	return calls
}

// RedisCommandsDuring returns the commands the server at addr ran while do
// ran, by name, leaving out the INFO calls that measure them. The counts are
// server-wide: the test needs the server to itself.
func RedisCommandsDuring(t testing.TB, addr string, do func()) map[string]int {
	t.Helper()
	before := RedisCommandCalls(t, addr)
	do()
	after := RedisCommandCalls(t, addr)
	delta := map[string]int{}
	for k, n := range after {
		if d := n - before[k]; d > 0 && k != "info" {
			delta[k] = d
		}
	}
	return delta
}
