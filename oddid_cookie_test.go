package session

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// unfitStore is a counting memstore that cannot carry some ids, as
// memcachedstore (a space or control character, over 250 bytes), pgstore
// (a NUL) and redisstore (a key of the user index) cannot: it answers "no
// session" to reads, touches and destroys of one, and fails its writes.
type unfitStore struct{ *countingStore }

var errUnfitID = errors.New("unfitstore: the store cannot carry this id")

func unfit(id string) bool {
	return len(id) > 250 || strings.ContainsAny(id, "\x00 \n") || strings.HasPrefix(id, "{user:")
}

func (s unfitStore) Get(ctx context.Context, id string) ([]byte, bool, error) {
	if unfit(id) {
		return nil, false, nil
	}
	return s.countingStore.Get(ctx, id)
}

func (s unfitStore) GetVersion(ctx context.Context, id string) ([]byte, string, bool, error) {
	if unfit(id) {
		return nil, "", false, nil
	}
	return s.countingStore.GetVersion(ctx, id)
}

func (s unfitStore) Touch(ctx context.Context, id string, exp time.Time) (bool, error) {
	if unfit(id) {
		return false, nil
	}
	return s.countingStore.Touch(ctx, id, exp)
}

func (s unfitStore) Destroy(ctx context.Context, id string) error {
	if unfit(id) {
		return nil
	}
	return s.countingStore.Destroy(ctx, id)
}

func (s unfitStore) Set(ctx context.Context, id string, b []byte, exp time.Time) error {
	if unfit(id) {
		return errUnfitID
	}
	return s.countingStore.Set(ctx, id, b, exp)
}

func (s unfitStore) CompareAndSwap(ctx context.Context, id, old string, b []byte, exp time.Time) (string, bool, error) {
	if unfit(id) {
		return "", false, errUnfitID
	}
	return s.countingStore.CompareAndSwap(ctx, id, old, b, exp)
}

// TestCookieOfAnIDTheStoreCannotCarryGetsANewSession: a request whose
// cookie (validly signed: an earlier store or GenerateID issued it)
// carries an id that the store cannot carry, and so answers "no session"
// for, gets a new session, as for any session the store does not hold: a
// request that only reads it answers without a store write, and one that
// changes it stores it under a new id from GenerateID, never under the
// cookie's, which the store would refuse (a 500 on every request with
// that cookie).
func TestCookieOfAnIDTheStoreCannotCarryGetsANewSession(t *testing.T) {
	for name, id := range map[string]string{
		"NUL":             "id\x00x",
		"space":           "user 42",
		"user index key":  "{user:alice}",
		"978 bytes":       strings.Repeat("é", 488) + "xx",
		"newline and 978": "a\n" + strings.Repeat("x", 976),
	} {
		t.Run(name, func(t *testing.T) {
			cs := newCountingStore(t)
			m, _ := newTestManager(t, Options{Store: unfitStore{cs}})
			m.now = cs.clock.Now
			if len(id) > maxIDLen {
				t.Fatalf("setting up: id of %d bytes, over the %d the manager takes", len(id), maxIDLen)
			}
			cookie := m.signer.cookieValue(id)
			if got := mustID(t, m, cookie); got != id {
				t.Fatalf("setting up: the cookie carries %q", got)
			}
			b := newBrowser(t, m.Handler(readViews))
			b.cookie = cookie
			if rec := b.get("/"); rec.Code != 200 || rec.Body.String() != "0" {
				t.Fatalf("reading: %d %q; want 200 and a new session", rec.Code, rec.Body)
			}
			if cs.writes() != 0 {
				t.Errorf("reading wrote %d times; want none", cs.writes())
			}
			b.h = m.Handler(incrViews)
			if rec := b.get("/"); rec.Code != 200 || rec.Body.String() != "1" {
				t.Fatalf("writing: %d %q; want 200 and views 1 in a new session", rec.Code, rec.Body)
			}
			if newID := mustID(t, m, b.cookie); newID == id || unfit(newID) {
				t.Fatalf("the new session's cookie carries %q; want a new id the store holds", newID)
			}
			b.h = m.Handler(readViews)
			if rec := b.get("/"); rec.Body.String() != "1" {
				t.Errorf("next request: views %q; want 1 (the new session)", rec.Body)
			}
		})
	}
}
