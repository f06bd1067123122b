package mongostore

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/mongo"
)

// specsByField returns the user index collection's indexes a store with
// cfg creates, by indexed field.
func specsByField(cfg config) map[string]userIndex {
	out := map[string]userIndex{}
	for _, ix := range (&Store{cfg: cfg}).userIndexSpecs() {
		out[ix.field] = ix
	}
	return out
}

// A deployment that ran with WithTTLIndex and then without it has a TTL
// index on the index collection's expires: the store's plain expires_1 is
// refused with IndexOptionsConflict. That index serves the pruning as the
// plain one would, so the store uses it and says so at debug level only;
// it used to warn that "listing a user's sessions scans the collection",
// which was false twice over (the listing's index was made, and the
// pruning's exists).
func TestUserIndexOnKeysIndexedWithOtherOptionsIsUsedWithoutAWarning(t *testing.T) {
	specs := specsByField(config{})
	expires, ok := specs[fieldExpires]
	if !ok {
		t.Fatal("without WithTTLIndex the store does not create the index on expires")
	}
	conflict := mongo.CommandError{Code: 85, Name: "IndexOptionsConflict",
		Message: `An existing index has the same name as the requested index. Requested index: { v: 2, key: { expires: 1 }, name: "expires_1" }, existing index: { v: 2, key: { expires: 1 }, name: "expires_1", expireAfterSeconds: 300 }`}
	for _, err := range []error{conflict, fmt.Errorf("create index: %w", conflict)} {
		if got := userIndexOutcome(err); got != indexExists {
			t.Errorf("userIndexOutcome(%v) = %d, want indexExists", err, got)
		}
	}
	level, msg, logged := expires.logLine(indexExists)
	if logged && level >= slog.LevelInfo {
		t.Errorf("an existing index on expires is logged at %v: %q; want debug at most", level, msg)
	}
	if strings.Contains(msg, "scans") {
		t.Errorf("an existing index on expires is logged as %q, saying something scans", msg)
	}
}

// A warning about an index the store could not create says what goes
// slower without that index: the listing without the one on _id.user,
// the pruning without the one on expires.
func TestUserIndexWarningSaysWhatGoesSlowerWithoutThatIndex(t *testing.T) {
	specs := specsByField(config{})
	network := mongo.CommandError{Code: 6, Name: "HostUnreachable", Labels: []string{"NetworkError"}}
	refused := mongo.CommandError{Code: 13, Name: "Unauthorized", Message: "not authorized to create indexes"}
	if got := userIndexOutcome(network); got != indexRetry {
		t.Errorf("a network error: outcome %d, want indexRetry", got)
	}
	if got := userIndexOutcome(refused); got != indexRefused {
		t.Errorf("a refusal: outcome %d, want indexRefused", got)
	}
	if got := userIndexOutcome(nil); got != indexMade {
		t.Errorf("no error: outcome %d, want indexMade", got)
	}
	for field, want := range map[string]struct{ says, not string }{
		fieldID + "." + fieldUser: {"listing a user's sessions scans", "pruning"},
		fieldExpires:              {"pruning every user's expired entries", "listing"},
	} {
		for _, outcome := range []indexOutcome{indexRetry, indexRefused} {
			level, msg, logged := specs[field].logLine(outcome)
			if !logged || level != slog.LevelWarn || !strings.Contains(msg, "index on "+field) || !strings.Contains(msg, want.says) || strings.Contains(msg, want.not) {
				t.Errorf("%s, outcome %d: logged %v at %v: %q; want a warning naming the index and saying %q", field, outcome, logged, level, msg, want.says)
			}
		}
		if _, msg, logged := specs[field].logLine(indexMade); logged {
			t.Errorf("%s made: logged %q", field, msg)
		}
	}

	// With WithTTLIndex, New made the index on expires (a TTL index).
	if _, ok := specsByField(config{ttlIndex: true})[fieldExpires]; ok {
		t.Error("with WithTTLIndex the store creates a second index on expires")
	}
}
