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
// Each user has two keys, under the user index prefix ([WithUserIndexPrefix];
// by default the session prefix without its final colon, then "user:", so
// "sessuser:"), with the user in a hash tag so that both live in one Cluster
// slot and one script updates them atomically:
//
//	<index prefix>{user:<user>}      sorted set: session id, scored by its expiry (unix ms)
//	<index prefix>{user:<user>}used  hash: session id -> last use (unix ms)
//
// Both keys expire IndexGrace after the user's latest session, so a user
// who never comes back leaves nothing behind. Entries whose expiry is more
// than IndexGrace in the past are pruned by every index write and listing.
// The entries' times are the app's clock; the keys' expiry is a TTL counted
// from the app's now (PEXPIRE), as the session keys' is, never a time of
// the app's clock that Redis compares with its own (PEXPIREAT): an app
// whose clock is behind the server's would see the server delete the
// index before the sessions it lists.
//
// The keys used to be under the session prefix (<prefix>{user:<user>}),
// where connect-redis, which lists every key under its prefix, counted them
// as sessions (length, ids). A store still reads keys of that old layout:
// every index write and listing of a user first merges the user's old keys
// into the new ones (the union of both; for an id in both, the later expiry
// and the later last use) and deletes them, in the same script. The hash
// tag is the same in both layouts, so the four keys are in one Cluster slot.
// An index key under the session prefix is never taken for a session (IDs,
// Count), and Clear deletes both layouts. A store that keeps the earlier
// layout (WithUserIndexPrefix of the session prefix) does the same the
// other way round: it moves the keys under the default user index prefix
// into the earlier layout's, so that in a rolling upgrade through it
// instances with and without the option each list every entry.
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

// userTag is the hash tag of a user's index keys, in both layouts.
func userTag(user string) string { return "{user:" + user + "}" }

// userKeys returns the index keys of user: the sorted set and the hash, then
// the same in the other layout (otherUserPrefix), which the scripts merge
// into the first two. When the other layout's keys would be in another
// Cluster slot (a prefix with a '{' of its own, whose hash tag then wins),
// or are the store's own, the store's keys stand in for them.
func (s *Store) userKeys(user string) []string {
	z := s.userPrefix + userTag(user)
	old := s.otherPrefix + userTag(user)
	if old == z || hashTag(old) != hashTag(z) {
		old = z
	}
	return []string{z, z + "used", old, old + "used"}
}

// otherUserPrefix returns the prefix of the user index layout whose keys a
// store with user index prefix userPrefix moves into its own: the session
// prefix, where earlier versions kept the index; or, for a store that
// keeps that layout (WithUserIndexPrefix of the session prefix, the first
// step of a rolling upgrade), the default user index prefix, so that such
// an instance and one without the option each read, and move into their
// own layout, what the other wrote.
func otherUserPrefix(prefix, userPrefix string) string {
	if userPrefix == prefix {
		return defaultUserPrefix(prefix)
	}
	return prefix
}

// hashTag returns the part of key that Redis Cluster hashes: the text
// between the first '{' and the next '}' when it is not empty, else the key.
func hashTag(key string) string {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			return key[i+1 : i+1+j]
		}
	}
	return key
}

// isUserKey reports whether key is one of the user index's (in any
// layout), not a session: IDs and Count skip it.
func (s *Store) isUserKey(key string) bool {
	_, ok := s.userKeyPrefix("", key)
	return ok
}

// migrateLua merges the user's keys of the old layout (KEYS[3], KEYS[4])
// into the new ones (KEYS[1], KEYS[2]) and deletes them; ARGV[1] is the
// grace in milliseconds and ARGV[2] the cutoff (the app's now less the
// grace, in unix ms), for the keys' expiry. For an id in both, the later
// expiry (AGGREGATE MAX) and the later last use win. An old key whose new
// one does not exist yet (the first move of a user, the usual case) is
// renamed, in constant time whatever the user's number of sessions; only
// a merge into an existing key walks the entries. A no-op once the old
// keys are gone, or when they are the new ones.
const migrateLua = `
local function expireIndex(grace, cutoff)
  local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
  if #last == 0 then
    redis.call('DEL', KEYS[2])
    return
  end
  local at = tonumber(last[2])
  if at == nil or at ~= at or at >= math.huge then
    -- an entry that never expires (a score of inf, set by hand): nor do the keys
    redis.call('PERSIST', KEYS[1])
    redis.call('PERSIST', KEYS[2])
    return
  end
  -- A TTL from the app's now (cutoff + grace): the keys live until the
  -- latest entry's expiry plus grace on the app's clock, whatever the
  -- server's clock says.
  local now = cutoff + grace
  local ttl = at + grace - now
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[2], ttl)
end
if KEYS[3] ~= KEYS[1] and redis.call('EXISTS', KEYS[3], KEYS[4]) > 0 then
  -- A key with nothing to merge into is renamed, whole (a user with many
  -- sessions must not block the server for a copy entry by entry).
  if redis.call('EXISTS', KEYS[1]) == 0 then
    if redis.call('EXISTS', KEYS[3]) == 1 then
      redis.call('RENAME', KEYS[3], KEYS[1])
    end
  else
    redis.call('ZUNIONSTORE', KEYS[1], 2, KEYS[1], KEYS[3], 'AGGREGATE', 'MAX')
    redis.call('DEL', KEYS[3])
  end
  if redis.call('EXISTS', KEYS[2]) == 0 then
    if redis.call('EXISTS', KEYS[4]) == 1 then
      redis.call('RENAME', KEYS[4], KEYS[2])
    end
  else
    local old = redis.call('HGETALL', KEYS[4])
    for i = 1, #old, 2 do
      local cur = tonumber(redis.call('HGET', KEYS[2], old[i]))
      local v = tonumber(old[i + 1])
      if cur == nil or (v ~= nil and v > cur) then
        redis.call('HSET', KEYS[2], old[i], old[i + 1])
      end
    end
    redis.call('DEL', KEYS[4])
  end
  expireIndex(tonumber(ARGV[1]), tonumber(ARGV[2]))
end
`

