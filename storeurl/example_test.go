package storeurl_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/storeurl"
)

// Open a store from a URL, here a bbolt file, and hand it to the manager.
// Close the closer when done: it stops the store's sweeper and closes the
// file (or a network store's client).
func ExampleOpen() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)

	st, closer, err := storeurl.Open(context.Background(),
		"bolt://"+filepath.Join(dir, "sessions.db")+"?sweep_interval=10m&default_ttl=8h")
	if err != nil {
		log.Fatal(err)
	}
	defer closer.Close()
	m, err := session.New(session.Options{Secrets: []string{"a secret of 32 or more random bytes"}, Store: st})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%T\n", m.Store())
	// Output: *boltstore.Store
}

// A mistake in a URL is an error that names each bad parameter, and never
// shows a secret.
func ExampleOpen_errors() {
	_, _, err := storeurl.Open(context.Background(), "redis://app:hunter2@localhost:6379/0?prefix=app:&pool_size=ten&timeout=1s")
	fmt.Println(err)
	// Output:
	// storeurl: open redis://app:xxxxx@localhost:6379/0?prefix=app:&pool_size=ten&timeout=1s: parameter pool_size="ten": not a count (want a whole number of at least 1); unknown parameter "timeout" (known: db, default_ttl, dial_timeout, max_retries, pool_size, prefix, read_timeout, user_index_prefix, write_timeout)
}

// Redact a store URL before logging it.
func ExampleRedact() {
	fmt.Println(storeurl.Redact("postgres://app:hunter2@db:5432/app?sslmode=require&sslpassword=s3cret"))
	// Output: postgres://app:xxxxx@db:5432/app?sslmode=require&sslpassword=xxxxx
}

// The schemes Open understands, for a usage message.
func ExampleSchemes() {
	fmt.Println(storeurl.Schemes())
	// Output: [bolt mem memcached mongodb mongodb+srv postgres postgresql redis redis+cluster redis+sentinel rediss rediss+cluster rediss+sentinel]
}
