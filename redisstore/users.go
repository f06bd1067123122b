package redisstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/shortid"
)

// The user index (session.UserIndex, issue #14).
//
// Each user has two keys, with the user in a hash tag so that both live in
// one Cluster slot and one script updates them atomically:
//
//	<prefix>{user:<user>}      sorted set: session id, scored by its expiry (unix ms)
//	<prefix>{user:<user>}used  hash: session id -> last use (unix ms)
//
// Both keys expire IndexGrace after the user's latest session, so a user
// who never comes back leaves nothing behind. Entries whose expiry is more
// than IndexGrace in the past are pruned by every index write and listing.
//
// What is atomic: the index keys of one user (one script, or one MULTI of
// ZREM and HDEL to remove an entry). The session key is elsewhere (in a
// Cluster usually on another node), so the session write and its index
// entry are two steps: the manager writes the entry first and removes it
// only once the session is destroyed or no longer the user's (see
// session.UserIndexRemover), so a session is never stored without its
// entry; an entry whose session is gone otherwise (expired, evicted) is
// skipped by the listing and pruned once it expires. This holds the same on
// a single server and on a Cluster.

var (
	_ session.UserIndex        = (*Store)(nil)
	_ session.UserIndexRemover = (*Store)(nil)
)

// userKeys returns the index keys of user.
func (s *Store) userKeys(user string) []string {
	z := s.prefix + "{user:" + user + "}"
	return []string{z, z + "used"}
}

// isUserKey reports whether a key found under the prefix (without it) is
// one of the user index's, not a session (IDs, Count and Clear skip them).
func isUserKey(rest string) bool { return strings.HasPrefix(rest, "{user:") }

// pruneLua removes the entries scored below ARGV[1] from both keys, in
// chunks (unpack has a stack limit).
const pruneLua = `
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
for i = 1, #dead, 1000 do
  local chunk = {unpack(dead, i, math.min(i + 999, #dead))}
  redis.call('ZREM', KEYS[1], unpack(chunk))
  redis.call('HDEL', KEYS[2], unpack(chunk))
end
`

// indexScript: ARGV = cutoff ms, id, expiry ms, used ms, grace ms.
var indexScript = redis.NewScript(pruneLua + `
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[4])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
local at = tonumber(last[2])
if at == nil or at ~= at or at >= math.huge then
  -- an entry that never expires (a score of inf, set by hand): nor do the keys
  redis.call('PERSIST', KEYS[1])
  redis.call('PERSIST', KEYS[2])
  return 1
end
at = at + tonumber(ARGV[5])
redis.call('PEXPIREAT', KEYS[1], at)
redis.call('PEXPIREAT', KEYS[2], at)
return 1
`)

// listScript: ARGV = cutoff ms. Returns id, expiry ms, used ms, ... .
var listScript = redis.NewScript(pruneLua + `
local z = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local out = {}
for i = 1, #z, 2 do
  out[#out + 1] = z[i]
  out[#out + 1] = z[i + 1]
  out[#out + 1] = redis.call('HGET', KEYS[2], z[i]) or '0'
end
return out
`)

// lastUse reads an entry's last use, in unix ms. A missing one (the script
// answers "0") or one that is not a number (written by hand, or by another
// program) is unknown, the zero time: the entry is still listed, so that
// DestroyUserSessions ends its session.
// expiryOf reads an index entry's expiry, its score in milliseconds. A score
// that no time holds (inf, set by hand: the entry then never expires) is the
// zero time, as the UserIndex contract says; the entry is still listed, so
// that its session can be destroyed.
func expiryOf(score string) time.Time {
	ms, err := strconv.ParseFloat(score, 64)
	if err != nil || math.IsNaN(ms) || ms <= math.MinInt64 || ms >= math.MaxInt64 {
		return time.Time{}
	}
	return time.UnixMilli(int64(ms))
}

func lastUse(ms string) time.Time {
	n, err := strconv.ParseInt(ms, 10, 64)
	if err != nil || n == 0 {
		return time.Time{}
	}
	return time.UnixMilli(n)
}

// IndexUserSession records that session id belongs to user (one script on
// the user's keys; it also prunes the user's expired entries).
func (s *Store) IndexUserSession(ctx context.Context, user, id string, used, expires time.Time) error {
	now := s.now()
	exp := expires
	if exp.IsZero() {
		exp = now.Add(s.defaultTTL)
	}
	cutoff := now.Add(-session.IndexGrace)
	err := indexScript.Run(ctx, s.client, s.userKeys(user),
		cutoff.UnixMilli(), id, exp.UnixMilli(), used.UnixMilli(), session.IndexGrace.Milliseconds()).Err()
	if err != nil {
		return fmt.Errorf("redisstore: index user session %s: %w", shortid.Of(id), err)
	}
	return nil
}

// UnindexUserSession removes user's entry for session id from both of the
// user's keys: one MULTI/EXEC round trip, on the one Cluster slot their hash
// tag puts them in. Removing a missing entry is not an error.
func (s *Store) UnindexUserSession(ctx context.Context, user, id string) error {
	keys := s.userKeys(user)
	_, err := s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.ZRem(ctx, keys[0], id)
		p.HDel(ctx, keys[1], id)
		return nil
	})
	if err != nil {
		return fmt.Errorf("redisstore: unindex user session %s: %w", shortid.Of(id), err)
	}
	return nil
}

// UserSessions lists the user's entries (one script, which also prunes)
// and reads their sessions with one pipeline of GETs (one round trip per
// node in a Cluster).
func (s *Store) UserSessions(ctx context.Context, user string, yield func(id string, used, expires time.Time, data []byte)) error {
	cutoff := s.now().Add(-session.IndexGrace)
	flat, err := listScript.Run(ctx, s.client, s.userKeys(user), cutoff.UnixMilli()).StringSlice()
	if err != nil {
		return fmt.Errorf("redisstore: user sessions: %w", err)
	}
	if len(flat)%3 != 0 {
		return fmt.Errorf("redisstore: user sessions: %d values from the index script, want triples", len(flat))
	}
	n := len(flat) / 3
	if n == 0 {
		return nil
	}
	gets := make([]*redis.StringCmd, n)
	_, err = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := range n {
			gets[i] = p.Get(ctx, s.key(flat[3*i]))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("redisstore: user sessions: get: %w", err)
	}
	for i := range n {
		id := flat[3*i]
		data, err := gets[i].Bytes()
		if errors.Is(err, redis.Nil) {
			data = nil
		} else if err != nil {
			return fmt.Errorf("redisstore: user sessions: get %s: %w", shortid.Of(id), err)
		}
		yield(id, lastUse(flat[3*i+2]), expiryOf(flat[3*i+1]), data)
	}
	return nil
}
