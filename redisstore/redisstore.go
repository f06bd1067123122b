// Package redisstore keeps sessions in Redis: a single server, a Sentinel
// setup (go-redis failover client) or a Redis Cluster, through go-redis v9's
// [redis.UniversalClient].
//
// The data is the same as connect-redis writes, so that an Express app and a
// Go app can share sessions during a migration: the key is "sess:" + id (the
// prefix is configurable), the value is the encoded session document as
// given, and the key expires with the session. Sessions without an expiry
// (browser-session cookies) live for a default TTL of one day.
//
// One difference from connect-redis: the TTL is set in milliseconds (SET ...
// PX, PEXPIRE), not rounded up to whole seconds, so that a session is never
// returned after its expiry. Express reads such keys unchanged. The TTL is
// the time left rounded down to the millisecond, less one millisecond (Redis
// keeps a key through the millisecond its TTL ends in), so a key dies less
// than 2 ms before expires, never after, counting the TTL from when Redis
// receives the command (as Redis does). A write sent again (after a lost
// answer or a refused connection) carries the time left at that try, not
// the first try's TTL, and deletes the session once its expiry has passed.
// An expiry beyond about 292 years (year 9999 for "never") is kept for
// about 292 years; one more than 292 years ago (year 1700) is in the past
// like any other, and deletes.
//
// Every store operation is one command, so one network round trip:
//
//	Get, GetVersion   GET
//	GetAndTouch       GETEX key PX ttl (read and touch: a read-only request's
//	                  load, when the manager would touch it at the end);
//	                  MGET and PEXPIRE in one pipeline on a server without
//	                  GETEX (before Redis 6.2)
//	Set               SET key value PX ttl (DEL when the expiry has passed)
//	Touch             PEXPIRE (the value is not rewritten)
//	Destroy           DEL
//	CompareAndSwap    SET key value PX ttl IFEQ old (Valkey 8.1+, Redis 8.4+),
//	                  else EVALSHA of a Lua script comparing the SHA-1 of the
//	                  stored value with the version's; SET NX to create
//
// With [WithReplicas], each write is followed by WAIT in the same pipeline,
// so it is still one round trip, longer by the replicas' acknowledgement.
// GetAndTouch is such a write (the manager's load when a touch can ride on
// it, so a read-only request's touch), and so is IndexUserSession; Get and
// GetVersion, the load when no touch rides on it (TouchAfter, Rolling,
// Resave), do not wait. A request that saves after a load that carried a
// touch waits twice, after the load and after the save. When fewer
// replicas than asked confirm a load's touch in time, the load fails with
// [ErrNotReplicated]: the manager's ErrorHandler answers and session.From
// returns nil, so the handler never gets the session. On a Cluster that
// pipeline goes to the slot's master itself, so the store follows MOVED
// and ASK and sends again a write that the Cluster answered with
// CLUSTERDOWN, TRYAGAIN or LOADING or whose master refused the connection,
// as the ClusterClient does for its own commands (see WithReplicas).
//
// A version stands for the stored value itself (the empty value's is "\x00":
// a version is never empty), so an Express app writing the same keys (it
// knows nothing of versions) cannot break compare-and-swap: its write simply
// changes the version. A server with SET IFEQ compares the stored value with
// the value the version stands for, at about the cost of a SET; an older
// one runs the script, which costs the server several times a SET (see the
// README). The store tries SET IFEQ first and, when the server answers it
// with a syntax error, uses the script from then on. Every operation touches
// one key, so all of them work on a Redis Cluster.
//
// A user index (session.UserIndex, session.UserIndexRemover) keeps two keys
// per user, "sessuser:{user:<user>}" and "sessuser:{user:<user>}used" by
// default, outside the session prefix (see [WithUserIndexPrefix]), so that
// connect-redis, which takes every key under its prefix for a session, does
// not count them; see users.go for what is atomic in a Cluster. Index keys
// that an earlier version kept under the session prefix
// ("sess:{user:<user>}") are still read, and moved to the new names the
// first time the store writes or lists that user's index (and a store that
// keeps that layout, WithUserIndexPrefix of the session prefix, moves the
// default layout's keys back into it).
//
// IDs, Count and Clear walk the keys with SCAN MATCH prefix* on every master
// (never KEYS, which blocks the server); they are meant for admin tools, not
// for requests. IDs and Count skip the user index's keys; Clear deletes them
// too. With an empty prefix they fail with [ErrNoPrefix].
//
// # ACL
//
// An application's user needs the keys of both prefixes and the commands
// above, with the scripts' own (the README says which feature needs
// which; the package's tests check that each is needed):
//
//	ACL SETUSER app on >password resetchannels -@all ~sess:* ~sessuser:* \
//	    +get +set +del +pexpire +exists +getex +getdel +evalsha +eval +scan \
//	    +zadd +zrange +zrangebyscore +zrem +hset +hget +hdel +multi +exec \
//	    +rename +zunionstore +hgetall +persist
//
// and +select for a database other than 0, +wait for [WithReplicas] (and
// +asking on a Cluster), +cluster|slots and +command for a
// *redis.ClusterClient, +readonly for one that reads from replicas, +mget
// before Redis 6.2 (which has no GETEX).
//
// # Clients
//
// [New] takes any [redis.UniversalClient]. What the store can do with it
// depends on what it can see of it:
//
//   - *redis.Client (also the client of redis.NewFailoverClient, and
//     redis.NewUniversalClient's for one address or a Sentinel master):
//     everything. The store reads its retry settings from its Options.
//   - *redis.ClusterClient (redis.NewUniversalClient's for several
//     addresses, redis.NewFailoverClusterClient's): everything; IDs, Count
//     and Clear walk every master (ForEachMaster), [WithReplicas] sends
//     each write and its WAIT to the slot's master.
//   - *redis.Ring: everything but WithReplicas; IDs, Count and Clear walk
//     every shard (ForEachShard).
//   - A type of your own that embeds one of these (for instrumentation,
//     say): as the client it embeds. One that does not embed it but has
//     its methods works as far as it has them (see New).
//   - Any other type (a struct holding a UniversalClient, its methods
//     forwarding): Get, Set, Touch, CompareAndSwap and the user index work,
//     with go-redis's default retry settings. IDs, Count and Clear ask the
//     server (CLUSTER INFO, at the first listing, or for a user whose ACL
//     forbids that, a bare HELLO's mode; the answer is kept) and refuse a
//     Cluster's client, naming what to give instead, since SCAN
//     through it reaches one node, whichever the client picks (even a
//     Cluster's of one master: the store could not see it grow); they
//     cannot tell a Ring, or a Cluster client whose layout comes from
//     ClusterOptions.ClusterSlots, from one server. WithReplicas refuses it.
package redisstore

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/pause"
	"github.com/sessionkit/session/internal/redisnode"
	"github.com/sessionkit/session/internal/shortid"
)

// DefaultPrefix is the key prefix connect-redis uses.
const DefaultPrefix = "sess:"

// DefaultUserIndexPrefix is the key prefix of the user index with the
// default session prefix.
const DefaultUserIndexPrefix = "sessuser:"

// DefaultTTL is how long a session without an expiry (a browser-session
// cookie) is kept, as in connect-redis.
const DefaultTTL = 24 * time.Hour

// ErrNoPrefix reports IDs, Count or Clear on a store whose key prefix is
// empty: they would take every key of the database for a session.
var ErrNoPrefix = errors.New("redisstore: no key prefix: listing or clearing would take in every key of the database")

// scanCount is the COUNT hint of the SCAN calls of IDs, Count and Clear.
const scanCount = 1000

// Store is a session store in Redis. It is safe for concurrent use. Create it
// with [New].
type Store struct {
	client         redis.UniversalClient
	prefix         string
	userPrefix     string // the user index's keys (users.go)
	otherPrefix    string // the other layout's, moved into userPrefix's (otherUserPrefix)
	defaultTTL     time.Duration
	replicas       int              // WithReplicas: WAIT for this many after each write
	replicaTimeout time.Duration    // and this long
	noGetEx        atomic.Bool      // the server said it has no GETEX (Redis < 6.2)
	noSetIfEq      atomic.Bool      // the server said it has no SET IFEQ (Redis < 8.4, Valkey < 8.1)
	now            func() time.Time // the clock TTLs and the user index (users.go) count from; tests replace it

	// What the store reads of the client's options (clientOptionsOf), at
	// its first use (settings), not in New, which calls no method of the
	// client.
	settingsOnce sync.Once
	settingsOf   clientSettings

	// Whether a client of a type the store does not know (clientKnown)
	// is a Cluster's, as its server said (opaqueIsCluster) at the first
	// listing: unasked, oneServer or clusterNode.
	opaque atomic.Int32
}

