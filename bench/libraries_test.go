package bench

import (
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	scsmemstore "github.com/alexedwards/scs/v2/memstore"
	"github.com/gorilla/sessions"
	session "github.com/sessionkit/session"
)

// lifetime is every library's session and cookie lifetime, so that each one
// sends Set-Cookie (with Expires) when a request modifies the session.
const lifetime = 24 * time.Hour

// authKey signs (HMAC-SHA256) the cookies of every library; none encrypts.
var authKey = []byte("0123456789abcdef0123456789abcdef")

// library is one session library set up with its in-memory (or local) store:
// the same two handlers, each wrapped in what the library needs.
type library struct {
	name string
	// read reads the counter "views" and writes it; it never modifies the session.
	read http.Handler
	// incr reads "views", stores views+1, and writes the new value.
	incr http.Handler
	// setKey, when not nil, stores "1" under the request's ?k= key after
	// reading the session and pausing (see TestParallelRequestsKeepEveryKey).
	setKey func(pause time.Duration) http.Handler
	// keys, when not nil, writes the session's keys, one per line.
	keys http.Handler
}

// writeInt writes n as the response body, the same way for every library.
func writeInt(w http.ResponseWriter, n int) { io.WriteString(w, strconv.Itoa(n)) }

// writeKeys writes keys one per line.
func writeKeys(w http.ResponseWriter, keys []string) {
	for _, k := range keys {
		io.WriteString(w, k+"\n")
	}
}

// libraries returns every library under test, freshly set up. Stores that
// run a background goroutine or keep files are cleaned up with tb.
func libraries(tb testing.TB) []library {
	return []library{
		sessionkitLibrary(tb),
		scsLibrary(),
		gorillaLibrary("gorilla-cookie", cookieStore()),
		gorillaLibrary("gorilla-fs", filesystemStore(tb.TempDir())),
	}
}

// sessionkitLibrary is sessionkit with its default store (memstore).
func sessionkitLibrary(tb testing.TB) library {
	m, err := session.New(session.Options{
		Secrets: []string{string(authKey)},
		Cookie:  session.CookieOptions{MaxAge: lifetime, SameSite: session.SameSiteLax},
	})
	if err != nil {
		tb.Fatal(err)
	}
	if c, ok := m.Store().(io.Closer); ok {
		tb.Cleanup(func() { c.Close() })
	}
	return library{
		name: "sessionkit",
		read: m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n, _ := session.GetAs[int](session.From(r), "views")
			writeInt(w, n)
		})),
		incr: m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s := session.From(r)
			n, _ := session.GetAs[int](s, "views")
			s.Set("views", n+1)
			writeInt(w, n+1)
		})),
		setKey: func(pause time.Duration) http.Handler {
			return m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				s := session.From(r) // loads the session
				time.Sleep(pause)
				s.Set(r.URL.Query().Get("k"), "1")
			}))
		},
		keys: m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			writeKeys(w, session.From(r).Keys())
		})),
	}
}

// scsLibrary is alexedwards/scs with its memstore and LoadAndSave. Its
// cleanup goroutine is left running: in scs v2.9.0, StopCleanup right after
// New races with that goroutine's start (the race detector reports it).
func scsLibrary() library {
	sm := scs.New()
	sm.Store = scsmemstore.New()
	sm.Lifetime = lifetime
	return library{
		name: "scs",
		read: sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			writeInt(w, sm.GetInt(r.Context(), "views"))
		})),
		incr: sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n := sm.GetInt(r.Context(), "views")
			sm.Put(r.Context(), "views", n+1)
			writeInt(w, n+1)
		})),
		setKey: func(pause time.Duration) http.Handler {
			// LoadAndSave has loaded the session before the handler runs.
			return sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				time.Sleep(pause)
				sm.Put(r.Context(), r.URL.Query().Get("k"), "1")
			}))
		},
		keys: sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			writeKeys(w, sm.Keys(r.Context()))
		})),
	}
}

// gorillaOptions are the cookie attributes of both gorilla stores, matching
// the other libraries' (Lax, HttpOnly, not Secure, 24 h).
func gorillaOptions() *sessions.Options {
	return &sessions.Options{Path: "/", MaxAge: int(lifetime / time.Second), HttpOnly: true, SameSite: http.SameSiteLaxMode}
}

// cookieStore is gorilla's CookieStore: the session data itself travels in
// the cookie (gob, signed, not encrypted here); the server stores nothing.
func cookieStore() sessions.Store {
	s := sessions.NewCookieStore(authKey)
	s.Options = gorillaOptions()
	s.MaxAge(s.Options.MaxAge)
	return s
}

// filesystemStore is gorilla's server-side store: one file per session in dir.
func filesystemStore(dir string) sessions.Store {
	s := sessions.NewFilesystemStore(dir, authKey)
	s.Options = gorillaOptions()
	s.MaxAge(s.Options.MaxAge)
	return s
}

// gorillaLibrary is gorilla/sessions on store. It has no middleware: the
// handler gets the session from the store and saves it explicitly.
func gorillaLibrary(name string, store sessions.Store) library {
	return library{
		name: name,
		read: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s, err := store.Get(r, "sid")
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			n, _ := s.Values["views"].(int)
			writeInt(w, n)
		}),
		incr: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s, err := store.Get(r, "sid")
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			n, _ := s.Values["views"].(int)
			s.Values["views"] = n + 1
			if err := s.Save(r, w); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			writeInt(w, n+1)
		}),
	}
}
