package session

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// connect-flash stores whatever an Express app passes to req.flash: objects
// (express-validator's errors), numbers, as well as strings. A Go request
// that adds or reads flash messages of one kind keeps the other kinds'
// messages, and its own kind's earlier ones, exactly as they were stored.
func TestFlashKeepsTheMessagesExpressStoredThatAreNotStrings(t *testing.T) {
	m, st := newTestManager(t, Options{})
	b := stored(t, m)
	id := mustID(t, m, b.cookie)
	express := `{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},` +
		`"flash":{"error":[{"msg":"Invalid value","path":"email"},"plain"],"count":[3]}}`
	st.Store.Set(t.Context(), id, []byte(express), time.Time{})
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		switch r.URL.Path {
		case "/add":
			s.Flash("error", "another")
		case "/read":
			fmt.Fprintf(w, "%q", s.Flashes("info"))
		}
	}))
	b.get("/add")
	data, _, _ := st.Store.Get(t.Context(), id)
	want := `"flash":{"count":[3],"error":[{"msg":"Invalid value","path":"email"},"plain","another"]}`
	if !strings.Contains(string(data), want) {
		t.Fatalf("after Flash(error): stored %s, want %s", data, want)
	}
}

// A kind read by Flashes is removed, and the messages of the other kinds
// stay stored as they were, whatever their type; a message that is not a
// string is read as its JSON text.
func TestFlashesOfOneKindLeaveTheOtherKindsAsStored(t *testing.T) {
	m, st := newTestManager(t, Options{})
	b := stored(t, m)
	id := mustID(t, m, b.cookie)
	express := `{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},` +
		`"flash":{"error":[{"msg":"Invalid value","path":"email"}],"info":["saved"]}}`
	st.Store.Set(t.Context(), id, []byte(express), time.Time{})
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		fmt.Fprintf(w, "%q", s.Flashes(r.URL.Query().Get("kind")))
	}))
	if got := b.get("/?kind=info").Body.String(); got != `["saved"]` {
		t.Fatalf("Flashes(info) = %s", got)
	}
	data, _, _ := st.Store.Get(t.Context(), id)
	want := `"flash":{"error":[{"msg":"Invalid value","path":"email"}]}`
	if !strings.Contains(string(data), want) {
		t.Fatalf("after Flashes(info): stored %s, want %s", data, want)
	}
	if got := b.get("/?kind=error").Body.String(); got != `["{\"msg\":\"Invalid value\",\"path\":\"email\"}"]` {
		t.Fatalf("Flashes(error) = %s", got)
	}
	if data, _, _ := st.Store.Get(t.Context(), id); strings.Contains(string(data), `"flash"`) {
		t.Fatalf("after reading every kind: stored %s", data)
	}
}

// Flash messages a handler set under "flash" by hand (a map of its own
// type, lists of strings) read the same in the request that set them as
// in the next one, which reads them from the store: they were dropped, or
// a []string read as one message, its JSON text.
func TestFlashMessagesSetByHandReadTheSameBeforeAndAfterASave(t *testing.T) {
	for name, flash := range map[string]any{
		"map[string]any of []string": map[string]any{"info": []string{"a", "b"}, "error": []string{"e"}},
		"map[string]string":          map[string]string{"info": "a", "error": "e"},
		"a struct": struct {
			Info  []string `json:"info"`
			Error []string `json:"error"`
		}{[]string{"a"}, []string{"e"}},
	} {
		m, _ := newTestManager(t, Options{})
		var sameRequest, nextRequest string
		b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
			s.Set("flash", flash)
			s.Set("x", 1) // saved, whatever Flashes leaves
			sameRequest = fmt.Sprintf("%q", s.Flashes("info"))
			s.Set("flash", flash)
		})))
		b.get("/")
		b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
			nextRequest = fmt.Sprintf("%q", s.Flashes("info"))
		}))
		b.get("/")
		if sameRequest != nextRequest {
			t.Errorf("%s: Flashes(info) = %s in the request that set it, %s in the next", name, sameRequest, nextRequest)
		}
	}
}

// A message an Express app stored as an object (express-validator's
// "Must be < 10 characters & not empty") is read as the JSON text that
// Express's JSON.stringify writes, its keys aside (sorted): <, > and & are
// themselves, not encoding/json's \u003c escapes, which a page showing the
// text would show as they are.
func TestFlashesReadsAnObjectMessageWithoutHTMLEscapes(t *testing.T) {
	m, st := newTestManager(t, Options{})
	b := stored(t, m)
	id := mustID(t, m, b.cookie)
	express := `{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},` +
		`"flash":{"error":[{"path":"name","msg":"Must be < 10 characters & not <b>empty</b>"},["a>b"]]}}`
	st.Store.Set(t.Context(), id, []byte(express), time.Time{})
	var got []string
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		got = s.Flashes("error")
	}))
	b.get("/")
	want := []string{`{"msg":"Must be < 10 characters & not <b>empty</b>","path":"name"}`, `["a>b"]`}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("Flashes(error) = %q, want %q", got, want)
	}
}
