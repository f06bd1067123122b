package mongostore_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/mongostore"
)

// A web app whose sessions live in MongoDB, shared with an Express app that
// uses connect-mongo on the same collection (touchAfter: 60 there,
// TouchAfter and WithLastModified here).
func Example() {
	client, err := mongo.Connect(options.Client().ApplyURI("mongodb://localhost:27017").SetTimeout(2 * time.Second))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Disconnect(context.Background())

	st, err := mongostore.New(client.Database("app").Collection("sessions"),
		mongostore.WithCleanupInterval(10*time.Minute), // default 15m; or WithTTLIndex() on MongoDB
		mongostore.WithLastModified(),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()

	m, err := session.New(session.Options{
		Name:       "connect.sid",      // the Express app's cookie name (express-session's default)
		Secrets:    []string{"s3cret"}, // and its secret
		Store:      st,
		Cookie:     session.CookieOptions{MaxAge: 24 * time.Hour},
		TouchAfter: time.Minute,
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