// The answers of a client's server to whether it is a Cluster's node
// (Store.opaque).
const (
	unasked int32 = iota
	oneServer
	clusterNode
)

// clientSettings is what the store reads of a client's options: its retry
// settings, for the writes the store sends again itself (send), whether it
// is a Cluster's, and whether it reads from replicas (readsReplicas).
//
// go-redis tries a command MaxRetries+1 times in all. A ClusterClient
// tries it MaxRedirects+1 times, each try going to its node's client,
// which has the ClusterClient's MaxRetries and tries it that many times
// more (MaxRetries is -1 by default for a Cluster, none); a pipeline it
// tries MaxRedirects+1 times, past its nodes' retries.
//
// Each count is at most math.MaxInt: a MaxRetries or MaxRedirects of
// math.MaxInt (a user's "for ever") must not wrap around to none.
type clientSettings struct {
	tries                  int // of a command, the first included
	nodeTries              int // of those, how many a Cluster's node tries in a row (tries for another client)
	clusterTries           int // how many times a ClusterClient tries a command itself, each sent once by its node when it must not be resent (MaxRedirects+1; 1 for another client)
	pipelineTries          int // of a pipeline
	minBackoff, maxBackoff time.Duration
	cluster                bool
	readOnly               bool
}

// triesOf returns how many times in all a client with MaxRetries (or a
// ClusterClient with MaxRedirects) n tries: n+1, 1 for a negative n, and
// math.MaxInt for math.MaxInt, where n+1 would wrap around.
func triesOf(n int) int {
	if n < 0 {
		return 1
	}
	if n == math.MaxInt {
		return n
	}
	return n + 1
}

// mulTries returns a × b, both at least 1, or math.MaxInt where the
// product would overflow.
func mulTries(a, b int) int {
	if a > math.MaxInt/b {
		return math.MaxInt
	}
	return a * b
}

// settings returns the client's settings, read once.
func (s *Store) settings() *clientSettings {
	s.settingsOnce.Do(func() { s.settingsOf = clientOptionsOf(s.client) })
	return &s.settingsOf
}

// Compile-time checks of the capabilities the manager looks for.
var (
	_ session.Store          = (*Store)(nil)
	_ session.Toucher        = (*Store)(nil)
	_ session.VersionedStore = (*Store)(nil)
	_ session.GetToucher     = (*Store)(nil)
	_ session.Lister         = (*Store)(nil)
)

// Option configures a [Store].
type Option func(*config)

type config struct {
	prefix         string
	userPrefix     string
	defaultTTL     time.Duration
	replicas       int
	replicaTimeout time.Duration
}

// WithPrefix sets the key prefix (default "sess:"). Use a distinct prefix per
// application sharing a Redis database, and none that starts with another's
// ("sess:" beside "sess:a:" or "sess:sess:"), or that another's user index
// prefix starts with ("sessuser" beside "sess:", whose index is under
// "sessuser:"): IDs, Count and Clear take every key under their prefix, as
// connect-redis's do, so those of "sess:" take in the other store's
// sessions and user index (Clear deletes them; IDs lists the index keys as
// sessions, which Get then fails on). No store can tell such keys from its
// own: "sess:a:x" is session "a:x" under "sess:" as much as session "x"
// under "sess:a:". A prefix that is another's default user index prefix
// ("sessuser:" for "sess:", "<p>user:" for "<p>:") is refused ([New]
// panics, see [CheckUserIndexPrefix]): its store would take that index for
// the earlier layout of its own, and move it into its own. Glob characters
// in a prefix (*, ?, [, ], \) are matched literally, and a Cluster hash tag
// ("{app}:sess:") is fine. An empty prefix (connect-redis allows it) works
// for sessions, but IDs, Count and Clear then fail with [ErrNoPrefix]:
// every key of the database would look like a session.
func WithPrefix(prefix string) Option { return func(c *config) { c.prefix = prefix } }

// WithUserIndexPrefix sets the key prefix of the user index (the keys
// "<prefix>{user:<user>}" and "<prefix>{user:<user>}used"). By default it
// is the session prefix without its final colon, followed by "user:":
// "sessuser:" for "sess:", "myapp:sessuser:" for "myapp:sess:". It must
// not start with the session prefix ("sess:users:" for "sess:"; [New]
// panics, see [CheckUserIndexPrefix]): connect-redis, which lists every key
// under its prefix, would count the index keys as sessions (as it did
// before this option, when they were under the session prefix), and so
// would a store not given the same option (an instance of an earlier
// version, sessionctl without user_index_prefix), whose IDs would list
// them and whose Get of them fails. The default does not, unless the
// session prefix has no final colon. An empty prefix keeps the default.
//
// A user's index keys must hash to the Cluster slot of the earlier
// layout's, "<session prefix>{user:<user>}", so that one script can move
// those (see [CheckUserIndexPrefix]; [New] panics on a prefix it refuses).
// With a session prefix without '{' the prefix must hold no '{': the
// user's hash tag then keeps each user's keys together, in a slot of their
// own. With a session prefix that has a hash tag of its own ("{app}:sess:",
// every session in one slot), the prefix must start with the same tag
// ("{app}:users:"); the default ("{app}:sessuser:") does. For a session
// prefix whose '{' no '}' closes, or closes at once ("{}"), the default
// is the session prefix itself, the earlier layout: no other prefix would
// do, or none that the default could guess.
//
// Giving the session prefix keeps the layout of earlier versions, whose
// index keys were "<session prefix>{user:<user>}": a deployment that must
// not have the index moved while instances of an earlier version still run
// beside the new ones can deploy with it first, and drop it once every
// instance runs this version. Otherwise the move is
// automatic: the first index write or listing of a user moves that user's
// old keys (their ids merged with any already under the new names), so
// DestroyUserSessions misses no session indexed before the upgrade. An
// instance of an earlier version reads only the old keys: during a rolling
// upgrade it does not see entries that a new one has moved or written. A
// store given the session prefix reads the default prefix's keys too, and
// moves them back to the earlier layout, so that while instances with and
// without it run side by side (the second step) each sees every entry.
func WithUserIndexPrefix(prefix string) Option { return func(c *config) { c.userPrefix = prefix } }

// defaultUserPrefix is the user index prefix for session prefix p when
// WithUserIndexPrefix gives none: p without its final colon, then "user:",
// unless a user's keys would then hash to another Cluster slot than under
// p (a '{' in p that no '}' closes, or "{}"), which would keep the earlier
// layout's keys from being moved; p itself then.
func defaultUserPrefix(p string) string {
	if d := strings.TrimSuffix(p, ":") + "user:"; sameUserSlots(p, d) {
		return d
	}
	return p
}

