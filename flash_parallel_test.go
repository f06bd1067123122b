package session

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Parallel requests that each add a flash message (a page's fetches, each
// saying "added to cart") all keep their message: the save that finds
// another request's write adds its messages to the ones stored, where it
// wrote its own copy of the "flash" key over them and the next page showed
// one message of the n.
func TestParallelFlashesAreAllKept(t *testing.T) {
	const n = 20
	m, _ := newTestManager(t, Options{})
	b := stored(t, m)
	var loaded sync.WaitGroup
	loaded.Add(n)
	allLoaded := make(chan struct{})
	go func() { loaded.Wait(); close(allLoaded) }()
	add := m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Get("views")
		loaded.Done()
		<-allLoaded
		s.Flash("info", "added "+r.URL.Query().Get("i"))
	}))
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			c := &browser{t: t, h: add, cookie: b.cookie}
			if rec := c.get(fmt.Sprintf("/?i=%d", i)); rec.Code != 200 {
				t.Errorf("request %d: %d %s", i, rec.Code, rec.Body)
			}
		})
	}
	wg.Wait()
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		fmt.Fprint(w, strings.Join(s.Flashes("info"), ","))
	}))
	got := strings.Split(b.get("/").Body.String(), ",")
	slices.Sort(got)
	var want []string
	for i := range n {
		want = append(want, fmt.Sprint("added ", i))
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("Flashes after %d parallel Flash calls = %q (%d), want all %d", n, got, len(got), n)
	}
}

// A page that reads the flash messages while a parallel request adds one:
// the page's save removes only the messages it read, and the message added
// meanwhile is shown on the next page, whichever request saves first. The
// page's save used to delete the new message when it saved last, and the
// other request's to bring back the message the page had shown when it
// saved last, so that it was shown twice.
func TestFlashesReadWhileAParallelRequestAddsOneLoseNothingAndShowNothingTwice(t *testing.T) {
	for _, readerFirst := range []bool{false, true} {
		t.Run(fmt.Sprint("reader saves first=", readerFirst), func(t *testing.T) {
			m, st := newTestManager(t, Options{})
			b := stored(t, m)
			id := mustID(t, m, b.cookie)
			doc := `{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},` +
				`"flash":{"info":["shown once"],"error":[{"msg":"bad","path":"email"}]}}`
			if err := st.Store.Set(t.Context(), id, []byte(doc), time.Time{}); err != nil {
				t.Fatal(err)
			}
			var loaded sync.WaitGroup
			loaded.Add(2)
			release := map[string]chan struct{}{"/read": make(chan struct{}), "/add": make(chan struct{})}
			h := m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
				s.Get("views")
				loaded.Done()
				<-release[r.URL.Path]
				switch r.URL.Path {
				case "/read":
					fmt.Fprint(w, strings.Join(s.Flashes("info"), ","))
				case "/add":
					s.Flash("info", "new")
				}
			}))
			order := []string{"/add", "/read"}
			if readerFirst {
				order = []string{"/read", "/add"}
			}
			done := map[string]chan string{"/read": make(chan string, 1), "/add": make(chan string, 1)}
			for _, p := range order {
				go func() { done[p] <- (&browser{t: t, h: h, cookie: b.cookie}).get(p).Body.String() }()
			}
			loaded.Wait()
			var read string
			for _, p := range order {
				close(release[p])
				if got := <-done[p]; p == "/read" {
					read = got
				}
			}
			if read != "shown once" {
				t.Fatalf("the page read %q", read)
			}
			b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
				fmt.Fprintf(w, "%q %q", s.Flashes("info"), s.Flashes("error"))
			}))
			if got, want := b.get("/").Body.String(), `["new"] ["{\"msg\":\"bad\",\"path\":\"email\"}"]`; got != want {
				t.Fatalf("the next page's flashes = %s, want %s", got, want)
			}
		})
	}
}
