package boltstore

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// panicHandler is a slog.Handler whose Handle panics with its value.
type panicHandler struct{ value any }

func (panicHandler) Enabled(context.Context, slog.Level) bool    { return true }
func (h panicHandler) Handle(context.Context, slog.Record) error { panic(h.value) }
func (h panicHandler) WithAttrs([]slog.Attr) slog.Handler        { return h }
func (h panicHandler) WithGroup(string) slog.Handler             { return h }

// TestAPanicOfTheLoggerAsTheFileIsOpenedIsNotACorruptFile: Open and New
// turn a panic of bbolt as they read the file first into ErrCorruptFile,
// whose message says bbolt panicked and to remove the file. The log line
// of the user index moved from an earlier version's bucket was written in
// that guard too, so a panic of the application's log handler became
// "the file is corrupt": the handler's bug hidden, the healthy file
// blamed. The panic now goes on to the caller, as a panic of the handler
// does in every other call of the store.
func TestAPanicOfTheLoggerAsTheFileIsOpenedIsNotACorruptFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	s, err := Open(path, WithSweepInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// An earlier version's index, which Open moves and logs.
	now := time.Now()
	editFile(t, path, func(tx *bbolt.Tx) error {
		old, err := tx.CreateBucket([]byte(DefaultBucket + legacyUsersSuffix))
		if err != nil {
			return err
		}
		u, err := old.CreateBucket([]byte("u"))
		if err != nil {
			return err
		}
		return u.Put([]byte("sid"), entryOf(now.Add(time.Hour), now))
	})

	type handlerBug struct{}
	var got any
	func() {
		defer func() { got = recover() }()
		s, err = Open(path, WithSweepInterval(0), WithLogger(slog.New(panicHandler{handlerBug{}})))
	}()
	if got == nil {
		if err == nil {
			s.Close()
		}
		t.Fatalf("Open with a log handler that panics returned (%v), where the handler's panic should reach the caller", err)
	}
	if _, ok := got.(handlerBug); !ok {
		t.Fatalf("Open panicked with %v, not the log handler's value", got)
	}
	if errors.Is(err, ErrCorruptFile) {
		t.Fatalf("Open blamed the file: %v", err)
	}
}
