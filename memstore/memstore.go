// Package memstore is the in-process session store, and the manager's
// default. It is bounded: expired sessions are never returned and are swept
// by a background goroutine, a browser-session session still gets a
// server-side lifetime, and an optional cap on the number of sessions evicts
// the ones closest to expiry. Memory freed by sweeping is given back to the
// runtime (Go maps do not shrink by themselves).
//
// Sessions live in 64 shards chosen by a hash of the id, so goroutines working
// on different sessions rarely wait for one another. Data is copied in and
// out: callers may reuse their buffers.
//
// Sessions do not survive a restart and are not shared between processes; use
// a persistent store for that.
package memstore

import (
	"context"
	"fmt"
	"hash/maphash"
	"math"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionkit/session/internal/memshare"
)

// Defaults for the options.
const (
	DefaultTTL           = 24 * time.Hour
	DefaultSweepInterval = time.Minute
)

const numShards = 64

// Option configures a Store in New.
type Option func(*config)

type config struct {
	sweepInterval time.Duration
	lifetime      time.Duration
	maxSessions   int
	now           func() int64 // unix ns; tests replace it
}

// WithSweepInterval sets how often the background goroutine removes expired
// sessions (default 1 minute). A d <= 0 disables it: expired sessions are
// then still never returned, and PurgeExpired removes them on demand. The
// sweep is also what gives back the memory of maps that Destroy and
// expired reads have emptied (a map is rebuilt once it falls to a quarter
// of its peak): without it, call PurgeExpired now and then.
func WithSweepInterval(d time.Duration) Option {
	return func(c *config) { c.sweepInterval = d }
}

// WithDefaultTTL sets how long a session stored with a zero expiry (a
// browser-session cookie) lives on the server (default 24 hours). A d <= 0
// keeps the default.
func WithDefaultTTL(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.lifetime = d
		}
	}
}

// WithMaxSessions caps the number of stored sessions. Storing a new session
// beyond the cap evicts the sessions closest to expiry, across the whole
// store (possibly the new one itself). An n <= 0 means no cap (the default).
func WithMaxSessions(n int) Option {
	return func(c *config) { c.maxSessions = max(n, 0) }
}

// Store is an in-memory session store. It implements session.Store,
// session.Toucher, session.VersionedStore, session.GetToucher,
// session.Lister, session.Purger, session.UserIndex and
// session.UserIndexRemover, and is safe for concurrent use. Create it with New; Close stops its sweeper.
type Store struct {
	*state
}

// state is everything the sweeper goroutine needs; it does not reference the
// Store, so a Store that is dropped without Close is collected and its
// sweeper stopped.
type state struct {
	shards   [numShards]shard
	seed     maphash.Seed
	lifetime int64 // ns
	max      int64
	n        atomic.Int64 // entries in all shards, expired or not
	evictMu  sync.Mutex
	stopper  *stopper
	interval time.Duration
	// now reads the clock. A call on one session reads it once it holds
	// the session's shard lock, never before: a session that expires
	// while the call waits there (behind a sweep, or a write of another
	// session of the shard) is then found expired, rather than returned,
	// touched back to life or written over by a compare-and-swap.
	now   func() int64
	users userIndex // the user -> sessions index (users.go)

	// beforeEvict, if set (by tests only), runs in enforceCap between
	// choosing the session to evict and locking its shard.
	beforeEvict func()
}

type stopper struct {
	once sync.Once
	stop chan struct{}
	done chan struct{}
}

func (s *stopper) close() {
	s.once.Do(func() {
		close(s.stop)
		<-s.done
	})
}

// New returns an empty store and starts its sweeper.
func New(opts ...Option) *Store {
	c := config{sweepInterval: DefaultSweepInterval, lifetime: DefaultTTL, now: wallClock}
	for _, o := range opts {
		o(&c)
	}
	st := &state{
		seed:     maphash.MakeSeed(),
		lifetime: int64(c.lifetime),
		max:      int64(c.maxSessions),
		interval: c.sweepInterval,
		now:      c.now,
	}
	for i := range st.shards {
		st.shards[i].m = make(map[string]*entry)
	}
	s := &Store{state: st}
	if c.sweepInterval > 0 {
		st.stopper = &stopper{stop: make(chan struct{}), done: make(chan struct{})}
		go st.sweepLoop(st.stopper)
		runtime.AddCleanup(s, func(sp *stopper) { go sp.close() }, st.stopper)
	}
	return s
}

