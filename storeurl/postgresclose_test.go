package storeurl_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/storeurl"
)

// TestPostgresURLCloseReturnsWhenTheServerStopsAnswering: the closer of a
// postgres URL returns within its bound, with an error wrapping
// context.DeadlineExceeded, while a store call without a deadline waits on
// a server that stopped answering. pgx's pool.Close waits for the
// connections in use, and the closer waited with it: for as long as TCP
// took to give up on the server (still waiting after 20 s here).
func TestPostgresURLCloseReturnsWhenTheServerStopsAnswering(t *testing.T) {
	pg := testserver.SharedPostgres(t)
	proxy := testserver.StartProxy(t, pg.Addr)
	dsn := strings.Replace(pg.NewDatabase(t), pg.Addr, proxy.Addr, 1)
	st, closer, err := storeurl.Open(t.Context(), dsn+"&create_table=true&cleanup_interval=0")
	if err != nil {
		t.Fatal(err)
	}
	inFlight, release := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { close(release) })
	// The server runs the Get's SELECT; its answer, and everything
	// after, is held.
	proxy.LoseReply("SELECT sess", func() {
		proxy.Stall()
		close(inFlight)
		<-release
	})
	t.Cleanup(proxy.Heal)
	go st.Get(context.Background(), "a")
	select {
	case <-inFlight:
	case <-time.After(10 * time.Second):
		t.Fatal("the Get did not reach the server in 10s")
	}
	closed := make(chan error, 1)
	start := time.Now()
	go func() { closed <- closer.Close() }()
	select {
	case err := <-closed:
		if took := time.Since(start); took > storeurl.CloseTimeout+2*time.Second {
			t.Errorf("Close took %v, over its bound of %v", took, storeurl.CloseTimeout)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Close gave up waiting with %v, want an error wrapping context.DeadlineExceeded", err)
		}
	case <-time.After(storeurl.CloseTimeout + 10*time.Second):
		t.Fatalf("Close still waits %v after the server stopped answering", time.Since(start))
	}
}
