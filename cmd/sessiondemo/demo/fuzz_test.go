package demo

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

// startForFuzz starts the demo on a memory store, stopped when f ends.
func startForFuzz(f *testing.F) *Server {
	f.Helper()
	srv, err := Start(context.Background(), Config{
		Addr: "127.0.0.1:0", StoreURL: "mem://", Secrets: []string{"fuzz secret"},
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { srv.Shutdown(context.Background()) })
	return srv
}

// FuzzAPIPutSession sends arbitrary bodies to PUT /api/session: the demo
// answers 200 or a 4xx, never a 5xx, and the session stays readable as JSON.
func FuzzAPIPutSession(f *testing.F) {
	srv := startForFuzz(f)
	for _, s := range []string{`{"color":"teal"}`, `{"a":null}`, `{"":1}`, `[1]`, `{"a":{"b":[1,2,{"c":"\u00e9"}]}}`, `{"cookie":1}`, `{"a":1e999}`, "{\"\xff\":1}"} {
		f.Add(s)
	}
	client := &http.Client{}
	f.Fuzz(func(t *testing.T, body string) {
		req, _ := http.NewRequest(http.MethodPut, srv.URL()+"/api/session", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Fatalf("PUT %q: %d", body, resp.StatusCode)
		}
		var cookie *http.Cookie
		for _, c := range resp.Cookies() {
			cookie = c
		}
		if cookie == nil {
			return
		}
		get, _ := http.NewRequest(http.MethodGet, srv.URL()+"/api/session", nil)
		get.AddCookie(cookie)
		resp, err = client.Do(get)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&out) != nil {
			t.Fatalf("after PUT %q: GET /api/session answered %d", body, resp.StatusCode)
		}
	})
}
