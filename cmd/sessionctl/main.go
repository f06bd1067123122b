// Command sessionctl inspects and manages the sessions in any sessionkit
// store, named by a URL (see package storeurl):
//
//	sessionctl -store bolt:///var/lib/app/sessions.db list -limit 20
//	sessionctl -store redis://127.0.0.1:6379/0 show 8zRk...
//	sessionctl -store redis://127.0.0.1:6379/0 count
//	sessionctl -store bolt:///var/lib/app/sessions.db destroy 8zRk...
//	sessionctl -store bolt:///var/lib/app/sessions.db purge-expired
//	sessionctl -store bolt:///var/lib/app/sessions.db clear -yes
//	sessionctl -store redis://127.0.0.1:6379/0 user alice@example.com
//	sessionctl -store redis://127.0.0.1:6379/0 logout-user alice@example.com
//
// The store URL can also come from the SESSION_STORE environment variable.
// Messages, and the usage that lists it as -store's default, show it with
// its secrets hidden (storeurl.Redact).
// list, count and clear need a store that can enumerate its sessions (not
// Memcached); user and logout-user need a store that keeps a user index
// (session.UserIndex: not Memcached). An embedded bolt file can only be opened while no other process
// (say, the running application) holds it, and must exist: sessionctl
// adds create=false to a bolt URL that does not say, so that a mistyped
// path is an error rather than a new, empty store.
//
// Give a Redis URL the key prefixes the application's store uses: ?prefix=
// and, if it sets redisstore.WithUserIndexPrefix, ?user_index_prefix=. user
// and logout-user look for the index under that prefix, and, as the store
// does, move a user's index keys of the earlier layout (under the session
// prefix) to it: without user_index_prefix=sess:, sessionctl would move the
// index of an application of an earlier version, which keeps that layout,
// out of its sight (an application of this version that keeps it with
// WithUserIndexPrefix moves such keys back on its next use of the user).
//
// An ID that starts with "-" (one base64url session id in 64 does) goes
// after "--", or it is taken for a flag: sessionctl show -- -AbC...
//
// A session that list shows as unreadable (a Redis key of the wrong type,
// say) can be destroyed: destroy deletes it, its read error on stderr.
// destroy also removes the user's index entry for a session bound to a
// user, as the application's Manager.DestroyUserSession does. It learns
// the user from the stored document, which it reads as JSONCodec's: for
// an application with a Codec of its own (session.Options.Codec), name
// the user with -user (sessionctl destroy -user alice ID), or the entry
// stays, listing a session that is gone, until it expires.
//
// Exit status: 0 on success, 1 when the command failed (or, for destroy, the
// session did not exist; for list, a session could not be read), 2 for bad
// usage. The first Ctrl-C (or SIGTERM) cancels what sessionctl waits for,
// the second ends it at once.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/storeurl"
)

// StoreEnv is the environment variable read when -store is not given.
const StoreEnv = "SESSION_STORE"

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

func main() {
	// go-redis logs every failed dial to stderr; sessionctl reports the
	// error once, plainly, itself.
	redis.SetLogger(quietLogger{})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first signal cancels ctx; stopping then gives the next one its
	// default effect, ending the process even if something still waits
	// without watching ctx.
	context.AfterFunc(ctx, stop)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// quietLogger discards go-redis's internal log lines.
type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

// openStore opens a store from its URL; tests replace it to hand run a store
// they filled beforehand.
var openStore = storeurl.Open

// errUsage marks an error caused by the command line; run prints the usage.
var errUsage = errors.New("usage")

// cli is one invocation: its streams and the store it works on.
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	storeURL       string
	storeGiven     bool // -store was on the command line, $SESSION_STORE or not
	timeout        time.Duration
	store          session.Store
	deadlines      []time.Time // of every exchange with the store, for explain
}

// command is one subcommand.
type command struct {
	args  string // synopsis of the arguments after the command name
	help  string
	nargs int // number of positional arguments
	// setup registers the command's own flags on fs and returns what runs
	// the command once they are parsed.
	setup func(fs *flag.FlagSet) func(ctx context.Context, c *cli, args []string) error
}

