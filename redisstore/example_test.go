package redisstore_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/redisstore"
)

// A web app whose sessions live in Redis, shared with an Express app that
// uses connect-redis on the same server.
func Example() {
	client := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
	defer client.Close()

	m, err := session.New(session.Options{
		Name:    "connect.sid",          // the Express app's cookie name (express-session's default)
		Secrets: []string{"s3cret"},     // and its secret
		Store:   redisstore.New(client), // connect-redis's keys: "sess:" + id
		Cookie:  session.CookieOptions{MaxAge: 24 * time.Hour},
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s := session.From(r)
		n, _ := session.GetAs[int](s, "views")
		s.Set("views", n+1)
		fmt.Fprintf(w, "views: %d\n", n+1)
	})
	log.Fatal(http.ListenAndServe(":8080", m.Handler(mux)))
}

// With Sentinel, the failover client finds the current master and follows a
// failover by itself: the store needs nothing more.
func ExampleNew_sentinel() {
	client := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName:    "mymaster",
		SentinelAddrs: []string{"sentinel1:26379", "sentinel2:26379", "sentinel3:26379"},
		ReadTimeout:   time.Second,
	})
	defer client.Close()
	st := redisstore.New(client, redisstore.WithPrefix("myapp:sess:"))
	_ = st // session.Options{Store: st, ...}
}

// With Redis Cluster, every operation touches one key, so it works on any
// node layout; IDs, Count and Clear scan every master.
func ExampleNew_cluster() {
	client := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs: []string{"node1:7000", "node2:7000", "node3:7000"},
	})
	defer client.Close()
	st := redisstore.New(client, redisstore.WithDefaultTTL(2*time.Hour))
	n, err := st.Count(context.Background())
	fmt.Println(n, err)
}
