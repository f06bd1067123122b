package mongostore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/shortid"
)

// The user index (session.UserIndex, issue #14) is a second collection in
// the sessions' database, named after theirs plus "_users", with one
// document per session of a user:
//
//	{_id: {user: "<user id>", sid: "<session id>"}, used: ISODate(...), expires: ISODate(...)}
//
// The compound _id makes an entry unique without another unique index. The
// store creates an index on _id.user (the listing's filter) and one on
// expires (the cleanup's) at its first index write or listing, once per
// store (after a timeout or a network error, again at the first call a
// minute later), one createIndexes per index (FerretDB v1 drops the
// connection on one of several indexes that exist already); createIndexes
// is idempotent, so several processes may all do it.
// With WithTTLIndex, New also creates a TTL index on expires that keeps
// entries session.IndexGrace past their expiry (and the store none of its
// own on expires); a store without WithTTLIndex on a collection that has
// that TTL index still (a deployment that turned the option off) uses it,
// which goes on deleting the entries as PurgeExpired would.
//
// An index write is an upsert of the entry (one round trip); when it
// inserts a new entry (a login, not the refresh of a known session), a
// second round trip deletes the user's entries more than IndexGrace past
// their expiry, so a user's entries never outnumber one session lifetime's
// logins. A listing is two round trips: the user's entries, then their
// unexpired sessions with one $in query (in chunks). PurgeExpired (and the
// interval cleanup) prunes every user's entries. The manager deletes the
// entry of a session it destroyed, or unbound from its user, with one
// deleteOne by _id (session.UserIndexRemover). Clear deletes every entry,
// before the sessions.

var _ session.UserIndex = (*Store)(nil)

// usersSuffix names the index collection after the sessions'.
const usersSuffix = "_users"

// Field names of the index documents.
const (
	fieldUser = "user"
	fieldSID  = "sid"
	fieldUsed = "used"
)

// inChunk bounds the ids of one $in query of a listing.
const inChunk = 500

// userIndexState is the lazily created secondary indexes of the collection.
type userIndexState struct {
	// lock is held while the indexes are created: a channel of one slot,
	// so that a caller whose context ends stops waiting for another's
	// creation (a server that went away must not queue requests).
	lock    chan struct{}
	done    atomic.Bool
	retryAt atomic.Int64 // unix ns on the store's clock before which a creation that timed out is not tried again
}

// userIndexRetry is how long after a creation of the indexes that failed on
// a timeout or a network error the next call tries again: not at once, so
// that a server too slow to build them does not make every call wait for
// another createIndexes first.
const userIndexRetry = time.Minute

// users returns the index collection.
func (s *Store) users() *mongo.Collection {
	return s.coll.Database().Collection(s.coll.Name() + usersSuffix)
}

// UsersCollection returns the name of the user index collection.
func (s *Store) UsersCollection() string { return s.coll.Name() + usersSuffix }

// entryID is the _id of the entry of user's session id.
func entryID(user, id string) bson.D {
	return bson.D{{Key: fieldUser, Value: user}, {Key: fieldSID, Value: id}}
}

// userIndex is one of the index collection's secondary indexes, and what
// goes slower without it.
type userIndex struct {
	model   mongo.IndexModel
	field   string // the indexed field, for messages
	without string // what a missing index costs, for messages
}

// userIndexSpecs returns the index collection's secondary indexes that the
// store creates: the listing's, and, without WithTTLIndex, the pruning's
// (New made WithTTLIndex's TTL index on expires, which serves it too).
func (s *Store) userIndexSpecs() []userIndex {
	out := []userIndex{{
		model:   mongo.IndexModel{Keys: bson.D{{Key: fieldID + "." + fieldUser, Value: 1}}},
		field:   fieldID + "." + fieldUser,
		without: "listing a user's sessions scans the collection",
	}}
	if !s.cfg.ttlIndex {
		out = append(out, userIndex{
			model:   mongo.IndexModel{Keys: bson.D{{Key: fieldExpires, Value: 1}}},
			field:   fieldExpires,
			without: "pruning every user's expired entries (PurgeExpired, the interval cleanup) scans the collection",
		})
	}
	return out
}

