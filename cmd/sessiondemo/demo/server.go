// Package demo is sessionkit's demo application: a small web app with a
// visit counter, a session inspector, log in and log out, flash messages and
// a JSON API over the same session. The sessiondemo command runs it; tests
// (including the real-browser test in the e2e module) start it in-process.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	berrors "go.etcd.io/bbolt/errors"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/memstore"
	"github.com/sessionkit/session/storeurl"
)

// Server is a running demo: an HTTP server on a listener, a session manager
// and the store it opened.
type Server struct {
	srv    *http.Server
	ln     net.Listener
	closer io.Closer
	log    *slog.Logger
	served chan error

	stopOnce sync.Once
	stopErr  error
}

// Start opens the store, listens on cfg.Addr and serves in the background
// until Shutdown. ctx bounds the opening of the store only. A start that
// fails writes no secret file, and a bad cookie name or address is found
// before the store creates its bolt file.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dir := cfg.Dir
	if dir == "" {
		dir = "."
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}

	name := cfg.Name
	if name == "" {
		name = DefaultName
	}
	// The demo serves plain HTTP, so its SecureAuto cookie is not Secure
	// unless a trusted proxy says https, and browsers drop a cookie with
	// either prefix that is not: without a trusted proxy, such a name
	// never works.
	behindProxy := len(cfg.TrustedProxies) > 0 || cfg.TrustedProxyHops > 0
	for _, prefix := range []string{"__Host-", "__Secure-"} {
		if !behindProxy && len(name) >= len(prefix) && strings.EqualFold(name[:len(prefix)], prefix) {
			return nil, fmt.Errorf("demo: cookie name %q: the demo serves plain HTTP, where its cookie is not Secure, and browsers drop a %s cookie that is not Secure; choose a name without the prefix, or run the demo behind an HTTPS proxy it trusts (-trusted-proxies, -trusted-proxy-hops)", name, prefix)
		}
	}
	opts := session.Options{
		Secrets: cfg.Secrets,
		Name:    name,
		Cookie: session.CookieOptions{
			Path:     "/",
			MaxAge:   cfg.MaxAge,
			Secure:   session.SecureAuto,
			SameSite: session.SameSiteLax,
		},
		TrustedProxies:   cfg.TrustedProxies,
		TrustedProxyHops: cfg.TrustedProxyHops,
		Logger:           log,
	}
	// Nothing is written before every setting has been checked: a bad
	// cookie name or address must not leave a generated secret, or a bolt
	// file, behind. session.New checks the options against a throwaway
	// store (and a stand-in secret when the real one is still to be read
	// or generated); the listener checks the address; the store is opened
	// before the secret file is written, since its URL may be wrong too.
	check := opts
	if len(check.Secrets) == 0 {
		check.Secrets = []string{"stand-in"}
	}
	probe := memstore.New(memstore.WithSweepInterval(0))
	check.Store, check.Logger = probe, slog.New(slog.DiscardHandler) // warnings come from the real one
	_, err = session.New(check)
	probe.Close()
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("demo: %w; another program (another sessiondemo?) holds the port: choose another with -addr or SESSIONDEMO_ADDR (127.0.0.1:0 picks a free one)", err)
		}
		return nil, fmt.Errorf("demo: %w", err)
	}

	// The log shows the store URL with its secrets redacted; the page,
	// public, shows only the scheme and the hosts.
	storeURL, logged := cfg.StoreURL, storeurl.Redact(cfg.StoreURL)
	if storeURL == "" {
		storeURL = (&url.URL{Scheme: "bolt", Path: filepath.Join(dir, DBFile)}).String()
		logged = storeURL // the absolute path: which file, wherever the demo was started
	}
	store, closer, err := storeurl.Open(ctx, storeURL)
	if err != nil {
		ln.Close()
		if cfg.StoreURL == "" && errors.Is(err, berrors.ErrTimeout) {
			// Most likely the README's two demos, started without -store.
			return nil, fmt.Errorf("demo: %w; is another sessiondemo running in %s? One process at a time holds the bolt file: stop the other one, start this one in another directory, or give both the same shared store with -store (redis://..., see \"Load balancing\" in the README)", err, dir)
		}
		return nil, fmt.Errorf("demo: %w", err)
	}

	if len(opts.Secrets) == 0 {
		path := filepath.Join(dir, SecretFile)
		secret, created, err := loadOrCreateSecret(path)
		if err != nil {
			ln.Close()
			closer.Close()
			return nil, fmt.Errorf("demo: %w", err)
		}
		if created {
			log.Warn("generated a new session secret and saved it beside the data; set -secret or SESSION_SECRET to choose your own", "file", path)
		} else {
			log.Warn("using the session secret saved in a file; set -secret or SESSION_SECRET to choose your own", "file", path)
		}
		opts.Secrets = []string{secret}
	}
	opts.Store = store
	m, err := session.New(opts)
	if err != nil {
		ln.Close()
		closer.Close()
		return nil, fmt.Errorf("demo: %w", err)
	}

	app := &app{
		cookieName: name,
		store:      publicStore(storeURL),
		log:        log,
		m:          m,
	}
	s := &Server{
		srv: &http.Server{
			Handler:           app.routes(m),
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		},
		ln:     ln,
		closer: closer,
		log:    log,
		served: make(chan error, 1),
	}
	go func() { s.served <- s.srv.Serve(ln) }()
	log.Info("sessiondemo listening", "url", s.URL(), "store", logged, "cookie", name)
	return s, nil
}

// Addr returns the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// URL returns the server's base URL, such as "http://127.0.0.1:8080".
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() }

// Shutdown stops accepting connections, waits for the requests in flight
// (until ctx is done: then it closes their connections and returns an error
// saying so), then closes the store. Later calls return the first call's
// result.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() { s.stopErr = s.shutdown(ctx) })
	return s.stopErr
}

func (s *Server) shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if err != nil && ctx.Err() != nil {
		// Time is up: close the connections of the requests still in
		// flight, which Shutdown leaves open, before the store goes.
		s.srv.Close()
		err = fmt.Errorf("the requests still in flight were cut off: %w", err)
	}
	if serr := <-s.served; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	if cerr := s.closer.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("close store: %w", cerr))
	}
	if err != nil {
		return fmt.Errorf("demo: shutdown: %w", err)
	}
	s.log.Info("sessiondemo stopped; store closed")
	return nil
}

// Run is the sessiondemo command: it parses args and the environment (see
// ParseConfig), logs to stderr, serves until ctx is done, then shuts down
// gracefully, giving requests in flight up to ten seconds.
func Run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	cfg, err := ParseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, nil))
	s, err := Start(ctx, cfg)
	if err != nil {
		return err
	}
	<-ctx.Done()
	cfg.Logger.Info("shutting down: waiting up to 10s for the requests in flight; interrupt again to stop at once")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return s.Shutdown(shutdownCtx)
}

// publicStore is what the page shows of the store URL: the scheme and, for
// a network store, the host list. Never the user info or the query, which
// may hold secrets, nor a file's path.
func publicStore(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return "(unparsable store URL)"
	}
	if u.Host == "" || u.Scheme == "bolt" {
		return u.Scheme
	}
	return u.Scheme + "://" + u.Host
}