// Close stops the background sweeper. The store keeps working afterwards
// (expired sessions are still never returned). Close is idempotent and
// always returns nil.
func (s *Store) Close() error {
	if s.stopper != nil {
		s.stopper.close()
	}
	return nil
}

func (st *state) sweepLoop(sp *stopper) {
	defer close(sp.done)
	t := time.NewTicker(st.interval)
	defer t.Stop()
	for {
		select {
		case <-sp.stop:
			return
		case <-t.C:
			st.purge()
		}
	}
}

// entry is one stored session.
type entry struct {
	id string
	// data is never written to once stored: a write stores a new copy
	// (put), so that readers may share it (memshare).
	data    []byte
	expires int64  // unix ns
	version uint64 // per shard, never reused
	index   int    // in the shard's heap
}

// shard is a map of sessions with a min-heap on expiry, for sweeping and
// for evicting the sessions closest to expiry. The heap holds each entry's
// expiry as it was when the entry last moved in it, a lower bound of its
// expiry (heapItem): a touch that pushes the expiry later leaves the entry
// where it is, and the sweep and the eviction put it right once it comes
// to the top.
type shard struct {
	mu   sync.RWMutex
	m    map[string]*entry
	heap []heapItem
	peak int    // largest len(m) since the map was last rebuilt
	seq  uint64 // last version handed out
	_    [64]byte
}

func (st *state) shard(id string) *shard {
	return &st.shards[maphash.String(st.seed, id)%numShards]
}

var (
	minTime = time.Unix(0, 0)
	maxTime = time.Unix(0, math.MaxInt64)
)

// deadline converts an expiry to unix ns; a zero time means the default lifetime.
func (st *state) deadline(expires time.Time, now int64) int64 {
	switch {
	case expires.IsZero():
		return addNs(now, time.Duration(st.lifetime))
	case expires.Before(minTime):
		return 0
	case expires.After(maxTime):
		return math.MaxInt64
	}
	return expires.UnixNano()
}

// addNs returns the unix ns time t plus d, saturated at the int64 bounds: a
// deadline too far to count stays the farthest one instead of wrapping into
// the past, where the next read or prune would drop it.
func addNs(t int64, d time.Duration) int64 {
	sum := t + int64(d)
	if (sum > t) != (d > 0) { // wrapped (d == 0 never does)
		if d > 0 {
			return math.MaxInt64
		}
		return math.MinInt64
	}
	return sum
}

func wallClock() int64 { return time.Now().UnixNano() }

func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: %w", err)
	}
	return nil
}

func formatVersion(v uint64) string { return strconv.FormatUint(v, 36) }

func clone(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return append(make([]byte, 0, len(b)), b...)
}

// Get returns a copy of the session's data; found is false if it is missing
// or expired.
func (s *Store) Get(ctx context.Context, id string) ([]byte, bool, error) {
	data, v, err := s.get(ctx, id)
	if v == 0 {
		return nil, false, err
	}
	return clone(data), true, nil
}

// GetVersion is Get that also returns the session's current version.
func (s *Store) GetVersion(ctx context.Context, id string) ([]byte, string, bool, error) {
	data, version, found, err := sharedReader{s.state}.GetVersionShared(ctx, id)
	if !found {
		return nil, "", false, err
	}
	return clone(data), version, true, nil
}

func init() {
	memshare.Of = func(store any) memshare.Reader {
		if s, ok := store.(*Store); ok {
			return sharedReader{s.state}
		}
		return nil
	}
}

// sharedReader is the store's memshare.Reader: GetVersion and GetAndTouch
// whose data is the stored bytes, never written to (entry.data), rather
// than a copy.
type sharedReader struct{ st *state }