// indexOutcome is what ensureUserIndexes makes of the answer to the
// creation of one index.
type indexOutcome int

const (
	indexMade indexOutcome = iota
	// indexExists: the collection has an index on the same keys with
	// other options (IndexOptionsConflict), such as the TTL index on
	// expires of a run with WithTTLIndex. It serves the store's queries
	// as its own would.
	indexExists
	// indexRetry: a timeout of the client's own or a network error; a
	// later call tries again.
	indexRetry
	// indexRefused: the server refused it (no permission, ...); the
	// store's queries go without it, and asking again would be refused
	// again.
	indexRefused
)

// indexOptionsConflict is the server's code for an index that exists on
// the same keys (and by the same name) with other options.
const indexOptionsConflict = 85

// userIndexOutcome classifies err, the answer to the creation of one
// index on a call whose context has not ended.
func userIndexOutcome(err error) indexOutcome {
	var se mongo.ServerError
	switch {
	case err == nil:
		return indexMade
	case errors.As(err, &se) && se.HasErrorCode(indexOptionsConflict):
		return indexExists
	case mongo.IsTimeout(err) || mongo.IsNetworkError(err):
		return indexRetry
	}
	return indexRefused
}

// logLine is what ensureUserIndexes logs when the creation of index had
// outcome: its level and message, or ok false for nothing. Only a missing
// index is a warning, which says what goes slower without it.
func (index userIndex) logLine(outcome indexOutcome) (level slog.Level, msg string, ok bool) {
	switch outcome {
	case indexExists:
		return slog.LevelDebug, "mongostore: the user index collection has an index on " + index.field + " with other options already (such as the TTL index of a run with WithTTLIndex); the store uses it", true
	case indexRetry:
		return slog.LevelWarn, "mongostore: cannot create the user index collection's index on " + index.field + " yet; " + index.without + " until it is made (tried again in a minute)", true
	case indexRefused:
		return slog.LevelWarn, "mongostore: cannot create the user index collection's index on " + index.field + "; " + index.without, true
	}
	return 0, "", false
}

// ensureUserIndexes creates the index collection's secondary indexes, once
// per store. A failure on the caller's context is returned, and the next
// call tries again. Any other failure is logged, and the call goes on
// without the index: the user index works without it, only slower (the
// log says what goes slower). An index on the same keys with other options
// (the TTL index of a run with WithTTLIndex, on expires) serves as well as
// the store's own, and is only noted at debug level. A timeout of the
// client's own (its Timeout, or the server's maxTimeMS) or a network error
// is tried again by the first call userIndexRetry later, as the caller's
// context would have been; an index the server refuses (no permission) is
// not asked for again, since it would be refused every time. A caller that
// finds another creating them waits no longer than its ctx. A creation
// that the caller's ctx failed (see endedByContext), ended or too near its
// deadline to send the command, is returned like a failure to wait.
func (s *Store) ensureUserIndexes(ctx context.Context) error {
	ix := &s.userIndexes
	if ix.done.Load() || s.cfg.now().UnixNano() < ix.retryAt.Load() {
		return nil
	}
	release, err := acquire(ctx, ix.lock)
	if err != nil {
		return err
	}
	defer release()
	if ix.done.Load() || s.cfg.now().UnixNano() < ix.retryAt.Load() {
		return nil
	}
	// One createIndexes per index: FerretDB v1 answers one of several
	// indexes that all exist (any store but the first on a collection) by
	// closing the connection, a panic of its own.
	for _, index := range s.userIndexSpecs() {
		_, err := s.users().Indexes().CreateOne(ctx, index.model)
		if err != nil {
			// The caller's context, not the server, failed it: no
			// warning, and the next call tries again.
			if err := endedByContext(ctx, err); err != nil {
				return err
			}
		}
		outcome := userIndexOutcome(err)
		if level, msg, ok := index.logLine(outcome); ok {
			s.cfg.logger.Log(ctx, level, msg, "collection", s.UsersCollection(), "field", index.field, "err", err)
		}
		if outcome == indexRetry {
			ix.retryAt.Store(s.cfg.now().Add(userIndexRetry).UnixNano())
			return nil
		}
	}
	ix.done.Store(true)
	return nil
}

