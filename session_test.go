package session

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestGetSetDeleteHasKeysClear(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		switch r.URL.Path {
		case "/set":
			s.Set("b", "two")
			s.Set("a", 1)
			s.Set("c", []string{"x"})
		case "/delete":
			s.Delete("b")
		case "/clear":
			s.Clear()
		}
		fmt.Fprintf(w, "%v %v %v %v", s.Keys(), s.Has("a"), s.Get("a"), s.Get("b"))
	})))
	if got := b.get("/set").Body.String(); got != "[a b c] true 1 two" {
		t.Fatalf("after set: %s", got)
	}
	if got := b.get("/").Body.String(); got != "[a b c] true 1 two" {
		t.Fatalf("loaded: %s", got) // a loaded number is a float64 that prints as 1
	}
	if got := b.get("/delete").Body.String(); got != "[a c] true 1 <nil>" {
		t.Fatalf("after delete: %s", got)
	}
	if got := b.get("/").Body.String(); got != "[a c] true 1 <nil>" {
		t.Fatalf("delete not stored: %s", got)
	}
	b.get("/clear")
	if got := b.get("/").Body.String(); got != "[] false <nil> <nil>" {
		t.Fatalf("clear not stored: %s", got)
	}
}

type cart struct {
	Items []string `json:"items"`
	Total int      `json:"total"`
}

func TestGetAsConvertsStoredJSONToTheRequestedType(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		if r.URL.Path == "/set" {
			s.Set("cart", cart{Items: []string{"tea"}, Total: 3})
			s.Set("n", 41)
		}
		c, okc := GetAs[cart](s, "cart")
		n, okn := GetAs[int](s, "n")
		_, okbad := GetAs[int](s, "cart")
		_, okmissing := GetAs[string](s, "missing")
		fmt.Fprintf(w, "%v %v %d %v %v %v", c, okc, n, okn, okbad, okmissing)
	})))
	want := "{[tea] 3} true 41 true false false"
	if got := b.get("/set").Body.String(); got != want {
		t.Fatalf("same request: %s", got)
	}
	if got := b.get("/").Body.String(); got != want {
		t.Fatalf("loaded: %s", got)
	}
}

func TestSettingTheSameValueIsNotAModification(t *testing.T) {
	m, st := newTestManager(t, Options{})
	b := stored(t, m) // views = 1
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) { s.Set("views", 1) }))
	st.reset()
	b.get("/")
	if st.writes() != 0 {
		t.Fatalf("writes = %d, want 0", st.writes())
	}
}

// Past 2^53, ints that differ share a float64; a Set of a different one
// must still be a change.
func TestSettingADifferentLargeIntegerIsAModification(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) { s.Set("n", 1<<53) })))
	b.get("/")
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) { s.Set("n", 1<<53+1) }))
	b.get("/")
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		n, _ := GetAs[int](s, "n")
		fmt.Fprint(w, n)
	}))
	if got := b.get("/").Body.String(); got != "9007199254740993" {
		t.Fatalf("n = %s after Set(2^53 + 1), want 9007199254740993", got)
	}
}

func TestFlashMessagesAreReadOnceInConnectFlashFormat(t *testing.T) {
	m, st := newTestManager(t, Options{})
	b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		if r.URL.Path == "/save" {
			s.Flash("info", "saved")
			s.Flash("info", "twice")
			s.Flash("error", "oops")
			return
		}
		fmt.Fprint(w, s.Flashes("info"))
	})))
	b.get("/save")
	data, _, _ := st.Store.Get(t.Context(), mustID(t, m, b.cookie))
	if !strings.Contains(string(data), `"flash":{"error":["oops"],"info":["saved","twice"]}`) {
		t.Fatalf("stored flash: %s", data)
	}
	if got := b.get("/").Body.String(); got != "[saved twice]" {
		t.Fatalf("first read: %s", got)
	}
	if got := b.get("/").Body.String(); got != "[]" {
		t.Fatalf("second read: %s", got)
	}
}