func (r sharedReader) GetVersionShared(ctx context.Context, id string) ([]byte, string, bool, error) {
	data, v, err := r.st.get(ctx, id)
	if err != nil || v == 0 {
		return nil, "", false, err
	}
	return data, formatVersion(v), true, nil
}

func (r sharedReader) GetAndTouchShared(ctx context.Context, id string, expires time.Time) ([]byte, string, bool, error) {
	var (
		data    []byte
		version uint64
	)
	_, kept, err := r.st.touch(ctx, id, expires, func(e *entry) { data, version = e.data, e.version })
	if err != nil || !kept {
		return nil, "", false, err
	}
	return data, formatVersion(version), true, nil
}

// get returns the session's stored data, not a copy, and its version;
// version 0 means not found (versions start at 1).
func (st *state) get(ctx context.Context, id string) ([]byte, uint64, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, 0, err
	}
	sh := st.shard(id)
	sh.mu.RLock()
	e, ok := sh.m[id]
	if !ok {
		sh.mu.RUnlock()
		return nil, 0, nil
	}
	now := st.now() // under the lock (see state.now)
	if e.expires <= now {
		sh.mu.RUnlock()
		st.removeExpired(sh, id, now)
		return nil, 0, nil
	}
	data, v := e.data, e.version
	sh.mu.RUnlock()
	return data, v, nil
}

// removeExpired deletes id if it is still expired at now.
func (st *state) removeExpired(sh *shard, id string, now int64) {
	sh.mu.Lock()
	if e, ok := sh.m[id]; ok && e.expires <= now {
		st.remove(sh, e)
	}
	sh.mu.Unlock()
}

// Set stores a copy of data under id until expires (the default lifetime if
// zero), replacing what was there; an expires in the past deletes.
func (s *Store) Set(ctx context.Context, id string, data []byte, expires time.Time) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	sh := s.shard(id)
	sh.mu.Lock()
	now := s.now() // under the lock (see state.now)
	deadline := s.deadline(expires, now)
	e := sh.m[id]
	if deadline <= now {
		if e != nil {
			s.remove(sh, e)
		}
		sh.mu.Unlock()
		return nil
	}
	added := s.put(sh, e, id, data, deadline)
	sh.mu.Unlock()
	if added {
		s.enforceCap()
	}
	return nil
}

// put writes data into e, or a new entry if e is nil, under sh's write
// lock. It reports whether it added an entry.
func (st *state) put(sh *shard, e *entry, id string, data []byte, deadline int64) (added bool) {
	sh.seq++
	if e == nil {
		e = &entry{id: id, data: clone(data), expires: deadline, version: sh.seq}
		sh.m[id] = e
		sh.push(e)
		sh.peak = max(sh.peak, len(sh.m))
		st.n.Add(1)
		return true
	}
	e.data = clone(data) // not into e.data, which readers may share (memshare)
	e.version = sh.seq
	sh.setExpiry(e, deadline)
	return false
}

// remove deletes e from its shard, under the shard's write lock.
func (st *state) remove(sh *shard, e *entry) {
	delete(sh.m, e.id)
	sh.heapRemove(e)
	st.n.Add(-1)
}

// Destroy deletes the session; deleting a missing session is not an error.
func (s *Store) Destroy(ctx context.Context, id string) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	sh := s.shard(id)
	sh.mu.Lock()
	if e, ok := sh.m[id]; ok {
		s.remove(sh, e)
	}
	sh.mu.Unlock()
	return nil
}

// Touch moves the session's expiry to expires (the default lifetime if zero)
// without changing its data or version. Touching a missing or expired session
// reports found == false and creates nothing; an expires in the past deletes.
func (s *Store) Touch(ctx context.Context, id string, expires time.Time) (found bool, err error) {
	found, _, err = s.touch(ctx, id, expires, nil)
	return found, err
}