// CheckUserIndexPrefix returns an error if a store with session prefix
// prefix cannot take userPrefix for its user index ([WithUserIndexPrefix]),
// as [New] would panic: a user's index keys under userPrefix would be in
// another Cluster slot (or Ring shard) than the same user's under prefix,
// where earlier versions kept them, so that the store could never move
// those, and DestroyUserSessions would miss the sessions indexed there (this
// holds on a single server too, which may later be a Cluster); or userPrefix
// starts with prefix without being it, so that connect-redis, and any store
// not given userPrefix (an earlier version, sessionctl without
// user_index_prefix), would take the index keys for sessions. The empty
// prefix (the default) and prefix itself (the earlier layout) pass, unless
// prefix itself is refused: a session prefix that is the default user
// index prefix of another session prefix ("sessuser:" is that of "sess:";
// "<p>user:", p not ending in a colon, that of "<p>:"), whose
// "<prefix>{user:<user>}", the earlier layout of its own index, are that
// store's index keys: at each index write or listing of a user it would
// move that user's entries into its own index (the other store's
// DestroyUserSessions would end none of them), and its Clear would delete
// them all.
func CheckUserIndexPrefix(prefix, userPrefix string) error {
	if other, ok := userPrefixOf(prefix); ok {
		return fmt.Errorf("redisstore: session prefix %q is the default user index prefix of session prefix %q: its store would take that store's user index for the earlier layout of its own, moving a user's entries into its own index at each index write or listing of the user and deleting them all with Clear; give another session prefix",
			prefix, other)
	}
	if userPrefix == "" || userPrefix == prefix {
		return nil
	}
	if !sameUserSlots(prefix, userPrefix) {
		return fmt.Errorf("redisstore: user index prefix %q puts a user's index keys in another Cluster slot than session prefix %q, where earlier versions kept them (hash tag %q, not %q), so those could never be moved; give a prefix with the session prefix's hash tag, as the default %q has",
			userPrefix, prefix, hashTag(userPrefix+userTag("ID")), hashTag(prefix+userTag("ID")), defaultUserPrefix(prefix))
	}
	if prefix != "" && strings.HasPrefix(userPrefix, prefix) {
		return fmt.Errorf("redisstore: user index prefix %q starts with the session prefix %q, so connect-redis, and a store not given this user index prefix (an earlier version, sessionctl without user_index_prefix), would count the index keys as sessions; give a prefix outside the session prefix, or the session prefix itself for the earlier layout",
			userPrefix, prefix)
	}
	return nil
}

// userPrefixOf returns the session prefix whose default user index prefix
// (defaultUserPrefix) prefix is, if any: for "<p>user:", with p not ending
// in a colon, "<p>:" (or "<p>", whose default it is too). A store with
// session prefix prefix reads the keys "<prefix>{user:<user>}" as the
// earlier layout of its own user index, which are that store's index.
func userPrefixOf(prefix string) (string, bool) {
	p, ok := strings.CutSuffix(prefix, "user:")
	if !ok || strings.HasSuffix(p, ":") || defaultUserPrefix(p+":") != prefix {
		return "", false
	}
	return p + ":", true
}

// sameUserSlots reports whether every user's index keys under prefix a
// hash like theirs under b: the same hash tag (see hashTag). Two users
// tell a tag fixed by the prefixes from one that holds the user.
func sameUserSlots(a, b string) bool {
	for _, u := range []string{"a", "b"} {
		if hashTag(a+userTag(u)) != hashTag(b+userTag(u)) {
			return false
		}
	}
	return true
}

// WithDefaultTTL sets how long a session without an expiry is kept (default
// one day). A zero or negative d keeps the default. Redis counts TTLs in
// milliseconds: a d that is not a whole number of them is rounded up
// (down within a millisecond of the largest time.Duration, which keeps a
// session for about 292 years).
func WithDefaultTTL(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.defaultTTL = ceilMillisecond(d)
		}
	}
}

// ceilMillisecond rounds d, which is positive, up to a whole number of
// milliseconds, as Redis counts a TTL and WAIT's timeout; within a
// millisecond of time.Duration's largest, where that would wrap around to
// a negative Duration, it rounds down.
func ceilMillisecond(d time.Duration) time.Duration {
	r := d.Truncate(time.Millisecond)
	if r == d || r > math.MaxInt64-time.Millisecond {
		return r
	}
	return r + time.Millisecond
}

// New returns a store on client: a *redis.Client, the client of
// redis.NewFailoverClient (Sentinel), a *redis.ClusterClient or a *redis.Ring.
// The store does not close the client. New panics on a prefix or user index
// prefix that [CheckUserIndexPrefix] refuses.
//
// The store sends Set, Touch, GetAndTouch and a create again itself after
// a lost answer (go-redis must not: see [Store.CompareAndSwap]), and any
// write that surely did not run, as many times as the client would send a
// command of its own, with its retry backoff: MaxRetries+1 times in all
// (once with -1); through a *redis.ClusterClient (MaxRedirects+1) ×
// (MaxRetries+1) times, since the ClusterClient tries a command
// MaxRedirects+1 times and its node's client, which has the Cluster's
// MaxRetries, sends each of those tries MaxRetries+1 times (4 by default:
// MaxRedirects 3, and MaxRetries -1, a Cluster's default, which counts as
// 0 as a MaxRetries of 0 does; MaxRedirects -1 and MaxRetries -1 send it
// once). The pipeline of a GetAndTouch on a server without GETEX goes
// MaxRedirects+1 times through a ClusterClient, which tries a pipeline
// only that often. With [WithReplicas], a create whose answer was lost is
// not sent again, nor, on a Cluster, any write whose answer was lost.
//
// A client of a type of your own (one that wraps a go-redis client, for
// instrumentation, say) works as the client it wraps when it embeds it
// (*redis.Client, *redis.ClusterClient, *redis.Ring), or has the methods
// of it that the store uses: its Options method (returning *redis.Options,
// *redis.ClusterOptions or *redis.RingOptions), where the store reads the
// retry settings, whether the client reads from replicas (a Cluster's
// ReadOnly) and whether it is a Cluster's; for a Cluster also
// ForEachMaster, ForEachShard, MasterForKey and ReloadState (IDs, Count
// and Clear on every master, WithReplicas: without them, IDs, Count and
// Clear fail, and WithReplicas refuses it), for a Ring ForEachShard
// (without it, IDs, Count and Clear fail).
// A client whose Options method gives nil gets go-redis's default retry
// settings (3 retries, with a backoff of 10 ms to 1 s). Any other client
// (a struct around a UniversalClient, its methods forwarding) is taken for
// a single server's, with those retry settings, and WithReplicas refuses
// it. IDs, Count and Clear through it first ask its server whether it is
// a node of a Redis Cluster (CLUSTER INFO, at the store's first listing:
// the answer is kept, and only listings that start before it is in ask
// too; for a user whose ACL forbids CLUSTER INFO, the mode of the
// server's answer to a bare HELLO, which any user may send, on Redis 6.2
// and later and Valkey), and fail if it is, or if the server does not say
// (CLUSTER INFO refused and no HELLO: Redis 6.0), rather than list or
// clear the one node that SCAN through it would reach; so does a Cluster
// of one master, whose listing through it is whole only until the
// Cluster grows, which the store cannot see. What no server
// can tell: such a wrapper of a Cluster client whose layout comes from
// ClusterOptions.ClusterSlots over servers without cluster support, or of
// a *redis.Ring (whose shards are servers of their own), gets IDs, Count
// and Clear of one node only; and the store does not know whether a
// wrapped Cluster client reads from replicas, so its reads from a master
// (see [Store.UserSessions]) may go to a replica.
func New(client redis.UniversalClient, opts ...Option) *Store {
	c := config{prefix: DefaultPrefix, defaultTTL: DefaultTTL}
	for _, o := range opts {
		o(&c)
	}
	if err := CheckUserIndexPrefix(c.prefix, c.userPrefix); err != nil {
		panic(err)
	}
	if c.userPrefix == "" {
		c.userPrefix = defaultUserPrefix(c.prefix)
	}
	return &Store{client: client, prefix: c.prefix, userPrefix: c.userPrefix,
		otherPrefix: otherUserPrefix(c.prefix, c.userPrefix), defaultTTL: c.defaultTTL,
		replicas: c.replicas, replicaTimeout: c.replicaTimeout, now: time.Now}
}

// Prefix returns the key prefix of the store.
func (s *Store) Prefix() string { return s.prefix }

// UserIndexPrefix returns the key prefix of the store's user index.
func (s *Store) UserIndexPrefix() string { return s.userPrefix }

func (s *Store) key(id string) string { return s.prefix + id }

// idError returns nil if id's key (the prefix and the id) is a session's,
// and otherwise an error saying why not: a key that starts with a user
// index prefix (of either layout) and "{user:" is the user index's. The
// manager takes such an id (under the default prefixes one that starts
// with "{user:", which a custom GenerateID may make), but its session would
// be a key that IDs and Count skip and the index scripts take for a user's
// index keys of the earlier layout, moving it over that user's index (whose
// every call then failed with WRONGTYPE). No session has such an id: reads,
// touches and destroys of one answer "no session" (a destroy must not
// delete the user's index key), and a write of one fails with this error.
func (s *Store) idError(id string) error {
	if p, ok := s.userKeyPrefix(s.prefix, id); ok {
		return fmt.Errorf("redisstore: session id %s makes the key %s%s…, a user index key (prefix %q and \"{user:\"), which no session can have", shortid.Of(id), s.prefix, shortid.Of(id), p)
	}
	return nil
}

