package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/boltstore"
	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/redisstore"
	"github.com/sessionkit/session/storeurl"
)

// sessionctl runs the command in-process and returns its exit code and output.
func sessionctl(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut strings.Builder
	code = run(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	t.Logf("sessionctl %s -> %d\nstdout:\n%sstderr:\n%s", strings.Join(args, " "), code, out.String(), errOut.String())
	return code, out.String(), errOut.String()
}

// document encodes a session the way the manager stores it.
func document(t *testing.T, expires *time.Time, values map[string]any) []byte {
	t.Helper()
	doc := &session.Document{Cookie: session.DocumentCookie{Expires: expires, HTTPOnly: true, Path: "/"}, Values: map[string]json.RawMessage{}}
	if expires != nil {
		ms := time.Until(*expires).Milliseconds()
		doc.Cookie.OriginalMaxAge = &ms
	}
	for k, v := range values {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		doc.Values[k] = b
	}
	b, err := session.JSONCodec{}.Encode(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// aliceExpires is the cookie expiry of the fixture session "alice".
var aliceExpires = time.Now().Add(2 * time.Hour).UTC().Truncate(time.Millisecond)

// fill stores the fixture: alice (cookie with an expiry), bob (a
// browser-session cookie) and carol.
func fill(t *testing.T, st session.Store) {
	t.Helper()
	ctx := context.Background()
	for id, data := range map[string][]byte{
		"alice": document(t, &aliceExpires, map[string]any{"user": "alice", "views": 3}),
		"bob":   document(t, nil, map[string]any{"user": "bob"}),
		"carol": document(t, &aliceExpires, nil),
	} {
		if err := st.Set(ctx, id, data, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
}

// A backend is a store that sessionctl opens by URL, filled with the fixture.
type backend struct {
	name string
	// setup returns the URL to give sessionctl and a function that runs fn
	// on the same store, for the test's own checks and changes.
	setup func(t *testing.T) (url string, use func(fn func(session.Store)))
}

var backends = []backend{
	{"bolt", func(t *testing.T) (string, func(func(session.Store))) {
		path := filepath.Join(t.TempDir(), "sessions.db")
		use := func(fn func(session.Store)) {
			st, err := boltstore.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			fn(st)
		}
		use(func(st session.Store) { fill(t, st) })
		return "bolt://" + path, use // path is absolute: bolt:///tmp/...
	}},
	{"mem", func(t *testing.T) (string, func(func(session.Store))) {
		// A mem:// store lives in its process: open it once, fill it, and
		// have sessionctl get this same store for "mem://".
		st, closer, err := storeurl.Open(context.Background(), "mem://")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { closer.Close() })
		fill(t, st)
		orig := openStore
		openStore = func(ctx context.Context, u string) (session.Store, io.Closer, error) {
			if u == "mem://" {
				return st, io.NopCloser(nil), nil
			}
			return orig(ctx, u)
		}
		t.Cleanup(func() { openStore = orig })
		return "mem://", func(fn func(session.Store)) { fn(st) }
	}},
	{"postgres", func(t *testing.T) (string, func(func(session.Store))) {
		url := testserver.SharedPostgres(t).NewDatabase(t) + "&create_table=true&cleanup_interval=0"
		use := func(fn func(session.Store)) {
			st, closer, err := storeurl.Open(context.Background(), url)
			if err != nil {
				t.Fatal(err)
			}
			defer closer.Close()
			fn(st)
		}
		use(func(st session.Store) { fill(t, st) })
		return url, use
	}},
	{"mongodb", func(t *testing.T) (string, func(func(session.Store))) {
		uri, db := testserver.SharedMongo(t).NewDatabase(t)
		url := uri + db + "?collection=sessions"
		use := func(fn func(session.Store)) {
			st, closer, err := storeurl.Open(context.Background(), url)
			if err != nil {
				t.Fatal(err)
			}
			defer closer.Close()
			fn(st)
		}
		use(func(st session.Store) { fill(t, st) })
		return url, use
	}},
}

// TestMain stops the shared PostgreSQL server after the tests.
func TestMain(m *testing.M) { os.Exit(testserver.Main(m)) }

func forEachBackend(t *testing.T, test func(t *testing.T, url string, use func(func(session.Store)))) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			url, use := b.setup(t)
			test(t, url, use)
		})
	}
}

