package storeurl_test

import (
	"context"
	"log"
	"os"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/storeurl"
)

// Picking the store from the environment: SESSION_STORE might be
// redis://localhost:6379/0?prefix=myapp:, or
// redis+sentinel://s1:26379,s2:26379/mymaster?read_timeout=500ms, or
// redis+cluster://n1:7000,n2:7000,n3:7000?pool_size=20, or
// memcached://m1:11211,m2:11211?timeout=200ms.
func ExampleOpen_networkStores() {
	st, closer, err := storeurl.Open(context.Background(), os.Getenv("SESSION_STORE"))
	if err != nil {
		log.Fatal(err)
	}
	defer closer.Close()
	m, err := session.New(session.Options{Secrets: []string{os.Getenv("SESSION_SECRET")}, Store: st})
	if err != nil {
		log.Fatal(err)
	}
	_ = m // http.ListenAndServe(addr, m.Handler(mux))
}
