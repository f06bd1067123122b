package memcachedstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/sessionkit/session"
)

var _ session.GetToucher = (*Store)(nil)

// GetAndTouch is GetVersion that also sets the session's expiry to expires
// (the default lifetime for the zero time): gets, then cas with the same
// value and the new expiry in the flags and in Memcached's expiration. The
// manager calls it at the load of a request that would touch the session at
// its end, which then does not touch again: a read-only request costs these
// two round trips instead of three (gets at the load, then Touch's gets and
// cas). An expiry in the past deletes the session and reports it missing.
//
// Memcached does not tell the CAS id that its cas gave the item, so the
// version returned is a "touched" one: the new flags and a digest of the
// value. CompareAndSwap checks such a version by reading the item again
// (gets) and comparing both, then swaps on the CAS id it read: a modifying
// request after a touching load costs gets and cas twice.
//
// A load must not fail because other requests keep writing the session:
// when the cas finds another write, the item is read again, and if that
// write already set an expiry at or past expires (as concurrent saves do)
// it is returned as it is, with its plain version; after a few such
// conflicts it is returned untouched rather than failing the request.
func (s *Store) GetAndTouch(ctx context.Context, id string, expires time.Time) ([]byte, string, bool, error) {
	t, err := s.getAndTouch(ctx, "get-and-touch", id, expires, true)
	switch {
	case err != nil || t.read == nil || t.deleted:
		return nil, "", false, err
	case t.written == nil:
		return t.read.Value, version(t.read), true, nil
	}
	return t.read.Value, touchedVersion(t.written.Flags, t.read.Value), true, nil
}

// touchResult is what getAndTouch did.
type touchResult struct {
	read    *memcache.Item // the item read; nil if there is none
	written *memcache.Item // the item that replaced it, nil if none did
	deleted bool           // expires had passed: the session was deleted
}

// getAndTouch reads the item under id and rewrites it with the same value
// and the expiry expires (gets, then cas; again if another write came in
// between). With settle, another write that already set an expiry at or
// past expires counts as the touch, and so does the last read after
// touchAttempts conflicts; without it, those conflicts are an error.
func (s *Store) getAndTouch(ctx context.Context, op, id string, expires time.Time, settle bool) (touchResult, error) {
	for attempt := range touchAttempts {
		it, err := s.get(ctx, op, id)
		if err != nil || it == nil {
			return touchResult{}, err
		}
		next, ok := s.item(id, it.Value, expires)
		if !ok {
			return touchResult{read: it, deleted: true}, s.destroy(op, id)
		}
		if settle && attempt > 0 && (it.Flags >= next.Flags || attempt == touchAttempts-1) {
			return touchResult{read: it}, nil // written meanwhile, to a later expiry
		}
		next.CasID = it.CasID
		err = s.client.CompareAndSwap(next)
		switch {
		case err == nil:
			return touchResult{read: it, written: next}, nil
		case errors.Is(err, memcache.ErrCASConflict):
			continue // written meanwhile: touch what is there now
		case errors.Is(err, memcache.ErrNotStored), errors.Is(err, memcache.ErrCacheMiss):
			return touchResult{}, nil
		default:
			return touchResult{}, wrap(op, id, err)
		}
	}
	return touchResult{}, wrap(op, id, errors.New("session keeps changing"))
}

// touchedPrefix starts a version made by GetAndTouch; a plain version
// (version) starts with a digit.
const touchedPrefix = "t."

// touchedVersion is the version of a session that GetAndTouch rewrote
// with flags, whose CAS id is unknown: the flags and a SHA-256 digest of
// the value (its first 16 bytes, in hex).
func touchedVersion(flags uint32, value []byte) string {
	sum := sha256.Sum256(value)
	return touchedPrefix + strconv.FormatUint(uint64(flags), 10) + "." + hex.EncodeToString(sum[:16])
}

// parseTouchedVersion decodes a version made by touchedVersion.
func parseTouchedVersion(v string) (flags uint32, ok bool) {
	rest, found := strings.CutPrefix(v, touchedPrefix)
	if !found {
		return 0, false
	}
	f, _, found := strings.Cut(rest, ".")
	fl, err := strconv.ParseUint(f, 10, 32)
	return uint32(fl), found && err == nil
}

// casID resolves a touched version v with the given flags to the item's
// CAS id: it reads the item and reports ok only if it is unexpired and still
// has v's flags and value, i.e. nobody wrote it since GetAndTouch.
func (s *Store) casID(ctx context.Context, op, id, v string, flags uint32) (cas uint64, ok bool, err error) {
	if flagsExpired(flags, time.Now()) {
		return 0, false, nil
	}
	it, err := s.get(ctx, op, id)
	if err != nil || it == nil || it.Flags != flags || touchedVersion(it.Flags, it.Value) != v {
		return 0, false, err
	}
	return it.CasID, true, nil
}
