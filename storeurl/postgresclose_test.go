package storeurl_test

import (
	"context"
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
	// The server runs the Get's SELECT; its answer, and everything
	// after, is held.
	inFlight := stallAt(t, proxy, "SELECT sess")
	go st.Get(context.Background(), "a")
	select {
	case <-inFlight:
	case <-time.After(10 * time.Second):
		t.Fatal("the Get did not reach the server in 10s")
	}
	closeWithinBound(t, closer)
}

// TestPostgresURLCloseReturnsWhenTheServerStopsAnsweringMidPurge: the
// closer keeps its bound while the cleanup's purge waits on a server that
// stopped answering. The store's Close waits for a purge it stops until
// the server has cancelled or ended it (pgx gives up after 15 s), and the
// closer waited for it outside its bound.
func TestPostgresURLCloseReturnsWhenTheServerStopsAnsweringMidPurge(t *testing.T) {
	pg := testserver.SharedPostgres(t)
	proxy := testserver.StartProxy(t, pg.Addr)
	dsn := strings.Replace(pg.NewDatabase(t), pg.Addr, proxy.Addr, 1)
	_, closer, err := storeurl.Open(t.Context(), dsn+"&create_table=true&cleanup_interval=10ms")
	if err != nil {
		t.Fatal(err)
	}
	// Held from the first purge after Open: one held before Open returned
	// (the cleanup starts within it) held Open's own check of the table,
	// and the test hung until go test's timeout.
	inFlight := stallAt(t, proxy, "DELETE FROM")
	select {
	case <-inFlight:
	case <-time.After(10 * time.Second):
		t.Fatal("the cleanup's purge did not reach the server in 10s")
	}
	closeWithinBound(t, closer)
}
