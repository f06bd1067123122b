package session

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestNewSessionIDsAre32CharacterBase64URL(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	seen := map[string]bool{}
	for range 100 {
		id, _ := m.newID(nil)
		if !regexp.MustCompile(`^[A-Za-z0-9_-]{32}$`).MatchString(id) || seen[id] {
			t.Fatalf("bad or repeated id %q", id)
		}
		seen[id] = true
	}
}

func TestGenerateIDIsUsedForNewSessions(t *testing.T) {
	m, st := newTestManager(t, Options{GenerateID: func(r *http.Request) string { return "custom-" + r.URL.Query().Get("u") }})
	newBrowser(t, m.Handler(incrViews)).get("/?u=42")
	if _, found, err := st.Store.Get(t.Context(), "custom-42"); err != nil || !found {
		t.Fatalf("session not stored under the generated id: %v", err)
	}
}

// repeatingIDs is a weak Options.GenerateID, as a counter or an id derived
// from the request can be: it hands out fresh ids, except that after
// repeat(id, n) its next n ids are id.
type repeatingIDs struct {
	mu    sync.Mutex
	n     int
	id    string
	times int
	calls int
}

func (g *repeatingIDs) generate(*http.Request) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls++
	if g.times > 0 {
		g.times--
		return g.id
	}
	g.n++
	return fmt.Sprintf("gen-%03d-%s", g.n, strings.Repeat("x", 24))
}

func (g *repeatingIDs) repeat(id string, times int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.id, g.times, g.calls = id, times, 0
}

func (g *repeatingIDs) callCount() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.calls
}

// genidApp is an app with a login, a cart and the ways of making a session
// id: a new session (/set), Regenerate, RenewID at login, Destroy followed
// by a flash message. /whoami prints the session's id, user and keys.
func genidApp(t *testing.T) http.Handler {
	return handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		q := r.URL.Query()
		switch r.URL.Path {
		case "/login":
			if err := s.RenewID(r.Context()); err != nil {
				t.Errorf("RenewID: %v", err)
			}
			s.SetUser(q.Get("u"))
		case "/set":
			s.Set(q.Get("k"), q.Get("v"))
		case "/regenerate":
			if err := s.Regenerate(r.Context()); err != nil {
				t.Errorf("Regenerate: %v", err)
			}
			s.Set(q.Get("k"), q.Get("v"))
		case "/logout":
			if err := s.Destroy(r.Context()); err != nil {
				t.Errorf("Destroy: %v", err)
			}
			s.Set("flash", "bye")
		case "/whoami":
			fmt.Fprintf(w, "%s user=%s keys=%s", s.ID(), s.User(), strings.Join(s.Keys(), ","))
		}
	})
}

// whoami returns what /whoami says of b's session: its id, and the rest.
func whoami(b *browser) (id, rest string) {
	b.t.Helper()
	id, rest, _ = strings.Cut(b.get("/whoami").Body.String(), " ")
	return id, rest
}