// GetAndTouch is GetVersion and Touch in one step under the session's shard
// lock (session.GetToucher): the middleware carries a read-only request's
// touch on its load, and the end of the request has no store work left. An
// expires in the past deletes the session and reports it missing.
func (s *Store) GetAndTouch(ctx context.Context, id string, expires time.Time) ([]byte, string, bool, error) {
	data, version, found, err := sharedReader{s.state}.GetAndTouchShared(ctx, id, expires)
	if !found {
		return nil, "", false, err
	}
	return clone(data), version, true, nil
}

// touch moves id's expiry to expires under its shard's write lock, and then
// calls read, if not nil, with the entry while it still holds the lock.
// found is false if the session is missing or expired; kept is false as well
// when an expires in the past deleted it.
func (st *state) touch(ctx context.Context, id string, expires time.Time, read func(*entry)) (found, kept bool, err error) {
	if err := ctxErr(ctx); err != nil {
		return false, false, err
	}
	sh := st.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	now := st.now() // under the lock (see state.now)
	deadline := st.deadline(expires, now)
	e, ok := sh.m[id]
	if !ok {
		return false, false, nil
	}
	if e.expires <= now {
		st.remove(sh, e)
		return false, false, nil
	}
	if deadline <= now {
		st.remove(sh, e)
		return true, false, nil
	}
	sh.setExpiry(e, deadline)
	if read != nil {
		read(e)
	}
	return true, true, nil
}

// CompareAndSwap stores a copy of data only if the session's current version
// is old; with old == "" only if no unexpired session has that id. Otherwise
// it reports swapped == false. It returns the new version ("" when an
// expires in the past deleted the session).
func (s *Store) CompareAndSwap(ctx context.Context, id, old string, data []byte, expires time.Time) (version string, swapped bool, err error) {
	if err := ctxErr(ctx); err != nil {
		return "", false, err
	}
	var want uint64
	if old != "" {
		v, err := strconv.ParseUint(old, 36, 64)
		if err != nil {
			return "", false, nil // not a version of this store: it cannot match
		}
		want = v
	}
	sh := s.shard(id)
	sh.mu.Lock()
	now := s.now() // under the lock (see state.now)
	deadline := s.deadline(expires, now)
	e := sh.m[id]
	if e != nil && e.expires <= now {
		s.remove(sh, e)
		e = nil
	}
	switch {
	case old == "" && e != nil, old != "" && (e == nil || e.version != want):
		sh.mu.Unlock()
		return "", false, nil
	}
	if deadline <= now {
		if e != nil {
			s.remove(sh, e)
		}
		sh.mu.Unlock()
		return "", true, nil
	}
	added := s.put(sh, e, id, data, deadline)
	v := sh.seq
	sh.mu.Unlock()
	if added {
		s.enforceCap()
	}
	return formatVersion(v), true, nil
}

// IDs returns the ids of the unexpired sessions, in no given order.
func (s *Store) IDs(ctx context.Context) ([]string, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	now := s.now()
	ids := make([]string, 0, s.n.Load())
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		for id, e := range sh.m {
			if e.expires > now {
				ids = append(ids, id)
			}
		}
		sh.mu.RUnlock()
	}
	return ids, nil
}

// Count returns the number of unexpired sessions.
func (s *Store) Count(ctx context.Context) (int, error) {
	if err := ctxErr(ctx); err != nil {
		return 0, err
	}
	now := s.now()
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		// The heap's expired prefix is small after a sweep; count it out.
		n += len(sh.m) - sh.countExpired(now)
		sh.mu.RUnlock()
	}
	return n, nil
}

// Clear deletes every session and the user index, and gives their memory
// back. The index goes first: a login during Clear stores its session,
// then records its entry, so an entry Clear drops belongs to a session
// stored before Clear empties the shards, which drops it too. (The other
// order could drop the entry of a session stored in a shard already
// emptied, which would outlive Clear unlisted, out of
// DestroyUserSessions' reach.)
func (s *Store) Clear(ctx context.Context) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	s.users.clear()
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		s.n.Add(-int64(len(sh.m)))
		sh.m = make(map[string]*entry)
		sh.heap = nil
		sh.peak = 0
		sh.mu.Unlock()
	}
	return nil
}

