package storeurl_test

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/boltstore"
	"github.com/sessionkit/session/storeurl"
)

// openBolt opens rawURL, stores one session and closes the store again.
func openBolt(t *testing.T, rawURL string) {
	t.Helper()
	ctx := context.Background()
	st, closer, err := storeurl.Open(ctx, rawURL)
	if err != nil {
		t.Fatalf("Open(%q): %v", rawURL, err)
	}
	if _, ok := st.(*boltstore.Store); !ok {
		t.Fatalf("Open(%q) gave a %T", rawURL, st)
	}
	if err := st.Set(ctx, "abc", []byte(`{"cookie":{}}`), time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := closer.Close(); err != nil {
		t.Fatal(err)
	}
}

// storedExpiry reads the raw expiry of session id from bucket in the bolt file.
func storedExpiry(t *testing.T, path, bucket, id string) (time.Time, bool) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		t.Fatalf("the closer did not release %s: %v", path, err)
	}
	defer db.Close()
	var exp time.Time
	found := false
	db.View(func(tx *bbolt.Tx) error {
		if b := tx.Bucket([]byte(bucket)); b != nil {
			if v := b.Get([]byte(id)); len(v) >= 8 {
				exp, found = time.Unix(0, int64(binary.BigEndian.Uint64(v))), true
			}
		}
		return nil
	})
	return exp, found
}

func TestBoltURLWithAbsolutePath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	openBolt(t, "bolt://"+path) // bolt:///tmp/.../sessions.db
	if _, ok := storedExpiry(t, path, "sessions", "abc"); !ok {
		t.Fatal("session not in the file's sessions bucket")
	}
}

func TestBoltURLWithRelativePathIsRelativeToTheWorkingDirectory(t *testing.T) {
	for _, u := range []string{"bolt://./data/rel.db", "bolt:data/rel.db", "bolt:./data/rel.db"} {
		t.Run(u, func(t *testing.T) {
			dir := t.TempDir()
			t.Chdir(dir)
			if err := os.Mkdir("data", 0o700); err != nil {
				t.Fatal(err)
			}
			openBolt(t, u)
			if _, ok := storedExpiry(t, filepath.Join(dir, "data", "rel.db"), "sessions", "abc"); !ok {
				t.Fatal("session not in ./data/rel.db")
			}
		})
	}
}

func TestBoltURLParameters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	before := time.Now()
	openBolt(t, "bolt://"+path+"?bucket=web&default_ttl=2h&sweep_interval=0&open_timeout=250ms")
	exp, ok := storedExpiry(t, path, "web", "abc")
	if !ok {
		t.Fatal("session not in bucket web")
	}
	if lo, hi := before.Add(2*time.Hour), time.Now().Add(2*time.Hour); exp.Before(lo) || exp.After(hi) {
		t.Fatalf("a session without expiry expires at %v, want now+2h (default_ttl)", exp)
	}
	if _, ok := storedExpiry(t, path, "sessions", "abc"); ok {
		t.Fatal("session also in the default bucket")
	}
}

func TestBoltURLOpenTimeoutParameterGivesUpOnALockedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	st, err := boltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_, _, err = storeurl.Open(context.Background(), "bolt://"+path+"?open_timeout=50ms")
	if err == nil || !strings.Contains(err.Error(), "locked by another process") {
		t.Fatalf("got %v, want a locked-file error", err)
	}
}