func count(t *testing.T, use func(func(session.Store))) int {
	t.Helper()
	var n int
	use(func(st session.Store) {
		var err error
		if n, err = st.(session.Lister).Count(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
	return n
}

func TestListShowsIDsSortedWithTheCookieExpiry(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string, _ func(func(session.Store))) {
		code, out, _ := sessionctl(t, "", "-store", url, "list")
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 4 || !strings.HasPrefix(lines[0], "ID") {
			t.Fatalf("want a header and 3 sessions, got %q", lines)
		}
		var ids []string
		for _, l := range lines[1:] {
			ids = append(ids, strings.Fields(l)[0])
		}
		if !slices.Equal(ids, []string{"alice", "bob", "carol"}) {
			t.Fatalf("ids = %q, want alice, bob, carol", ids)
		}
		if !strings.Contains(lines[1], aliceExpires.Format(time.RFC3339)) {
			t.Errorf("alice's line lacks her cookie expiry %s: %q", aliceExpires.Format(time.RFC3339), lines[1])
		}
		if !strings.Contains(lines[2], "browser-session") {
			t.Errorf("bob's line does not say browser-session: %q", lines[2])
		}
	})
}

func TestListPagesWithLimitAndOffset(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string, _ func(func(session.Store))) {
		code, out, errOut := sessionctl(t, "", "-store", url, "list", "-limit", "1", "-offset", "1")
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 2 || !strings.HasPrefix(lines[1], "bob ") {
			t.Fatalf("page 2 of size 1 = %q, want only bob", lines)
		}
		if !strings.Contains(errOut, "2-2 of 3") || !strings.Contains(errOut, "-offset 2") {
			t.Errorf("no paging hint on stderr: %q", errOut)
		}
		code, out, _ = sessionctl(t, "", "-store", url, "list", "-offset", "10")
		if code != 0 || strings.TrimSpace(out) != "ID  EXPIRES" {
			t.Fatalf("past the end: exit %d, %q", code, out)
		}
		if code, _, _ := sessionctl(t, "", "-store", url, "list", "-limit", "-1"); code != 2 {
			t.Fatalf("negative limit: exit %d, want 2", code)
		}
	})
}

func TestShowPrintsTheDecodedDocumentAsIndentedJSON(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string, _ func(func(session.Store))) {
		code, out, _ := sessionctl(t, "", "-store", url, "show", "alice")
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
		var doc struct {
			Cookie struct {
				Expires  time.Time `json:"expires"`
				HTTPOnly bool      `json:"httpOnly"`
			} `json:"cookie"`
			User  string `json:"user"`
			Views int    `json:"views"`
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatalf("not JSON: %v", err)
		}
		if doc.User != "alice" || doc.Views != 3 || !doc.Cookie.HTTPOnly || !doc.Cookie.Expires.Equal(aliceExpires) {
			t.Fatalf("wrong document: %+v", doc)
		}
		if !strings.Contains(out, "\n  \"user\": \"alice\"") {
			t.Errorf("not indented: %s", out)
		}

		code, out, errOut := sessionctl(t, "", "-store", url, "show", "nobody")
		if code != 1 || out != "" || !strings.Contains(errOut, `no session "nobody"`) {
			t.Fatalf("show of a missing id: exit %d, stderr %q", code, errOut)
		}
	})
}

func TestShowReportsAStoredValueThatIsNotADocument(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string, use func(func(session.Store))) {
		use(func(st session.Store) {
			err := st.Set(context.Background(), "junk", []byte("not json"), time.Now().Add(time.Hour))
			if err != nil {
				// PostgreSQL's json column refuses what is not JSON: store
				// JSON that is no session document.
				err = st.Set(context.Background(), "junk", []byte(`["not","a","document"]`), time.Now().Add(time.Hour))
			}
			if err != nil {
				t.Fatal(err)
			}
		})
		code, _, errOut := sessionctl(t, "", "-store", url, "show", "junk")
		if code != 1 || !strings.Contains(errOut, "not a session document") {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
	})
}

func TestCountPrintsTheNumberOfSessions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string, _ func(func(session.Store))) {
		code, out, _ := sessionctl(t, "", "-store", url, "count")
		if code != 0 || out != "3\n" {
			t.Fatalf("exit %d, stdout %q; want 3", code, out)
		}
	})
}

func TestDestroyDeletesOneSessionAndFailsForAMissingOne(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string, use func(func(session.Store))) {
		code, out, _ := sessionctl(t, "", "-store", url, "destroy", "bob")
		if code != 0 || !strings.Contains(out, "destroyed session bob") {
			t.Fatalf("exit %d, stdout %q", code, out)
		}
		use(func(st session.Store) {
			if _, found, _ := st.Get(context.Background(), "bob"); found {
				t.Fatal("bob is still there")
			}
			if _, found, err := st.Get(context.Background(), "alice"); err != nil || !found {
				t.Fatalf("alice is gone too: %v", err)
			}
		})
		code, _, errOut := sessionctl(t, "", "-store", url, "destroy", "bob")
		if code != 1 || !strings.Contains(errOut, "nothing destroyed") {
			t.Fatalf("second destroy: exit %d, stderr %q", code, errOut)
		}
	})
}