// userKeyPrefix reports whether the key a+b (joined without allocating)
// is a user index key: one that starts with a user index prefix of either
// layout (the session prefix, the user prefix, the other layout's) and
// "{user:"; p is that prefix. isUserKey and idError ask it.
func (s *Store) userKeyPrefix(a, b string) (p string, ok bool) {
	for _, p := range [...]string{s.prefix, s.userPrefix, s.otherPrefix} {
		if joinedHasPrefix(a, b, p, "{user:") {
			return p, true
		}
	}
	return "", false
}

// joinedHasPrefix reports whether a+b starts with p+q, without joining
// them (idError runs on every call).
func joinedHasPrefix(a, b, p, q string) bool {
	if len(a)+len(b) < len(p)+len(q) {
		return false
	}
	at := func(i int) byte {
		if i < len(a) {
			return a[i]
		}
		return b[i-len(a)]
	}
	for i := 0; i < len(p); i++ {
		if at(i) != p[i] {
			return false
		}
	}
	for i := 0; i < len(q); i++ {
		if at(len(p)+i) != q[i] {
			return false
		}
	}
	return true
}

// ttl returns the TTL to send now for a session expiring at expires: the
// time left on the store's clock rounded down to the millisecond, less
// one, since Redis keeps a key through the millisecond its TTL ends in.
// Zero means it has expired. Each try of a write calls it again when it
// queues its command, so that a try sent again (after a lost answer, a
// refused connection, a pool that had none free) carries the time left
// then, not the TTL of a first try that may have taken seconds. An expiry
// past time.Duration's range (year 9999 for "never") gets about 292 years:
// Sub saturates, and rounding down cannot overflow. One before that range
// (year 1700) saturates too, at the smallest Duration: the millisecond is
// taken off only from a TTL left above it, since taking it from that
// smallest one wraps around to about 292 years.
func (s *Store) ttl(expires time.Time) time.Duration {
	if expires.IsZero() {
		return s.defaultTTL
	}
	left := expires.Sub(s.now()).Truncate(time.Millisecond)
	if left <= time.Millisecond {
		return 0
	}
	return left - time.Millisecond
}

// version returns the version of a stored value: the value itself. Keeping
// a copy costs less than hashing it on every read; the hash is computed only
// when a compare-and-swap needs it. A version must not be empty (the empty
// one asks CompareAndSwap to create), so the empty value's is "\x00", and a
// value starting with a NUL byte (never a JSON document) gets one more NUL
// in front; valueOf takes it off.
func version(value []byte) string {
	if len(value) == 0 || value[0] == 0 {
		return "\x00" + string(value)
	}
	return string(value)
}

// valueOf returns the stored value that version v stands for.
func valueOf(v string) string {
	if v != "" && v[0] == 0 {
		return v[1:]
	}
	return v
}

// versionHash returns the SHA-1 of the value version v stands for, in hex,
// as the Lua script computes it with redis.sha1hex.
func versionHash(v string) string {
	h := sha1.New()
	io.WriteString(h, valueOf(v))
	return hex.EncodeToString(h.Sum(nil))
}

// wrap adds the operation and the start of the id to a Redis error. Errors
// end up in logs, and a whole session id in a log is a session anyone who
// reads the log can take over.
func wrap(op, id string, err error) error {
	return fmt.Errorf("redisstore: %s %s: %w", op, shortid.Of(id), err)
}

// Get returns the session stored under id; found is false if there is none.
func (s *Store) Get(ctx context.Context, id string) ([]byte, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, wrap("get", id, err)
	}
	if s.idError(id) != nil {
		return nil, false, nil // no session has that id
	}
	b, err := s.client.Get(ctx, s.key(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, wrap("get", id, err)
	}
	return b, true, nil
}

// GetVersion is Get that also returns the value's version.
func (s *Store) GetVersion(ctx context.Context, id string) ([]byte, string, bool, error) {
	b, found, err := s.Get(ctx, id)
	if err != nil || !found {
		return nil, "", false, err
	}
	return b, version(b), true, nil
}

// GetAndTouch is GetVersion that also sets the session's expiry to expires
// (the default TTL for the zero time), in one GETEX key PX ttl. The value is
// not rewritten. An expiry in the past deletes the session (GETDEL) and
// reports it missing. A server older than Redis 6.2, which lacks GETEX and
// GETDEL, gets MGET and PEXPIRE in one pipeline instead: still one round trip.
// It carries the touch that the manager would otherwise send with Touch, so
// with [WithReplicas] it waits for the replicas as Touch does.
func (s *Store) GetAndTouch(ctx context.Context, id string, expires time.Time) ([]byte, string, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", false, wrap("get-and-touch", id, err)
	}
	if s.idError(id) != nil {
		return nil, "", false, nil // no session has that id
	}
	key := s.key(id)
	var (
		b   []byte
		ttl time.Duration // the last try's
	)
	err := errNoGetEx
	if !s.noGetEx.Load() {
		var cmd *redis.StringCmd
		_, err = s.send(ctx, key, true, false, func(c redis.Cmdable) redis.Cmder {
			if ttl = s.ttl(expires); ttl > 0 {
				cmd = redis.NewStringCmd(ctx, "getex", key, "px", ttl.Milliseconds())
			} else {
				cmd = redis.NewStringCmd(ctx, "getdel", key)
			}
			return processOnce(ctx, c, cmd)
		})
		if err == nil {
			b, _ = cmd.Bytes()
		}
		if isUnknownCommand(err) {
			s.noGetEx.Store(true)
			err = errNoGetEx
		}
	}
	if err == errNoGetEx {
		b, ttl, err = s.getAndPExpire(ctx, key, expires)
	}
	if errors.Is(err, redis.Nil) {
		return nil, "", false, nil
	}
	if err != nil {
		return nil, "", false, wrap("get-and-touch", id, err)
	}
	if ttl <= 0 {
		return nil, "", false, nil
	}
	return b, version(b), true, nil
}

// errNoGetEx stands for "use the pipeline" in GetAndTouch.
var errNoGetEx = errors.New("no GETEX")

// isUnknownCommand reports a server error for a command it does not know.
func isUnknownCommand(err error) bool { return redisnode.IsUnknownCommand(err) }

// pexpire returns the PEXPIRE that moves key's expiry to expires, with the
// TTL left now (ttl), or deletes key once expires has passed (PEXPIRE with
// a negative TTL deletes).
func (s *Store) pexpire(ctx context.Context, key string, expires time.Time) (cmd *redis.BoolCmd, ttl time.Duration) {
	ttl = s.ttl(expires)
	ms := ttl.Milliseconds()
	if ttl <= 0 {
		ms = -1
	}
	return redis.NewBoolCmd(ctx, "pexpire", key, ms), ttl
}

// getAndPExpire is GetAndTouch for servers without GETEX: MGET (whose
// missing key is no error, so that the pipeline's WAIT is still read with
// WithReplicas), then PEXPIRE (a negative TTL deletes), pipelined. It
// returns the value and the TTL the last try sent.
func (s *Store) getAndPExpire(ctx context.Context, key string, expires time.Time) ([]byte, time.Duration, error) {
	var (
		get *redis.SliceCmd
		ttl time.Duration
	)
	_, err := s.send(ctx, key, true, true, func(c redis.Cmdable) redis.Cmder {
		// With WithReplicas c is write's pipeline; else a pipeline of
		// its own.
		p, inPipeline := c.(redis.Pipeliner)
		if !inPipeline {
			p = s.client.Pipeline()
		}
		get = p.MGet(ctx, key)
		var pexpire *redis.BoolCmd
		pexpire, ttl = s.pexpire(ctx, key, expires)
		cmd := processOnce(ctx, p, pexpire)
		if !inPipeline {
			_, _ = p.Exec(ctx) // the error is on the commands
		}
		return cmd
	})
	if err == nil {
		err = get.Err()
	}
	if err != nil {
		return nil, ttl, err
	}
	v, ok := get.Val()[0].(string)
	if !ok {
		return nil, ttl, redis.Nil
	}
	return []byte(v), ttl, nil
}

