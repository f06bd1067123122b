package storeurl_test

import (
	"context"
	"errors"
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
	inCheck, release := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { close(release) })
	// The server answers the monitor's next check (hello or isMaster,
	// with helloOk); the proxy holds the answer and everything after.
	proxy.LoseReply("hello", func() {
		proxy.Stall()
		close(inCheck)
		<-release
	})
	t.Cleanup(proxy.Heal)
	select {
	case <-inCheck:
	case <-time.After(10 * time.Second):
		t.Fatal("no check of the monitor reached the server in 10s with heartbeatFrequencyMS=500")
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
