package main

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/redisstore"
)

// An index entry whose expiry no time holds (a Redis entry scored inf, a
// PostgreSQL 'infinity', a MongoDB expires that is no date: listed with a
// zero Expires, so that logout-user still ends its session) shows its
// expiry as unknown, "-", as the other columns show a zero time, where
// user printed the zero time itself, "0001-01-01T00:00:00Z (in
// -2562047h47m16.854775808s)".
func TestUserShowsAnUnknownExpiryAsUnknown(t *testing.T) {
	srv := testserver.StartRedis(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer client.Close()
	fillUsers(t, redisstore.New(client))
	if err := client.ZAdd(context.Background(), "sessuser:{user:dana}", redis.Z{Score: math.Inf(1), Member: "dana2"}).Err(); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := sessionctl(t, "", "-store", "redis://"+srv.Addr, "user", "dana")
	if code != 0 || !strings.Contains(errOut, "3 session(s)") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	for line := range strings.Lines(out) {
		if !strings.HasPrefix(line, "dana2") {
			continue
		}
		if f := strings.Fields(line); strings.Contains(line, "0001-01-01") || len(f) < 5 || f[len(f)-3] != "-" {
			t.Errorf("dana2, whose entry's expiry is unknown: %q; want its EXPIRES column \"-\"", line)
		}
		return
	}
	t.Fatalf("dana2 not listed:\n%s", out)
}
