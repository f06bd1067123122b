// Command ferretdb runs FerretDB, a MongoDB wire-protocol server, with its
// SQLite backend, for the tests of mongostore (internal/testserver starts it).
//
// It is a separate module so that FerretDB's dependencies stay out of the
// library's go.mod. `go install` of FerretDB's own command does not build
// outside its repository; this small main around the embeddable package
// github.com/FerretDB/FerretDB/ferretdb does.
//
//	ferretdb -listen 127.0.0.1:27017 -dir /tmp/data
//
// It prints "ferretdb ready on <addr>" once it accepts connections and runs
// until SIGINT or SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to listen on")
	dir := flag.String("dir", ".", "directory for the SQLite database files")
	level := flag.String("log-level", "warn", "log level: debug, info, warn or error")
	flag.Parse()
	if err := run(*listen, *dir, *level); err != nil {
		fmt.Fprintln(os.Stderr, "ferretdb:", err)
		os.Exit(1)
	}
}

func run(listen, dir, level string) error {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lv}))
	f, err := ferretdb.New(&ferretdb.Config{
		Listener: ferretdb.ListenerConfig{TCP: listen},
		Logger:   logger,
		Handler:  "sqlite",
		// The SQLite backend wants a file: URI naming a directory, with a
		// trailing slash. A test server holds nothing worth a flush to
		// disk: with synchronous off a commit still reaches the OS before
		// it is answered, so what a test wrote survives a kill and restart
		// (as PostgreSQL's fsync=off in internal/testserver), and a write
		// no longer waits for the disk (about 4x faster here).
		SQLiteURL: "file:" + abs + "/?_pragma=synchronous(off)",
	})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()

	// Run opens the listener; say "ready" only once it accepts connections.
	for {
		select {
		case err := <-done:
			return fmt.Errorf("stopped during start-up: %v", err)
		default:
		}
		if c, err := net.DialTimeout("tcp", listen, time.Second); err == nil {
			c.Close()
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Printf("ferretdb ready on %s\n", listen)
	return <-done
}