// Set stores data under id until expires (the default TTL for the zero
// time). An expiry in the past deletes the session.
func (s *Store) Set(ctx context.Context, id string, data []byte, expires time.Time) error {
	if err := ctx.Err(); err != nil {
		return wrap("set", id, err)
	}
	if err := s.idError(id); err != nil {
		if s.ttl(expires) <= 0 {
			return nil // a delete, and no session has that id
		}
		return err
	}
	key := s.key(id)
	_, err := s.send(ctx, key, true, false, func(c redis.Cmdable) redis.Cmder {
		if ttl := s.ttl(expires); ttl > 0 {
			return processOnce(ctx, c, redis.NewStatusCmd(ctx, "set", key, data, "px", ttl.Milliseconds()))
		}
		return processOnce(ctx, c, redis.NewIntCmd(ctx, "del", key))
	})
	if err != nil {
		return wrap("set", id, err)
	}
	return nil
}

// Touch sets the expiry of the session to expires with PEXPIRE, without
// rewriting it. It reports found == false when the session does not exist.
// An expiry in the past deletes the session.
func (s *Store) Touch(ctx context.Context, id string, expires time.Time) (found bool, err error) {
	if err := ctx.Err(); err != nil {
		return false, wrap("touch", id, err)
	}
	if s.idError(id) != nil {
		return false, nil // no session has that id
	}
	key := s.key(id)
	var cmd *redis.BoolCmd
	_, err = s.send(ctx, key, true, false, func(c redis.Cmdable) redis.Cmder {
		cmd, _ = s.pexpire(ctx, key, expires)
		return processOnce(ctx, c, cmd)
	})
	if err != nil {
		return false, wrap("touch", id, err)
	}
	return cmd.Val(), nil
}

// Destroy deletes the session. Deleting a missing session is not an error.
func (s *Store) Destroy(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return wrap("destroy", id, err)
	}
	if s.idError(id) != nil {
		return nil // no session has that id (and its key is a user index's)
	}
	if err := s.write(ctx, s.key(id), func(c redis.Cmdable) redis.Cmder { return c.Del(ctx, s.key(id)) }); err != nil {
		return wrap("destroy", id, err)
	}
	return nil
}

// casScript replaces (or deletes) KEYS[1] only if the SHA-1 of its value is
// ARGV[1]. ARGV[2] is the new value, ARGV[3] its TTL in milliseconds (zero
// deletes). It returns 1 when it wrote, 0 on a conflict.
var casScript = redis.NewScript(casLua)

const casLua = `
local cur = redis.call('GET', KEYS[1])
if not cur or redis.sha1hex(cur) ~= ARGV[1] then
	return 0
end
local ttl = tonumber(ARGV[3])
if ttl <= 0 then
	redis.call('DEL', KEYS[1])
else
	redis.call('SET', KEYS[1], ARGV[2], 'PX', ttl)
end
return 1
`

// CompareAndSwap stores data under id only if the stored value is still the
// one of version old, in one round trip: SET IFEQ where the server has it,
// else EVALSHA of a script that compares SHA-1 hashes (and always the script
// when the expiry has passed, to delete). With old == "" it creates the
// session only if none exists (SET NX). It reports swapped == false
// otherwise, and the new version on success ("" when the expiry had passed
// and nothing was stored).
//
// A swap whose answer is lost once it went out (a timeout, a connection
// reset) fails with that error: go-redis does not send it again, whatever
// the client's MaxRetries, since a second try after the first ran would
// report a conflict with its own write, and the manager would apply the
// request's changes again over any write that came in between. Answers
// that prove it did not run (LOADING, READONLY, CLUSTERDOWN, TRYAGAIN,
// MASTERDOWN, NOREPLICAS, too many clients), and a try that never went out
// (its connection refused, no connection free in the pool in time), are
// still sent again as go-redis would, with WithReplicas too.
// A create (SET NX) whose answer was lost is sent again (as often as the
// client sends a command again, see [New]), and one that then finds the session stored reads it
// back, from the master also with a client that reads from replicas: if
// the bytes are exactly data, the first try stored them, and the create
// succeeded. A create that finds the session stored at its first
// try reports the id taken, whatever the bytes stored.
func (s *Store) CompareAndSwap(ctx context.Context, id, old string, data []byte, expires time.Time) (ver string, swapped bool, err error) {
	if err := ctx.Err(); err != nil {
		return "", false, wrap("compare-and-swap", id, err)
	}
	if err := s.idError(id); err != nil {
		switch {
		case old != "":
			return "", false, nil // no session has that id: a conflict
		case s.ttl(expires) <= 0:
			return "", true, nil // nothing to create, and no session has that id
		}
		return "", false, err
	}
	key := s.key(id)
	if old == "" {
		if s.ttl(expires) <= 0 {
			// Nothing to create; still report a session that exists.
			n, err := s.client.Exists(ctx, key).Result()
			if err != nil {
				return "", false, wrap("compare-and-swap", id, err)
			}
			return "", n == 0, nil
		}
		created, stored, err := s.create(ctx, key, data, expires)
		if err != nil {
			return "", false, wrap("compare-and-swap", id, err)
		}
		if !created || !stored {
			return "", created, nil
		}
		return version(data), true, nil
	}
	swapped, stored, err := s.swap(ctx, key, old, data, expires)
	if err != nil {
		return "", false, wrap("compare-and-swap", id, err)
	}
	if !swapped || !stored {
		return "", swapped, nil
	}
	return version(data), true, nil
}

// create stores data under key until expires if nothing is stored there
// (SET NX), and reports whether it did, and whether it stored anything: a
// try sent again once the expiry has passed stores nothing (EXISTS instead,
// as a create whose expiry had passed from the start), and reports
// whether the id is free. The SET NX goes as an onceCmd, and
// create itself sends it again after a failure that leaves unknown whether
// it ran (a lost answer), as go-redis would have (send, the client's
// retries in all), but not with WithReplicas, whose WAIT may be what
// failed. Only when a try before the last may have reached the server
// does a create that finds the key taken read it back, on the master
// (getOnMaster): exactly data is this create's own earlier try, and it
// succeeded; anything else (or nothing, expired or destroyed meanwhile)
// is another's, and it did not. Without such a try the key is another's
// whatever its bytes: another client's new session with the same id and
// the same values (a GenerateID that repeats ids, two requests in one
// millisecond) must not join it. A try whose connection could not be made
// sent nothing, and does not count. An earlier try that did store data
// keeps the TTL it was sent with, the time left when it was sent.
func (s *Store) create(ctx context.Context, key string, data []byte, expires time.Time) (created, stored bool, err error) {
	var (
		set    *redis.BoolCmd
		exists *redis.IntCmd
	)
	resent, err := s.send(ctx, key, s.replicas == 0, false, func(c redis.Cmdable) redis.Cmder {
		set, exists = nil, nil
		ttl := s.ttl(expires)
		if ttl <= 0 {
			exists = redis.NewIntCmd(ctx, "exists", key)
			return processOnce(ctx, c, exists)
		}
		set = redis.NewBoolCmd(ctx, "set", key, data, "px", ttl.Milliseconds(), "nx")
		return processOnce(ctx, c, set)
	})
	switch {
	case err != nil:
		return false, false, err
	case set != nil && set.Val():
		return true, true, nil
	case exists != nil && exists.Val() == 0:
		return true, false, nil
	case !resent:
		return false, false, nil
	}
	// On the master: a replica may not have the first try yet, and a
	// create that takes its own session for another's moves it to a
	// fresh id, leaving the first try stored under an id no client holds.
	v, err := s.getOnMaster(ctx, s.client, key)()
	switch {
	case errors.Is(err, redis.Nil):
		return false, false, nil
	case err != nil:
		return false, false, fmt.Errorf("read back a create that was sent again and found its id taken: %w", err)
	}
	own := bytes.Equal(v, data)
	return own, own && set != nil, nil
}

// readsReplicas reports whether the client sends read-only commands to
// replicas: a ClusterClient with ReadOnly, which RouteByLatency and
// RouteRandomly turn on, as they do for NewFailoverClusterClient, whose
// ReplicaOnly is ReadOnly.
func (s *Store) readsReplicas() bool { return s.settings().readOnly }