func TestPurgeExpiredDeletesExpiredSessions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string, use func(func(session.Store))) {
		purger := false
		var expires time.Time
		use(func(st session.Store) {
			_, purger = st.(session.Purger)
			// A Set that comes after the expiry stores nothing, and on a
			// loaded machine one can come 50 ms after its expiry was
			// computed: such a Set is made again with twice the lifetime.
			for life := 50 * time.Millisecond; ; life *= 2 {
				expires = time.Now().Add(life)
				if err := st.Set(context.Background(), "dave", document(t, nil, nil), expires); err != nil {
					t.Fatal(err)
				}
				if time.Now().Before(expires) || life >= 5*time.Second {
					break
				}
			}
		})
		time.Sleep(time.Until(expires) + 50*time.Millisecond)
		code, out, _ := sessionctl(t, "", "-store", url, "purge-expired")
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
		if purger && out != "purged 1 expired session(s)\n" {
			t.Fatalf("stdout %q, want purged 1", out)
		}
		if !purger && !strings.Contains(out, "expires sessions by itself") {
			t.Fatalf("stdout %q for a store that is no Purger", out)
		}
		if n := count(t, use); n != 3 {
			t.Fatalf("%d sessions left, want 3", n)
		}
	})
}

func TestClearAsksForConfirmationUnlessYes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string, use func(func(session.Store))) {
		for _, answer := range []string{"", "no\n", "n\n", "whatever\n"} {
			code, _, errOut := sessionctl(t, answer, "-store", url, "clear")
			if code != 1 || !strings.Contains(errOut, "Delete all 3 session(s)") || !strings.Contains(errOut, "nothing deleted") {
				t.Fatalf("answer %q: exit %d, stderr %q", answer, code, errOut)
			}
			if n := count(t, use); n != 3 {
				t.Fatalf("answer %q deleted sessions: %d left", answer, n)
			}
		}
		code, out, _ := sessionctl(t, "yes\n", "-store", url, "clear")
		if code != 0 || out != "cleared 3 session(s)\n" {
			t.Fatalf("confirmed clear: exit %d, stdout %q", code, out)
		}
		if n := count(t, use); n != 0 {
			t.Fatalf("%d sessions left after clear", n)
		}

		use(func(st session.Store) { fill(t, st) })
		code, out, errOut := sessionctl(t, "", "-store", url, "clear", "-yes")
		if code != 0 || out != "cleared 3 session(s)\n" || strings.Contains(errOut, "confirm") {
			t.Fatalf("clear -yes: exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		if n := count(t, use); n != 0 {
			t.Fatalf("%d sessions left after clear -yes", n)
		}
	})
}

func TestStoreComesFromTheEnvironmentOrAFlagAfterTheCommand(t *testing.T) {
	url, _ := backends[0].setup(t)
	t.Setenv(StoreEnv, url)
	if code, out, _ := sessionctl(t, "", "count"); code != 0 || out != "3\n" {
		t.Fatalf("from $%s: exit %d, %q", StoreEnv, code, out)
	}
	t.Setenv(StoreEnv, "")
	if code, out, _ := sessionctl(t, "", "count", "-store", url); code != 0 || out != "3\n" {
		t.Fatalf("-store after the command: exit %d, %q", code, out)
	}
}

func TestBadUsageExitsWithTwo(t *testing.T) {
	url, _ := backends[0].setup(t)
	for _, args := range [][]string{
		{"-store", url},                    // no command
		{"-store", url, "frobnicate"},      // unknown command
		{"-store", url, "show"},            // missing ID
		{"-store", url, "count", "extra"},  // extra argument
		{"-store", url, "list", "-colour"}, // unknown flag
		{"-store", url, "-timeout", "0", "count"},
		{"count"}, // no store at all
	} {
		t.Setenv(StoreEnv, "")
		if code, _, errOut := sessionctl(t, "", args...); code != 2 || errOut == "" {
			t.Errorf("%q: exit %d, stderr %q; want 2 and a message", args, code, errOut)
		}
	}
	if code, out, _ := sessionctl(t, "", "-h"); code != 0 || !strings.Contains(out, "purge-expired") {
		t.Errorf("-h: exit %d, %q", code, out)
	}
}

