package demo

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/sessionkit/session/storeurl"
)

// Default values of the demo's settings.
const (
	DefaultAddr   = "127.0.0.1:8080"
	DefaultName   = "sid"
	DefaultMaxAge = 24 * time.Hour

	// DBFile and SecretFile are the names of the bbolt file and of the
	// generated secret, created in Config.Dir (the working directory).
	DBFile     = "sessiondemo.db"
	SecretFile = "sessiondemo.secret"
)

// Config holds the demo's settings. The zero value, apart from Addr, gives
// the defaults: a bbolt file and a generated secret in the working directory.
type Config struct {
	// Addr is the TCP address to listen on; "127.0.0.1:0" picks a free port.
	Addr string
	// StoreURL names the session store (see package storeurl). Empty means
	// the bbolt file DBFile in Dir.
	StoreURL string
	// Secrets sign the cookie: the first signs, all verify (key rotation).
	// Empty means the secret kept in the file SecretFile in Dir, generated on
	// first use.
	Secrets []string
	// Name is the session cookie's name; empty means DefaultName.
	Name string
	// MaxAge is the cookie's lifetime; zero makes a browser-session cookie.
	MaxAge time.Duration
	// TrustedProxies are the addresses of the reverse proxies in front of
	// the demo, and TrustedProxyHops their number, whatever their
	// addresses (session.Options.TrustedProxies and TrustedProxyHops; at
	// most one of them): their X-Forwarded-Proto https makes the cookie
	// Secure. Neither: no proxy is trusted.
	TrustedProxies   []netip.Prefix
	TrustedProxyHops int
	// Dir holds the default bbolt file and the secret file; empty means the
	// working directory.
	Dir string
	// Logger receives the demo's and the session manager's logs; nil
	// discards them.
	Logger *slog.Logger
}