// A custom GenerateID that repeats an id another client's session is
// stored under must not make the new session join it: before, the failed
// create-if-absent went through the re-merge of parallel writes, which read
// the other client's session, applied this request's changes to it, saved
// it and sent its cookie, so two clients shared one session (the second
// logged in as the first user, the first seeing the second's cart). Each
// way of making an id is checked: a new session, Regenerate, RenewID at
// login, and the new session after Destroy.
func TestRepeatedGeneratedIDNeverJoinsAnotherSession(t *testing.T) {
	for _, tc := range []struct {
		name   string
		setup  string // B's request before the one that gets the repeated id
		action string
		wantB  string // B's /whoami after, but for the id
	}{
		{"new session", "", "/set?k=cart&v=1", "user= keys=cart"},
		{"Regenerate", "/set?k=cart&v=1", "/regenerate?k=theme&v=dark", "user= keys=theme"},
		{"RenewID at login", "/set?k=cart&v=1", "/login?u=bob", "user=bob keys=cart"},
		{"new session after Destroy", "/set?k=cart&v=1", "/logout", "user= keys=flash"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			gen := &repeatingIDs{}
			m, st := newTestManager(t, Options{
				GenerateID:         gen.generate,
				MaxSessionsPerUser: 1,
				Logger:             slog.New(slog.NewTextHandler(&logs, nil)),
			})
			app := m.Handler(genidApp(t))
			a, b := newBrowser(t, app), newBrowser(t, app)
			a.get("/login?u=alice")
			aliceID, aliceSays := whoami(a)
			if aliceSays != "user=alice keys=" {
				t.Fatalf("alice's session: %q", aliceSays)
			}
			if tc.setup != "" {
				b.get(tc.setup)
			}
			gen.repeat(aliceID, 1)
			if rec := b.get(tc.action); rec.Code != http.StatusOK {
				t.Fatalf("%s: status %d", tc.action, rec.Code)
			}

			if id, says := whoami(a); id != aliceID || says != "user=alice keys=" {
				t.Errorf("alice's session after B's %s: %s %s; want %s user=alice keys=", tc.action, id, says, aliceID)
			}
			bobID, bobSays := whoami(b)
			if bobID == aliceID || bobSays != tc.wantB {
				t.Errorf("B's session after its %s: %s %s; want another id than alice's (%s), %s", tc.action, bobID, bobSays, aliceID, tc.wantB)
			}
			if n, _ := st.Store.Count(t.Context()); n != 2 {
				t.Errorf("the store holds %d sessions, want alice's and B's", n)
			}
			// B's login (MaxSessionsPerUser: 1) and a "log out everywhere"
			// of B's user leave alice's session alone (B's user's entry is
			// recorded after the create, under the id B's session took).
			if _, err := m.DestroyUserSessions(t.Context(), "bob"); err != nil {
				t.Fatal(err)
			}
			if id, says := whoami(a); id != aliceID || says != "user=alice keys=" {
				t.Errorf("alice's session after bob's sessions were destroyed: %s %s", id, says)
			}
			if !strings.Contains(logs.String(), "GenerateID") {
				t.Errorf("the repeated id is not logged:\n%s", logs.String())
			}
		})
	}
}

// A GenerateID that keeps repeating a taken id cannot give the new session
// an id of its own: after a few tries the save fails, with an error that
// wraps ErrConflict and names GenerateID, no cookie goes out, and the other
// session is left as it was.
func TestGeneratorThatAlwaysRepeatsFailsTheSave(t *testing.T) {
	var (
		logs     bytes.Buffer
		mu       sync.Mutex
		answered error
	)
	gen := &repeatingIDs{}
	m, st := newTestManager(t, Options{
		GenerateID: gen.generate,
		Logger:     slog.New(slog.NewTextHandler(&logs, nil)),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			mu.Lock()
			answered = err
			mu.Unlock()
			http.Error(w, "session error", http.StatusInternalServerError)
		},
	})
	app := m.Handler(genidApp(t))
	a, b := newBrowser(t, app), newBrowser(t, app)
	a.get("/set?k=cart&v=alice")
	aliceID, _ := whoami(a)
	gen.repeat(aliceID, 1000)
	st.reset()
	rec := b.get("/set?k=cart&v=bob")
	mu.Lock()
	err := answered
	mu.Unlock()
	if rec.Code != http.StatusInternalServerError || !errors.Is(err, ErrConflict) || !strings.Contains(fmt.Sprint(err), "GenerateID") {
		t.Fatalf("status %d, error %v; want the ErrorHandler's answer with an error that wraps ErrConflict and names GenerateID", rec.Code, err)
	}
	if c := setCookie(rec); c != "" {
		t.Errorf("Set-Cookie %q; want none", c)
	}
	if calls, creates := gen.callCount(), st.n("CompareAndSwap"); calls > 1+maxFreshIDs || creates != calls {
		t.Errorf("GenerateID called %d times and %d creates tried; want at most %d, one create each", calls, creates, 1+maxFreshIDs)
	}
	if id, says := whoami(a); id != aliceID || says != "user= keys=cart" {
		t.Errorf("alice's session: %s %s", id, says)
	}
	data, _, _ := st.Store.Get(t.Context(), aliceID)
	if !strings.Contains(string(data), `"cart":"alice"`) {
		t.Errorf("alice's stored session: %s", data)
	}
	if n, _ := st.Store.Count(t.Context()); n != 1 {
		t.Errorf("the store holds %d sessions, want alice's alone", n)
	}
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "GenerateID") {
		t.Errorf("the failure is not logged:\n%s", logs.String())
	}
}

