package boltstore_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/bbolt"

	"github.com/sessionkit/session/boltstore"
)

// Open a session file and keep a session in it.
func ExampleOpen() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)

	st, err := boltstore.Open(filepath.Join(dir, "sessions.db"),
		boltstore.WithSweepInterval(10*time.Minute), // delete expired sessions every 10 minutes
	)
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close() // stops the sweeper and closes the file

	ctx := context.Background()
	if err := st.Set(ctx, "abc", []byte(`{"cookie":{"originalMaxAge":null,"expires":null},"views":1}`), time.Time{}); err != nil {
		log.Fatal(err)
	}
	data, _, _ := st.Get(ctx, "abc")
	fmt.Println(string(data))
	n, _ := st.Count(ctx)
	fmt.Println(n, "session")
	// Output:
	// {"cookie":{"originalMaxAge":null,"expires":null},"views":1}
	// 1 session
}

// Share a bbolt database the application already has: the sessions go in
// their own bucket, and Close leaves the database open.
func ExampleNew() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)

	db, err := bbolt.Open(filepath.Join(dir, "app.db"), 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	st, err := boltstore.New(db, boltstore.WithBucket("web-sessions"))
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()

	ctx := context.Background()
	v1, _, _ := st.CompareAndSwap(ctx, "abc", "", []byte(`{"n":1}`), time.Now().Add(time.Hour))
	_, swapped, _ := st.CompareAndSwap(ctx, "abc", "", []byte(`{"n":2}`), time.Now().Add(time.Hour))
	fmt.Println("second create swapped:", swapped)
	_, swapped, _ = st.CompareAndSwap(ctx, "abc", v1, []byte(`{"n":2}`), time.Now().Add(time.Hour))
	fmt.Println("update from the version read swapped:", swapped)
	// Output:
	// second create swapped: false
	// update from the version read swapped: true
}