var commands = map[string]*command{
	"list": {
		args: "[-limit N] [-offset N]",
		help: "list session ids with their cookie's expiry, sorted by id, a page at a time",
		setup: func(fs *flag.FlagSet) func(context.Context, *cli, []string) error {
			limit := fs.Int("limit", 100, "show at most `N` sessions (0: all)")
			offset := fs.Int("offset", 0, "skip the first `N` sessions")
			return func(ctx context.Context, c *cli, _ []string) error { return c.list(ctx, *limit, *offset) }
		},
	},
	"show": {
		args:  "ID",
		help:  "print one session's decoded document as indented JSON",
		nargs: 1,
		setup: func(*flag.FlagSet) func(context.Context, *cli, []string) error {
			return func(ctx context.Context, c *cli, args []string) error { return c.show(ctx, args[0]) }
		},
	},
	"count": {
		help: "print the number of unexpired sessions",
		setup: func(*flag.FlagSet) func(context.Context, *cli, []string) error {
			return func(ctx context.Context, c *cli, _ []string) error { return c.count(ctx) }
		},
	},
	"destroy": {
		args:  "[-user USERID] ID",
		help:  "delete one session (logs that user out) and its user's index entry",
		nargs: 1,
		setup: func(fs *flag.FlagSet) func(context.Context, *cli, []string) error {
			user := fs.String("user", "", "also remove this `USERID`'s index entry for the session: the user of a session "+
				"the application stores with a Codec of its own, which sessionctl cannot read")
			return func(ctx context.Context, c *cli, args []string) error { return c.destroy(ctx, args[0], *user) }
		},
	},
	"purge-expired": {
		help: "delete expired sessions now (for stores that do not expire them by themselves)",
		setup: func(*flag.FlagSet) func(context.Context, *cli, []string) error {
			return func(ctx context.Context, c *cli, _ []string) error { return c.purgeExpired(ctx) }
		},
	},
	"clear": {
		args: "[-yes]",
		help: "delete every session in the store (logs everybody out); asks first",
		setup: func(fs *flag.FlagSet) func(context.Context, *cli, []string) error {
			yes := fs.Bool("yes", false, "do not ask for confirmation")
			return func(ctx context.Context, c *cli, _ []string) error { return c.clear(ctx, *yes) }
		},
	},
}

