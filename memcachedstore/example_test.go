package memcachedstore_test

import (
	"log"
	"net/http"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/memcachedstore"
)

// A web app whose sessions are spread over two memcached servers.
func Example() {
	client := memcache.New("10.0.0.1:11211", "10.0.0.2:11211")
	client.Timeout = 200 * time.Millisecond
	client.MaxIdleConns = 64 // about the peak of parallel requests
	defer client.Close()

	m, err := session.New(session.Options{
		Secrets: []string{"s3cret"},
		Store:   memcachedstore.New(client, memcachedstore.WithPrefix("myapp:")),
		Cookie:  session.CookieOptions{MaxAge: time.Hour},
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		s := session.From(r)
		if err := s.RenewID(r.Context()); err != nil {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		s.Set("user", r.FormValue("user"))
	})
	log.Fatal(http.ListenAndServe(":8080", m.Handler(mux)))
}
