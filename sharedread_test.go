package session

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/sessionkit/session/memstore"
)

// TestLoadedValuesStayAsLoadedWhileAnotherRequestSaves: a request that
// loaded its session, and reads a value only after another request saved
// the session, reads the value it loaded. On a memstore the manager reads
// the stored bytes without a copy and decodes each value from them when
// the handler asks for it: a save that wrote into those bytes would change
// the value under the first request.
func TestLoadedValuesStayAsLoadedWhileAnotherRequestSaves(t *testing.T) {
	for _, maxAge := range []time.Duration{0, time.Hour} { // loaded with GetVersion, with GetAndTouch
		t.Run("maxage="+maxAge.String(), func(t *testing.T) {
			st := memstore.New()
			t.Cleanup(func() { st.Close() })
			m, _ := newTestManager(t, Options{Store: st, Cookie: CookieOptions{MaxAge: maxAge}})
			b := stored(t, m) // views = 1
			other := &browser{t: t, h: m.Handler(incrViews), cookie: b.cookie}
			got := 0
			b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
				other.get("/") // views = 2, saved while this request holds views = 1
				got, _ = GetAs[int](s, "views")
			}))
			b.get("/")
			if got != 1 {
				t.Fatalf("views = %d after another request saved 2, want 1, as this request loaded it", got)
			}
			b.h = m.Handler(readViews)
			if body := b.get("/").Body.String(); body != "2" {
				t.Fatalf("stored views = %s, want 2", body)
			}
		})
	}
}

// shouting is a value whose UnmarshalJSON writes into its input, which
// encoding/json allows: it upper-cases the JSON string in place.
type shouting string

func (v *shouting) UnmarshalJSON(b []byte) error {
	copy(b, bytes.ToUpper(b))
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*v = shouting(s)
	return nil
}

// TestGetAsWithAnUnmarshalerThatWritesItsInputLeavesTheStoredSessionAsItWas:
// on a memstore the loaded values are the stored bytes themselves
// (memshare); GetAs hands a T's UnmarshalJSON a copy, so that one that
// writes into its input changes neither the stored session nor what
// other requests read.
func TestGetAsWithAnUnmarshalerThatWritesItsInputLeavesTheStoredSessionAsItWas(t *testing.T) {
	st := memstore.New()
	t.Cleanup(func() { st.Close() })
	m, _ := newTestManager(t, Options{Store: st})
	b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Set("greeting", "hello")
	})))
	b.get("/")
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		v, _ := GetAs[shouting](s, "greeting")
		io.WriteString(w, string(v))
	}))
	if got := b.get("/").Body.String(); got != "HELLO" {
		t.Fatalf("GetAs[shouting] = %q, want HELLO", got)
	}
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		v, _ := GetAs[string](s, "greeting")
		io.WriteString(w, v)
	}))
	if got := b.get("/").Body.String(); got != "hello" {
		t.Fatalf("the stored greeting is %q after a GetAs whose UnmarshalJSON wrote into its input, want hello", got)
	}
}