// run is the whole program: it parses args (without the program name), runs
// one command and returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := &cli{stdin: stdin, stdout: stdout, stderr: stderr, storeURL: os.Getenv(StoreEnv), timeout: 10 * time.Second}
	global := flag.NewFlagSet("sessionctl", flag.ContinueOnError)
	global.SetOutput(io.Discard)
	addCommonFlags(global, c)
	if err := global.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout, global)
			return exitOK
		}
		fmt.Fprintf(stderr, "sessionctl: %v\n\n", err)
		usage(stderr, global)
		return exitUsage
	}
	if global.NArg() == 0 {
		fmt.Fprint(stderr, "sessionctl: no command given\n\n")
		usage(stderr, global)
		return exitUsage
	}
	name := global.Arg(0)
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "sessionctl: unknown command %q\n\n", name)
		usage(stderr, global)
		return exitUsage
	}
	fs := flag.NewFlagSet("sessionctl "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	addCommonFlags(fs, c) // -store and -timeout also work after the command
	runCmd := cmd.setup(fs)
	cmdUsage := func(w io.Writer) {
		fmt.Fprintf(w, "usage: sessionctl [-store URL] %s %s\n\n%s\n\n", name, cmd.args, cmd.help)
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	if err := fs.Parse(global.Args()[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			cmdUsage(stdout)
			return exitOK
		}
		fmt.Fprintf(stderr, "sessionctl %s: %v\n", name, err)
		// A base64url session id starts with "-" one time in 64.
		if arg, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: "); ok && cmd.nargs > 0 {
			fmt.Fprintf(stderr, "(an argument that starts with \"-\" goes after \"--\": sessionctl %s -- %s)\n", name, arg)
		}
		fmt.Fprintln(stderr)
		cmdUsage(stderr)
		return exitUsage
	}
	if fs.NArg() != cmd.nargs {
		fmt.Fprintf(stderr, "sessionctl %s: want %d argument(s), got %d\n\n", name, cmd.nargs, fs.NArg())
		cmdUsage(stderr)
		return exitUsage
	}
	if c.storeGiven && strings.TrimSpace(c.storeURL) == "" {
		// Most likely a script's variable that is not set; it overrides
		// $SESSION_STORE all the same.
		fmt.Fprintf(stderr, "sessionctl: -store is empty; give a store URL, or leave -store out to use $%s\n", StoreEnv)
		return exitUsage
	}
	if c.storeURL == "" {
		fmt.Fprintf(stderr, "sessionctl: no store: give -store URL or set %s (schemes: %s)\n", StoreEnv, strings.Join(storeurl.Schemes(), ", "))
		return exitUsage
	}
	if c.timeout <= 0 {
		fmt.Fprintln(stderr, "sessionctl: -timeout must be positive")
		return exitUsage
	}

	openCtx, cancel := c.deadline(ctx)
	st, closer, err := openStore(openCtx, c.openURL())
	cancel()
	if err != nil {
		fmt.Fprintf(stderr, "sessionctl: %v\n", c.explain(err))
		return exitFail
	}
	c.store = st
	if c.kind() == "mem" {
		fmt.Fprintln(stderr, "sessionctl: note: mem:// is a store in sessionctl's own memory, empty at start; it cannot see another process's sessions")
	}
	err = runCmd(ctx, c, fs.Args())
	if cerr := closer.Close(); cerr != nil && err == nil {
		err = cerr
	}
	if err != nil {
		if errors.Is(err, errUsage) {
			fmt.Fprintf(stderr, "sessionctl %s: %v\n", name, err)
			return exitUsage
		}
		fmt.Fprintf(stderr, "sessionctl %s: %v\n", name, c.explain(err))
		return exitFail
	}
	return exitOK
}

// addCommonFlags registers -store and -timeout, with the values c has so far
// as defaults, so that they work before and after the command name.
func addCommonFlags(fs *flag.FlagSet, c *cli) {
	fs.Var(storeFlag{&c.storeURL, &c.storeGiven}, "store", "the store `URL` (or $"+StoreEnv+")")
	fs.DurationVar(&c.timeout, "timeout", c.timeout, "give up on the store after this `duration`")
}

// storeFlag is the -store flag. It shows its value, the default that the
// usage prints ($SESSION_STORE, or the URL given before the command), with
// its secrets hidden (storeurl.Redact): the usage goes to stderr on every
// usage error.
type storeFlag struct {
	url   *string
	given *bool
}

func (f storeFlag) Set(v string) error { *f.url, *f.given = v, true; return nil }

func (f storeFlag) String() string {
	if f.url == nil || *f.url == "" {
		return ""
	}
	return storeurl.Redact(*f.url)
}

func usage(w io.Writer, global *flag.FlagSet) {
	fmt.Fprintf(w, "usage: sessionctl [-store URL] [-timeout D] COMMAND [ARGS]\n\ncommands:\n")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Fprintf(tw, "  %s %s\t%s\n", n, commands[n].args, commands[n].help)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nstore URLs: %s (see package storeurl)\n\nflags:\n", strings.Join(storeurl.Schemes(), ", "))
	global.SetOutput(w)
	global.PrintDefaults()
	global.SetOutput(io.Discard)
}

// deadline bounds one exchange with the store by -timeout. A command calls
// it around its store calls, not around questions to the user.
func (c *cli) deadline(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	if d, ok := ctx.Deadline(); ok {
		c.deadlines = append(c.deadlines, d)
	}
	return ctx, cancel
}

