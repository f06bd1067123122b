package storetest

import (
	"testing"
	"time"

	"github.com/sessionkit/session"
)

// farFuture is an expiry in year 9999, a common "never expires". It is past
// time.Duration's range (about 292 years), so time.Until(farFuture) saturates.
var farFuture = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)

// testFarFutureExpiry pins that every write with an expiry of farFuture keeps
// the session: only an expiry in the past deletes. A store may keep it for
// less than that (its server's longest expiry), but must not drop it at once,
// as an overflowing TTL would.
func testFarFutureExpiry(t *testing.T, newStore func(*testing.T) session.Store, cfg *config) {
	st := newStore(t)
	t.Run("Set", func(t *testing.T) {
		id, data := NewID(), Document(100)
		mustSet(t, st, id, data, farFuture)
		mustGet(t, st, id, data)
	})
	t.Run("Touch", func(t *testing.T) {
		tc := capability[session.Toucher](t, st)
		id, data := NewID(), Document(100)
		mustSet(t, st, id, data, later())
		if found, err := tc.Touch(ctx(t), id, farFuture); err != nil || !found {
			t.Fatalf("Touch to year 9999: found %v, %v; want found", found, err)
		}
		mustGet(t, st, id, data)
	})
	t.Run("GetAndTouch", func(t *testing.T) {
		gt := capability[session.GetToucher](t, st)
		id, data := NewID(), Document(100)
		mustSet(t, st, id, data, later())
		if _, _, found, err := gt.GetAndTouch(ctx(t), id, farFuture); err != nil || !found {
			t.Fatalf("GetAndTouch to year 9999: found %v, %v; want found", found, err)
		}
		mustGet(t, st, id, data)
	})
	t.Run("CompareAndSwap", func(t *testing.T) {
		vs := capability[session.VersionedStore](t, st)
		id, created, swapped := NewID(), Document(100), Document(100)
		if _, ok, err := vs.CompareAndSwap(ctx(t), id, "", created, farFuture); err != nil || !ok {
			t.Fatalf("CompareAndSwap create to year 9999: swapped %v, %v", ok, err)
		}
		mustGet(t, st, id, created)
		_, v := getVersion(t, vs, id)
		if _, ok, err := vs.CompareAndSwap(ctx(t), id, v, swapped, farFuture); err != nil || !ok {
			t.Fatalf("CompareAndSwap to year 9999: swapped %v, %v", ok, err)
		}
		mustGet(t, st, id, swapped)
	})
	t.Run("TouchVersion", func(t *testing.T) {
		vt := capability[session.VersionToucher](t, st)
		vs := capability[session.VersionedStore](t, st)
		id, data := NewID(), Document(100)
		mustSet(t, st, id, data, later())
		read, v := getVersion(t, vs, id)
		if found, err := vt.TouchVersion(ctx(t), id, v, read, farFuture); err != nil || !found {
			t.Fatalf("TouchVersion to year 9999: found %v, %v; want found", found, err)
		}
		mustGet(t, st, id, data)
	})
}
