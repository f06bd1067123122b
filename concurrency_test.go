package session

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"
)

// Deliberate difference 1: parallel requests that change different keys of
// one session all keep their change. Every request loads the session before
// any of them saves, the worst case for lost updates.
func TestParallelRequestsSettingDifferentKeysLoseNothing(t *testing.T) {
	const n = 100
	m, st := newTestManager(t, Options{})
	b := stored(t, m)
	var loaded sync.WaitGroup
	loaded.Add(n)
	allLoaded := make(chan struct{})
	go func() { loaded.Wait(); close(allLoaded) }()
	h := m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		loaded.Done()
		<-allLoaded
		s.Set("k"+r.URL.Query().Get("i"), true)
	}))
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			c := &browser{t: t, h: h, cookie: b.cookie}
			if rec := c.get(fmt.Sprintf("/?i=%d", i)); rec.Code != 200 {
				t.Errorf("request %d: %d %s", i, rec.Code, rec.Body)
			}
		})
	}
	wg.Wait()
	data, _, err := st.Store.Get(t.Context(), mustID(t, m, b.cookie))
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := JSONCodec{}.Decode(data)
	for i := range n {
		if _, ok := doc.Values[fmt.Sprint("k", i)]; !ok {
			t.Errorf("key k%d lost", i)
		}
	}
	if _, ok := doc.Values["views"]; !ok {
		t.Error("the key set before the parallel requests was lost")
	}
}

func TestParallelDeleteAndSetOfDifferentKeysBothApply(t *testing.T) {
	m, st := newTestManager(t, Options{})
	b := stored(t, m) // views = 1
	var both sync.WaitGroup
	both.Add(2)
	h := m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Get("views")
		both.Done()
		both.Wait()
		if r.URL.Path == "/delete" {
			s.Delete("views")
		} else {
			s.Set("cart", 3)
		}
	}))
	var wg sync.WaitGroup
	for _, p := range []string{"/delete", "/set"} {
		wg.Go(func() { (&browser{t: t, h: h, cookie: b.cookie}).get(p) })
	}
	wg.Wait()
	data, _, _ := st.Store.Get(t.Context(), mustID(t, m, b.cookie))
	doc, _ := JSONCodec{}.Decode(data)
	if _, ok := doc.Values["views"]; ok || string(doc.Values["cart"]) != "3" {
		t.Fatalf("stored: %s", data)
	}
}

// A parallel request's change of the cookie's own expiry ("remember me")
// survives a slower request's save of another key, as its keys do; the
// slower request's own change of the cookie wins over the stored one.
func TestParallelRequestsChangeOfTheCookieExpiryIsNotLost(t *testing.T) {
	const month = 30 * 24 * time.Hour
	for _, c := range []struct {
		name       string
		slowSets   time.Duration // the slower request's own SetMaxAge, if any
		wantMaxAge time.Duration
	}{{"slower request leaves the cookie", 0, month}, {"slower request sets it too", time.Hour, time.Hour}} {
		t.Run(c.name, func(t *testing.T) {
			m, st := newTestManager(t, Options{}) // browser-session cookies
			b := stored(t, m)
			loaded, remembered := make(chan struct{}), make(chan struct{})
			slow := m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
				s.Get("views")
				close(loaded)
				<-remembered
				s.Set("x", 1)
				if c.slowSets > 0 {
					s.Cookie().SetMaxAge(c.slowSets)
				}
			}))
			remember := m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
				s.Cookie().SetMaxAge(month)
			}))
			done := make(chan struct{})
			go func() { defer close(done); (&browser{t: t, h: slow, cookie: b.cookie}).get("/slow") }()
			<-loaded
			(&browser{t: t, h: remember, cookie: b.cookie}).get("/remember")
			close(remembered)
			<-done
			data, _, _ := st.Store.Get(t.Context(), mustID(t, m, b.cookie))
			doc, err := JSONCodec{}.Decode(data)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := doc.Values["x"]; !ok {
				t.Fatalf("the slower request's key is lost: %s", data)
			}
			if doc.Cookie.OriginalMaxAge == nil || *doc.Cookie.OriginalMaxAge != c.wantMaxAge.Milliseconds() {
				t.Fatalf("stored cookie max age, want %v: %s", c.wantMaxAge, data)
			}
			// The store keeps it as long as the cookie lasts, and no longer.
			id := mustID(t, m, b.cookie)
			st.clock.Advance(c.wantMaxAge - time.Minute)
			if _, found, _ := st.Store.Get(t.Context(), id); !found {
				t.Fatalf("gone from the store before its cookie's %v", c.wantMaxAge)
			}
			st.clock.Advance(2 * time.Minute)
			if _, found, _ := st.Store.Get(t.Context(), id); found {
				t.Fatalf("still stored after its cookie's %v", c.wantMaxAge)
			}
		})
	}
}

// Deliberate difference 2: no resurrection.
func TestSessionDestroyedDuringASlowerRequestStaysDestroyed(t *testing.T) {
	for _, resave := range []bool{false, true} {
		m, st := newTestManager(t, Options{Resave: resave})
		b := stored(t, m)
		id := mustID(t, m, b.cookie)
		loaded, destroyed := make(chan struct{}), make(chan struct{})
		slow := m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
			s.Get("views")
			close(loaded)
			<-destroyed
			s.Set("cart", "late write")
		}))
		logout := m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
			if err := s.Destroy(r.Context()); err != nil {
				t.Error(err)
			}
		}))
		done := make(chan struct{})
		go func() { defer close(done); (&browser{t: t, h: slow, cookie: b.cookie}).get("/slow") }()
		<-loaded
		(&browser{t: t, h: logout, cookie: b.cookie}).get("/logout")
		close(destroyed)
		<-done
		if _, found, err := st.Store.Get(context.Background(), id); err != nil || found {
			t.Fatalf("resave=%v: the destroyed session was written back: %v", resave, err)
		}
	}
}

func TestSessionRenewedDuringASlowerRequestIsNotWrittenBackUnderTheOldID(t *testing.T) {
	m, st := newTestManager(t, Options{})
	b := stored(t, m)
	oldID := mustID(t, m, b.cookie)
	loaded, renewed := make(chan struct{}), make(chan struct{})
	slow := m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Get("views")
		close(loaded)
		<-renewed
		s.Set("x", 1)
	}))
	login := m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) { s.RenewID(r.Context()) }))
	done := make(chan struct{})
	go func() { defer close(done); (&browser{t: t, h: slow, cookie: b.cookie}).get("/") }()
	<-loaded
	(&browser{t: t, h: login, cookie: b.cookie}).get("/login")
	close(renewed)
	<-done
	if _, found, err := st.Store.Get(context.Background(), oldID); err != nil || found {
		t.Fatalf("old id resurrected: %v", err)
	}
}

// plainStore hides the memstore's compare-and-swap: the documented fallback.
type plainStore struct{ Store }

func TestStoreWithoutCompareAndSwapFallsBackToAPlainWrite(t *testing.T) {
	cs := newCountingStore(t)
	m, _ := newTestManager(t, Options{Store: plainStore{cs}})
	b := newBrowser(t, m.Handler(incrViews))
	b.get("/")
	if got := b.get("/").Body.String(); got != "2" || cs.n("Set") != 2 || cs.n("CompareAndSwap") != 0 {
		t.Fatalf("views=%s calls=%v", got, cs.calls)
	}
	_ = time.Second
}
