package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"go.etcd.io/bbolt"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/shortid"
)

// The user index (session.UserIndex, issue #14) lives in a second bucket,
// named after the sessions' bucket plus a NUL byte and "users" (UsersBucket),
// with one nested bucket per user: key the session id, value 16 bytes, the
// index expiry and the last use (Unix nanoseconds, big-endian; a zero last
// use is stored as what the zero time's UnixNano returns, a date in 1754,
// and listed as the zero time). An index write goes through the same
// commit queue as the sessions' writes and prunes the user's entries more
// than session.IndexGrace past their expiry; PurgeExpired (the sweeper)
// prunes those of every user who is due (see below), and drops users left
// with none. The manager removes the entry of a session it destroyed, or
// unbound from its user, with one queued write (session.UserIndexRemover).
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
// The index bucket was named after the sessions' bucket plus ".users"
// before, which is also a sessions' bucket name that WithBucket took, so
// that a store in bucket "x" and one in bucket "x.users" in one file shared
// a bucket: the second could not store a session whose id was a user id of
// the first (nor the first index a user whose id was a session id of the
// second), and its Clear deleted the first's index. A name ending in the NUL byte and
// "users" is refused (WithBucket), so the new names cannot collide. New
// moves the user buckets of the old index bucket into the new one
// (migrateUsers), merging them with any the new one already holds, and
// leaves the old bucket's other keys (another store's sessions) and the
// emptied bucket itself where they are.
//
// A nested bucket inside a user's bucket (bbolt gives it no value) is no
// entry: it is not listed, and pruning skips it and leaves it alone (it is
// not the store's to delete), so it can fail neither that user's index
// writes nor the sweep's pruning of every user. An index write of that user
// that walks their entries (the first after an upgrade, then once one of
// them is due) logs a warning.
//
// An index write walks the user's entries to prune them only once one of
// them may be past its deadline (its expiry plus session.IndexGrace), not
// on every write, which cost a walk of all of a user's entries per save or
// touch of any of their sessions. The user's bucket keeps, as its bbolt
// sequence number (a field of the bucket's header, not a key, so that no
// reader of the entries sees it, and earlier versions, which never set it,
// read the file as before), its due: Unix nanoseconds no later than the
// earliest deadline among its entries. A write skips the walk while now is
// not past the due, lowers the due to its entry's deadline, and a walk
// records the earliest deadline it kept. A due of 0, what every bucket
// earlier versions made holds, means none is known: the next write walks.
// An entry with no readable expiry has no deadline (it is pruned once its
// session is gone, which may be any time), so a walk that keeps one
// records 0, and that user's writes walk each time, as they all did
// before. The due is in the file, so it holds across a reopen. A bucket
// moved from the earlier index bucket holds 0; a user merged with one gets
// 0. The sweep (pruneUsers) goes by the due too: it reads every user's due
// in batches, without their entries, walks only the users whose due is 0
// or has passed, and records the due each walk finds, so that a sweep of
// many users of whom none is due writes nothing. An earlier version's
// index write (after a downgrade) adds an entry without lowering the due,
// so that entry is pruned by the first index write or sweep once the
// recorded due has passed, not by the first after its deadline; it is
// never listed once past its deadline (UserSessions reads the expiry of
// each entry). The sweep walked every user whatever the due before, and
// pruned such an entry at once.

var (
	_ session.UserIndex        = (*Store)(nil)
	_ session.UserIndexRemover = (*Store)(nil)
)

// usersSuffix names the index bucket after the sessions' bucket. The NUL
// byte keeps it apart from every sessions' bucket name WithBucket takes.
const usersSuffix = "\x00users"

// legacyUsersSuffix named the index bucket before usersSuffix.
const legacyUsersSuffix = ".users"

// usersBucket is the name of the index bucket.
func (s *Store) usersBucket() []byte { return append(bytes.Clone(s.bucket), usersSuffix...) }

// UsersBucket returns the name of the bucket that holds the user index: the
// sessions' bucket's name, a NUL byte and "users".
func (s *Store) UsersBucket() string { return string(s.usersBucket()) }