func TestRegenerateGivesANewEmptySessionAndTheOldIDStopsWorking(t *testing.T) {
	m, st := newTestManager(t, Options{})
	b := stored(t, m)
	oldCookie, oldID := b.cookie, mustID(t, m, b.cookie)
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		if err := s.Regenerate(r.Context()); err != nil {
			t.Error(err)
		}
		fmt.Fprint(w, s.Keys())
	}))
	rec := b.get("/")
	if rec.Body.String() != "[]" || b.cookie == oldCookie || setCookie(rec) == "" {
		t.Fatalf("body %s, cookie changed %v", rec.Body, b.cookie != oldCookie)
	}
	if _, found, err := st.Store.Get(t.Context(), oldID); err != nil || found {
		t.Fatalf("old id still stored: %v", err)
	}
	if _, found, err := st.Store.Get(t.Context(), mustID(t, m, b.cookie)); err != nil || !found {
		t.Fatalf("new session not saved: %v", err)
	}
	old := newBrowser(t, m.Handler(readViews))
	old.cookie = oldCookie
	if old.get("/").Body.String() != "0" {
		t.Fatal("the old cookie still reads data")
	}
}

// express's regenerate makes a new session with a new cookie from the
// options: a "remember me" expiry on the old session does not outlive a
// logout by Regenerate. RenewID, which keeps the data, keeps it too.
func TestRegenerateGivesTheNewSessionTheOptionsCookie(t *testing.T) {
	for _, c := range []struct {
		name       string
		keep       bool
		wantMaxAge bool
	}{{"Regenerate", false, false}, {"RenewID", true, true}} {
		t.Run(c.name, func(t *testing.T) {
			m, st := newTestManager(t, Options{}) // browser-session cookies
			b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
				s.Set("user", "ann")
				s.Cookie().SetMaxAge(30 * 24 * time.Hour) // remember me
			})))
			b.get("/login")
			b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
				if err := s.regenerate(r.Context(), c.keep); err != nil {
					t.Error(err)
				}
				s.Set("step", 2) // so that the new session is stored either way
			}))
			sc := setCookie(b.get("/"))
			data, _, _ := st.Store.Get(t.Context(), mustID(t, m, b.cookie))
			if got := strings.Contains(sc, "Max-Age=2592000"); got != c.wantMaxAge {
				t.Fatalf("30-day cookie %v, want %v\nSet-Cookie: %s", got, c.wantMaxAge, sc)
			}
			if got := strings.Contains(string(data), `"originalMaxAge":2592000000`); got != c.wantMaxAge {
				t.Fatalf("30-day cookie stored %v, want %v: %s", got, c.wantMaxAge, data)
			}
		})
	}
}

func TestRenewIDKeepsTheDataUnderANewIDAndTheOldIDStopsWorking(t *testing.T) {
	m, st := newTestManager(t, Options{})
	b := stored(t, m) // views = 1
	oldCookie := b.cookie
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		if err := s.RenewID(r.Context()); err != nil {
			t.Error(err)
		}
		s.Set("user", "ada")
	}))
	b.get("/login")
	if b.cookie == oldCookie {
		t.Fatal("id not renewed")
	}
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		fmt.Fprintf(w, "%v %v", s.Get("views"), s.Get("user"))
	}))
	if got := b.get("/").Body.String(); got != "1 ada" {
		t.Fatalf("data after renew: %s", got)
	}
	if n, _ := st.Count(t.Context()); n != 1 {
		t.Fatalf("stored sessions = %d, want 1", n)
	}
	old := newBrowser(t, b.h)
	old.cookie = oldCookie
	if got := old.get("/").Body.String(); got != "<nil> <nil>" {
		t.Fatalf("old cookie reads %s", got)
	}
}

func TestDestroyDeletesTheSessionAndClearsTheCookie(t *testing.T) {
	m, st := newTestManager(t, Options{})
	b := stored(t, m)
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		if err := s.Destroy(r.Context()); err != nil {
			t.Error(err)
		}
	}))
	rec := b.get("/logout")
	if c := setCookie(rec); !strings.Contains(c, "Max-Age=0") || !strings.HasPrefix(c, "sid=;") {
		t.Fatalf("want a clearing cookie, got %q", c)
	}
	if n, _ := st.Count(t.Context()); n != 0 {
		t.Fatalf("stored sessions = %d", n)
	}
}