func TestUnknownSchemeAndBadParameterAreClearErrors(t *testing.T) {
	code, _, errOut := sessionctl(t, "", "-store", "nosuch://x", "count")
	if code != 1 || !strings.Contains(errOut, `unknown scheme "nosuch"`) {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	path := filepath.Join(t.TempDir(), "s.db")
	code, _, errOut = sessionctl(t, "", "-store", "bolt://"+path+"?sweep=1m", "count")
	if code != 1 || !strings.Contains(errOut, `unknown parameter "sweep"`) {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}

func TestABoltFileInUseGivesAClearError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	st, err := boltstore.Open(path) // the running application
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	code, _, errOut := sessionctl(t, "", "-store", "bolt://"+path+"?open_timeout=100ms", "count")
	if code != 1 || !strings.Contains(errOut, "locked by another process") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}

// memcachedURL is the store URL of the memcached at addr with a timeout of
// 10 s for each read and write, where gomemcache's default of 500 ms is
// missed on a loaded machine: sessionctl's ping at the opening then fails
// with "cannot reach the store" (forced with a proxy delaying 600 ms).
func memcachedURL(addr string) string { return "memcached://" + addr + "?timeout=10s" }

func TestMemcachedCannotListSessions(t *testing.T) {
	srv := testserver.StartMemcached(t)
	url := memcachedURL(srv.Addr)
	for _, cmd := range [][]string{{"list"}, {"count"}, {"clear", "-yes"}} {
		code, _, errOut := sessionctl(t, "", append([]string{"-store", url}, cmd...)...)
		if code != 1 || !strings.Contains(errOut, "memcached cannot list sessions") {
			t.Errorf("%s: exit %d, stderr %q", cmd, code, errOut)
		}
	}
	code, out, _ := sessionctl(t, "", "-store", url, "purge-expired")
	if code != 0 || !strings.Contains(out, "memcached expires sessions by itself") {
		t.Errorf("purge-expired: exit %d, stdout %q", code, out)
	}
}

func TestAnUnreachableServerIsAClearErrorNotAHang(t *testing.T) {
	addr := testserver.RefusingAddr(t) // nothing listens there, nor can meanwhile
	for _, tc := range []struct{ name, url, cmd string }{
		{"redis", "redis://" + addr + "/0", "count"},
		{"memcached", "memcached://" + addr, "show"}, // count needs no server: memcached cannot count
		{"postgres", "postgres://postgres@" + addr + "/db", "count"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"-store", tc.url, "-timeout", "5s", tc.cmd}
			if tc.cmd == "show" {
				args = append(args, "some-id")
			}
			code, out, errOut := sessionctl(t, "", args...)
			if code != 1 || out != "" || !strings.Contains(errOut, "cannot reach the store at "+tc.url) {
				t.Fatalf("exit %d, stderr %q", code, errOut)
			}
		})
	}
}

// Messages show the store URL with every secret hidden, the query's too
// (url.URL.Redacted hides only the user-info password).
func TestAnUnreachableStoreErrorHidesTheURLsSecrets(t *testing.T) {
	_, _, errOut := sessionctl(t, "", "-timeout", "2s", "-store",
		"redis+sentinel://127.0.0.1:1/mymaster?sentinel_password=hunter2", "count")
	if strings.Contains(errOut, "hunter2") || !strings.Contains(errOut, "sentinel_password=xxxxx") {
		t.Fatalf("stderr %q, want the sentinel password hidden", errOut)
	}
}

// The clear prompt names the store as typed (mem://, not mem:), its
// secrets hidden.
func TestClearPromptShowsTheURLAsTypedWithoutItsSecrets(t *testing.T) {
	for _, b := range []backend{backends[1], backends[2]} { // mem, postgres
		t.Run(b.name, func(t *testing.T) {
			url, _ := b.setup(t)
			want := url
			if b.name == "postgres" {
				// The test server trusts local connections: the password
				// is not checked, only shown.
				url += "&password=hunter2"
				want += "&password=xxxxx"
			}
			_, _, errOut := sessionctl(t, "no\n", "-store", url, "clear")
			if strings.Contains(errOut, "hunter2") || !strings.Contains(errOut, " in "+want+"? ") {
				t.Fatalf("stderr %q, want the prompt to name %s", errOut, want)
			}
		})
	}
}

// -timeout bounds opening a bolt file that another process holds, even
// with an open_timeout that is longer or 0 (for ever).
func TestTimeoutBoundsOpeningALockedBoltFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	st, err := boltstore.Open(path) // the running application
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, query := range []string{"?open_timeout=30s", "?open_timeout=0"} {
		done := make(chan struct{})
		go func() {
			defer close(done)
			code, _, errOut := sessionctl(t, "", "-timeout", "200ms", "-store", "bolt://"+path+query, "count")
			if code != 1 || !strings.Contains(errOut, "did not answer within 200ms (-timeout)") || !strings.Contains(errOut, "locked by another process") {
				t.Errorf("%s: exit %d, stderr %q", query, code, errOut)
			}
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: -timeout 200ms, and sessionctl still waits for the bolt lock after 5s", query)
		}
	}
}