// bbolt cannot be interrupted while it waits for a file lock, so Open gives
// up at its context's deadline when that comes before open_timeout (0 is
// for ever) or the default second.
func TestBoltURLOpenGivesUpAtTheContextsDeadline(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	st, err := boltstore.Open(path) // the running application
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, query := range []string{"?open_timeout=30s", "?open_timeout=0", ""} {
		t.Run(query, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
			defer cancel()
			start := time.Now()
			done := make(chan error, 1)
			go func() {
				_, closer, err := storeurl.Open(ctx, "bolt://"+path+query)
				if err == nil {
					closer.Close()
				}
				done <- err
			}()
			select {
			case err := <-done:
				if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "locked by another process") {
					t.Fatalf("got %v, want a locked-file error that is a context.DeadlineExceeded", err)
				}
				if took := time.Since(start); took > 900*time.Millisecond {
					t.Fatalf("gave up after %v, with a deadline 200ms away", took)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Open still waits for the lock 5s after its deadline")
			}
		})
	}
	// A shorter open_timeout still wins.
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	_, _, err = storeurl.Open(ctx, "bolt://"+path+"?open_timeout=50ms")
	if err == nil || errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "gave up after 50ms") {
		t.Fatalf("got %v, want open_timeout's locked-file error", err)
	}
}

func TestBadBoltURLsAreClearErrors(t *testing.T) {
	dir := t.TempDir()
	p := "bolt://" + filepath.Join(dir, "s.db")
	for rawURL, want := range map[string]string{
		p + "?sweep=1m":                         `unknown parameter "sweep" (known: bucket, create, default_ttl, open_timeout, sweep_interval)`,
		p + "?sweep_interval=often":             `parameter sweep_interval="often": not a duration`,
		p + "?sweep_interval=-1s":               `parameter sweep_interval="-1s": must not be negative`,
		p + "?default_ttl=0":                    `parameter default_ttl="0": must be positive`,
		p + "?default_ttl=":                     `parameter default_ttl="": empty duration`,
		p + "?bucket=":                          `parameter bucket="": empty bucket name`,
		p + "?bucket=a&bucket=b":                `parameter "bucket" given 2 times`,
		"bolt://db.example.com/var/sessions.db": `not a host (got host "db.example.com"`,
		"bolt://user:secret@localhost/x.db":     "no user or password",
		"bolt://./":                             "no file name",
		"bolt://" + dir + "/":                   "no file name",
		"bolt:":                                 "no file name",
		"bolt://" + dir + "/missing-dir/s.db":   "no such file or directory",
	} {
		st, _, err := storeurl.Open(context.Background(), rawURL)
		if err == nil {
			st.(interface{ Close() error }).Close()
			t.Errorf("Open(%q) succeeded", rawURL)
			continue
		}
		if !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "storeurl: open bolt:") {
			t.Errorf("Open(%q):\n got %v\nwant it to contain %q", rawURL, err, want)
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("Open(%q) error shows the password: %v", rawURL, err)
		}
	}
}

// The bolt scheme gives a store with every optional capability.
func TestBoltURLStoreHasEveryCapability(t *testing.T) {
	st, closer, err := storeurl.Open(context.Background(), "bolt://"+filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	if _, ok := st.(session.VersionedStore); !ok {
		t.Error("not a VersionedStore")
	}
	if _, ok := st.(session.Toucher); !ok {
		t.Error("not a Toucher")
	}
	if _, ok := st.(session.Lister); !ok {
		t.Error("not a Lister")
	}
	if _, ok := st.(session.Purger); !ok {
		t.Error("not a Purger")
	}
}

// create=false opens a bolt file that exists and refuses one that does
// not, creating nothing: a tool that only inspects sessions (sessionctl)
// must not take a mistyped path for an empty store.
func TestBoltURLWithCreateFalseRefusesAMissingFile(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "sesions.db")
	_, closer, err := storeurl.Open(t.Context(), "bolt://"+missing+"?create=false")
	if err == nil {
		closer.Close()
		t.Fatal("Open of a missing file with create=false succeeded")
	}
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "create=false") {
		t.Errorf("Open of a missing file with create=false: %v, want one that says it does not exist", err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open created %s: %v", missing, err)
	}
	existing := filepath.Join(dir, "sessions.db")
	openBolt(t, "bolt://"+existing) // creates it, as by default
	openBolt(t, "bolt://"+existing+"?create=false")
	openBolt(t, "bolt://"+existing+"?create=true")
}