// pruneLua removes the entries scored below ARGV[2] from both keys, in
// chunks (unpack has a stack limit).
const pruneLua = `
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[2])
for i = 1, #dead, 1000 do
  local chunk = {unpack(dead, i, math.min(i + 999, #dead))}
  redis.call('ZREM', KEYS[1], unpack(chunk))
  redis.call('HDEL', KEYS[2], unpack(chunk))
end
`

// indexScript: ARGV = grace ms, cutoff ms, id, expiry ms, used ms.
var indexScript = redis.NewScript(migrateLua + pruneLua + `
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[3], ARGV[5])
expireIndex(tonumber(ARGV[1]), tonumber(ARGV[2]))
return 1
`)

// listScript: ARGV = grace ms, cutoff ms. Returns id, expiry ms, used ms, ... .
var listScript = redis.NewScript(migrateLua + pruneLua + `
local z = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local out = {}
for i = 1, #z, 2 do
  out[#out + 1] = z[i]
  out[#out + 1] = z[i + 1]
  out[#out + 1] = redis.call('HGET', KEYS[2], z[i]) or '0'
end
return out
`)

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

// lastUse reads an entry's last use, in unix ms. A missing one (the script
// answers "0") or one that is not a number (written by hand, or by another
// program) is unknown, the zero time: the entry is still listed, so that
// DestroyUserSessions ends its session.
func lastUse(ms string) time.Time {
	n, err := strconv.ParseInt(ms, 10, 64)
	if err != nil || n == 0 {
		return time.Time{}
	}
	return time.UnixMilli(n)
}

// IndexUserSession records that session id belongs to user (one script on
// the user's keys; it also prunes the user's expired entries). With
// WithReplicas it waits for the replicas, as a session write does.
func (s *Store) IndexUserSession(ctx context.Context, user, id string, used, expires time.Time) error {
	if err := s.idError(id); err != nil {
		return err
	}
	now := s.now()
	exp := expires
	if exp.IsZero() {
		exp = now.Add(s.defaultTTL)
	}
	cutoff := now.Add(-session.IndexGrace)
	keys := s.userKeys(user)
	err := s.write(ctx, keys[0], func(c redis.Cmdable) redis.Cmder {
		return indexScript.Run(ctx, c, keys,
			session.IndexGrace.Milliseconds(), cutoff.UnixMilli(), id, exp.UnixMilli(), used.UnixMilli())
	})
	if err != nil {
		return fmt.Errorf("redisstore: index user session %s: %w", shortid.Of(id), err)
	}
	return nil
}

// UnindexUserSession removes user's entry for session id from both of the
// user's keys, and from the old layout's: one MULTI/EXEC round trip, on the
// one Cluster slot their hash tag puts them in. Removing a missing entry is
// not an error.
func (s *Store) UnindexUserSession(ctx context.Context, user, id string) error {
	keys := s.userKeys(user)
	_, err := s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.ZRem(ctx, keys[0], id)
		p.HDel(ctx, keys[1], id)
		if keys[2] != keys[0] {
			p.ZRem(ctx, keys[2], id)
			p.HDel(ctx, keys[3], id)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("redisstore: unindex user session %s: %w", shortid.Of(id), err)
	}
	return nil
}

// UserSessions lists the user's entries (one script, which also prunes and
// merges the old layout's keys) and reads their sessions with one pipeline
// of GETs (one round trip per node in a Cluster), on the masters also with
// a client that reads from replicas (a ClusterClient with ReadOnly,
// RouteByLatency or RouteRandomly), where each GET is a one-line script: a
// replica that has not got a login yet would have DestroyUserSessions
// leave that session alive.
func (s *Store) UserSessions(ctx context.Context, user string, yield func(id string, used, expires time.Time, data []byte)) error {
	cutoff := s.now().Add(-session.IndexGrace)
	flat, err := listScript.Run(ctx, s.client, s.userKeys(user), session.IndexGrace.Milliseconds(), cutoff.UnixMilli()).StringSlice()
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
	// On the masters: DestroyUserSessions ends only the sessions listed
	// with their data, and a replica may not have a login yet.
	gets := make([]func() ([]byte, error), n)
	_, err = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := range n {
			gets[i] = s.getOnMaster(ctx, p, s.key(flat[3*i]))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("redisstore: user sessions: get: %w", err)
	}
	for i := range n {
		id := flat[3*i]
		data, err := gets[i]()
		if errors.Is(err, redis.Nil) {
			data = nil
		} else if err != nil {
			return fmt.Errorf("redisstore: user sessions: get %s: %w", shortid.Of(id), err)
		}
		yield(id, lastUse(flat[3*i+2]), expiryOf(flat[3*i+1]), data)
	}
	return nil
}