// PurgeExpired removes the expired sessions now and returns how many it
// removed; the sweeper does the same periodically.
func (s *Store) PurgeExpired(ctx context.Context) (int, error) {
	if err := ctxErr(ctx); err != nil {
		return 0, err
	}
	return s.purge(), nil
}

// purge removes expired sessions from every shard, and rebuilds shards that
// have shrunk well below their peak so their memory is given back.
func (st *state) purge() int {
	removed := 0
	for i := range st.shards {
		sh := &st.shards[i]
		now := st.now()
		sh.mu.Lock()
		for len(sh.heap) > 0 && sh.heap[0].exp <= now {
			if e := sh.heap[0].e; e.expires <= now {
				st.remove(sh, e)
				removed++
			} else {
				sh.fixTop() // touched since it last moved: not expired
			}
		}
		sh.maybeShrink()
		sh.mu.Unlock()
	}
	st.pruneUsers(st.now())
	return removed
}

// shrinkMin is the peak size below which a shard is never rebuilt.
const shrinkMin = 64

// shrinkMap returns m rebuilt at its size if it has shrunk to a quarter of
// its peak (the largest it has been since it was last rebuilt), and the peak
// to count from; otherwise m and peak unchanged. Go maps keep their buckets
// after deletes, so only a rebuild gives their memory back. Used for the
// shards' maps, and for the user index's map of users and each user's map
// of entries.
func shrinkMap[V any](m map[string]V, peak int) (_ map[string]V, newPeak int, rebuilt bool) {
	if peak < shrinkMin || len(m) > peak/4 {
		return m, peak, false
	}
	n := make(map[string]V, len(m))
	for k, v := range m {
		n[k] = v
	}
	return n, len(n), true
}

// maybeShrink rebuilds the map and the heap of a shard that has shrunk to a
// quarter of its peak (shrinkMap).
func (sh *shard) maybeShrink() {
	var rebuilt bool
	if sh.m, sh.peak, rebuilt = shrinkMap(sh.m, sh.peak); !rebuilt {
		return
	}
	if len(sh.heap) < cap(sh.heap)/2 {
		h := make([]heapItem, len(sh.heap), len(sh.heap)+len(sh.heap)/4+1)
		copy(h, sh.heap)
		sh.heap = h
	}
}

// enforceCap evicts the sessions closest to expiry, across all shards, while
// the store holds more than its cap.
func (st *state) enforceCap() {
	if st.max <= 0 || st.n.Load() <= st.max {
		return
	}
	st.evictMu.Lock()
	defer st.evictMu.Unlock()
	for st.n.Load() > st.max {
		// Find the shard whose earliest expiry is the earliest overall.
		var best *shard
		bestExp := int64(math.MaxInt64)
		for i := range st.shards {
			sh := &st.shards[i]
			if exp, ok := sh.earliest(); ok && (best == nil || exp < bestExp) {
				best, bestExp = sh, exp
			}
		}
		if best == nil {
			return
		}
		if st.beforeEvict != nil {
			st.beforeEvict()
		}
		best.mu.Lock()
		// Evict only if nothing changed there meanwhile, and only if the
		// store is still over its cap: a Destroy (or an expiry removed) in
		// any shard since the loop's check may have brought it back to the
		// cap, and the eviction would be one too many. claimEviction takes
		// the count down only while it is over the cap, so no removal can
		// slip in between the check and the eviction's own.
		if best.settleTop(); len(best.heap) > 0 && best.heap[0].exp <= bestExp && st.claimEviction() {
			e := best.heap[0].e
			delete(best.m, e.id)
			best.heapRemove(e)
		}
		best.mu.Unlock()
	}
}

// claimEviction decrements the count of entries for an eviction if the
// store is over its cap, and reports whether it did. The caller then
// removes the entry without counting it again.
func (st *state) claimEviction() bool {
	for {
		n := st.n.Load()
		if n <= st.max {
			return false
		}
		if st.n.CompareAndSwap(n, n-1) {
			return true
		}
	}
}