func TestFlashAfterDestroyStartsAFreshSession(t *testing.T) {
	m, st := newTestManager(t, Options{})
	b := stored(t, m)
	old := b.cookie
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		if r.URL.Path == "/logout" {
			s.Destroy(r.Context())
			s.Flash("info", "bye")
			return
		}
		fmt.Fprintf(w, "%v %v", s.Flashes("info"), s.Get("views"))
	}))
	b.get("/logout")
	if b.cookie == "" || b.cookie == old {
		t.Fatal("want a new session cookie for the flash")
	}
	if got := b.get("/").Body.String(); got != "[bye] <nil>" {
		t.Fatalf("after logout: %s", got)
	}
	if n, _ := st.Count(t.Context()); n != 1 {
		t.Fatalf("stored = %d, want only the fresh session", n)
	}
}

func TestReloadReadsWhatAnotherRequestWrote(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	b := stored(t, m)
	other := newBrowser(t, m.Handler(incrViews))
	other.cookie = b.cookie
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		before := s.Get("views")
		other.get("/") // another request writes views = 2 meanwhile
		if err := s.Reload(r.Context()); err != nil {
			t.Error(err)
		}
		fmt.Fprint(w, before, s.Get("views"))
	}))
	if got := b.get("/").Body.String(); got != "1 2" {
		t.Fatalf("got %s", got)
	}
}

// A change not saved is dropped by Reload, and so is its effect on the end
// of the request: nothing is written.
func TestReloadDropsAnUnsavedChangeAndWritesNothing(t *testing.T) {
	m, st := newTestManager(t, Options{Cookie: CookieOptions{MaxAge: time.Hour}})
	b := stored(t, m) // views = 1
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Set("views", 5)
		if err := s.Reload(r.Context()); err != nil {
			t.Error(err)
		}
		fmt.Fprint(w, s.Get("views"))
	}))
	st.reset()
	rec := b.get("/")
	if rec.Body.String() != "1" || st.writes() != 0 || setCookie(rec) != "" {
		t.Fatalf("views %s, %d writes, Set-Cookie %q; want 1, none, none", rec.Body, st.writes(), setCookie(rec))
	}
}

func TestReloadAfterUnsetLeavesTheSessionUnset(t *testing.T) {
	m, st := newTestManager(t, Options{Unset: UnsetDestroy})
	b := stored(t, m)
	id := mustID(t, m, b.cookie)
	b.h = m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := From(r)
		s.Unset()
		if err := s.Reload(r.Context()); err != nil {
			t.Error(err)
		}
		if From(r) != nil {
			t.Error("From returns the session after Unset and Reload")
		}
	}))
	b.get("/")
	if _, found, _ := st.Store.Get(t.Context(), id); found {
		t.Fatal("the unset session is still stored (UnsetDestroy)")
	}
}

func TestReloadOfADestroyedSessionIsAnError(t *testing.T) {
	m, st := newTestManager(t, Options{})
	b := stored(t, m)
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		st.Store.Destroy(r.Context(), s.ID())
		if err := s.Reload(r.Context()); !errors.Is(err, ErrNotFound) {
			t.Errorf("Reload = %v, want ErrNotFound", err)
		}
	}))
	b.get("/")
}

func TestSaveWritesNowAndTheEndOfTheRequestDoesNotWriteAgain(t *testing.T) {
	m, st := newTestManager(t, Options{})
	b := stored(t, m)
	st.reset()
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Set("step", 1)
		if err := s.Save(r.Context()); err != nil {
			t.Error(err)
		}
		if st.writes() != 1 {
			t.Errorf("Save did not write: %d", st.writes())
		}
	}))
	b.get("/")
	if st.writes() != 1 {
		t.Fatalf("writes = %d, want exactly 1", st.writes())
	}
}