// Ctrl-C at the clear prompt (the context cancelled) ends the command at
// once, deleting nothing, though nobody answers.
func TestClearPromptReturnsWhenInterrupted(t *testing.T) {
	url, use := backends[0].setup(t)
	stdin, w := io.Pipe() // a terminal nobody types on
	defer w.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var errOut testserver.Output
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"-store", url, "clear"}, stdin, io.Discard, &errOut) }()
	// The interrupt once the question is asked: an earlier one ends the
	// opening of the store or the count instead, which a fixed wait could
	// not rule out on a loaded machine.
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(errOut.String(), `Type "yes" to confirm`); {
		select {
		case code := <-done:
			t.Fatalf("clear ended (exit %d) before asking; stderr %q", code, errOut.String())
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no question after 10s; stderr %q", errOut.String())
		}
	}
	cancel()
	select {
	case code := <-done:
		if code != 1 || !strings.Contains(errOut.String(), "nothing deleted") {
			t.Fatalf("exit %d, stderr %q", code, errOut.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("clear still waits for an answer 5s after the interrupt")
	}
	if n := count(t, use); n != 3 {
		t.Fatalf("%d sessions left, want 3", n)
	}
}

// A session that cannot be read (here a Redis key of the wrong type under
// the store's prefix) is a row of the table, not the end of the listing;
// its error also goes to stderr, and the exit status is 1 so that scripts
// notice.
func TestListShowsAnUnreadableSessionAsARowAndGoesOn(t *testing.T) {
	srv := testserver.StartRedis(t)
	url := "redis://" + srv.Addr + "/0"
	st, closer, err := storeurl.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	fill(t, st)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	if err := rdb.HSet(context.Background(), "sess:bad", "f", "v").Err(); err != nil { // connect-redis's prefix
		t.Fatal(err)
	}
	code, out, errOut := sessionctl(t, "", "-store", url, "list")
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[1], "alice ") || !strings.HasPrefix(lines[3], "bob ") || !strings.HasPrefix(lines[4], "carol ") {
		t.Fatalf("want the header and 4 rows, got %q", lines)
	}
	if !strings.HasPrefix(lines[2], "bad ") || !strings.Contains(lines[2], "unreadable: ") || !strings.Contains(lines[2], "WRONGTYPE") {
		t.Errorf("the row of bad = %q, want unreadable: and the reason", lines[2])
	}
	if !strings.Contains(errOut, "session bad: ") || !strings.Contains(errOut, "sessions 1-4 of 4") || !strings.Contains(errOut, "1 session(s) could not be read: bad") {
		t.Errorf("stderr %q", errOut)
	}
}

// failAfterIDs is a Redis store that fails, by fail, once it has listed
// its ids: the store fails in the middle of a listing.
type failAfterIDs struct {
	*redisstore.Store
	fail func()
}

func (s failAfterIDs) IDs(ctx context.Context) ([]string, error) {
	ids, err := s.Store.IDs(ctx)
	s.fail()
	return ids, err
}

// busyScript keeps Redis busy until SCRIPT KILL (or for a minute):
// meanwhile it answers every other command with a BUSY error, an error
// about the server, not about a key. A script that ended on its own after
// 1.5 s let a listing descheduled that long on a loaded machine read alice.
const busyScript = `local t = redis.call('TIME')
local start = t[1] * 1000000 + t[2]
repeat t = redis.call('TIME') until t[1] * 1000000 + t[2] - start > 60000000
return 1`