// timedOut reports whether an exchange with the store ran out of -timeout:
// its deadline has passed. (The context's error may not say so: a socket
// deadline set from it can fire before its timer, and the command's
// cancel then makes it context.Canceled.)
func (c *cli) timedOut() bool {
	now := time.Now()
	for _, d := range c.deadlines {
		if !now.Before(d) {
			return true
		}
	}
	return false
}

// explain makes an error about the store's server say so plainly. A
// network timeout once -timeout has run out is the store too slow, not
// out of reach: a client that sets its socket deadline from the context
// (go-redis) reports -timeout as an i/o timeout.
func (c *cli) explain(err error) error {
	var (
		opErr  *net.OpError
		dnsErr *net.DNSError
		netErr net.Error
	)
	switch {
	case errors.Is(err, context.DeadlineExceeded), c.timedOut() && errors.As(err, &netErr) && netErr.Timeout():
		return fmt.Errorf("the store at %s did not answer within %v (-timeout): %w", c.redactedURL(), c.timeout, err)
	case errors.As(err, &opErr), errors.As(err, &dnsErr):
		return fmt.Errorf("cannot reach the store at %s: %w", c.redactedURL(), err)
	case c.kind() == "bolt" && errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w (sessionctl opens a bolt file, never creates one; add create=true to the URL for an empty one)", err)
	}
	return err
}

// openURL is the URL sessionctl opens: the store URL, with create=false
// added to a bolt URL that does not say, since sessionctl inspects a file
// and never makes one: a mistyped path is an error, not an empty store.
func (c *cli) openURL() string {
	u, err := url.Parse(c.storeURL)
	if err != nil || !strings.EqualFold(u.Scheme, "bolt") || strings.Contains(c.storeURL, "#") {
		return c.storeURL // Open reports what is wrong
	}
	if _, given := u.Query()["create"]; given {
		return c.storeURL
	}
	switch {
	case strings.HasSuffix(c.storeURL, "?"), strings.HasSuffix(c.storeURL, "&"):
		return c.storeURL + "create=false"
	case strings.Contains(c.storeURL, "?"):
		return c.storeURL + "&create=false"
	}
	return c.storeURL + "?create=false"
}

// redactedURL is the store URL as messages show it: as typed, but for its
// secrets (storeurl.Redact), which url.URL.Redacted would leave in the query.
func (c *cli) redactedURL() string { return storeurl.Redact(c.storeURL) }

// kind names the store for messages: the URL scheme without its variants
// (rediss and redis+cluster are "redis").
func (c *cli) kind() string {
	u, err := url.Parse(c.storeURL)
	if err != nil || u.Scheme == "" {
		return "this store"
	}
	k, _, _ := strings.Cut(strings.ToLower(u.Scheme), "+")
	if k == "rediss" {
		k = "redis"
	}
	return k
}

func (c *cli) lister() (session.Lister, error) {
	l, ok := c.store.(session.Lister)
	if !ok {
		return nil, fmt.Errorf("%s cannot list sessions (the store is not a session.Lister); list, count and clear need one that can", c.kind())
	}
	return l, nil
}

// notADocument is what list shows for a stored value that is no session
// document.
const notADocument = "not a session document"

// expiry describes when a stored session's cookie expires.
func expiry(data []byte, now time.Time) string {
	doc, err := session.JSONCodec{}.Decode(data)
	if err != nil {
		return notADocument
	}
	if doc.Cookie.Expires == nil {
		return "browser-session"
	}
	return expiresAt(now, *doc.Cookie.Expires)
}

// expiresAt shows an expiry and how long after now it is, or, once it has
// passed (a stored cookie expiry lags behind the store's own when a touch
// extended only the latter, as on Redis), how long ago.
func expiresAt(now, t time.Time) string {
	at := t.UTC().Format(time.RFC3339)
	if ago := now.Sub(t).Round(time.Second); ago > 0 {
		return fmt.Sprintf("%s (expired %s ago)", at, ago)
	}
	return fmt.Sprintf("%s (in %s)", at, t.Sub(now).Round(time.Second))
}

