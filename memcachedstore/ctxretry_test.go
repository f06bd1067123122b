package memcachedstore_test

import (
	"context"
	"errors"
	"io"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/memcachedstore"
	"github.com/sessionkit/session/storetest"
)

// TestACommandIsNotSentAgainOnceTheContextIsDone: a command that fails on
// a connection the server closed is sent again only while the caller's
// context is live. Once it is done (the manager's StoreTimeout ran out,
// here a cancel as the first try's answer is lost), the store returns the
// context's error, with the connection's, where it sent the command again
// up to once per idle connection of the pool and once more (here 9 times
// in all; with a pool of 100, 101), each try bounded by the client's
// Timeout alone: a request held that many tries past its StoreTimeout,
// answered at last with an EOF, not a timeout, and a write landing long
// after the manager's deadline.
func TestACommandIsNotSentAgainOnceTheContextIsDone(t *testing.T) {
	const pool = 8
	data := []byte(`{"n":"b"}`)
	srv := testserver.StartMemcached(t)
	for _, c := range slices.Concat([]commandCase{
		{"Get", "gets ", true, func(ctx context.Context, st *memcachedstore.Store, id, _ string, _ time.Time) error {
			_, _, err := st.Get(ctx, id)
			return err
		}},
	}, writeCases(data), []commandCase{
		{"Destroy", "delete ", true, func(ctx context.Context, st *memcachedstore.Store, id, _ string, _ time.Time) error {
			return st.Destroy(ctx, id)
		}},
	}) {
		t.Run(c.name, func(t *testing.T) {
			proxy := testserver.StartProxy(t, srv.Addr)
			client := memcache.New(proxy.Addr)
			client.MaxIdleConns = pool
			client.Timeout = 10 * time.Second
			t.Cleanup(func() { client.Close() })
			st := memcachedstore.New(client)
			id, exp := storetest.NewID(), time.Now().Add(time.Hour)
			version := storeFirst(t, st, id, exp, c.stored)

			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			// The server runs each try and the proxy loses its answer,
			// closing the connection; the caller gives up as the first
			// answer is lost, before the store sees the connection end.
			proxy.LoseReply(c.command, cancel)
			proxy.LoseReplies(c.command, 1)
			err := c.call(ctx, st, id, version, exp)
			proxy.Heal()
			if n := proxy.LostReplies(); n != 1 {
				t.Errorf("the command went out %d times; want once, as the context was done when its connection broke", n)
			}
			if !errors.Is(err, context.Canceled) {
				t.Errorf("error %v; want one wrapping the context's, context.Canceled", err)
			}
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, syscall.ECONNRESET) {
				t.Errorf("error %v; want one that also wraps the broken connection's", err)
			}
		})
	}
}

// TestACompareAndSwapSentAgainThatCannotReadBackIsAnError: a cas whose
// first try's answer was lost is sent again, which finds another CAS id,
// its own write's or a parallel request's: the store reads the item back
// to tell them apart. When the context is done by then (here cancelled
// as the try again arrives), nothing is read, and the store returns the
// context's error, a write in doubt, not a conflict: its own write is
// stored, and a conflict would make the manager apply the request's
// changes again over it.
func TestACompareAndSwapSentAgainThatCannotReadBackIsAnError(t *testing.T) {
	st, proxy, _ := lostReplyStore(t)
	id, exp := storetest.NewID(), time.Now().Add(time.Hour)
	old := storeFirst(t, st, id, exp, true)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	proxy.LoseReply("cas ", func() {
		again := proxy.StallConnAt("cas ")
		go func() {
			<-again
			cancel()
			proxy.Heal()
		}()
	})
	_, swapped, err := st.CompareAndSwap(ctx, id, old, []byte(`{"n":"b"}`), exp)
	if swapped || !errors.Is(err, context.Canceled) {
		t.Errorf("CompareAndSwap sent again, the context done before it could read back: swapped %v, %v; want an error wrapping context.Canceled", swapped, err)
	}
}