// A store that fails in the middle of a listing ends it, whether the
// connection drops or the server answers with an error about itself (a
// BUSY Redis): such an error is not one session's.
func TestListStopsWhenTheStoreFails(t *testing.T) {
	for _, c := range []struct {
		name string
		fail func(t *testing.T, srv *testserver.Server, proxy *testserver.Proxy)
	}{
		{"connection dropped", func(_ *testing.T, _ *testserver.Server, proxy *testserver.Proxy) { proxy.Drop() }},
		{"server busy", func(t *testing.T, srv *testserver.Server, _ *testserver.Proxy) {
			rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
			t.Cleanup(func() { rdb.Close() })
			if err := rdb.ConfigSet(context.Background(), "busy-reply-threshold", "10").Err(); err != nil {
				t.Fatal(err)
			}
			go rdb.Eval(context.Background(), busyScript, nil)
			t.Cleanup(func() { rdb.ScriptKill(context.Background()) }) // before rdb.Close
			// Past the threshold, the server answers BUSY: wait for that
			// rather than for a fixed time, which a loaded machine can
			// spend before the script even starts.
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
				err := rdb.Ping(context.Background()).Err()
				if err != nil && strings.HasPrefix(err.Error(), "BUSY") {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the server does not answer BUSY 10s after the script was sent: %v", err)
				}
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := testserver.StartRedis(t)
			proxy := testserver.StartProxy(t, srv.Addr)
			url := "redis://" + proxy.Addr + "/0?max_retries=-1&dial_timeout=500ms"
			st, closer, err := storeurl.Open(context.Background(), url)
			if err != nil {
				t.Fatal(err)
			}
			fill(t, st)
			closer.Close()
			orig := openStore
			openStore = func(ctx context.Context, u string) (session.Store, io.Closer, error) {
				st, closer, err := orig(ctx, u)
				if err != nil {
					return nil, nil, err
				}
				return failAfterIDs{st.(*redisstore.Store), func() { c.fail(t, srv, proxy) }}, closer, nil
			}
			t.Cleanup(func() { openStore = orig })

			code, out, errOut := sessionctl(t, "", "-store", url, "-timeout", "5s", "list")
			if code != 1 || strings.Contains(out, "unreadable") || strings.Contains(errOut, "could not be read") || !strings.Contains(errOut, "get alice") {
				t.Fatalf("exit %d, stdout %q, stderr %q; want the listing to stop at alice with 1", code, out, errOut)
			}
		})
	}
}

// A session that list shows as unreadable (here a Redis key of the wrong
// type under the store's prefix) is what an operator then destroys:
// destroy deletes it, saying that it could not be read, and exits 0. It
// used to stop at the failed read and leave the key, so that sessionctl
// could not remove what it had just reported.
func TestDestroyDeletesASessionThatCannotBeRead(t *testing.T) {
	srv := testserver.StartRedis(t)
	url := "redis://" + srv.Addr + "/0"
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	if err := rdb.HSet(context.Background(), "sess:bad", "f", "v").Err(); err != nil { // connect-redis's prefix
		t.Fatal(err)
	}
	code, out, errOut := sessionctl(t, "", "-store", url, "destroy", "bad")
	if code != 0 || !strings.Contains(out, "destroyed session bad") {
		t.Errorf("exit %d, stdout %q, want 0 and the session destroyed", code, out)
	}
	if !strings.Contains(errOut, "could not be read") || !strings.Contains(errOut, "WRONGTYPE") {
		t.Errorf("stderr %q, want the read error", errOut)
	}
	if n := rdb.Exists(context.Background(), "sess:bad").Val(); n != 0 {
		t.Fatal("sess:bad is still there")
	}
}

// A server that accepts connections but stops answering (a stalled
// network) ends the command at -timeout, and the message says that the
// store did not answer in time, not that it cannot be reached.
func TestAStoreThatStopsAnsweringIsReportedSlowAtTimeout(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start func(t *testing.T) (addr string)
		url   func(addr string) string
		cmd   []string
	}{
		{"redis", func(t *testing.T) string { return testserver.StartRedis(t).Addr },
			func(addr string) string { return "redis://" + addr + "/0" }, []string{"count"}},
		{"memcached", func(t *testing.T) string { return testserver.StartMemcached(t).Addr },
			memcachedURL, []string{"show", "some-id"}},
		{"postgres", func(t *testing.T) string { return testserver.SharedPostgres(t).Addr },
			func(addr string) string { return "postgres://postgres@" + addr + "/postgres?sslmode=disable" }, []string{"count"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proxy := testserver.StartProxy(t, tc.start(t))
			proxy.Stall()
			start := time.Now()
			code, out, errOut := sessionctl(t, "", append([]string{"-store", tc.url(proxy.Addr), "-timeout", "500ms"}, tc.cmd...)...)
			if took := time.Since(start); took > 4*time.Second {
				t.Errorf("took %v with -timeout 500ms", took)
			}
			if code != 1 || out != "" || !strings.Contains(errOut, "did not answer within 500ms (-timeout)") {
				t.Fatalf("exit %d, stderr %q, want 1 and the store too slow", code, errOut)
			}
		})
	}
}

// A server that stops answering once the store is open ends the command at
// -timeout too, and the message says so: go-redis reports the deadline it
// read from the context as an i/o timeout, which sessionctl took for a
// server it could not reach.
func TestAStoreThatStopsAnsweringAfterOpenIsReportedSlow(t *testing.T) {
	srv := testserver.StartRedis(t)
	proxy := testserver.StartProxy(t, srv.Addr)
	url := "redis://" + proxy.Addr + "/0?max_retries=-1"
	orig := openStore
	openStore = func(ctx context.Context, u string) (session.Store, io.Closer, error) {
		st, closer, err := orig(ctx, u)
		if err == nil {
			proxy.Stall() // open, and now silent
		}
		return st, closer, err
	}
	t.Cleanup(func() { openStore = orig })
	start := time.Now()
	code, out, errOut := sessionctl(t, "", "-store", url, "-timeout", "500ms", "count")
	if took := time.Since(start); took > 4*time.Second {
		t.Errorf("took %v with -timeout 500ms", took)
	}
	if code != 1 || out != "" || !strings.Contains(errOut, "did not answer within 500ms (-timeout)") {
		t.Fatalf("exit %d, stderr %q, want 1 and the store too slow", code, errOut)
	}
}

