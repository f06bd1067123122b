package pgstore_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/pgstore"
)

// A web app whose sessions live in PostgreSQL, in the table connect-pg-simple
// uses, so that an Express app on the same database shares them.
func Example() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, "postgres://app@localhost:5432/app")
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()

	// WithCreateTable creates the "session" table if it is missing, as
	// connect-pg-simple's createTableIfMissing; leave it out when a migration
	// creates the table (pgstore.CreateTableSQL gives the statements).
	st, err := pgstore.New(pool, pgstore.WithCreateTable())
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close() // stops the cleanup of expired rows

	m, err := session.New(session.Options{
		Name:    "connect.sid",      // the Express app's cookie name (express-session's default)
		Secrets: []string{"s3cret"}, // and its secret
		Store:   st,
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

// The statements for a migration tool, for a table in a schema of its own.
func ExampleCreateTableSQL() {
	fmt.Print(pgstore.CreateTableSQL("web", "session"))
	// Output:
	// CREATE SCHEMA IF NOT EXISTS "web";
	// CREATE TABLE IF NOT EXISTS "web"."session" (
	//   "sid" varchar NOT NULL COLLATE "default" PRIMARY KEY,
	//   "sess" json NOT NULL,
	//   "expire" timestamp(6) NOT NULL
	// );
	// CREATE INDEX IF NOT EXISTS "IDX_session_expire" ON "web"."session" ("expire");
	// CREATE TABLE IF NOT EXISTS "web"."session_users" (
	//   "user_id" bytea NOT NULL,
	//   "sid" varchar NOT NULL,
	//   "used" timestamptz NOT NULL,
	//   "expire" timestamptz NOT NULL,
	//   PRIMARY KEY ("user_id", "sid")
	// );
	// CREATE INDEX IF NOT EXISTS "IDX_session_users_expire" ON "web"."session_users" ("expire");
}