// A generator that derives the id from the request can give a new session
// the very id of the request's cookie, whose stored session the load could
// not use (unreadable here) but which is still stored. The client holds
// that id already and the end of the request decided on its cookie for it,
// so the new session cannot take another: the save fails at once with an
// error wrapping ErrConflict (it used to retry 128 times first), and the
// stored session is left alone.
func TestGeneratedIDOfTheRequestsOwnCookieFailsTheSaveWhenTaken(t *testing.T) {
	var answered error
	m, st := newTestManager(t, Options{
		GenerateID: func(r *http.Request) string { return "device-" + r.Header.Get("X-Device") + strings.Repeat("x", 24) },
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			answered = err
			http.Error(w, "session error", http.StatusInternalServerError)
		},
	})
	b := newBrowser(t, m.Handler(genidApp(t)))
	b.header = http.Header{"X-Device": {"42"}}
	b.get("/set?k=cart&v=1")
	id, _ := whoami(b)
	if err := st.Store.Set(t.Context(), id, []byte("not a session"), st.clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	st.reset()
	rec := b.get("/set?k=cart&v=2")
	if rec.Code != http.StatusInternalServerError || !errors.Is(answered, ErrConflict) || !strings.Contains(fmt.Sprint(answered), "cookie") {
		t.Fatalf("status %d, error %v; want the ErrorHandler's answer with an error that wraps ErrConflict and names the cookie", rec.Code, answered)
	}
	if n := st.n("CompareAndSwap"); n != 1 {
		t.Errorf("%d creates tried, want 1", n)
	}
	if data, _, _ := st.Store.Get(t.Context(), id); string(data) != "not a session" {
		t.Errorf("the stored session became %s", data)
	}
}

// Taking another id changes nothing else in what the end of the request
// decides: a new session that the handler saves with Session.Save without
// modifying it (SaveUninitialized off) gets no cookie, with a taken id as
// with a free one; and a modified one gets its cookie, for the id it was
// stored under.
func TestTakenIDChangesOnlyTheSessionsID(t *testing.T) {
	for _, modify := range []bool{false, true} {
		answers := map[bool]string{}
		for _, collide := range []bool{false, true} {
			gen := &repeatingIDs{}
			m, st := newTestManager(t, Options{GenerateID: gen.generate})
			a := newBrowser(t, m.Handler(genidApp(t)))
			a.get("/set?k=cart&v=1")
			aliceID, _ := whoami(a)
			if collide {
				gen.repeat(aliceID, 1)
			}
			b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
				if modify {
					s.Set("k", "v")
				}
				if err := s.Save(r.Context()); err != nil {
					t.Errorf("Save: %v", err)
				}
			})))
			rec := b.get("/")
			n, _ := st.Store.Count(t.Context())
			answers[collide] = fmt.Sprintf("status %d, cookie sent %v, sessions stored %d", rec.Code, setCookie(rec) != "", n)
			if b.cookie != "" {
				b.h = m.Handler(genidApp(t))
				if id, says := whoami(b); id == aliceID || says != "user= keys=k" {
					t.Errorf("modify %v, collide %v: the cookie's session: %s %s", modify, collide, id, says)
				}
			}
		}
		if answers[false] != answers[true] {
			t.Errorf("modify %v: with a free id: %s; with a taken id: %s", modify, answers[false], answers[true])
		}
	}
}
