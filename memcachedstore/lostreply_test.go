package memcachedstore_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/memcachedstore"
	"github.com/sessionkit/session/storetest"
)

// lostReplyStore returns a store on a proxy of a fresh memcached, the
// proxy, and a client of the server itself (past the proxy).
func lostReplyStore(t *testing.T) (*memcachedstore.Store, *testserver.Proxy, *memcache.Client) {
	t.Helper()
	srv := testserver.StartMemcached(t)
	proxy := testserver.StartProxy(t, srv.Addr)
	client := memcache.New(proxy.Addr)
	client.Timeout = 10 * time.Second
	direct := memcache.New(srv.Addr)
	direct.Timeout = 10 * time.Second
	t.Cleanup(func() { client.Close(); direct.Close() })
	return memcachedstore.New(client), proxy, direct
}

// storeFirst stores a session under id until exp, if stored, and returns
// its version ("" if not stored: the write to come is a create).
func storeFirst(t *testing.T, st *memcachedstore.Store, id string, exp time.Time, stored bool) string {
	t.Helper()
	if !stored {
		return ""
	}
	if err := st.Set(t.Context(), id, []byte(`{"n":"a"}`), exp); err != nil {
		t.Fatal(err)
	}
	_, ver, _, err := st.GetVersion(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return ver
}

// A write that memcached ran but whose answer a reset connection lost is
// sent again (on another connection); that second try finds the write's
// own item, not a parallel request's: the store reports the write done,
// where it reported a conflict (a compare-and-swap) or the id taken (a
// create), and the manager then applied the request's changes a second
// time over its own write (a flash message shown twice) or moved a new
// session to another id, leaving the first one stored, reachable by no one.
func TestAWriteSentAgainAfterItsAnswerWasLostSucceeds(t *testing.T) {
	for _, c := range []struct {
		name, command string
		stored        bool // the session is stored before the write
	}{
		{"CompareAndSwap", "cas ", true},
		{"create", "add ", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			st, proxy, _ := lostReplyStore(t)
			ctx := t.Context()
			id, exp := storetest.NewID(), time.Now().Add(time.Hour)
			old := storeFirst(t, st, id, exp, c.stored)
			want := []byte(`{"n":"b"}`)
			proxy.LoseReply(c.command, nil)
			_, swapped, err := st.CompareAndSwap(ctx, id, old, want, exp)
			if err != nil || !swapped {
				t.Errorf("CompareAndSwap whose first answer was lost: swapped %v, %v; want swapped", swapped, err)
			}
			if got, _, _ := st.Get(ctx, id); !bytes.Equal(got, want) {
				t.Errorf("stored %s; want %s", got, want)
			}
		})
	}
}

// A write sent again after its answer was lost, that finds a parallel
// request's write over its own (the other request came in between), still
// reports the conflict: the store holds other bytes than it sent.
func TestAWriteSentAgainOverAParallelWriteReportsTheConflict(t *testing.T) {
	for _, c := range []struct {
		name, command string
		stored        bool
	}{
		{"CompareAndSwap", "cas ", true},
		{"create", "add ", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			st, proxy, direct := lostReplyStore(t)
			ctx := t.Context()
			id, exp := storetest.NewID(), time.Now().Add(time.Hour)
			old := storeFirst(t, st, id, exp, c.stored)
			other := []byte(`{"n":"other"}`)
			proxy.LoseReply(c.command, func() {
				// Another request writes its session over ours, as the
				// store does (the same item flags).
				it, err := direct.Get(id)
				if err != nil {
					t.Error(err)
					return
				}
				it.Value = other
				if err := direct.CompareAndSwap(it); err != nil {
					t.Error(err)
				}
			})
			_, swapped, err := st.CompareAndSwap(ctx, id, old, []byte(`{"n":"b"}`), exp)
			if err != nil || swapped {
				t.Errorf("CompareAndSwap over a parallel write: swapped %v, %v; want a conflict", swapped, err)
			}
			if got, _, _ := st.Get(ctx, id); !bytes.Equal(got, other) {
				t.Errorf("stored %s; want the parallel write's %s", got, other)
			}
		})
	}
}

// A create over an item that holds no session (here a Buffer the Node
// client stored, flags 4; an earlier version's item past its exact expiry
// is another) replaces that item with a cas from its CAS id. When the cas
// finds no item under the id at all (the item went since the gets: it
// expired, or was deleted; here it is deleted while the answer of the
// cas's first try is lost, and the try again finds nothing), the id is
// free: the create adds again and stores the session, where it reported
// the id taken, and the manager moved the new session to another id,
// logging that GenerateID repeated a stored session's id (a save failing
// with ErrConflict when that id was the request cookie's).
func TestACreateWhoseCasOverAGoneItemFindsNothingAddsAgain(t *testing.T) {
	st, proxy, direct := lostReplyStore(t)
	ctx := t.Context()
	id, exp := storetest.NewID(), time.Now().Add(time.Hour)
	if err := direct.Set(&memcache.Item{Key: id, Value: []byte("a Buffer"), Flags: 4, Expiration: 3600}); err != nil {
		t.Fatal(err)
	}
	proxy.LoseReply("cas ", func() {
		if err := direct.Delete(id); err != nil {
			t.Error(err)
		}
	})
	want := []byte(`{"n":"new"}`)
	_, swapped, err := st.CompareAndSwap(ctx, id, "", want, exp)
	if err != nil || !swapped {
		t.Errorf("create whose cas found nothing under the id: swapped %v, %v; want swapped", swapped, err)
	}
	if got, _, _ := st.Get(ctx, id); !bytes.Equal(got, want) {
		t.Errorf("stored %s; want %s", got, want)
	}
	if n := proxy.LostReplies(); n != 1 {
		t.Fatalf("the proxy lost %d answers, want the cas's 1", n)
	}
}