// IndexUserSession records that session id belongs to user, used at used,
// until expires (zero: the default TTL from now). A new entry also prunes
// the user's entries more than session.IndexGrace past their expiry.
func (s *Store) IndexUserSession(ctx context.Context, user, id string, used, expires time.Time) error {
	if err := ctx.Err(); err != nil {
		return wrap("index user session", id, err)
	}
	if err := s.ensureUserIndexes(ctx); err != nil {
		return wrap("index user session", id, err)
	}
	now := s.cfg.now()
	set := bson.D{{Key: "$set", Value: bson.D{{Key: fieldUsed, Value: used}, {Key: fieldExpires, Value: s.expiry(expires, now)}}}}
	filter := bson.D{{Key: fieldID, Value: entryID(user, id)}}
	r, err := s.users().UpdateOne(ctx, filter, set, options.UpdateOne().SetUpsert(true))
	if mongo.IsDuplicateKeyError(err) {
		// Two upserts of one new entry raced: the other inserted it,
		// this one now finds and updates it.
		r, err = s.users().UpdateOne(ctx, filter, set, options.UpdateOne().SetUpsert(true))
	}
	if err != nil {
		return wrap("index user session", id, err)
	}
	if r.UpsertedCount == 0 {
		return nil
	}
	_, err = s.users().DeleteMany(ctx, bson.D{
		{Key: fieldID + "." + fieldUser, Value: user},
		{Key: fieldExpires, Value: bson.D{{Key: "$lt", Value: now.Add(-session.IndexGrace)}}},
	})
	if err != nil {
		return wrap("index user session: prune", id, err)
	}
	return nil
}

// UnindexUserSession deletes user's entry for session id: one deleteOne by
// its _id (session.UserIndexRemover). Deleting a missing entry is not an
// error.
func (s *Store) UnindexUserSession(ctx context.Context, user, id string) error {
	if err := ctx.Err(); err != nil {
		return wrap("unindex user session", id, err)
	}
	if _, err := s.users().DeleteOne(ctx, bson.D{{Key: fieldID, Value: entryID(user, id)}}); err != nil {
		return wrap("unindex user session", id, err)
	}
	return nil
}

// userEntry is one index entry as listed.
type userEntry struct {
	id            string
	used, expires time.Time
}

// UserSessions calls yield with the user's entries that are not more than
// session.IndexGrace past their expiry, each with its session's document,
// nil for a session that is gone, expired or unreadable. An entry whose
// used or expires is not a date (edited by hand) is yielded with the zero
// time for it; one without a date in expires is never pruned, and is
// listed so that its session can be destroyed.
func (s *Store) UserSessions(ctx context.Context, user string, yield func(id string, used, expires time.Time, data []byte)) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mongostore: user sessions: %w", err)
	}
	if err := s.ensureUserIndexes(ctx); err != nil {
		return fmt.Errorf("mongostore: user sessions: %w", err)
	}
	now := s.cfg.now()
	entries, err := s.userEntries(ctx, user, now.Add(-session.IndexGrace))
	if err != nil {
		return fmt.Errorf("mongostore: user sessions: %w", err)
	}
	data := make(map[string][]byte, len(entries))
	for i := 0; i < len(entries); i += inChunk {
		ids := make(bson.A, 0, min(inChunk, len(entries)-i))
		for _, e := range entries[i:min(i+inChunk, len(entries))] {
			ids = append(ids, e.id)
		}
		if err := s.liveSessions(ctx, ids, now, data); err != nil {
			return fmt.Errorf("mongostore: user sessions: %w", err)
		}
	}
	for _, e := range entries {
		yield(e.id, e.used, e.expires, data[e.id])
	}
	return nil
}

