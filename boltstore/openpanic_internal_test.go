package boltstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
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

// debugPanicLogger is a bbolt.Logger whose Debugf panics with its value,
// as a logger with a bug can; its other methods discard.
type debugPanicLogger struct {
	*bbolt.DefaultLogger
	value any
}

func (l debugPanicLogger) Debugf(string, ...any) { panic(l.value) }

// TestAPanicOfTheBboltLoggerAsNewReadsTheFileIsNotACorruptFile: New reads
// the database first in a guard that turns a panic of bbolt on a corrupt
// page into ErrCorruptFile, and it turned every panic there into it: a
// panic of the bbolt Logger the application gave bbolt.Open, which bbolt
// calls as New begins its first transactions, became "the file is
// corrupt: bbolt panicked reading it", the logger's bug hidden and a
// healthy file blamed. The guard now recovers only a panic raised in
// bbolt's code (or a fault of its memory map); the logger's panic goes on
// to the caller, with its own value.
func TestAPanicOfTheBboltLoggerAsNewReadsTheFileIsNotACorruptFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	type loggerBug struct{}
	lg := debugPanicLogger{&bbolt.DefaultLogger{Logger: log.New(io.Discard, "", 0)}, loggerBug{}}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second, Logger: lg})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var got any
	var s *Store
	func() {
		defer func() { got = recover() }()
		s, err = New(db, WithSweepInterval(0))
	}()
	if got == nil {
		if err == nil {
			s.Close()
		}
		t.Fatalf("New over a database whose bbolt Logger panics returned (%v), where the logger's panic should reach the caller", err)
	}
	if _, ok := got.(loggerBug); !ok {
		t.Fatalf("New panicked with %v, not the logger's value", got)
	}
}

// TestAFaultOutsideBboltsCodeAsTheFileIsOpenedIsACorruptFile: the guard
// of the first reads of the file recovers only a panic raised in bbolt's
// code, or a fault of the memory map wherever it happens: bbolt hands out
// keys that point into the map, and compares them with the standard
// library's bytes.Compare, so a key that a corrupt page places past the
// end of the file faults there, outside bbolt's code. That fault is the
// file's, and New fails with ErrCorruptFile.
func TestAFaultOutsideBboltsCodeAsTheFileIsOpenedIsACorruptFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	s, err := Open(path, WithSweepInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		mustSet(t, s, fmt.Sprint("id", i), "x", time.Now().Add(time.Hour))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var root, pageSize, size int64
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second, ReadOnly: true, PreLoadFreelist: true})
	if err != nil {
		t.Fatal(err)
	}
	pageSize = int64(db.Info().PageSize)
	err = db.View(func(tx *bbolt.Tx) error {
		size = tx.Size()
		for id := range tx.Size() / pageSize {
			if p, err := tx.Page(int(id)); err != nil {
				return err
			} else if p != nil && p.Type == "leaf" {
				root = id // the only leaf: the root, the sessions' bucket inline in it
			}
		}
		return nil
	})
	db.Close()
	if err != nil || root == 0 {
		t.Fatalf("no root leaf (%v)", err)
	}
	// The file as a backup has it (Tx.WriteTo writes the pages its last
	// commit uses, no more), and the root's first key placed past its
	// end, within the 32 KiB bbolt maps at least: a read of the key
	// faults (SIGBUS).
	elem := root*pageSize + 16
	pos := size + 64 - elem
	if elem+pos >= 32<<10 {
		t.Fatalf("the last commit uses %d bytes: no room for a key past them within bbolt's smallest map", size)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(binary.NativeEndian.AppendUint32(nil, uint32(pos)), elem+4); err != nil {
		t.Fatal(err)
	}
	f.Close()

	db, err = bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	noCrash(t, "New", func() { s, err = New(db, WithSweepInterval(0)) })
	if err == nil {
		s.Close()
		t.Fatal("New over a database whose root's key lies past the end of its file succeeded")
	}
	if !errors.Is(err, ErrCorruptFile) || !strings.Contains(err.Error(), path) {
		t.Errorf("unclear error: %v", err)
	}
}
