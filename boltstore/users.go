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
	err := s.write(ctx, func(b *bbolt.Bucket) error {
		ub, err := b.Tx().CreateBucketIfNotExists(s.usersBucket())
		if err != nil {
			return err
		}
		u, err := ub.CreateBucketIfNotExists([]byte(user))
		if err != nil {
			return err
		}
		if err := pruneUser(u, now.Add(-session.IndexGrace).UnixNano()); err != nil {
			return err
		}
		return u.Put([]byte(id), v)
	})
	if err != nil {
		return fmt.Errorf("boltstore: index user session %s: %w", shortid.Of(id), err)
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

// pruneUser deletes the entries of one user's bucket that expired before cutoff.
func pruneUser(u *bbolt.Bucket, cutoff int64) error {
	var dead [][]byte
	err := u.ForEach(func(k, v []byte) error {
		if len(v) != 16 || int64(binary.BigEndian.Uint64(v[0:8])) < cutoff {
			dead = append(dead, bytes.Clone(k))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range dead {
		if err := u.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// UserSessions lists the user's entries and their sessions in one read-only
// transaction.
func (s *Store) UserSessions(ctx context.Context, user string, yield func(id string, used, expires time.Time, data []byte)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := s.now()
	cutoff := now.Add(-session.IndexGrace).UnixNano()
	type entry struct {
		id            string
		used, expires int64
		data          []byte
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
			if len(v) != 16 {
				return nil
			}
			e := entry{id: string(k), expires: int64(binary.BigEndian.Uint64(v[0:8])), used: int64(binary.BigEndian.Uint64(v[8:16]))}
			if e.expires < cutoff {
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
		yield(e.id, time.Unix(0, e.used), time.Unix(0, e.expires), e.data)
	}
	return nil
}

// pruneUsers deletes every user's expired entries, and users left with
// none, in one write transaction (run by PurgeExpired).
func (s *Store) pruneUsers(ctx context.Context) error {
	cutoff := s.now().Add(-session.IndexGrace).UnixNano()
	err := s.write(ctx, func(b *bbolt.Bucket) error {
		ub := b.Tx().Bucket(s.usersBucket())
		if ub == nil {
			return nil
		}
		var empty [][]byte
		err := ub.ForEachBucket(func(k []byte) error {
			u := ub.Bucket(k)
			if err := pruneUser(u, cutoff); err != nil {
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
