package memstore_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/memstore"
)

// A manager on a memstore capped at 100,000 sessions, where a browser-session
// cookie's session lives 8 hours on the server.
func ExampleNew() {
	store := memstore.New(
		memstore.WithMaxSessions(100_000),
		memstore.WithDefaultTTL(8*time.Hour),
		memstore.WithSweepInterval(30*time.Second),
	)
	defer store.Close()

	m, err := session.New(session.Options{
		Secrets: []string{"keyboard cat"},
		Store:   store,
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s := session.From(r)
		n, _ := session.GetAs[int](s, "views")
		s.Set("views", n+1)
		fmt.Fprintf(w, "%d views\n", n+1)
	})
	srv := httptest.NewServer(m.Handler(mux)) // http.ListenAndServe(":8080", m.Handler(mux))
	defer srv.Close()

	resp, err := http.Get(srv.URL)
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	n, _ := store.Count(context.Background())
	fmt.Println(n, "session")
	// Output: 1 session
}

// The store on its own: what the manager does with it.
func ExampleStore() {
	ctx := context.Background()
	store := memstore.New()
	defer store.Close()

	store.Set(ctx, "id1", []byte(`{"cookie":{},"user":"ann"}`), time.Now().Add(time.Hour))
	data, version, _, _ := store.GetVersion(ctx, "id1")
	fmt.Printf("%s\n", data)

	// Save only if nobody wrote in between.
	_, swapped, _ := store.CompareAndSwap(ctx, "id1", version, []byte(`{"cookie":{},"user":"bob"}`), time.Now().Add(time.Hour))
	fmt.Println("first swap:", swapped)
	_, swapped, _ = store.CompareAndSwap(ctx, "id1", version, []byte(`{"cookie":{},"user":"eve"}`), time.Now().Add(time.Hour))
	fmt.Println("second swap:", swapped)

	n, _ := store.Count(ctx)
	fmt.Println(n, "session")
	// Output:
	// {"cookie":{},"user":"ann"}
	// first swap: true
	// second swap: false
	// 1 session
}