// migrateUsers moves the user buckets of the index bucket as earlier
// versions named it (<bucket>.users) into the index bucket, in New's
// transaction, and returns how many users it moved. New calls it only when
// the sessions' bucket was there already: every version's New created it,
// so in a file without it a "<bucket>.users" is not this store's index but
// another program's bucket, which it leaves alone. A user who has a bucket
// in both (an earlier version ran on the file after this one) gets their
// entries merged: an entry in both keeps the later expiry, or the one with
// an expiry if the other has none. Keys of the old
// bucket that are not buckets are another store's sessions (one in bucket
// "<bucket>.users") and stay, and so does the old bucket, which such a
// store may be using; so does a user's bucket named like a value of the
// index bucket (no user, but bbolt puts no bucket under its key).
func (s *Store) migrateUsers(tx *bbolt.Tx) (int, error) {
	old := tx.Bucket(append(bytes.Clone(s.bucket), legacyUsersSuffix...))
	if old == nil {
		return 0, nil
	}
	var users [][]byte
	if err := old.ForEachBucket(func(k []byte) error { users = append(users, bytes.Clone(k)); return nil }); err != nil {
		return 0, err
	}
	if len(users) == 0 {
		return 0, nil
	}
	ub, err := tx.CreateBucketIfNotExists(s.usersBucket())
	if err != nil {
		return 0, err
	}
	moved := 0
	for _, user := range users {
		dst := ub.Bucket(user)
		if dst == nil && ub.Get(user) != nil {
			continue // a value (no user) of that name takes no bucket: left in old
		}
		moved++
		if dst == nil {
			if err := tx.MoveBucket(user, old, ub); err != nil {
				return 0, err
			}
			continue
		}
		if err := mergeUser(old, user, dst); err != nil {
			return 0, err
		}
		// The merged entries may be due before the user's recorded due
		// (earlier versions kept none): their next index write walks.
		if err := setDue(dst, 0); err != nil {
			return 0, err
		}
	}
	return moved, nil
}

