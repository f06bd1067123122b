package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/shortid"
)

// The user index (session.UserIndex, issue #14) lives in a second bucket,
// named after the sessions' bucket plus ".users", with one nested bucket per
// user: key the session id, value 16 bytes, the index expiry and the last
// use (Unix nanoseconds, big-endian). An index write goes through the same
// commit queue as the sessions' writes and prunes the user's entries more
// than session.IndexGrace past their expiry; PurgeExpired (the sweeper)
// prunes every user's, and drops users left with none. The manager removes
// the entry of a session it destroyed, or unbound from its user, with one
// queued write (session.UserIndexRemover).
//
// An entry of another length (edited by hand, or written by another
// program) is still an entry, so that the manager can end its session: with
// at least 8 bytes its expiry is read from them and it is listed with a zero
// used, and pruned by that expiry; with fewer it is listed with a zero used
// and a zero expires (like pgstore's 'infinity'), and since no expiry can
// be read it is pruned once its session is gone or expired instead (a write
// of that session by the manager indexes it again first, replacing the
// entry). UnindexUserSession removes it like any other.
//
// A nested bucket inside a user's bucket (bbolt gives it no value) is no
// entry: it is not listed, and pruning skips it and leaves it alone (it is
// not the store's to delete), so it can fail neither that user's index
// writes nor the sweep's pruning of every user. An index write of that user
// logs a warning.

var (
	_ session.UserIndex        = (*Store)(nil)
	_ session.UserIndexRemover = (*Store)(nil)
)

// usersBucket is the name of the index bucket.
func (s *Store) usersBucket() []byte { return append(bytes.Clone(s.bucket), ".users"...) }

// IndexUserSession records that session id belongs to user.
func (s *Store) IndexUserSession(ctx context.Context, user, id string, used, expires time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := s.now()
	v := make([]byte, 16)
	binary.BigEndian.PutUint64(v[0:8], uint64(s.expiry(now, expires)))
	binary.BigEndian.PutUint64(v[8:16], uint64(used.UnixNano()))
	var nested int
	err := s.write(ctx, func(b *bbolt.Bucket) error {
		ub, err := b.Tx().CreateBucketIfNotExists(s.usersBucket())
		if err != nil {
			return err
		}
		u, err := ub.CreateBucketIfNotExists([]byte(user))
		if err != nil {
			return err
		}
		if nested, err = pruneUser(u, b, now.UnixNano()); err != nil {
			return err
		}
		return u.Put([]byte(id), v)
	})
	if err != nil {
		return fmt.Errorf("boltstore: index user session %s: %w", shortid.Of(id), err)
	}
	if nested > 0 {
		s.logger.Warn("boltstore: the user's index bucket holds nested buckets, which are no index entries; leaving them",
			"path", s.db.Path(), "bucket", string(s.usersBucket()), "id", shortid.Of(id), "nested", nested)
	}
	return nil
}