// ParseConfig reads the demo's settings from command-line args (without the
// program name) and the environment, which getenv reads (os.Getenv, or a map
// in tests). A flag wins over its environment variable. Usage and flag
// errors are written to output, the usage listing SESSION_SECRET as
// "xxxxx" and SESSION_STORE redacted (storeurl.Redact) where it gives
// their values as defaults; -h returns flag.ErrHelp, a command-line mistake
// a *UsageError (already written), a bad environment variable a plain error.
func ParseConfig(args []string, getenv func(string) string, output io.Writer) (Config, error) {
	env := func(key, def string) string {
		if v := getenv(key); v != "" {
			return v
		}
		return def
	}
	fs := flag.NewFlagSet("sessiondemo", flag.ContinueOnError)
	fs.SetOutput(output)
	var cfg Config
	var secrets string
	fs.StringVar(&cfg.Addr, "addr", env("SESSIONDEMO_ADDR", DefaultAddr), "listen `address` (env SESSIONDEMO_ADDR)")
	// The usage lists each flag's default, its variable's value: the store
	// URL shows redacted, the secrets not at all.
	cfg.StoreURL, secrets = getenv("SESSION_STORE"), getenv("SESSION_SECRET")
	fs.Var(shownAs{&cfg.StoreURL, storeurl.Redact}, "store", "session store `URL`: mem://, bolt:///path/file.db, redis://host:port/db, ... (env SESSION_STORE; default: bolt file "+DBFile+" in the working directory)")
	fs.Var(shownAs{&secrets, func(string) string { return "xxxxx" }}, "secret", "cookie signing `secrets`, comma-separated, the first signs (env SESSION_SECRET; default: generated once into "+SecretFile+")")
	fs.StringVar(&cfg.Name, "name", env("SESSION_NAME", DefaultName), "session cookie `name` (env SESSION_NAME)")
	fs.DurationVar(&cfg.MaxAge, "max-age", DefaultMaxAge, "cookie lifetime, 0 for a browser-session cookie (env SESSION_MAX_AGE)")
	fs.Func("trusted-proxies", "reverse proxies in front of the demo, whose X-Forwarded-Proto counts: comma-separated CIDR `prefixes` or addresses, as Express's trust proxy list (env SESSION_TRUSTED_PROXIES)", func(v string) (err error) {
		cfg.TrustedProxies, err = parseProxies(v)
		return err
	})
	fs.IntVar(&cfg.TrustedProxyHops, "trusted-proxy-hops", 0, "`number` of reverse proxies in front of the demo, trusted whatever their addresses, as Express's trust proxy 1 (env SESSION_TRUSTED_PROXY_HOPS)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: sessiondemo [flags]\n\nA small web app that shows what sessionkit's sessions do.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return Config{}, err
		}
		return Config{}, &UsageError{err} // fs.Parse printed it and the usage
	}
	if fs.NArg() > 0 {
		err := fmt.Errorf("unexpected argument %q", fs.Arg(0))
		fmt.Fprintln(fs.Output(), err) // first, as fs.Parse does
		fs.Usage()
		return Config{}, &UsageError{err}
	}
	for _, s := range strings.Split(secrets, ",") {
		if s = strings.TrimSpace(s); s != "" {
			cfg.Secrets = append(cfg.Secrets, s)
		}
	}
	// An empty -addr, -secret, -store or -name is most likely a script's
	// variable that is not set: -addr "" would listen on every interface,
	// -secret "" sign with the secret generated in this directory, -store
	// "" give each of two load-balanced demos a bolt file of its own, and
	// -name "" quietly use the default name.
	for _, f := range []struct {
		name  string
		empty bool
	}{
		{"addr", strings.TrimSpace(cfg.Addr) == ""},
		{"secret", len(cfg.Secrets) == 0},
		{"store", strings.TrimSpace(cfg.StoreURL) == ""},
		{"name", strings.TrimSpace(cfg.Name) == ""},
	} {
		if f.empty && flagGiven(fs, f.name) {
			err := fmt.Errorf("-%s is empty; leave it out for its default", f.name)
			fmt.Fprintln(fs.Output(), err)
			fs.Usage()
			return Config{}, &UsageError{err}
		}
	}
	if secrets != "" && len(cfg.Secrets) == 0 {
		return Config{}, errors.New("SESSION_SECRET holds no secret, only commas and blanks; unset it for the generated one")
	}
	// SESSION_MAX_AGE is read only without -max-age, so that a bad value
	// in the environment does not stop a demo given the flag.
	maxAgeFrom := "-max-age"
	if v := getenv("SESSION_MAX_AGE"); v != "" && !flagGiven(fs, "max-age") {
		d, err := time.ParseDuration(v)
		if err != nil {
			return Config{}, fmt.Errorf("SESSION_MAX_AGE: %w", err)
		}
		cfg.MaxAge, maxAgeFrom = d, "SESSION_MAX_AGE"
	}
	if cfg.MaxAge < 0 {
		return Config{}, fmt.Errorf("%s must not be negative", maxAgeFrom)
	}
	// The proxy variables too are read only without their flag.
	proxiesFrom, hopsFrom := "-trusted-proxies", "-trusted-proxy-hops"
	if v := getenv("SESSION_TRUSTED_PROXIES"); v != "" && !flagGiven(fs, "trusted-proxies") {
		p, err := parseProxies(v)
		if err != nil {
			return Config{}, fmt.Errorf("SESSION_TRUSTED_PROXIES: %w", err)
		}
		cfg.TrustedProxies, proxiesFrom = p, "SESSION_TRUSTED_PROXIES"
	}
	if v := getenv("SESSION_TRUSTED_PROXY_HOPS"); v != "" && !flagGiven(fs, "trusted-proxy-hops") {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return Config{}, fmt.Errorf("SESSION_TRUSTED_PROXY_HOPS: %q is not a number of proxies", v)
		}
		cfg.TrustedProxyHops, hopsFrom = n, "SESSION_TRUSTED_PROXY_HOPS"
	}
	if cfg.TrustedProxyHops < 0 {
		return Config{}, fmt.Errorf("%s must not be negative", hopsFrom)
	}
	if len(cfg.TrustedProxies) > 0 && cfg.TrustedProxyHops > 0 {
		return Config{}, fmt.Errorf("%s and %s are both set: trust the proxies by their addresses or by their number, not both", proxiesFrom, hopsFrom)
	}
	return cfg, nil
}

// parseProxies reads a comma-separated list of CIDR prefixes ("10.0.0.0/8",
// "2001:db8::/32") and addresses ("127.0.0.1", a prefix of its own), as
// Express's trust proxy list takes them; blanks around an item, and empty
// items, are ignored.
func parseProxies(list string) ([]netip.Prefix, error) {
	var proxies []netip.Prefix
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		var p netip.Prefix
		var err error
		if strings.Contains(item, "/") {
			p, err = netip.ParsePrefix(item)
		} else {
			var a netip.Addr
			if a, err = netip.ParseAddr(item); err == nil {
				if a.Zone() != "" {
					return nil, fmt.Errorf("%q: an address with a zone is no proxy address", item)
				}
				p = netip.PrefixFrom(a, a.BitLen())
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%q is neither a CIDR prefix nor an IP address", item)
		}
		proxies = append(proxies, p)
	}
	return proxies, nil
}

// UsageError is a mistake on the command line (an unknown flag, a bad flag
// value, an argument), which ParseConfig has already written to its output,
// followed by the usage. The command exits with status 2 without writing
// it again.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// shownAs is a string flag whose value the usage shows through show: a
// secret's default, taken from the environment, must not show as it is.
type shownAs struct {
	value *string
	show  func(string) string
}

func (f shownAs) Set(v string) error { *f.value = v; return nil }

func (f shownAs) String() string {
	if f.value == nil || *f.value == "" {
		return ""
	}
	return f.show(*f.value)
}

// flagGiven reports whether the command line set the flag called name.
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}
