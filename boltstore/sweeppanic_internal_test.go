package boltstore

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// corruptLeafFile writes sessions to a fresh file, closes it, and fills one
// of the leaf pages of its sessions with bytes that are no page, as a disk or a copy can;
// bbolt panics when a transaction reads that page.
func corruptLeafFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sessions.db")
	s, err := Open(path, WithSweepInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	db := s.DB()
	exp := time.Now().Add(time.Hour).UnixNano()
	var leaf, pageSize int64 = -1, int64(db.Info().PageSize)
	err = db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(s.bucket)
		for i := range 200 {
			if err := b.Put(fmt.Appendf(nil, "id%03d", i), encode(exp, uint64(i+1), make([]byte, 200))); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		err = db.View(func(tx *bbolt.Tx) error {
			for id := range tx.Size() / pageSize {
				if p, err := tx.Page(int(id)); err != nil {
					return err
				} else if p != nil && p.Type == "leaf" && p.Count > 2 { // sessions, not the root's buckets
					leaf = id
				}
			}
			return nil
		})
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if leaf < 0 {
		t.Fatal("no leaf page in the file")
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(bytes.Repeat([]byte{0xff, 0x13}, int(pageSize/2)), leaf*pageSize); err != nil {
		t.Fatal(err)
	}
	return path
}

// syncBuffer is a bytes.Buffer for a logger that the sweeper writes to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestSweeperSurvivesAPanicOfItsSweep: bbolt panics on a corrupt page, and
// a call's transaction raises the panic in the call's goroutine, where
// net/http recovers a request's. The sweeper's PurgeExpired raised it in
// the sweeper's goroutine, which nothing recovers: a file with one corrupt
// page ended the process a sweep interval after every start, though the
// requests that do not reach the page work. The sweeper now recovers it,
// logs it as a failed sweep, and sweeps again at its next tick.
func TestSweeperSurvivesAPanicOfItsSweep(t *testing.T) {
	var logs syncBuffer
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