// getLua is GET KEYS[1] as a script, which go-redis does not take for a
// read-only command: a client that reads from replicas sends it to the
// master, with its handling of redirects.
const getLua = "return redis.call('GET', KEYS[1])"

// getOnMaster queues on c (the client, or a pipeline of it) a read of key
// from its master, whatever replicas the client reads from, and returns
// what gives the value once it was sent (redis.Nil for none). It is GET
// unless the client reads from replicas (readsReplicas), where it is GET in
// a script: for the reads that decide what the store answers a write (a
// create's read-back) or what DestroyUserSessions ends, which a replica
// that has not got the latest writes would answer wrong.
func (s *Store) getOnMaster(ctx context.Context, c redis.Cmdable, key string) func() ([]byte, error) {
	if !s.readsReplicas() {
		return c.Get(ctx, key).Bytes
	}
	cmd := c.Eval(ctx, getLua, []string{key})
	return func() ([]byte, error) {
		v, err := cmd.Text()
		if err != nil {
			return nil, err
		}
		return []byte(v), nil
	}
}

// mayHaveRun reports a failure of a write after which the server may or
// may not have run it, and that go-redis sends a command again after: the
// connection was lost (EOF, a reset) or timed out. Not an answer of the
// server, nor the caller's context, nor the replicas' (ErrNotReplicated),
// nor a closed client, nor any other error, which go-redis does not retry
// either: a server certificate the client refuses fails every try alike,
// and sent nothing.
func mayHaveRun(ctx context.Context, err error) bool {
	if err == nil || ended(ctx) != nil ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	// A network error (a net.Error, a timeout), as go-redis tells them.
	var lost interface{ Timeout() bool } // on the heap (errors.As): not declared before an error
	return errors.As(err, &lost)
}

// swap replaces the value of key with data until expires (deletes it once
// expires has passed) if the value is still old, and reports whether it
// did, and whether it stored data (not deleted). Each try sends SET IFEQ
// unless the expiry has passed or the server has shown it lacks it, and
// the script otherwise, with the TTL left at that try.
func (s *Store) swap(ctx context.Context, key, old string, data []byte, expires time.Time) (swapped, stored bool, err error) {
	var (
		ifeq   *redis.StatusCmd
		script *redis.Cmd
		ttl    time.Duration // the last try's
	)
	queue := func(c redis.Cmdable) redis.Cmder {
		ifeq, script = nil, nil
		if ttl = s.ttl(expires); ttl > 0 && !s.noSetIfEq.Load() {
			ifeq = redis.NewStatusCmd(ctx, "set", key, data, "px", ttl.Milliseconds(), "ifeq", valueOf(old))
			return processOnce(ctx, c, ifeq)
		}
		args := []any{casScript.Hash(), 1, key, versionHash(old), data, ttl.Milliseconds()}
		script = redis.NewCmd(ctx, append([]any{"evalsha"}, args...)...)
		// In a pipeline (WithReplicas) the error comes later: write loads
		// the script and sends the pipeline again.
		if err := processOnce(ctx, c, script).Err(); redis.HasErrorPrefix(err, "NOSCRIPT") {
			args[0] = casLua
			script = redis.NewCmd(ctx, append([]any{"eval"}, args...)...)
			processOnce(ctx, c, script)
		}
		return script
	}
	err = s.writeOnce(ctx, key, queue)
	if ifeq != nil && redis.HasErrorPrefix(err, "syntax error") {
		// A server before Valkey 8.1 or Redis 8.4 knows no IFEQ: it
		// rejected the command and wrote nothing.
		s.noSetIfEq.Store(true)
		err = s.writeOnce(ctx, key, queue)
	}
	switch {
	case ifeq != nil && errors.Is(err, redis.Nil):
		return false, false, nil
	case err != nil:
		return false, false, err
	case ifeq != nil:
		return true, true, nil
	}
	n, _ := script.Int()
	return n == 1, n == 1 && ttl > 0, nil
}

// onceCmd is a command that go-redis must not send again after a try that
// failed once the command went out (a timeout, a connection reset, as its
// client's MaxRetries would): the server may have run it. A compare-and-
// swap sent again after it ran finds its own write, not the value it
// expects, and answers a conflict; the manager then re-reads the session
// and applies the request's changes again, over any write that came
// between the two tries: a write made after this one, and after reading
// it, was undone. Such a failure is returned instead, as a write whose
// outcome is unknown.
type onceCmd struct{ redis.Cmder }

func (onceCmd) NoRetry() bool { return true }

// The once types are onceCmd for the commands the store sends: a struct
// of one pointer goes into an interface as it is, where onceCmd, two
// words, is allocated on every write.
type (
	onceBool   struct{ *redis.BoolCmd }
	onceInt    struct{ *redis.IntCmd }
	onceStatus struct{ *redis.StatusCmd }
	onceString struct{ *redis.StringCmd }
	onceAny    struct{ *redis.Cmd }
)

func (onceBool) NoRetry() bool   { return true }
func (onceInt) NoRetry() bool    { return true }
func (onceStatus) NoRetry() bool { return true }
func (onceString) NoRetry() bool { return true }
func (onceAny) NoRetry() bool    { return true }

// once returns cmd as a command that go-redis must not send again.
func once(cmd redis.Cmder) redis.Cmder {
	switch c := cmd.(type) {
	case *redis.BoolCmd:
		return onceBool{c}
	case *redis.IntCmd:
		return onceInt{c}
	case *redis.StatusCmd:
		return onceStatus{c}
	case *redis.StringCmd:
		return onceString{c}
	case *redis.Cmd:
		return onceAny{c}
	}
	return onceCmd{cmd}
}

// processor is what a write's queue gets: the client, or a pipeline.
type processor interface {
	Process(ctx context.Context, cmd redis.Cmder) error
}

// processOnce sends cmd on c, the client or a pipeline, as an onceCmd, and
// returns it.
func processOnce(ctx context.Context, c redis.Cmdable, cmd redis.Cmder) redis.Cmder {
	_ = c.(processor).Process(ctx, once(cmd))
	return cmd
}

// send is write for a command that go-redis does not send again
// (processOnce). It sends it again itself after an answer from the server
// that proves it did not run (a server loading its data or read-only after
// a failover, a Cluster that cannot serve the slot, too many clients, too
// few replicas; not READONLY on a Cluster, nor LOADING on a Cluster whose
// client reads from replicas, whose client sends any command again after
// it itself, unless pipelined: queue sent its commands in a pipeline of
// the client's, which a ClusterClient does not send again when it holds a
// command it must not resend, so send does, after READONLY to the master
// of the layout read again), or when it never went out (its connection refused, no
// connection free in the pool in time), as go-redis would have, and, if
// lost is true, after a failure that leaves unknown whether it ran (a lost
// answer, mayHaveRun): as many times in all as the client tries a command
// of its own (clientSettings; a pipeline's count for pipelined), with its
// retry backoff, as go-redis counts its tries. It reports whether a
// try before the last may have reached the server (a lost answer; a
// refused connection or an answer that proves the command did not run
// does not count). That holds for the pipeline of the command and its
// WAIT too (WithReplicas on one server or Sentinel), which go-redis no
// longer sends again either; on a Cluster, write does it for that
// pipeline itself, and never sends again one that may have run. A try
// that failed once ctx had ended fails with ctx's error (contextEnded).
func (s *Store) send(ctx context.Context, key string, lost, pipelined bool, queue func(c redis.Cmdable) redis.Cmder) (resent bool, err error) {
	err = s.write(ctx, key, queue)
	r := s.settings()
	if r.cluster && s.replicas > 0 {
		return false, contextEnded(ctx, err)
	}
	tries, nodeTries := r.tries, r.nodeTries
	if pipelined {
		tries, nodeTries = r.pipelineTries, r.pipelineTries
		if r.cluster {
			nodeTries = 1
		}
	}
	// sent counts the tries as go-redis counts them (clientSettings): a
	// ClusterClient sends a command it must not resend again itself
	// after READONLY, MaxRedirects times, to the master its layout read
	// again names, as it does any command; and after LOADING when it
	// reads from replicas (ReadOnly), to another node of the slot (the
	// master, for a write). It also sends a pipeline again itself,
	// MaxRedirects times, whatever commands it holds, when it could not
	// get the pipeline a connection (refused, or none free in the pool in
	// time: neverSent). Those count as its MaxRedirects+1 tries; its
	// nodes' MaxRetries are the store's to send.
	triedBy := func(err error) int {
		if r.cluster && !pipelined && (redis.IsReadOnlyError(err) || redis.IsLoadingError(err) && s.readsReplicas()) ||
			r.cluster && pipelined && neverSent(err) {
			return r.clusterTries
		}
		return 1
	}
	// sent < tries <= math.MaxInt: tries-sent cannot overflow, and sent
	// stops at tries.
	for sent := min(triedBy(err), tries); sent < tries; sent += min(triedBy(err), tries-sent) {
		switch {
		case r.cluster && pipelined && redis.IsReadOnlyError(err):
			// A pipeline, which the ClusterClient does not send again:
			// read its layout again, as it does after READONLY for a
			// command, so that the next try goes to the new master
			// (ForEachMaster reads it before it visits the masters).
			if c, ok := s.client.(clusterClient); ok {
				_ = c.ForEachMaster(ctx, func(context.Context, *redis.Client) error { return nil })
			}
		case refusedToRun(err):
		case lost && mayHaveRun(ctx, err):
			resent = true
		default:
			return resent, contextEnded(ctx, err)
		}
		if serr := pause.For(ctx, retryBackoff(backoffTry(sent, nodeTries), r.minBackoff, r.maxBackoff)); serr != nil {
			return resent, fmt.Errorf("%w before the write could be sent again after: %w", serr, err)
		}
		err = s.write(ctx, key, queue)
	}
	return resent, contextEnded(ctx, err)
}