// list shows a page of the stored sessions. -timeout bounds each exchange
// with the store, the listing of ids and each read, not the whole page: a
// long page of a remote store is not cut short while each answer is quick.
func (c *cli) list(ctx context.Context, limit, offset int) error {
	if limit < 0 || offset < 0 {
		return fmt.Errorf("%w: -limit and -offset must not be negative", errUsage)
	}
	l, err := c.lister()
	if err != nil {
		return err
	}
	idsCtx, cancel := c.deadline(ctx)
	ids, err := l.IDs(idsCtx)
	cancel()
	if err != nil {
		return err
	}
	slices.Sort(ids)
	total := len(ids)
	page := ids[min(offset, total):]
	if limit > 0 && len(page) > limit {
		page = page[:limit]
	}
	now := time.Now()
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tEXPIRES")
	var unreadable, undecodable []string
	for _, id := range page {
		data, found, err := c.read(ctx, id)
		if err != nil && !c.aboutOneSession(ctx, err) {
			tw.Flush()
			return err
		}
		shown := cell(id)
		switch {
		case err != nil:
			unreadable = append(unreadable, shown)
			fmt.Fprintf(c.stderr, "sessionctl list: session %s: %v\n", shown, err)
			fmt.Fprintf(tw, "%s\tunreadable: %s\n", shown, shortReason(err))
		case !found:
			fmt.Fprintf(tw, "%s\t%s\n", shown, "gone (expired or destroyed just now)")
		default:
			e := expiry(data, now)
			if e == notADocument {
				undecodable = append(undecodable, shown)
			}
			fmt.Fprintf(tw, "%s\t%s\n", shown, e)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	switch {
	case total == 0:
		fmt.Fprintln(c.stderr, "no sessions")
	case len(page) == 0:
		fmt.Fprintf(c.stderr, "no sessions at offset %d (%d in all)\n", offset, total)
	case offset+len(page) < total:
		fmt.Fprintf(c.stderr, "sessions %d-%d of %d; next page: -offset %d\n", offset+1, offset+len(page), total, offset+len(page))
	default:
		fmt.Fprintf(c.stderr, "sessions %d-%d of %d\n", offset+1, offset+len(page), total)
	}
	if len(undecodable) > 0 {
		fmt.Fprintf(c.stderr, "%d stored value(s) are not session documents sessionctl can read: %s (an application with the default JSONCodec takes them for no session; one with a Codec of its own may read them; sessionctl show ID says why, sessionctl destroy ID deletes one)\n", len(undecodable), strings.Join(undecodable, ", "))
	}
	if len(unreadable) > 0 {
		return fmt.Errorf("%d session(s) could not be read: %s (sessionctl destroy ID deletes one)", len(unreadable), strings.Join(unreadable, ", "))
	}
	return nil
}

// destroyCommand is the command line that destroys the session id, with
// flags (as "-user USERID") if any, as a message suggests it: an id that
// starts with "-" goes after "--", and one that a shell would split or
// expand is quoted.
func destroyCommand(id string, flags ...string) string {
	arg := id
	if arg == "" || strings.ContainsFunc(arg, func(r rune) bool {
		return !(r < utf8.RuneSelf && (r == '-' || r == '_' || r == '.' || r == ':' || r == '/' || r == '+' || r == '=' || r == '@' || r == ',' ||
			'0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z'))
	}) {
		arg = "'" + strings.ReplaceAll(cell(id), "'", `'\''`) + "'"
	}
	cmd := strings.Join(append([]string{"sessionctl destroy"}, flags...), " ")
	if strings.HasPrefix(id, "-") {
		return cmd + " -- " + arg
	}
	return cmd + " " + arg
}

// aboutOneSession reports whether err, from reading one session, is about
// that session (a Redis key of the wrong type, a corrupt bolt record), so
// that list shows it in its row and goes on, rather than about the store
// (unreachable, too slow, interrupted), which ends the listing. An error
// that is neither a network nor a context error counts as the session's
// only if the store still answers a read of an id that does not exist.
func (c *cli) aboutOneSession(ctx context.Context, err error) bool {
	var netErr net.Error
	switch {
	case ctx.Err() != nil, errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &netErr), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return false
	}
	_, _, probeErr := c.read(ctx, "sessionctl-probe-"+rand.Text())
	return probeErr == nil
}

// read is one Get under a -timeout of its own.
func (c *cli) read(ctx context.Context, id string) ([]byte, bool, error) {
	ctx, cancel := c.deadline(ctx)
	defer cancel()
	return c.store.Get(ctx, id)
}

// shortReason is err as one line of at most 80 characters, for a table row.
func shortReason(err error) string {
	s := strings.Join(strings.Fields(err.Error()), " ")
	if r := []rune(s); len(r) > 80 {
		s = string(r[:79]) + "…"
	}
	return cell(s)
}

// cell is s as a table shows it: its control characters (a tab would shift
// the columns, an escape sequence would drive the terminal), bidirectional
// formatting characters (which reorder what follows) and bytes that are not
// UTF-8 escaped as in a Go string ("\t", "\x1b", "\u202e"), the rest as it
// is. An id can be whatever a writer of the store chose; a recorded user
// agent or IP, whatever the client sent.
func cell(s string) string {
	if utf8.ValidString(s) && !strings.ContainsFunc(s, unsafeInCell) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, "\\x%02x", s[i])
		case unsafeInCell(r):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// unsafeInCell reports whether cell escapes r.
func unsafeInCell(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r)
}