func TestCookieAccessorsAndTouch(t *testing.T) {
	m, _ := newTestManager(t, Options{Cookie: CookieOptions{MaxAge: time.Hour}})
	b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		c := s.Cookie()
		if c.OriginalMaxAge() != time.Hour || c.MaxAge() < 59*time.Minute || time.Until(c.Expires()) < 59*time.Minute {
			t.Errorf("defaults: %v %v %v", c.OriginalMaxAge(), c.MaxAge(), c.Expires())
		}
		c.SetExpires(time.Now().Add(2 * time.Hour))
		if c.OriginalMaxAge() < 119*time.Minute {
			t.Errorf("SetExpires must set the original max age: %v", c.OriginalMaxAge())
		}
		c.SetMaxAge(10 * time.Minute)
		s.Touch()
		if c.MaxAge() > 10*time.Minute || c.MaxAge() < 9*time.Minute {
			t.Errorf("after SetMaxAge+Touch: %v", c.MaxAge())
		}
		c.SetMaxAge(0)
		if !c.Expires().IsZero() || c.MaxAge() != 0 {
			t.Errorf("SetMaxAge(0) must make a browser-session cookie")
		}
	})))
	rec := b.get("/")
	if c := setCookie(rec); strings.Contains(c, "Expires") {
		t.Fatalf("browser-session cookie has an expiry: %q", c)
	}
}

func TestNilSessionMethodsAreSafe(t *testing.T) {
	var s *Session
	s.Set("a", 1)
	s.Delete("a")
	s.Clear()
	s.Touch()
	s.Unset()
	s.Flash("info", "x")
	s.Cookie().SetMaxAge(time.Hour)
	ctx := context.Background()
	if s.Get("a") != nil || s.Has("a") || s.Keys() != nil || s.ID() != "" || s.IsNew() || s.Flashes("info") != nil ||
		s.Regenerate(ctx) != nil || s.RenewID(ctx) != nil || s.Destroy(ctx) != nil || s.Reload(ctx) != nil || s.Save(ctx) != nil ||
		s.Cookie().MaxAge() != 0 || !s.Cookie().Expires().IsZero() {
		t.Fatal("a nil session must behave as empty")
	}
	if _, ok := GetAs[int](s, "a"); ok {
		t.Fatal("GetAs on nil")
	}
	if From(httptestRequest()) != nil {
		t.Fatal("From outside the middleware must be nil")
	}
}

func httptestRequest() *http.Request { r, _ := http.NewRequest("GET", "/", nil); return r }

func TestIsNewIsTrueOnlyForSessionsNotLoadedFromTheStore(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		isNew := s.IsNew()
		s.Set("x", 1)
		fmt.Fprint(w, isNew)
	})))
	if b.get("/").Body.String() != "true" || b.get("/").Body.String() != "false" {
		t.Fatal("IsNew wrong")
	}
}

func TestSessionIsSafeForConcurrentGoroutinesOfOneRequest(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Go(func() {
				k := fmt.Sprint("k", i)
				s.Set(k, i)
				_ = s.Get(k)
				_ = s.Keys()
				s.Cookie().MaxAge()
				From(r).Has(k)
			})
		}
		wg.Wait()
	})))
	b.get("/")
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) { fmt.Fprint(w, len(s.Keys())) }))
	if got := b.get("/").Body.String(); got != "16" {
		t.Fatalf("keys = %s", got)
	}
}

func TestIdleTimeoutForgetsAnUnusedSession(t *testing.T) {
	m, st := newTestManager(t, Options{IdleTimeout: 30 * time.Minute})
	b := newBrowser(t, m.Handler(incrViews))
	b.get("/")
	st.clock.Advance(29 * time.Minute)
	if b.get("/").Body.String() != "2" {
		t.Fatal("an active session must survive")
	}
	st.clock.Advance(31 * time.Minute)
	if got := b.get("/").Body.String(); got != "1" {
		t.Fatalf("after the idle timeout views = %s, want a new session", got)
	}
}

// On a store that cannot touch, a read is still a use: it rewrites the
// session to move the idle deadline.
func TestIdleTimeoutOnAStoreWithoutTouchCountsReadsAsUse(t *testing.T) {
	cs := newCountingStore(t)
	m, _ := newTestManager(t, Options{Store: plainStore{cs}, IdleTimeout: 10 * time.Minute})
	m.now = cs.clock.Now
	b := newBrowser(t, m.Handler(incrViews))
	b.get("/") // views = 1
	b.h = m.Handler(readViews)
	for i := range 4 {
		cs.clock.Advance(6 * time.Minute)
		if got := b.get("/").Body.String(); got != "1" {
			t.Fatalf("read %d, 6m after the last use: views = %q, the session is gone", i+1, got)
		}
	}
	cs.clock.Advance(11 * time.Minute)
	if got := b.get("/").Body.String(); got != "0" {
		t.Fatalf("11m after the last use: views = %q, want a new session", got)
	}
}