// earliest returns the earliest expiry in the shard, if it holds any
// session. It takes the read lock, and the write lock only when the top of
// the heap must be settled first (settleTop).
func (sh *shard) earliest() (exp int64, ok bool) {
	sh.mu.RLock()
	settled := len(sh.heap) == 0 || sh.heap[0].exp == sh.heap[0].e.expires
	if settled && len(sh.heap) > 0 {
		exp, ok = sh.heap[0].exp, true
	}
	sh.mu.RUnlock()
	if settled {
		return exp, ok
	}
	sh.mu.Lock()
	if sh.settleTop(); len(sh.heap) > 0 {
		exp, ok = sh.heap[0].exp, true
	}
	sh.mu.Unlock()
	return exp, ok
}

// countExpired counts the expired entries, walking only the part of the heap
// that can hold them.
func (sh *shard) countExpired(now int64) int {
	n := 0
	var walk func(i int)
	walk = func(i int) {
		if i >= len(sh.heap) || sh.heap[i].exp > now {
			return // and so are its children's, and their expiries
		}
		if sh.heap[i].e.expires <= now {
			n++
		}
		walk(2*i + 1)
		walk(2*i + 2)
	}
	walk(0)
	return n
}

// The heap: a binary min-heap on heapItem.exp, each entry knowing its
// index.

// heapItem is an entry in its shard's heap, with the key the heap is
// ordered on: the entry's expiry when it last moved in the heap, never
// later than its expiry now. An earlier expiry moves the entry up at once;
// a later one (a touch, a save) leaves it where it is, so that the touch
// of a read costs no walk down the heap. An entry whose exp has passed is
// then either expired or moved to its place by its expiry now (fixTop),
// and an entry with a stale key at the top is put right before the top is
// taken for the earliest expiry (settleTop).
type heapItem struct {
	exp int64 // unix ns
	e   *entry
}

func (sh *shard) push(e *entry) {
	e.index = len(sh.heap)
	sh.heap = append(sh.heap, heapItem{exp: e.expires, e: e})
	sh.up(e.index)
}

func (sh *shard) heapRemove(e *entry) {
	i, last := e.index, len(sh.heap)-1
	if i != last {
		sh.swap(i, last)
	}
	sh.heap[last] = heapItem{}
	sh.heap = sh.heap[:last]
	if i != last {
		if !sh.down(i) {
			sh.up(i)
		}
	}
	e.index = -1
}

func (sh *shard) setExpiry(e *entry, deadline int64) {
	e.expires = deadline
	if it := &sh.heap[e.index]; deadline < it.exp {
		it.exp = deadline
		sh.up(e.index)
	}
}

// fixTop gives the entry at the top of the heap its expiry as its key and
// moves it down to its place.
func (sh *shard) fixTop() {
	sh.heap[0].exp = sh.heap[0].e.expires
	sh.down(0)
}

// settleTop fixes the top of the heap until its key is its entry's expiry:
// then no entry expires earlier than the top's, whose key is the least and
// every other entry's expiry at least its key.
func (sh *shard) settleTop() {
	for len(sh.heap) > 0 && sh.heap[0].exp != sh.heap[0].e.expires {
		sh.fixTop()
	}
}

func (sh *shard) swap(i, j int) {
	h := sh.heap
	h[i], h[j] = h[j], h[i]
	h[i].e.index = i
	h[j].e.index = j
}

func (sh *shard) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if sh.heap[p].exp <= sh.heap[i].exp {
			return
		}
		sh.swap(i, p)
		i = p
	}
}

// down moves entry i down to its place and reports whether it moved.
func (sh *shard) down(i int) bool {
	start, n := i, len(sh.heap)
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		c := l
		if r := l + 1; r < n && sh.heap[r].exp < sh.heap[l].exp {
			c = r
		}
		if sh.heap[i].exp <= sh.heap[c].exp {
			break
		}
		sh.swap(i, c)
		i = c
	}
	return i > start
}