// userEntries reads the user's entries that expire at or after cutoff, and
// those whose expires is not a date (edited by hand, or missing), which
// nothing prunes: they are listed with a zero expiry, so that their
// sessions can be destroyed.
func (s *Store) userEntries(ctx context.Context, user string, cutoff time.Time) ([]userEntry, error) {
	cur, err := s.users().Find(ctx, bson.D{
		{Key: fieldID + "." + fieldUser, Value: user},
		{Key: "$or", Value: bson.A{
			bson.D{{Key: fieldExpires, Value: bson.D{{Key: "$gte", Value: cutoff}}}},
			bson.D{{Key: fieldExpires, Value: bson.D{{Key: "$not", Value: bson.D{{Key: "$type", Value: "date"}}}}}},
		}},
	})
	if err != nil {
		return nil, err
	}
	defer cur.Close(ctx)
	var entries []userEntry
	for cur.Next(ctx) {
		e, err := decodeEntry(cur.Current)
		if err != nil {
			s.cfg.logger.WarnContext(ctx, "mongostore: ignoring a user index entry that cannot be read", "collection", s.UsersCollection(), "err", err)
			continue
		}
		entries = append(entries, e)
	}
	return entries, cur.Err()
}

// decodeEntry reads an index document.
func decodeEntry(doc bson.Raw) (userEntry, error) {
	var e userEntry
	id, ok := doc.Lookup(fieldID).DocumentOK()
	if !ok {
		return e, errors.New("_id is not a document")
	}
	if e.id, ok = id.Lookup(fieldSID).StringValueOK(); !ok {
		return e, errors.New("_id.sid is not a string")
	}
	// A last use or an expiry that is not a date is unknown (the zero
	// time): the entry is still listed, so that DestroyUserSessions ends
	// its session.
	e.expires, _ = doc.Lookup(fieldExpires).TimeOK()
	e.used, _ = doc.Lookup(fieldUsed).TimeOK()
	return e, nil
}

// liveSessions adds to data the documents of the unexpired sessions of ids
// (one query); a session that cannot be read is left out, as Get does.
func (s *Store) liveSessions(ctx context.Context, ids bson.A, now time.Time, data map[string][]byte) error {
	cur, err := s.coll.Find(ctx, bson.D{
		{Key: fieldID, Value: bson.D{{Key: "$in", Value: ids}}},
		{Key: fieldExpires, Value: bson.D{{Key: "$gt", Value: now}}},
	})
	if err != nil {
		return err
	}
	defer cur.Close(ctx)
	for cur.Next(ctx) {
		id, ok := cur.Current.Lookup(fieldID).StringValueOK()
		if !ok {
			continue
		}
		d, _, err := decode(cur.Current)
		if err != nil {
			s.cfg.logger.WarnContext(ctx, "mongostore: ignoring a stored session that cannot be read", "id", shortid.Of(id), "err", err)
			continue
		}
		data[id] = d
	}
	return cur.Err()
}

// usersExpired is the filter of the entries more than session.IndexGrace
// past their expiry at now.
func (s *Store) usersExpired(now time.Time) bson.D {
	return bson.D{{Key: fieldExpires, Value: bson.D{{Key: "$lt", Value: now.Add(-session.IndexGrace)}}}}
}

// createUsersTTLIndex creates, for WithTTLIndex, the TTL index that lets
// the server delete entries session.IndexGrace past their expiry.
func (s *Store) createUsersTTLIndex(ctx context.Context) error {
	_, err := s.users().Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: fieldExpires, Value: 1}},
		Options: options.Index().SetExpireAfterSeconds(int32(session.IndexGrace / time.Second)),
	})
	if err != nil {
		return ttlIndexError(ctx, s.UsersCollection(), false, err)
	}
	return nil
}