func TestAbsoluteTimeoutForgetsASessionWhateverItsActivity(t *testing.T) {
	m, st := newTestManager(t, Options{AbsoluteTimeout: time.Hour})
	b := newBrowser(t, m.Handler(incrViews))
	b.get("/")
	b.get("/")
	st.clock.Advance(61 * time.Minute)
	if got := b.get("/").Body.String(); got != "1" {
		t.Fatalf("views = %s, want a new session", got)
	}
}

func TestCreationTimeSurvivesAnExpressAppRewritingTheDocument(t *testing.T) {
	m, st := newTestManager(t, Options{AbsoluteTimeout: time.Hour})
	b := stored(t, m)
	id := mustID(t, m, b.cookie)
	data, _, _ := st.Store.Get(t.Context(), id)
	doc, err := JSONCodec{}.Decode(data)
	if err != nil || doc.Created.IsZero() {
		t.Fatalf("no creation time stored: %s", data)
	}
	// What express writes back: its own cookie object, then every data key
	// (the creation time is one to express), in insertion order.
	express := fmt.Sprintf(`{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"views":7,%q:%q}`,
		CreatedKey, doc.Created.UTC().Format(isoMillis))
	st.Store.Set(t.Context(), id, []byte(express), time.Time{})
	st.clock.Set(doc.Created.Add(59 * time.Minute))
	if got := b.get("/").Body.String(); got != "8" {
		t.Fatalf("views = %s, want the express-written session", got)
	}
	st.clock.Set(doc.Created.Add(61 * time.Minute))
	if got := b.get("/").Body.String(); got != "1" {
		t.Fatalf("views = %s, want the session past its absolute timeout gone", got)
	}
}

func TestTouchAfterSkipsRecentTouchesAndRewritesTheExpiryWhenDue(t *testing.T) {
	m, st := newTestManager(t, Options{TouchAfter: time.Minute, Cookie: CookieOptions{MaxAge: time.Hour}})
	b := stored(t, m)
	b.h = m.Handler(readViews)
	st.reset()
	b.get("/")
	if st.total() != 1 { // the load only
		t.Fatalf("a fresh session was touched: %v", st.calls)
	}
	st.clock.Advance(2 * time.Minute)
	st.reset()
	b.get("/")
	if st.writes() != 1 || st.n("Touch") != 0 {
		t.Fatalf("a due touch must rewrite the document: %v", st.calls)
	}
	data, _, _ := st.Store.Get(t.Context(), mustID(t, m, b.cookie))
	doc, _ := JSONCodec{}.Decode(data)
	if d := doc.Cookie.Expires.Sub(st.clock.Now()); d < 59*time.Minute {
		t.Fatalf("stored expiry not pushed: %v", d)
	}
	_ = reflect.DeepEqual
}

func TestSessionWrittenWithoutACreationTimeGetsOneAtItsNextSave(t *testing.T) {
	m, st := newTestManager(t, Options{AbsoluteTimeout: time.Hour})
	id := "express-made-session-id-0123456789"
	express := `{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"views":1}`
	st.Store.Set(t.Context(), id, []byte(express), time.Time{})
	b := newBrowser(t, m.Handler(incrViews))
	b.cookie = mustCookie(m, id)
	if got := b.get("/").Body.String(); got != "2" {
		t.Fatalf("views = %s", got)
	}
	data, _, _ := st.Store.Get(t.Context(), id)
	doc, _ := JSONCodec{}.Decode(data)
	if !doc.Created.Equal(st.clock.Now().Truncate(time.Millisecond)) { // the time of that save
		t.Fatalf("creation time not recorded: %s", data)
	}
}

