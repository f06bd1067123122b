package memstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/sessionkit/session/internal/memshare"
	"github.com/sessionkit/session/memstore"
)

// TestEveryReadReturnsACopy changes the bytes each exported read returns,
// and reads the session again: the store's own bytes, which the manager
// reads without a copy (memshare), must stay as stored.
func TestEveryReadReturnsACopy(t *testing.T) {
	ctx := context.Background()
	const doc = `{"a":1}`
	reads := map[string]func(s *memstore.Store) []byte{
		"Get": func(s *memstore.Store) []byte {
			data, _, _ := s.Get(ctx, "x")
			return data
		},
		"GetVersion": func(s *memstore.Store) []byte {
			data, _, _, _ := s.GetVersion(ctx, "x")
			return data
		},
		"GetAndTouch": func(s *memstore.Store) []byte {
			data, _, _, _ := s.GetAndTouch(ctx, "x", time.Now().Add(time.Hour))
			return data
		},
		"UserSessions": func(s *memstore.Store) []byte {
			var data []byte
			s.UserSessions(ctx, "ada", func(_ string, _, _ time.Time, d []byte) { data = d })
			return data
		},
	}
	for name, read := range reads {
		t.Run(name, func(t *testing.T) {
			s := newStore(t)
			s.Set(ctx, "x", []byte(doc), time.Now().Add(time.Hour))
			s.IndexUserSession(ctx, "ada", "x", time.Now(), time.Now().Add(time.Hour))
			got := read(s)
			if string(got) != doc {
				t.Fatalf("%s = %q, want %s", name, got, doc)
			}
			copy(got, "XXXXXXX")
			if again, _, _, _ := memshare.Of(s).GetVersionShared(ctx, "x"); string(again) != doc {
				t.Fatalf("stored %q after the caller changed what %s returned, want %s", again, name, doc)
			}
		})
	}
}

// TestSharedBytesStayAsReadAfterAWrite reads a session without a copy, as
// the manager does (memshare), and writes it, with Set and with
// CompareAndSwap, a document of the same size each time: the bytes read
// must not change, since the request that read them decodes its values
// from them later.
func TestSharedBytesStayAsReadAfterAWrite(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	shared := memshare.Of(s)
	if shared == nil {
		t.Fatal("memshare.Of(a memstore) = nil")
	}
	exp := time.Now().Add(time.Hour)
	s.Set(ctx, "x", []byte(`{"a":1}`), exp)
	read, _, found, err := shared.GetAndTouchShared(ctx, "x", exp)
	if err != nil || !found {
		t.Fatal(found, err)
	}
	s.Set(ctx, "x", []byte(`{"a":2}`), exp)
	if string(read) != `{"a":1}` {
		t.Fatalf("bytes read = %s after a Set, want {\"a\":1}", read)
	}
	read, v, _, _ := shared.GetVersionShared(ctx, "x")
	if _, swapped, err := s.CompareAndSwap(ctx, "x", v, []byte(`{"a":3}`), exp); err != nil || !swapped {
		t.Fatal(swapped, err)
	}
	if string(read) != `{"a":2}` {
		t.Fatalf("bytes read = %s after a CompareAndSwap, want {\"a\":2}", read)
	}
}

// TestSharedReadsAreOnlyAMemstores: memshare.Of answers nil for anything
// else, so that the manager reads other stores through their methods.
func TestSharedReadsAreOnlyAMemstores(t *testing.T) {
	if r := memshare.Of(struct{ *memstore.Store }{newStore(t)}); r != nil {
		t.Fatalf("memshare.Of(a store wrapping a memstore) = %T, want nil", r)
	}
}
