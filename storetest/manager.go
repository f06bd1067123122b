package storetest

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/session"
)

// ParallelRequests is how many requests the manager subtest sends at once on
// one session.
const ParallelRequests = 64

// logWriter sends the manager's log to the test log.
type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// testLogger is a logger for the managers the suite makes: Info and above, to
// the test log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(logWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// testThroughManager runs the manager on the store and sends 64 parallel
// requests on one session, each setting its own key: all 64 keys must survive.
func testThroughManager(t *testing.T, newStore func(*testing.T) session.Store, cfg *config) {
	st := newStore(t)
	if _, ok := st.(session.VersionedStore); !ok {
		t.Skip("store is not a session.VersionedStore: without compare-and-swap the manager falls back to plain writes, and parallel updates can be lost")
	}
	m, err := session.New(session.Options{
		Secrets: []string{"storetest secret"},
		Store:   st,
		// 64 writers on one session retry each other's conflicts; on a slow
		// server that takes longer than the default StoreTimeout, and what
		// this test pins is that nothing is lost, not how fast.
		StoreTimeout: time.Minute,
		Logger:       testLogger(t),
	})
	if err != nil {
		t.Fatalf("session.New: %v", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/set", func(w http.ResponseWriter, r *http.Request) {
		s := session.From(r)
		if s == nil {
			http.Error(w, "no session", http.StatusInternalServerError)
			return
		}
		s.Set(r.FormValue("k"), r.FormValue("v"))
		io.WriteString(w, s.ID())
	})
	mux.HandleFunc("/values", func(w http.ResponseWriter, r *http.Request) {
		s := session.From(r)
		if s == nil {
			http.Error(w, "no session", http.StatusInternalServerError)
			return
		}
		values := map[string]string{}
		for _, k := range s.Keys() {
			values[k] = fmt.Sprint(s.Get(k))
		}
		json.NewEncoder(w).Encode(map[string]any{"id": s.ID(), "new": s.IsNew(), "values": values})
	})
	srv := httptest.NewServer(m.Handler(mux))
	t.Cleanup(srv.Close)
	tr := &http.Transport{MaxIdleConnsPerHost: ParallelRequests}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr}

	get := func(path string, cookies []*http.Cookie) (*http.Response, string, error) {
		req, err := http.NewRequestWithContext(t.Context(), "GET", srv.URL+path, nil)
		if err != nil {
			return nil, "", err
		}
		for _, c := range cookies {
			req.AddCookie(c)
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return nil, "", err
		}
		if resp.StatusCode != http.StatusOK {
			return nil, "", fmt.Errorf("GET %s: %s: %s", path, resp.Status, body)
		}
		return resp, string(body), nil
	}

	resp, id, err := get("/set?k=first&v=0", nil)
	if err != nil {
		t.Fatal(err)
	}
	cookies := resp.Cookies()
	if len(cookies) == 0 {
		t.Fatal("the first request got no session cookie")
	}

	var wg sync.WaitGroup
	for i := range ParallelRequests {
		wg.Go(func() {
			resp, gotID, err := get(fmt.Sprintf("/set?k=key%02d&v=%d", i, i), cookies)
			if err != nil {
				t.Error(err)
				return
			}
			if gotID != id {
				t.Errorf("request %d ran on session %q, want %q", i, gotID, id)
			}
			for _, c := range resp.Cookies() {
				if c.Name == cookies[0].Name && c.Value != cookies[0].Value {
					t.Errorf("request %d was sent another session cookie: %s", i, c)
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	_, body, err := get("/values", cookies)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		ID     string
		New    bool
		Values map[string]string
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("decoding %q: %v", body, err)
	}
	if got.ID != id || got.New {
		t.Fatalf("the final request ran on session %q (new: %v), want %q", got.ID, got.New, id)
	}
	want := map[string]string{"first": "0"}
	for i := range ParallelRequests {
		want[fmt.Sprintf("key%02d", i)] = fmt.Sprint(i)
	}
	lost := 0
	for k, v := range want {
		if got.Values[k] != v {
			lost++
			t.Errorf("key %q = %q after the parallel requests, want %q", k, got.Values[k], v)
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d keys lost", lost, len(want))
	}
}
