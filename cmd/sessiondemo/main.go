// Command sessiondemo is sessionkit's demo: a small web app with a visit
// counter, a session inspector, log in and log out, flash messages and a
// JSON API over the same session.
//
//	go run ./cmd/sessiondemo                 # http://127.0.0.1:8080, bbolt file in the working directory
//	go run ./cmd/sessiondemo -store mem://   # in memory
//	go run ./cmd/sessiondemo -addr 127.0.0.1:8081 -store redis://127.0.0.1:6379/0
//
// Run it with -h for the flags and their environment variables.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/session/cmd/sessiondemo/demo"
)

func main() {
	// go-redis logs every failed dial to stderr, on lines of its own; the
	// demo reports a store it cannot reach once, in its own log (and the
	// session manager each failed request's store error).
	redis.SetLogger(quietLogger{})
	// The first interrupt (or SIGTERM) starts the graceful shutdown; from
	// then on the signals get their default handling, so that a second
	// Ctrl-C stops the demo at once instead of waiting for the requests in
	// flight. Run sees ctx done only once that is so.
	signals, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-signals.Done()
		stop()
		cancel()
	}()
	err := demo.Run(ctx, os.Args[1:], os.Getenv, os.Stderr)
	stop()
	cancel()
	var usage *demo.UsageError
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
	case errors.As(err, &usage):
		os.Exit(2) // written, with the usage, as the flag package does
	default:
		fmt.Fprintln(os.Stderr, "sessiondemo:", err)
		os.Exit(1)
	}
}

// quietLogger discards go-redis's internal log lines.
type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}
