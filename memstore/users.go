package memstore

import (
	"context"
	"math"
	"sync"
	"time"
)

// indexGrace is session.IndexGrace (memstore cannot import session, which
// imports it; a test checks that they agree): how long an index entry is
// kept past its expiry.
const indexGrace = time.Minute

// userIndex maps each user to their sessions' index entries. One mutex is
// enough: it is taken once per save or touch of a session with a user, for
// a few map operations.
type userIndex struct {
	mu   sync.Mutex
	m    map[string]*userIDs // user -> their entries
	peak int                 // largest len(m) since m was last rebuilt (shrinkMap)
}

// userIDs is one user's entries. Its map is rebuilt like the map of users
// once it has shrunk well below its peak (shrinkMap), so that a user who
// once had many sessions and keeps a few does not keep the memory of all.
type userIDs struct {
	m    map[string]userEntry // id -> entry
	peak int                  // largest len(m) since m was last rebuilt
	// due is no later than the earliest deadline in m (it may be earlier:
	// an entry rewritten with a later deadline leaves it as it was), so
	// that prune walks m only once an entry may be past its deadline.
	due   int64
	walks int // prune's walks of m, for the tests
}

// userEntry is one index entry, times in unix ns.
type userEntry struct {
	used, expires, deadline int64 // deadline: when it may be pruned (expires + IndexGrace)
}

// zeroUsed is what the zero time's UnixNano returns (it overflows int64, to
// a date in 1754): a zero last use is kept as it and listed as the zero
// time again.
var zeroUsed = time.Time{}.UnixNano()

// usedTime returns the last use kept as ns.
func usedTime(ns int64) time.Time {
	if ns == zeroUsed {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// IndexUserSession records that session id belongs to user (session.UserIndex).
// It also prunes the user's entries past their deadline (prune: without
// walking them all when none is).
func (s *Store) IndexUserSession(ctx context.Context, user, id string, used, expires time.Time) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	now := s.now()
	exp := s.deadline(expires, now)
	e := userEntry{used: used.UnixNano(), expires: exp, deadline: addNs(exp, indexGrace)}
	ix := &s.users
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.m == nil {
		ix.m = make(map[string]*userIDs)
	}
	ids := ix.m[user]
	if ids == nil {
		ids = &userIDs{m: make(map[string]userEntry, 1)}
		ix.m[user] = ids
		ix.peak = max(ix.peak, len(ix.m))
	}
	ids.prune(now)
	ids.put(id, e)
	return nil
}

// put sets the entry of session id. ix.mu is held.
func (ids *userIDs) put(id string, e userEntry) {
	ids.m[id] = e
	ids.peak = max(ids.peak, len(ids.m))
	ids.due = min(ids.due, e.deadline)
}

// UnindexUserSession removes user's entry for session id, if any
// (session.UserIndexRemover), and the user once they have no entries left.
func (s *Store) UnindexUserSession(ctx context.Context, user, id string) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	ix := &s.users
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ids, ok := ix.m[user]; ok {
		delete(ids.m, id)
		if len(ids.m) == 0 {
			delete(ix.m, user)
		} else {
			ids.shrink()
		}
	}
	return nil
}

// prune deletes the entries past their deadline, and rebuilds the map if
// that left it well below its peak. It walks the entries only once one may
// be past its deadline (due), and then records the earliest deadline left:
// an index write of a user with many sessions costs a map write, not a walk
// of all their entries, until the next of them is due (with sessions that
// are used, at most about once an IndexGrace). ix.mu is held.
func (ids *userIDs) prune(now int64) {
	if now < ids.due {
		return
	}
	ids.walks++
	due := int64(math.MaxInt64)
	for id, e := range ids.m {
		if e.deadline <= now {
			delete(ids.m, id)
		} else {
			due = min(due, e.deadline)
		}
	}
	ids.due = due
	ids.shrink()
}

// shrink rebuilds the map if it has shrunk to a quarter of its peak
// (shrinkMap). ix.mu is held.
func (ids *userIDs) shrink() { ids.m, ids.peak, _ = shrinkMap(ids.m, ids.peak) }

// UserSessions calls yield with the user's unexpired index entries and
// each session's data, nil for a session that is gone (session.UserIndex).
func (s *Store) UserSessions(ctx context.Context, user string, yield func(id string, used, expires time.Time, data []byte)) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	now := s.now()
	ix := &s.users
	type found struct {
		id string
		e  userEntry
	}
	ix.mu.Lock()
	var entries []found
	if ids := ix.m[user]; ids != nil {
		ids.prune(now)
		if len(ids.m) == 0 {
			delete(ix.m, user)
		}
		entries = make([]found, 0, len(ids.m))
		for id, e := range ids.m {
			entries = append(entries, found{id, e})
		}
	}
	ix.mu.Unlock()
	for _, f := range entries {
		data, v, err := s.get(ctx, f.id)
		if err != nil {
			return err
		}
		if v != 0 {
			data = clone(data) // the stored bytes, which yield may change
		}
		yield(f.id, usedTime(f.e.used), time.Unix(0, f.e.expires), data)
	}
	return nil
}

// clear drops every user's entries (Clear).
func (ix *userIndex) clear() {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.m, ix.peak = nil, 0
}

// pruneUsers drops every index entry past its deadline, for the sweeper:
// users who never come back must not keep their entries forever. It then
// rebuilds the map of users, and each user's map of entries, that has
// shrunk well below its peak, so that their memory is given back like the
// shards'.
func (st *state) pruneUsers(now int64) {
	ix := &st.users
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for user, ids := range ix.m {
		ids.prune(now)
		if len(ids.m) == 0 {
			delete(ix.m, user)
		}
	}
	ix.m, ix.peak, _ = shrinkMap(ix.m, ix.peak)
}
