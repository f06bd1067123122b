package redisstore_test

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/redisstore"
	"github.com/sessionkit/session/storetest"
)

// serverMicros returns the usec of cmd in INFO commandstats: the time the
// server spent running it, including the commands a script calls (which
// commandstats also counts under their own names).
func serverMicros(b *testing.B, c *redis.Client, cmds ...string) float64 {
	info, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		b.Fatal(err)
	}
	var total float64
	for _, line := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":calls=")
		if !ok || !slices.Contains(cmds, strings.TrimPrefix(name, "cmdstat_")) {
			continue
		}
		_, rest, _ = strings.Cut(rest, "usec=")
		usec, _, _ := strings.Cut(rest, ",")
		n, _ := strconv.ParseFloat(usec, 64)
		total += n
	}
	return total
}

// Candidate compare-and-swap scripts: KEYS[1] the key, ARGV[1] what the
// stored value is compared with, ARGV[2] the new value, ARGV[3] the TTL in ms.
var casCandidates = map[string]string{
	// The store's script: the SHA-1 of the stored value against the version's.
	"sha1": `local cur = redis.call('GET', KEYS[1])
if not cur or redis.sha1hex(cur) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1`,
	// The stored value against the previous value itself, sent along.
	"value": `local cur = redis.call('GET', KEYS[1])
if cur ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1`,
	// The floor of any script: one that does nothing.
	"noop": `return 1`,
}

// BenchmarkServerTime measures the server's own time per operation (INFO
// commandstats usec over the operations, reported as server-µs/op): a
// script runs on the server's one thread, so this caps a deployment's write
// rate whatever the number of app servers. SET and GET are the baselines.
// It runs on Redis 7.0 (Debian 12's) and on Valkey 8.1, which has SET IFEQ.
func BenchmarkServerTime(b *testing.B) {
	b.Run("server=redis", func(b *testing.B) { benchmarkServerTime(b, testserver.StartRedis(b), "evalsha") })
	b.Run("server=valkey", func(b *testing.B) { benchmarkServerTime(b, testserver.StartValkey(b), "set") })
}

// benchmarkServerTime measures on srv, whose compare-and-swap through the
// store shows in commandstats as storeCAS.
func benchmarkServerTime(b *testing.B, srv *testserver.Server, storeCAS string) {
	c := clientOf(b, srv)
	ctx := context.Background()
	doc := storetest.Document(benchDocSize)
	c.Set(ctx, "k", doc, time.Hour)
	run := func(b *testing.B, cmd []string, op func() error) {
		before := serverMicros(b, c, cmd...)
		n := 0
		for b.Loop() {
			if err := op(); err != nil {
				b.Fatal(err)
			}
			n++
		}
		b.ReportMetric((serverMicros(b, c, cmd...)-before)/float64(n), "server-µs/op")
	}
	b.Run("op=SET", func(b *testing.B) {
		run(b, []string{"set"}, func() error { return c.Set(ctx, "k", doc, time.Hour).Err() })
	})
	b.Run("op=GET", func(b *testing.B) {
		run(b, []string{"get"}, func() error { return c.Get(ctx, "k").Err() })
	})
	b.Run("op=GETEX", func(b *testing.B) {
		run(b, []string{"getex"}, func() error { return c.GetEx(ctx, "k", time.Hour).Err() })
	})
	// What the store sends for a save: the script on Redis 7.0, SET IFEQ on
	// Valkey 8.1. The value stays the same, so the version does too.
	st := redisstore.New(c, redisstore.WithPrefix(""))
	b.Run("op=store-cas", func(b *testing.B) {
		_, v, _, err := st.GetVersion(ctx, "k")
		if err != nil {
			b.Fatal(err)
		}
		exp := time.Now().Add(time.Hour)
		run(b, []string{storeCAS}, func() error {
			_, swapped, err := st.CompareAndSwap(ctx, "k", v, doc, exp)
			if err == nil && !swapped {
				b.Fatal("not swapped")
			}
			return err
		})
	})
	sum := sha1.Sum(doc)
	compareWith := map[string]string{}
	for name := range casCandidates {
		if strings.Contains(name, "sha1") {
			compareWith[name] = hex.EncodeToString(sum[:])
		} else {
			compareWith[name] = string(doc)
		}
	}
	for name, src := range casCandidates {
		script := redis.NewScript(src)
		b.Run("op=cas-"+name, func(b *testing.B) {
			run(b, []string{"evalsha"}, func() error {
				n, err := script.Run(ctx, c, []string{"k"}, compareWith[name], doc, 3600000).Int()
				if err == nil && n != 1 {
					b.Fatal("not swapped")
				}
				return err
			})
		})
	}
	// WATCH, GET and compare in the client, MULTI SET EXEC: no script, but
	// two round trips on a connection of its own.
	b.Run("op=cas-watch", func(b *testing.B) {
		run(b, []string{"watch", "get", "multi", "set", "exec"}, func() error {
			return c.Watch(ctx, func(tx *redis.Tx) error {
				cur, err := tx.Get(ctx, "k").Bytes()
				if err != nil {
					return err
				}
				if string(cur) != string(doc) {
					b.Fatal("changed")
				}
				_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
					p.Set(ctx, "k", doc, time.Hour)
					return nil
				})
				return err
			}, "k")
		})
	})
	// The sha1 script as a function (FUNCTION LOAD, FCALL).
	lib := "#!lua name=sessionkitbench\nredis.register_function('cas', function(keys, args)\n" +
		"local cur = redis.call('GET', keys[1])\n" +
		"if not cur or redis.sha1hex(cur) ~= args[1] then return 0 end\n" +
		"redis.call('SET', keys[1], args[2], 'PX', args[3])\nreturn 1\nend)"
	if err := c.FunctionLoadReplace(ctx, lib).Err(); err != nil {
		b.Fatal(err)
	}
	b.Run("op=cas-sha1-fcall", func(b *testing.B) {
		run(b, []string{"fcall"}, func() error {
			return c.FCall(ctx, "cas", []string{"k"}, compareWith["sha1"], doc, 3600000).Err()
		})
	})
}