func (c *cli) show(ctx context.Context, id string) error {
	ctx, cancel := c.deadline(ctx)
	defer cancel()
	data, found, err := c.store.Get(ctx, id)
	if err != nil {
		if c.aboutOneSession(ctx, err) {
			return fmt.Errorf("session %q cannot be read (%w); to delete it: %s", id, err, destroyCommand(id))
		}
		return err
	}
	if !found {
		return fmt.Errorf("no session %q (missing or expired)", id)
	}
	doc, err := session.JSONCodec{}.Decode(data)
	if err != nil {
		return fmt.Errorf("session %q is stored but is not a session document (%w): %.200q; an application with the default JSONCodec takes it for no session (one with a Codec of its own may read it), and %s deletes it", id, cellError{err}, data, destroyCommand(id))
	}
	canonical, err := session.JSONCodec{}.Encode(doc)
	if err != nil {
		return fmt.Errorf("session %q: %w", id, err)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, canonical, "", "  "); err != nil {
		return fmt.Errorf("session %q: %w", id, err)
	}
	out.WriteByte('\n')
	_, err = c.stdout.Write(escapeControls(out.Bytes()))
	return err
}

// cellError is err with its message as cell shows it: the codec's reason
// for refusing a stored document quotes the stored text it could not read
// (a cookie's expires or originalMaxAge), which may hold a control or
// bidirectional formatting character. errors.Is and errors.As see err.
type cellError struct{ err error }

func (e cellError) Error() string { return cell(e.err.Error()) }
func (e cellError) Unwrap() error { return e.err }

// escapeControls writes what cell escapes in a table (unsafeInCell: the
// control characters, DEL and the C1 controls among them, U+009B being one
// that some terminals take for the start of an escape sequence, and the
// bidirectional formatting characters, such as U+202E, which would reorder
// what follows so that the output reads as something else than what is
// stored) as \u escapes, which read back as the same characters; the
// newline is kept. A byte that is not UTF-8 (a lone 0x9B is CSI to a
// terminal in an 8-bit mode) it writes as \ufffd, as encoding/json reads
// it. Only a string can hold them, since json.Indent leaves nothing else
// but its own newlines and spaces: the output is the same JSON document,
// as encoding/json reads it. A stored value is whatever a client of the
// app sent, or another writer of the store left, and show prints it to
// the operator's terminal.
func escapeControls(b []byte) []byte {
	if utf8.Valid(b) && !bytes.ContainsFunc(b, isRawControl) {
		return b
	}
	out := make([]byte, 0, len(b)+16)
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		switch {
		case r == utf8.RuneError && n == 1:
			out = append(out, `\ufffd`...)
		case isRawControl(r):
			out = fmt.Appendf(out, `\u%04x`, r) // all in the BMP: one escape each
		default:
			out = append(out, b[:n]...)
		}
		b = b[n:]
	}
	return out
}

