package storeurl_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/storeurl"
)

// stallAt makes proxy hold the server's answer to the first command that
// starts with cmd, and everything after it, until the test ends; the
// channel it returns is closed once that answer is held.
func stallAt(t *testing.T, proxy *testserver.Proxy, cmd string) <-chan struct{} {
	t.Helper()
	held, release := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { close(release) })
	proxy.LoseReply(cmd, func() {
		proxy.Stall()
		close(held)
		<-release
	})
	t.Cleanup(proxy.Heal)
	return held
}

// closeWithinBound calls closer.Close, of a store whose server stopped
// answering, and fails unless it returns within storeurl.CloseTimeout
// (and a little more) with an error wrapping context.DeadlineExceeded.
func closeWithinBound(t *testing.T, closer io.Closer) {
	t.Helper()
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
