package boltstore

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/session/internal/testserver"
)

// corruptLeafFile is a file with one of the leaf pages of its 200
// sessions corrupt (corruptPageFile), which only a transaction that walks
// the sessions reaches.
func corruptLeafFile(t *testing.T) string {
	return corruptPageFile(t, 200, 200, func(typ string, count int) bool { return typ == "leaf" && count > 2 })
}

// TestSweeperSurvivesAPanicOfItsSweep: bbolt panics on a corrupt page, and
// a call's transaction raises the panic in the call's goroutine, where
// net/http recovers a request's. The sweeper's PurgeExpired raised it in
// the sweeper's goroutine, which nothing recovers: a file with one corrupt
// page ended the process a sweep interval after every start, though the
// requests that do not reach the page work. The sweeper now recovers it,
// logs it as a failed sweep, and sweeps again at its next tick.
func TestSweeperSurvivesAPanicOfItsSweep(t *testing.T) {
	var logs testserver.Output
	s, err := Open(corruptLeafFile(t), WithSweepInterval(0), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	// The store's own sweep loop, run here so that a panic it lets out
	// fails the test instead of ending the test binary.
	ctx, cancel := context.WithCancel(t.Context())
	s.sweepDone = make(chan struct{})
	panicked := make(chan any, 1)
	go func() {
		defer func() { panicked <- recover() }()
		s.sweepLoop(ctx, time.Millisecond)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(logs.String(), "sweeping expired sessions failed") < 2 {
		select {
		case p := <-panicked:
			cancel()
			t.Fatalf("the sweeper's goroutine panicked, which ends the process: %v", p)
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("no two failed sweeps logged within 10 s:\n%s", logs.String())
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if p := <-panicked; p != nil {
		t.Fatalf("the sweeper's goroutine panicked, which ends the process: %v", p)
	}
	if !strings.Contains(logs.String(), "Page expected to be") {
		t.Errorf("the failed sweep's log does not say what bbolt panicked with:\n%s", logs.String())
	}
}
