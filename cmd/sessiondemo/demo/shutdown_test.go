package demo

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"
)

// A request still in flight when the shutdown's time runs out (here one
// whose body never ends) is cut off: its connection is closed before the
// store is, and the error says what happened, where it read only "demo:
// shutdown: context deadline exceeded" and left the connection open on a
// closed store.
func TestAShutdownThatRunsOutOfTimeCutsOffTheRequestsAndSaysSo(t *testing.T) {
	s, err := Start(t.Context(), Config{
		Addr:    "127.0.0.1:0",
		Dir:     t.TempDir(),
		Secrets: []string{"a secret of the shutdown test"},
		MaxAge:  time.Hour,
		Logger:  slog.New(slog.NewTextHandler(t.Output(), nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	// A raw connection, so that the test knows the handler runs: the
	// server answers "100 Continue" when the handler first reads the body.
	conn, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "PUT /api/session HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n", s.Addr())
	r := bufio.NewReader(conn)
	if line, err := r.ReadString('\n'); err != nil || !strings.Contains(line, "100 Continue") {
		t.Fatalf("read %q, %v; want 100 Continue", line, err)
	}
	r.ReadString('\n') // the blank line after it
	fmt.Fprint(conn, `{"slow":`)

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err = s.Shutdown(ctx)
	if err == nil || !strings.Contains(err.Error(), "in flight") {
		t.Errorf("Shutdown: %v; want an error saying requests in flight were cut off", err)
	}
	// The connection is closed: no answer, and no wait for one.
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if rest, err := io.ReadAll(r); err != nil || len(rest) > 0 {
		t.Errorf("after the shutdown the connection read %q, %v; want it closed without an answer", rest, err)
	}
}