// UnindexUserSession removes user's entry for session id in one write
// transaction (through the commit queue), and the user's bucket once it is
// empty. Removing a missing entry is not an error.
func (s *Store) UnindexUserSession(ctx context.Context, user, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := s.write(ctx, func(b *bbolt.Bucket) error {
		ub := b.Tx().Bucket(s.usersBucket())
		if ub == nil {
			return nil
		}
		u := ub.Bucket([]byte(user))
		if u == nil {
			return nil
		}
		if err := u.Delete([]byte(id)); err != nil {
			return err
		}
		if first, _ := u.Cursor().First(); first == nil {
			return ub.DeleteBucket([]byte(user))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("boltstore: unindex user session %s: %w", shortid.Of(id), err)
	}
	return nil
}

// indexEntry is what can be read of an index value.
type indexEntry struct {
	expires, used       int64 // Unix nanoseconds
	hasExpires, hasUsed bool
}

// readEntry reads an index value: the expiry from its first 8 bytes, the
// last use from the next 8 if the value is exactly 16 bytes long.
func readEntry(v []byte) indexEntry {
	var e indexEntry
	if len(v) >= 8 {
		e.expires, e.hasExpires = int64(binary.BigEndian.Uint64(v[0:8])), true
	}
	if len(v) == 16 {
		e.used, e.hasUsed = int64(binary.BigEndian.Uint64(v[8:16])), true
	}
	return e
}

// prunable reports whether the entry of session id may be pruned at now
// (Unix nanoseconds): once its expiry plus session.IndexGrace has passed, or,
// if no expiry can be read, once its session (in sessions) is gone or expired.
func prunable(e indexEntry, id []byte, sessions *bbolt.Bucket, now int64) bool {
	if e.hasExpires {
		return e.expires < now-int64(session.IndexGrace)
	}
	v := sessions.Get(id)
	if v == nil {
		return true
	}
	r, err := decode(v)
	return err != nil || !r.live(now)
}

// pruneUser deletes the entries of one user's bucket that may be pruned at
// now (prunable); sessions is the sessions' bucket. It skips nested buckets,
// which are no entries, and returns how many it skipped.
func pruneUser(u, sessions *bbolt.Bucket, now int64) (nested int, err error) {
	var dead [][]byte
	err = u.ForEach(func(k, v []byte) error {
		if v == nil && u.Bucket(k) != nil {
			nested++
			return nil
		}
		if prunable(readEntry(v), k, sessions, now) {
			dead = append(dead, bytes.Clone(k))
		}
		return nil
	})
	if err != nil {
		return nested, err
	}
	for _, k := range dead {
		if err := u.Delete(k); err != nil {
			return nested, err
		}
	}
	return nested, nil
}

// UserSessions lists the user's entries and their sessions in one read-only
// transaction.
func (s *Store) UserSessions(ctx context.Context, user string, yield func(id string, used, expires time.Time, data []byte)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := s.now()
	type entry struct {
		id string
		indexEntry
		data []byte
	}
	var entries []entry
	err := s.db.View(func(tx *bbolt.Tx) error {
		b, err := s.bucketOf(tx)
		if err != nil {
			return err
		}
		ub := tx.Bucket(s.usersBucket())
		if ub == nil {
			return nil
		}
		u := ub.Bucket([]byte(user))
		if u == nil {
			return nil
		}
		return u.ForEach(func(k, v []byte) error {
			if v == nil && u.Bucket(k) != nil {
				return nil // a nested bucket (bbolt gives it no value) is no entry
			}
			e := entry{id: string(k), indexEntry: readEntry(v)}
			if e.hasExpires && prunable(e.indexEntry, k, b, now.UnixNano()) {
				return nil
			}
			if sv := b.Get(k); sv != nil {
				if r, err := decode(sv); err == nil && r.live(now.UnixNano()) {
					e.data = append([]byte{}, r.data...)
				}
			}
			entries = append(entries, e)
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("boltstore: user sessions: %w", err)
	}
	for _, e := range entries {
		var used, expires time.Time // zero where the entry cannot be read
		if e.hasUsed {
			used = time.Unix(0, e.used)
		}
		if e.hasExpires {
			expires = time.Unix(0, e.expires)
		}
		yield(e.id, used, expires, e.data)
	}
	return nil
}

// pruneUsers deletes every user's expired entries, and users left with
// none, in one write transaction (run by PurgeExpired).
func (s *Store) pruneUsers(ctx context.Context) error {
	now := s.now().UnixNano()
	err := s.write(ctx, func(b *bbolt.Bucket) error {
		ub := b.Tx().Bucket(s.usersBucket())
		if ub == nil {
			return nil
		}
		var empty [][]byte
		err := ub.ForEachBucket(func(k []byte) error {
			u := ub.Bucket(k)
			if _, err := pruneUser(u, b, now); err != nil {
				return err
			}
			if first, _ := u.Cursor().First(); first == nil {
				empty = append(empty, bytes.Clone(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range empty {
			if err := ub.DeleteBucket(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("boltstore: prune the user index: %w", err)
	}
	return nil
}