// isRawControl reports a character that show must not print as it is: any
// that cell escapes but the newline.
func isRawControl(r rune) bool { return r != '\n' && unsafeInCell(r) }

func (c *cli) count(ctx context.Context) error {
	ctx, cancel := c.deadline(ctx)
	defer cancel()
	l, err := c.lister()
	if err != nil {
		return err
	}
	n, err := l.Count(ctx)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(c.stdout, n)
	return err
}

func (c *cli) destroy(ctx context.Context, id, user string) error {
	ctx, cancel := c.deadline(ctx)
	defer cancel()
	data, found, readErr := c.store.Get(ctx, id)
	if readErr != nil && !c.aboutOneSession(ctx, readErr) {
		return readErr
	}
	// Destroy even when Get says missing: an expired leftover goes too, and
	// so does a session that cannot be read (list's unreadable row).
	missing := !found && readErr == nil
	if err := c.store.Destroy(ctx, id); err != nil {
		return err
	}
	c.unindexDestroyed(ctx, id, data, user)
	if missing {
		return fmt.Errorf("no session %q (missing or expired); nothing destroyed", id)
	}
	if readErr != nil {
		fmt.Fprintf(c.stderr, "sessionctl destroy: session %s could not be read: %v\n", id, readErr)
	}
	_, err := fmt.Fprintf(c.stdout, "destroyed session %s\n", id)
	return err
}

func (c *cli) purgeExpired(ctx context.Context) error {
	ctx, cancel := c.deadline(ctx)
	defer cancel()
	p, ok := c.store.(session.Purger)
	if !ok {
		_, err := fmt.Fprintf(c.stdout, "%s expires sessions by itself; nothing to purge\n", c.kind())
		return err
	}
	n, err := p.PurgeExpired(ctx)
	if err != nil {
		return fmt.Errorf("purged %d before: %w", n, err)
	}
	_, err = fmt.Fprintf(c.stdout, "purged %d expired session(s)\n", n)
	return err
}

// readLine reads one line from r, or returns ctx's error when ctx is done
// first (Ctrl-C at the prompt): a read from a terminal cannot be
// interrupted, so it runs in a goroutine, left behind until the process
// ends or a line comes.
func readLine(ctx context.Context, r io.Reader) (string, error) {
	type line struct {
		s   string
		err error
	}
	ch := make(chan line, 1)
	go func() {
		s, err := bufio.NewReader(r).ReadString('\n')
		ch <- line{s, err}
	}()
	select {
	case l := <-ch:
		return l.s, l.err
	case <-ctx.Done():
		return "", context.Cause(ctx)
	}
}

func (c *cli) clear(ctx context.Context, yes bool) error {
	l, err := c.lister()
	if err != nil {
		return err
	}
	countCtx, cancel := c.deadline(ctx)
	n, err := l.Count(countCtx)
	cancel()
	if err != nil {
		return err
	}
	if !yes {
		fmt.Fprintf(c.stderr, "Delete all %d session(s) in %s? Everybody will be logged out. Type \"yes\" to confirm: ", n, c.redactedURL())
		answer, err := readLine(ctx, c.stdin)
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("reading the confirmation: %w; nothing deleted", err)
		}
		if a := strings.ToLower(strings.TrimSpace(answer)); a != "yes" && a != "y" {
			return errors.New("not confirmed; nothing deleted (use -yes to skip the question)")
		}
	}
	clearCtx, cancel := c.deadline(ctx)
	defer cancel()
	if err := l.Clear(clearCtx); err != nil {
		return err
	}
	_, err = fmt.Fprintf(c.stdout, "cleared %d session(s)\n", n)
	return err
}