// mergeUser moves the entries of user's bucket in old into dst, the user's
// bucket in the index; an entry dst holds too stays unless the moved one
// is better (an expiry where dst's has none, or a later one). An entry
// named like a nested bucket of dst (bbolt puts no value under a bucket's
// key), and a nested bucket (no entry) named like a key of dst, are left in
// old; a nested bucket dst has no key of is moved. The user's bucket in old
// is deleted once empty.
func mergeUser(old *bbolt.Bucket, user []byte, dst *bbolt.Bucket) error {
	src := old.Bucket(user)
	type kv struct{ k, v []byte }
	var entries []kv
	var nested [][]byte
	err := src.ForEach(func(k, v []byte) error {
		if nestedBucket(src, k, v) {
			nested = append(nested, bytes.Clone(k))
		} else {
			entries = append(entries, kv{bytes.Clone(k), bytes.Clone(v)})
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, e := range entries {
		if dst.Bucket(e.k) != nil {
			continue // a nested bucket of that name (no entry) takes no value: left in old
		}
		if cur := dst.Get(e.k); cur == nil || better(readEntry(e.v), readEntry(cur)) {
			if err := dst.Put(e.k, e.v); err != nil {
				return err
			}
		}
		if err := src.Delete(e.k); err != nil {
			return err
		}
	}
	for _, k := range nested {
		if dst.Bucket(k) == nil && dst.Get(k) == nil {
			if err := src.MoveBucket(k, dst); err != nil {
				return err
			}
		}
	}
	if emptyBucket(src) {
		return old.DeleteBucket(user)
	}
	return nil
}

// nestedBucket reports whether key k, with value v, of bucket b is a nested
// bucket (bbolt gives one no value): no index entry.
func nestedBucket(b *bbolt.Bucket, k, v []byte) bool { return v == nil && b.Bucket(k) != nil }

// emptyBucket reports whether b holds no key, so that a user's bucket can go.
func emptyBucket(b *bbolt.Bucket) bool {
	first, _ := b.Cursor().First()
	return first == nil
}

// better reports whether entry a is to be kept over entry b, for the same
// session: a has an expiry, and b has none (too short to hold one, so it
// would be listed with a zero last use and never pruned by its expiry) or
// an earlier one.
func better(a, b indexEntry) bool {
	return a.hasExpires && (!b.hasExpires || a.expires > b.expires)
}

// IndexUserSession records that session id belongs to user.
func (s *Store) IndexUserSession(ctx context.Context, user, id string, used, expires time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := s.now()
	exp := s.expiry(now, expires)
	v := make([]byte, 16)
	binary.BigEndian.PutUint64(v[0:8], uint64(exp))
	binary.BigEndian.PutUint64(v[8:16], uint64(used.UnixNano()))
	var nested int
	err := s.write(ctx, func(b *bbolt.Bucket) error {
		nested = 0 // the op may run again (commit.go)
		ub, err := b.Tx().CreateBucketIfNotExists(s.usersBucket())
		if err != nil {
			return err
		}
		u, err := ub.CreateBucketIfNotExists([]byte(user))
		if err != nil {
			return err
		}
		due, known := dueOf(u)
		if !known || now.UnixNano() > due {
			if nested, due, err = pruneUser(u, b, now.UnixNano()); err != nil {
				return err
			}
		}
		if err := u.Put([]byte(id), v); err != nil {
			return err
		}
		return setDue(u, min(due, deadline(exp)))
	})
	if err != nil {
		return fmt.Errorf("boltstore: index user session %s: %w", shortid.Of(id), err)
	}
	if nested > 0 {
		s.logger.Warn("boltstore: the user's index bucket holds nested buckets, which are no index entries; leaving them",
			"path", s.path, "bucket", string(s.usersBucket()), "id", shortid.Of(id), "nested", nested)
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
		if emptyBucket(u) {
			return ub.DeleteBucket([]byte(user))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("boltstore: unindex user session %s: %w", shortid.Of(id), err)
	}
	return nil
}

// zeroUsed is what the zero time's UnixNano returns (it overflows int64, to
// a date in 1754), and so what IndexUserSession writes for a zero last use,
// as earlier versions did: it reads back as the zero time.
var zeroUsed = time.Time{}.UnixNano()

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

// deadline returns when an entry that expires at expires (Unix
// nanoseconds) may be pruned: once session.IndexGrace more has passed.
func deadline(expires int64) int64 {
	if expires > math.MaxInt64-int64(session.IndexGrace) {
		return math.MaxInt64
	}
	return expires + int64(session.IndexGrace)
}

// dueOf returns the due recorded in user bucket u (see the top of this
// file), and false if none is: a sequence of 0 (a bucket an earlier
// version made, or one whose every write walks), or one too large for a
// time (not this store's).
func dueOf(u *bbolt.Bucket) (int64, bool) {
	seq := u.Sequence()
	if seq == 0 || seq > math.MaxInt64 {
		return 0, false
	}
	return int64(seq), true
}

// setDue records due in user bucket u. A due not after 1970 (0 included)
// is recorded as 0, none, at which the next write walks whatever its
// clock says. It leaves the bucket alone when that is recorded already.
func setDue(u *bbolt.Bucket, due int64) error {
	seq := uint64(max(due, 0))
	if u.Sequence() == seq {
		return nil
	}
	return u.SetSequence(seq)
}

// prunable reports whether the entry of session id may be pruned at now
// (Unix nanoseconds): once its deadline has passed, or, if no expiry can be
// read, once its session (in sessions) is gone or expired.
func prunable(e indexEntry, id []byte, sessions *bbolt.Bucket, now int64) bool {
	if e.hasExpires {
		return now > deadline(e.expires)
	}
	v := sessions.Get(id)
	if v == nil {
		return true
	}
	r, err := decode(v)
	return err != nil || !r.live(now)
}

// pruneUser deletes the entries of one user's bucket that may be pruned at
// now (prunable); sessions is the sessions' bucket. It returns the due of
// the entries it kept: their earliest deadline, math.MaxInt64 if it kept
// none, 0 if it kept one with no readable expiry, which has no deadline
// (see the top of this file). It skips nested buckets, which are no
// entries, and returns how many it skipped.
func pruneUser(u, sessions *bbolt.Bucket, now int64) (nested int, due int64, err error) {
	var dead [][]byte
	due = math.MaxInt64
	err = u.ForEach(func(k, v []byte) error {
		if nestedBucket(u, k, v) {
			nested++
			return nil
		}
		e := readEntry(v)
		switch {
		case prunable(e, k, sessions, now):
			dead = append(dead, bytes.Clone(k))
		case e.hasExpires:
			due = min(due, deadline(e.expires))
		default:
			due = 0
		}
		return nil
	})
	if err != nil {
		return nested, 0, err
	}
	for _, k := range dead {
		if err := u.Delete(k); err != nil {
			return nested, 0, err
		}
	}
	return nested, due, nil
}

// UserSessions lists the user's entries and their sessions in one read-only
// transaction.
func (s *Store) UserSessions(ctx context.Context, user string, yield func(id string, used, expires time.Time, data []byte)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	type entry struct {
		id string
		indexEntry
		data []byte
	}
	var entries []entry
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		now := s.now() // in the transaction, as in GetVersion
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
			if nestedBucket(u, k, v) {
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
		if e.hasUsed && e.used != zeroUsed {
			used = time.Unix(0, e.used)
		}
		if e.hasExpires {
			expires = time.Unix(0, e.expires)
		}
		yield(e.id, used, expires, e.data)
	}
	return nil
}

// pruneUsers deletes the expired entries of the users who are due, and
// users left with none (run by PurgeExpired). Like the sessions' sweep it
// works in batches (WithSweepBatchSize): each batch of users is read in a
// read-only transaction, which reads only each user's due (the bucket's
// sequence, no entry), and the users whose due is unknown (0) or has
// passed are pruned in one short queued write, which reads their due again
// (an index write may have walked, or an unindex deleted, a user since the
// scan). A user whose recorded due is still ahead is not walked: none of
// their entries this store wrote can be pruned before it. A walk records
// the earliest deadline it kept as the user's due (0 if it kept an entry
// with no readable expiry), so that the next sweeps skip that user until
// then, as their index writes do. It stops early, with ctx's error, when
// ctx is done.
func (s *Store) pruneUsers(ctx context.Context) error {
	var after []byte // last user examined; nil before the first batch
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		now := s.now().UnixNano()
		var due [][]byte
		more := false
		err := s.view(ctx, func(tx *bbolt.Tx) error {
			ub := tx.Bucket(s.usersBucket())
			if ub == nil {
				return nil
			}
			c := ub.Cursor()
			k, v := resume(c, after)
			var last []byte
			for n := 0; k != nil && n < s.sweepBatch; n++ {
				if v == nil { // a user's bucket; a value is no user
					if u := ub.Bucket(k); u != nil && userDue(u, now) {
						due = append(due, bytes.Clone(k))
					}
				}
				last = k
				k, v = c.Next()
			}
			if last != nil {
				after = bytes.Clone(last)
			}
			more = k != nil
			return nil
		})
		if err != nil {
			return fmt.Errorf("boltstore: prune the user index: %w", err)
		}
		if s.sweepHook != nil {
			s.sweepHook()
		}
		if len(due) > 0 {
			if err := s.write(ctx, func(b *bbolt.Bucket) error { return pruneDueUsers(b, s.usersBucket(), due, now) }); err != nil {
				return fmt.Errorf("boltstore: prune the user index: %w", err)
			}
		}
		if !more {
			return nil
		}
	}
}

// userDue reports whether user bucket u is to be walked at now (Unix
// nanoseconds): its due is unknown, or has passed.
func userDue(u *bbolt.Bucket, now int64) bool {
	due, known := dueOf(u)
	return !known || now > due
}

// pruneDueUsers prunes the users named in the index bucket called bucket,
// in the transaction of sessions (the sessions' bucket), that are still
// due at now: it deletes their prunable entries, and each user left with
// none, and records the due of the rest. A user gone since the scan, or
// walked by an index write since (their due is ahead), is skipped. It may
// run more than once (commit.go): it changes nothing outside the
// transaction.
func pruneDueUsers(sessions *bbolt.Bucket, bucket []byte, users [][]byte, now int64) error {
	ub := sessions.Tx().Bucket(bucket)
	if ub == nil {
		return nil
	}
	for _, k := range users {
		u := ub.Bucket(k)
		if u == nil || !userDue(u, now) {
			continue
		}
		_, due, err := pruneUser(u, sessions, now)
		if err != nil {
			return err
		}
		if emptyBucket(u) {
			if err := ub.DeleteBucket(k); err != nil {
				return err
			}
			continue
		}
		if err := setDue(u, due); err != nil {
			return err
		}
	}
	return nil
}