// backoffTry returns the number, from 1, that go-redis backs off for
// before a command's try number sent+1 (sent >= 1), of which each node
// tries nodeTries in a row (clientSettings): the node's retry number, or
// for a node's first try the cluster's.
func backoffTry(sent, nodeTries int) int {
	if n := sent % nodeTries; n > 0 {
		return n
	}
	return sent / nodeTries
}

// contextEnded returns err, the failure of a write's last try, wrapped in
// ctx's error when ctx ended before it came (its Err, or a deadline that
// has passed: a client with ContextTimeoutEnabled reads until ctx's
// deadline, and may see the read time out before ctx's Err says so): the
// caller, the manager, must see a StoreTimeout that ran out, as it did
// when go-redis sent these writes again and returned ctx's error from its
// retry backoff. An answer of the server (an error reply, a nil) stands
// as it is, and so does an error that is ctx's already.
func contextEnded(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	cerr := ended(ctx)
	var answer redis.Error
	if cerr == nil || errors.As(err, &answer) || errors.Is(err, cerr) {
		return err
	}
	return fmt.Errorf("%w while the write awaited its answer: %w", cerr, err)
}

// ended returns ctx's error, or context.DeadlineExceeded once its deadline
// has passed (before its Err may say so), or nil.
func ended(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return nil
}

// writeOnce is send for a command that must not run twice: it is sent
// again only when it surely did not run.
func (s *Store) writeOnce(ctx context.Context, key string, queue func(c redis.Cmdable) redis.Cmder) error {
	_, err := s.send(ctx, key, false, false, queue)
	return err
}

// refusedToRun reports a failure that proves the command did not run and
// may run if sent again, as go-redis retries them: a server's answer (too
// few replicas for min-replicas-to-write among them), or a command that
// never went out, since go-redis tries a command it must not resend only
// once: its connection could not be made (after the pool's own dials), or
// none came free in the pool in time.
func refusedToRun(err error) bool {
	if err == nil {
		return false
	}
	return redis.IsLoadingError(err) || redis.IsReadOnlyError(err) || redis.IsMasterDownError(err) ||
		redis.IsClusterDownError(err) || redis.IsTryAgainError(err) || redis.IsMaxClientsError(err) ||
		redis.IsNoReplicasError(err) || neverSent(err)
}

// The options of a client, as the client types of go-redis and any type
// embedding one give them: the store reads a client's retry settings
// through these (clientOptionsOf), so that a user's type around a go-redis
// client (for instrumentation, say) can give them too.
type (
	clientOptions  interface{ Options() *redis.Options }
	clusterOptions interface{ Options() *redis.ClusterOptions }
	ringOptions    interface{ Options() *redis.RingOptions }
)

// clusterClient is what the store uses of a *redis.ClusterClient beyond
// UniversalClient: its layout, for the listing of every master and the
// writes of WithReplicas. A user's type that embeds one has it too.
type clusterClient interface {
	clusterOptions
	ForEachMaster(ctx context.Context, fn func(ctx context.Context, client *redis.Client) error) error
	ForEachShard(ctx context.Context, fn func(ctx context.Context, client *redis.Client) error) error
	MasterForKey(ctx context.Context, key string) (*redis.Client, error)
	ReloadState(ctx context.Context)
}

// ringClient is what the store uses of a *redis.Ring beyond
// UniversalClient, which a user's type that embeds one has too.
type ringClient interface {
	ringOptions
	ForEachShard(ctx context.Context, fn func(ctx context.Context, client *redis.Client) error) error
}

// go-redis's default retry settings, those of a client whose options say
// none (redis.Options, RingOptions; a ClusterOptions's MaxRedirects, with
// MaxRetries -1): what the store takes for a client whose options it
// cannot read.
const (
	defaultMaxRetries      = 3
	defaultMinRetryBackoff = 10 * time.Millisecond
	defaultMaxRetryBackoff = time.Second
)

// clientOptionsOf returns what the store reads of client's options: how
// many times it tries a command and a pipeline after such answers (from
// its MaxRetries, and a Cluster's MaxRedirects: see clientSettings), and
// its MinRetryBackoff and MaxRetryBackoff, as its constructor settled them;
// whether it is a Cluster's (by its type: whether its Options method gives
// *redis.ClusterOptions); and whether it reads from replicas (a Cluster's
// ReadOnly). A client whose type has no Options method of go-redis's (a
// user's wrapper of any UniversalClient), or whose Options gives nil, gets
// go-redis's defaults: it sent Set, Touch and GetAndTouch again, as
// go-redis did before they went as commands it must not resend, only if
// the store does.
func clientOptionsOf(client redis.UniversalClient) clientSettings {
	tries := func(maxRetries int) clientSettings {
		n := triesOf(maxRetries)
		return clientSettings{tries: n, nodeTries: n, clusterTries: 1, pipelineTries: n}
	}
	defaults := tries(defaultMaxRetries)
	defaults.minBackoff, defaults.maxBackoff = defaultMinRetryBackoff, defaultMaxRetryBackoff
	switch c := client.(type) {
	case clientOptions: // *redis.Client, also of NewFailoverClient
		if o := c.Options(); o != nil {
			r := tries(o.MaxRetries)
			r.minBackoff, r.maxBackoff = o.MinRetryBackoff, o.MaxRetryBackoff
			return r
		}
	case clusterOptions:
		if o := c.Options(); o != nil {
			cluster, node := triesOf(o.MaxRedirects), triesOf(o.MaxRetries)
			return clientSettings{tries: mulTries(cluster, node), nodeTries: node, clusterTries: cluster, pipelineTries: cluster,
				minBackoff: o.MinRetryBackoff, maxBackoff: o.MaxRetryBackoff, cluster: true, readOnly: o.ReadOnly}
		}
		// go-redis's defaults: MaxRedirects 3, MaxRetries -1.
		defaults.nodeTries, defaults.clusterTries, defaults.cluster = 1, defaults.tries, true
	case ringOptions:
		if o := c.Options(); o != nil {
			r := tries(o.MaxRetries)
			r.minBackoff, r.maxBackoff = o.MinRetryBackoff, o.MaxRetryBackoff
			return r
		}
	}
	return defaults
}

