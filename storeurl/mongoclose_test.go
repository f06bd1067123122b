package storeurl_test

import (
	"testing"
	"time"

	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/storeurl"
)

// TestMongoURLCloseReturnsWhenTheServerStopsAnswering: the closer of a
// mongodb URL returns within its bound, with an error wrapping
// context.DeadlineExceeded, when the server stops answering during a check
// of the driver's monitor. It disconnected with a context that never ends
// and waited for the driver, which waits for the check up to
// connectTimeoutMS (30 s) and for the next: Close took a minute here.
func TestMongoURLCloseReturnsWhenTheServerStopsAnswering(t *testing.T) {
	srv := testserver.SharedMongo(t)
	_, db := srv.NewDatabase(t)
	proxy := testserver.StartProxy(t, srv.Addr)
	_, closer, err := storeurl.Open(t.Context(), "mongodb://"+proxy.Addr+"/"+db+"?heartbeatFrequencyMS=500")
	if err != nil {
		t.Fatal(err)
	}
	// The server answers the monitor's next check (hello or isMaster,
	// with helloOk); the proxy holds the answer and everything after.
	inCheck := stallAt(t, proxy, "hello")
	select {
	case <-inCheck:
	case <-time.After(10 * time.Second):
		t.Fatal("no check of the monitor reached the server in 10s with heartbeatFrequencyMS=500")
	}
	closeWithinBound(t, closer)
}