// The middleware's request context is the incoming one with the session
// state added: outer middleware's values, deadline and cancellation reach
// the handler, and contexts the handler derives from it end with it.
func TestTheHandlersContextCarriesTheRequestsValuesAndCancellation(t *testing.T) {
	type outerKey struct{}
	m, _ := newTestManager(t, Options{})
	deadline := time.Now().Add(time.Hour)
	ctx, cancel := context.WithDeadline(context.WithValue(context.Background(), outerKey{}, "outer"), deadline)
	defer cancel()
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := r.Context()
		if From(r) == nil || c.Value(outerKey{}) != "outer" {
			t.Errorf("session %v, outer value %v", From(r), c.Value(outerKey{}))
		}
		if d, ok := c.Deadline(); !ok || !d.Equal(deadline) {
			t.Errorf("deadline %v, %v; want %v", d, ok, deadline)
		}
		derived, stop := context.WithCancel(c)
		defer stop()
		cancel()
		select {
		case <-derived.Done():
		case <-time.After(10 * time.Second):
			t.Fatal("a context derived from the handler's did not end with the request's")
		}
		if c.Err() != context.Canceled || context.Cause(derived) != context.Canceled {
			t.Errorf("after cancel: err %v, cause %v", c.Err(), context.Cause(derived))
		}
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil).WithContext(ctx))
}

// A Save by hand is the request's write of its session, and the request
// keeps the session alive as any other does: what it stores expires the
// cookie's max age after the request, as the cookie it sends says, not
// when the loaded copy would have. express saves the loaded cookie and
// then touches the store at the end of the request; sessionkit makes no
// touch after a save by hand (README, difference #14), so the save itself
// must store the renewed expiry.
func TestSaveByHandOfAnOldSessionStoresTheRenewedExpiry(t *testing.T) {
	m, st := newTestManager(t, Options{Cookie: CookieOptions{MaxAge: time.Hour}})
	b := stored(t, m) // views = 1, expires in an hour
	id := mustID(t, m, b.cookie)
	st.clock.Advance(50 * time.Minute)
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Set("views", 2)
		if err := s.Save(r.Context()); err != nil {
			t.Error(err)
		}
	}))
	rec := b.get("/")
	want := st.clock.Now().Add(time.Hour)
	if c := rec.Result().Cookies(); len(c) != 1 || !c[0].Expires.Equal(want.Truncate(time.Second)) {
		t.Fatalf("Set-Cookie %q, want one expiring at %s", setCookie(rec), want)
	}
	data, _, err := st.Store.Get(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if doc := string(data); !strings.Contains(doc, `"expires":"`+want.UTC().Format("2006-01-02T15:04:05.000Z")+`"`) {
		t.Errorf("stored document %s, want its cookie to expire at %s", doc, want)
	}
	st.clock.Advance(30 * time.Minute) // past the loaded copy's expiry, before the cookie's
	if _, found, err := st.Store.Get(t.Context(), id); err != nil || !found {
		t.Fatalf("the session is gone (err %v) 30 minutes into the hour its cookie gives it", err)
	}
}

// TestSaveOfASessionDestroyedMeanwhileReturnsErrNotFound pins what Save's
// doc tells a stream: once another request ended the session (a logout on
// another tab, DestroyUserSessions), a Save, whether the session changed or
// not, writes nothing and returns an error wrapping ErrNotFound, so that a
// server-sent-events loop knows to stop.
func TestSaveOfASessionDestroyedMeanwhileReturnsErrNotFound(t *testing.T) {
	for _, change := range []bool{false, true} {
		t.Run(fmt.Sprint("change=", change), func(t *testing.T) {
			m, st := newTestManager(t, Options{})
			b := stored(t, m)
			b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
				fmt.Fprint(w, "data: 1\n\n") // the stream has started
				st.Store.Destroy(r.Context(), s.ID())
				if change {
					s.Set("events", 2)
				}
				if err := s.Save(r.Context()); !errors.Is(err, ErrNotFound) {
					t.Errorf("Save = %v, want an error wrapping ErrNotFound", err)
				}
				if _, found, _ := st.Store.Get(r.Context(), s.ID()); found {
					t.Error("Save wrote the destroyed session back")
				}
			}))
			b.get("/")
		})
	}
}