// The usage that -h and every usage error print lists the flags with their
// defaults, and -store's default is $SESSION_STORE, or the URL given
// before the command: it shows with its secrets hidden, where it showed
// the password of the URL in the environment to whoever read stderr.
func TestUsageNeverShowsTheStoreURLsSecrets(t *testing.T) {
	t.Setenv(StoreEnv, "redis://:hunter2@127.0.0.1:1/0?sentinel_password=hunter3")
	for _, args := range [][]string{
		{"-h"},
		{"bogus"},
		{},
		{"-bogus"},
		{"count", "-h"},
		{"list", "-bogus"},
		{"-store", "redis://u:hunter4@127.0.0.1:1/0", "list", "-bogus"},
		{"-store", "redis://u:hunter4@127.0.0.1:1/0", "show"},
	} {
		code, out, errOut := sessionctl(t, "", args...)
		if strings.Contains(out+errOut, "hunter") {
			t.Errorf("sessionctl %q (exit %d) shows a secret:\n%s%s", args, code, out, errOut)
		}
		if !strings.Contains(out+errOut, "-store URL") {
			t.Errorf("sessionctl %q printed no usage", args)
		}
	}
	// The URL itself still comes from the environment.
	if code, _, errOut := sessionctl(t, "", "-timeout", "2s", "count"); code != 1 || !strings.Contains(errOut, "redis://:xxxxx@127.0.0.1:1/0?sentinel_password=xxxxx") {
		t.Errorf("count with the store in the environment: exit %d, stderr %q", code, errOut)
	}
}

// A bolt URL names a file that sessionctl opens, never creates: a mistyped
// path is an error, not an empty store. It was created, so that count said
// 0, clear -yes "cleared 0 session(s)" and logout-user "destroyed 0
// session(s)", each with exit status 0, while the application's file was
// untouched, and an empty file was left behind.
func TestABoltPathThatDoesNotExistIsAnErrorNotAnEmptyStore(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "sesions.db")
	for _, cmd := range [][]string{{"count"}, {"clear", "-yes"}, {"logout-user", "alice"}} {
		code, out, errOut := sessionctl(t, "", append([]string{"-store", "bolt://" + missing}, cmd...)...)
		if code != 1 || out != "" || !strings.Contains(errOut, "does not exist") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 1 and the file missing", cmd, code, out, errOut)
		}
		if _, err := os.Stat(missing); !os.IsNotExist(err) {
			t.Fatalf("%q created %s: %v", cmd, missing, err)
		}
	}
	// create=true in the URL asks for the file.
	if code, out, _ := sessionctl(t, "", "-store", "bolt://"+missing+"?create=true", "count"); code != 0 || strings.TrimSpace(out) != "0" {
		t.Errorf("with create=true: exit %d, stdout %q", code, out)
	}
}

// -timeout bounds each exchange with the store, not the whole listing: a
// page of a remote store whose every answer comes well within -timeout is
// listed in full, where the listing and all the page's reads shared one
// -timeout, so that a long page over a slow link was reported as a store
// that "did not answer".
func TestListGivesEachReadItsOwnTimeout(t *testing.T) {
	srv := testserver.StartRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { rdb.Close() })
	st := redisstore.New(rdb)
	// n reads of 100 ms or more take 4.5 s, well over one -timeout of
	// 2.5 s; each read, and the opening of the store (a connection's
	// HELLO and CLIENT SETINFO, a PING: about four exchanges), stays
	// under it with 2 s to spare for a machine that stalls meanwhile.
	const n = 45
	for i := range n {
		if err := st.Set(t.Context(), fmt.Sprintf("s%d", i), document(t, nil, nil), time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	proxy := testserver.StartProxy(t, srv.Addr)
	proxy.Delay(50 * time.Millisecond) // each exchange takes 100 ms or more
	code, out, errOut := sessionctl(t, "", "-store", "redis://"+proxy.Addr+"/0", "-timeout", "2.5s", "list")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q; want every session listed", code, errOut)
	}
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != n+1 {
		t.Fatalf("listed %q, want a header and %d sessions", lines, n)
	}
}