// forEachNode calls fn with the client of every node holding keys: every
// master of a Cluster, every shard of a Ring, or the client itself. A
// client known for a Cluster's or a Ring's (its Options gives
// *redis.ClusterOptions or *redis.RingOptions) that has not the methods
// to walk its nodes (clusterClient, ringClient) is refused: through it
// SCAN goes to one node, whichever the client picks. So is a client of a
// type that says nothing of what it holds whose server is a Cluster's node
// (opaqueIsCluster, whose answer is kept), even of a Cluster of one
// master, whose SCAN through that client is whole: the store could not
// tell when it stops being so. A Cluster grows without a word to the
// store, whose kept answer would then stand for a Cluster it no longer
// describes; asking again at each listing (CLUSTER INFO's cluster_size)
// would not do either, since the node that answers is not surely the one
// SCAN reaches: a ClusterClient picks a node for each command, from a
// layout that may be stale (a master that has given its slots away gets
// the SCAN, and answers it with none of them), and a client of one node
// (a *redis.Client to a Cluster's node) may hold a master that serves no
// slot at all.
func (s *Store) forEachNode(ctx context.Context, fn func(ctx context.Context, c redis.UniversalClient) error) error {
	switch c := s.client.(type) {
	case clusterClient:
		return c.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error { return fn(ctx, n) })
	case ringClient:
		return c.ForEachShard(ctx, func(ctx context.Context, n *redis.Client) error { return fn(ctx, n) })
	case clusterOptions:
		return fmt.Errorf("the client, a %T, gives a Cluster's options but not the methods of *redis.ClusterClient that reach every master (ForEachMaster, ForEachShard, MasterForKey, ReloadState; see New): SCAN through it would reach one master only", s.client)
	case ringOptions:
		return fmt.Errorf("the client, a %T, gives a Ring's options but not the method of *redis.Ring that reaches every shard (ForEachShard; see New): SCAN through it would reach one shard only", s.client)
	case clientOptions: // *redis.Client, also of NewFailoverClient
		return fn(ctx, s.client)
	}
	cluster, err := s.opaqueIsCluster(ctx)
	if err != nil {
		return err
	}
	if cluster {
		return fmt.Errorf("the client, a %T, is a Redis Cluster's (its server answers CLUSTER INFO, or, to a user who may not run that, a bare HELLO with mode cluster), but says nothing of its masters: SCAN through it reaches one node, whichever the client picks, so a listing through it is whole only while the Cluster has a single master, which the store cannot see change (a master added, slots moved to it) and so does not rely on, with one master or several; give New the *redis.ClusterClient itself, a type that embeds it, or one with its methods Options, ForEachMaster, ForEachShard, MasterForKey and ReloadState (see New)", s.client)
	}
	return fn(ctx, s.client)
}

// opaqueIsCluster reports whether the store's client, of a type that says
// nothing of what it holds (a user's struct around a UniversalClient), is
// a Cluster's: whether its server says it is a Cluster's node
// (redisnode.IsCluster: CLUSTER INFO, or for a user whose ACL forbids it,
// a bare HELLO's mode). The answer is kept: a server cannot turn cluster
// support on or off while it runs. A server that answers neither (Redis
// 6.0 under such an ACL) or cannot answer now (a lost connection, a server
// loading its data) leaves the question open: the listing fails, and the
// next one asks again. Listings that start together before an answer is
// kept each ask (one CLUSTER INFO more each, the same answer). Only the
// listing asks; a request's operations never do.
func (s *Store) opaqueIsCluster(ctx context.Context) (bool, error) {
	switch s.opaque.Load() {
	case oneServer:
		return false, nil
	case clusterNode:
		return true, nil
	}
	cluster, err := redisnode.IsCluster(ctx, s.client)
	var undecided *redisnode.UndecidedError
	switch {
	case errors.As(err, &undecided):
		return false, fmt.Errorf("%w, whether the client, a %T, is a Redis Cluster's, whose SCAN would reach one master only; let the user run CLUSTER INFO (+cluster|info), or give New the client itself or a type that embeds it (see New)", err, s.client)
	case err != nil:
		return false, fmt.Errorf("CLUSTER INFO, which tells the store whether the client, a %T, is a Redis Cluster's: %w", s.client, err)
	case cluster:
		s.opaque.Store(clusterNode)
	default:
		s.opaque.Store(oneServer)
	}
	return cluster, nil
}

// scan calls fn with each batch of keys matching the SCAN pattern match on
// every node; the nodes are scanned in parallel. Without a prefix it
// refuses (ErrNoPrefix).
func (s *Store) scan(ctx context.Context, match string, fn func(ctx context.Context, c redis.UniversalClient, keys []string) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.prefix == "" {
		return ErrNoPrefix
	}
	return s.forEachNode(ctx, func(ctx context.Context, c redis.UniversalClient) error {
		var cursor uint64
		for {
			keys, next, err := c.Scan(ctx, cursor, match, scanCount).Result()
			if err != nil {
				return err
			}
			if len(keys) > 0 {
				if err := fn(ctx, c, keys); err != nil {
					return err
				}
			}
			if next == 0 {
				return nil
			}
			cursor = next
		}
	})
}

// IDs returns the ids of the stored sessions, from SCAN on every master.
func (s *Store) IDs(ctx context.Context) ([]string, error) {
	ids, err := s.ids(ctx)
	if err != nil {
		return nil, fmt.Errorf("redisstore: ids: %w", err)
	}
	return ids, nil
}

func (s *Store) ids(ctx context.Context) ([]string, error) {
	var (
		mu   sync.Mutex // ForEachMaster calls in parallel
		ids  []string
		seen = map[string]bool{}
	)
	err := s.scan(ctx, globEscape(s.prefix)+"*", func(_ context.Context, _ redis.UniversalClient, keys []string) error {
		mu.Lock()
		defer mu.Unlock()
		for _, k := range keys {
			if s.isUserKey(k) {
				continue // the user index (users.go), not a session
			}
			id := strings.TrimPrefix(k, s.prefix)
			if !seen[id] { // SCAN may return a key twice
				seen[id] = true
				ids = append(ids, id)
			}
		}
		return nil
	})
	return ids, err
}

// Count returns the number of stored sessions, from SCAN on every master.
func (s *Store) Count(ctx context.Context) (int, error) {
	ids, err := s.ids(ctx)
	if err != nil {
		return 0, fmt.Errorf("redisstore: count: %w", err)
	}
	return len(ids), nil
}

// Clear deletes every session of this store (every key with its prefix,
// which holds the user index's keys of earlier versions) and the user
// index (every key "<user index prefix>{user:*", and, for a store that
// keeps the earlier layout, "<default user index prefix>{user:*"), and
// nothing else: it lists them node by node, and deletes them through the
// client, which in a Cluster follows a key whose slot is being moved (or
// was, since the listing) to another master. The index keys go first: a
// login during Clear stores its session, then records its entry, so an
// entry Clear deletes belongs to a session stored before the SCAN of the
// sessions began, which lists it (SCAN lists every key there from its
// start to its end) and deletes it too. (The other order could delete the
// entry of a session stored after the sessions' SCAN had passed it, which
// would outlive Clear unlisted, out of DestroyUserSessions' reach.)
func (s *Store) Clear(ctx context.Context) error {
	del := func(ctx context.Context, _ redis.UniversalClient, keys []string) error {
		// One key per DEL: in a Cluster the keys of a batch are in many
		// slots. Through the store's client, not the node's that listed
		// them: in a Cluster a key may have moved since (a slot migrating,
		// or migrated, to another master), or be listed on the master a
		// slot is migrating to, which answers MOVED to a DEL without
		// ASKING; the Cluster client follows MOVED and ASK.
		_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range keys {
				p.Del(ctx, k)
			}
			return nil
		})
		return err
	}
	var err error
	for _, p := range []string{s.userPrefix, s.otherPrefix} {
		if err == nil && p != s.prefix {
			err = s.scan(ctx, globEscape(p+"{user:")+"*", del)
		}
	}
	if err == nil {
		err = s.scan(ctx, globEscape(s.prefix)+"*", del)
	}
	if err != nil {
		return fmt.Errorf("redisstore: clear: %w", err)
	}
	return nil
}

// globEscape escapes the glob metacharacters of a SCAN MATCH pattern.
func globEscape(s string) string {
	if !strings.ContainsAny(s, `*?[]\`) {
		return s
	}
	var b strings.Builder
	for i := range len(s) { // bytes: a prefix need not be UTF-8, and a rune loop would turn a bad byte into U+FFFD
		if strings.IndexByte(`*?[]\`, s[i]) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
