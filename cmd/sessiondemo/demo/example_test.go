package demo_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"

	"github.com/sessionkit/session/cmd/sessiondemo/demo"
)

// Start runs the demo in-process, as tests do: on a free loopback port, with
// sessions in memory.
func ExampleStart() {
	s, err := demo.Start(context.Background(), demo.Config{
		Addr:     "127.0.0.1:0",
		StoreURL: "mem://",
		Secrets:  []string{"an example secret"},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Shutdown(context.Background())

	resp, err := http.Get(s.URL() + "/healthz")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Printf("%s %s", resp.Status, body)
	// Output: 200 OK ok
}