// A session id is base64url, so one in 64 starts with "-", which the flag
// parser took for an unknown flag: "show -AbC" failed with "flag provided
// but not defined" and the usage. The message now says to put the id after
// "--", which works.
func TestAnIDThatStartsWithADashSaysToPutItAfterDoubleDash(t *testing.T) {
	url, use := backends[0].setup(t)
	use(func(st session.Store) {
		if err := st.Set(context.Background(), "-AbC", document(t, &aliceExpires, nil), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	})
	for _, cmd := range []string{"show", "destroy", "user", "logout-user"} {
		code, _, errOut := sessionctl(t, "", "-store", url, cmd, "-AbC")
		if want := "sessionctl " + cmd + " -- -AbC"; code != 2 || !strings.Contains(errOut, want) {
			t.Errorf("%s -AbC: exit %d, stderr %q; want 2 and a hint %q", cmd, code, errOut, want)
		}
	}
	if code, out, _ := sessionctl(t, "", "-store", url, "show", "--", "-AbC"); code != 0 || !strings.Contains(out, `"cookie"`) {
		t.Fatalf("show -- -AbC: exit %d, stdout %q", code, out)
	}
	if code, out, _ := sessionctl(t, "", "-store", url, "destroy", "--", "-AbC"); code != 0 || !strings.Contains(out, "destroyed session -AbC") {
		t.Fatalf("destroy -- -AbC: exit %d, stdout %q", code, out)
	}
	// A mistyped flag of a command without arguments gets no such hint.
	if _, _, errOut := sessionctl(t, "", "-store", url, "list", "-colour"); strings.Contains(errOut, "--") {
		t.Errorf("list -colour: stderr %q hints at an argument list does not take", errOut)
	}
}

// What sessionctl shows but cannot decode or read, it says how to delete:
// show of a stored value that is no session document, or of a Redis key of
// the wrong type, and list of the former, said what was wrong and stopped
// there (list's row said "undecodable", and nothing on stderr), leaving the
// operator to find out that the application takes such a value for no
// session and that destroy deletes it.
func TestShowAndListSayHowToDeleteWhatTheyCannotDecodeOrRead(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string, use func(func(session.Store))) {
		use(func(st session.Store) {
			err := st.Set(context.Background(), "junk", []byte("not json"), time.Now().Add(time.Hour))
			if err != nil { // PostgreSQL's json column takes only JSON
				err = st.Set(context.Background(), "junk", []byte(`["not","a","document"]`), time.Now().Add(time.Hour))
			}
			if err != nil {
				t.Fatal(err)
			}
		})
		code, _, errOut := sessionctl(t, "", "-store", url, "show", "junk")
		if code != 1 || !strings.Contains(errOut, "not a session document") || !strings.Contains(errOut, "takes it for no session (one with a Codec of its own may read it), and sessionctl destroy junk deletes it") {
			t.Errorf("show: exit %d, stderr %q, want what is wrong and the destroy command", code, errOut)
		}
		code, out, errOut := sessionctl(t, "", "-store", url, "list")
		if code != 0 || !strings.Contains(out, "junk   not a session document\n") ||
			!strings.Contains(errOut, "1 stored value(s) are not session documents sessionctl can read: junk (an application with the default JSONCodec takes them for no session; one with a Codec of its own may read them; sessionctl show ID says why, sessionctl destroy ID deletes one)") {
			t.Errorf("list: exit %d, stdout %q, stderr %q, want the row and what to do on stderr", code, out, errOut)
		}
	})
	srv := testserver.StartRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	if err := rdb.HSet(context.Background(), "sess:bad", "f", "v").Err(); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := sessionctl(t, "", "-store", "redis://"+srv.Addr+"/0", "show", "bad")
	if code != 1 || !strings.Contains(errOut, `session "bad" cannot be read (`) || !strings.Contains(errOut, "WRONGTYPE") || !strings.Contains(errOut, "; to delete it: sessionctl destroy bad\n") {
		t.Errorf("show of a key of the wrong type: exit %d, stderr %q, want the reason and the destroy command", code, errOut)
	}
}

func TestDestroyCommandQuotesWhatAShellWouldSplit(t *testing.T) {
	for id, want := range map[string]string{
		"AbC-_9":  "sessionctl destroy AbC-_9",
		"-AbC":    "sessionctl destroy -- -AbC",
		"a b":     "sessionctl destroy 'a b'",
		"it's":    `sessionctl destroy 'it'\''s'`,
		"$(rm x)": "sessionctl destroy '$(rm x)'",
		"":        "sessionctl destroy ''",
	} {
		if got := destroyCommand(id); got != want {
			t.Errorf("destroyCommand(%q) = %q, want %q", id, got, want)
		}
	}
}
