package session_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/memstore"
)

// post posts an empty form to addr with c, following a redirect, and
// returns the body of the last response.
func post(c *http.Client, addr string) string {
	resp, err := c.Post(addr, "", nil)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// Moving from alexedwards/scs: scs's calls take the request's context
// (sm.GetInt(r.Context(), "userID")), sessionkit's the *Session that
// session.From(r) returns. The comments name the scs call each line
// replaces. There is no Commit: a change is saved, and its cookie set,
// before the first byte of the response, a redirect's included; and a
// change made after that is saved too when the handler returns (scs
// drops it). A struct goes in as it is, with no gob.Register, and comes
// back through GetAs: the stored session is JSON, so Get returns a number
// loaded from the store as a float64, never the int that was Put.
func Example_fromSCS() {
	type prefs struct {
		Theme string
		Size  int
	}
	m, err := session.New(session.Options{
		Secrets:         []string{"32 or more random bytes, not this"},
		AbsoluteTimeout: 24 * time.Hour,   // sm.Lifetime (absolute in scs too)
		IdleTimeout:     20 * time.Minute, // sm.IdleTimeout
		Cookie: session.CookieOptions{
			MaxAge:   24 * time.Hour,      // sm.Cookie.Persist = true (scs's default)
			SameSite: session.SameSiteLax, // scs's default; sessionkit sends no SameSite unless told
			Secure:   session.SecureAuto,  // sm.Cookie.Secure = true, but plain HTTP in development works
		},
		// ErrorHandler: the same signature as sm.ErrorFunc.
	})
	if err != nil {
		panic(err)
	}
	// Code deeper in the app that has only the context, as scs's calls
	// take it, reaches the session with FromContext.
	userID := func(ctx context.Context) (int, bool) {
		return session.GetAs[int](session.FromContext(ctx), "userID") // sm.GetInt(ctx, "userID"); sm.Exists for ok
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /account", func(w http.ResponseWriter, r *http.Request) {
		s := session.From(r)
		id, ok := userID(r.Context())
		if !ok {
			s.Set("next", r.URL.Path) // sm.Put(ctx, "next", ...)
			fmt.Fprint(w, "not logged in")
			return
		}
		p, _ := session.GetAs[prefs](s, "prefs") // sm.Get(ctx, "prefs").(prefs)
		fmt.Fprintf(w, "user %d, theme %s, flashes %q", id, p.Theme, s.Flashes("info"))
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s := session.From(r)
		next, _ := session.GetAs[string](s, "next")    // sm.PopString(ctx, "next"): GetAs, then Delete
		s.Delete("next")                               // sm.Remove(ctx, "next")
		if err := s.RenewID(r.Context()); err != nil { // sm.RenewToken(ctx)
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		s.Set("userID", 42) // sm.Put(ctx, "userID", 42)
		s.Set("prefs", prefs{Theme: "dark", Size: 14})
		s.Flash("info", "Welcome back.") // sm.Put(ctx, "flash", ...), read by sm.PopString
		http.Redirect(w, r, next, http.StatusSeeOther)
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := session.From(r).Destroy(r.Context()); err != nil { // sm.Destroy(ctx)
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		http.Redirect(w, r, "/account", http.StatusSeeOther)
	})
	srv := httptest.NewServer(m.Handler(mux)) // sm.LoadAndSave(mux)
	defer srv.Close()

	c := newClient()
	fmt.Println(get(c, srv.URL+"/account"))
	fmt.Println(post(c, srv.URL+"/login")) // follows the redirect to /account
	fmt.Println(get(c, srv.URL+"/account"))
	fmt.Println(post(c, srv.URL+"/logout"))
	// Output:
	// not logged in
	// user 42, theme dark, flashes ["Welcome back."]
	// user 42, theme dark, flashes []
	// not logged in
}

// Moving from gorilla/sessions: no store.Get(r, name) and no
// session.Save(r, w) before the first write; session.From(r) and the
// middleware do both. Keys rotate as gorilla's key pairs do:
// sessions.NewCookieStore(newKey, nil, oldKey, nil) is
// Secrets: []string{newKey, oldKey}, the first signing and every one
// verifying. The data stays on the server, so a value that gorilla's
// stores refuse (securecookie's 4096 bytes hold about 2 KB of session) is
// stored, and a logout (gorilla: Options.MaxAge = -1 and Save) ends the
// session for every copy of its cookie, where a CookieStore's cookie,
// copied before the logout, still works until its MaxAge.
func Example_fromGorilla() {
	const oldKey, newKey = "an old key of 32 or more random bytes", "a new key of 32 or more random bytes"
	store := memstore.New() // a CookieStore had no server side; several instances need a shared store (redisstore, pgstore, ...)
	defer store.Close()
	opts := session.Options{
		Secrets: []string{oldKey},
		Store:   store,
		// gorilla's Options: Path, Domain, MaxAge (seconds there, a
		// time.Duration here), Secure, HttpOnly (on by default here), SameSite.
		Cookie: session.CookieOptions{MaxAge: 30 * 24 * time.Hour, SameSite: session.SameSiteLax},
	}
	before, err := session.New(opts)
	if err != nil {
		panic(err)
	}
	opts.Secrets = []string{newKey, oldKey} // NewCookieStore(newKey, nil, oldKey, nil)
	after, err := session.New(opts)
	if err != nil {
		panic(err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s := session.From(r) // store.Get(r, "session-name"); no error to check: a bad cookie is a new session
		if err := s.RenewID(r.Context()); err != nil {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		s.Set("user", "ada")                          // session.Values["user"] = "ada"
		s.Flash("info", "Welcome.")                   // session.AddFlash("Welcome.", "info")
		http.Redirect(w, r, "/", http.StatusSeeOther) // no session.Save(r, w) before it
	})
	mux.HandleFunc("POST /draft", func(w http.ResponseWriter, r *http.Request) {
		session.From(r).Set("draft", strings.Repeat("x", 10000))
	})
	mux.HandleFunc("GET /draft", func(w http.ResponseWriter, r *http.Request) {
		d, _ := session.GetAs[string](session.From(r), "draft")
		fmt.Fprintf(w, "draft: %d bytes", len(d))
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		// session.Options.MaxAge = -1; session.Save(r, w)
		if err := session.From(r).Destroy(r.Context()); err != nil {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		s := session.From(r)
		user, _ := session.GetAs[string](s, "user")                    // session.Values["user"].(string)
		fmt.Fprintf(w, "user %q, flashes %q", user, s.Flashes("info")) // session.Flashes("info"), then Save
	})
	var current atomic.Pointer[http.Handler]
	serve := func(m *session.Manager) { h := m.Handler(mux); current.Store(&h) }
	serve(before)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(*current.Load()).ServeHTTP(w, r)
	}))
	defer srv.Close()

	c := newClient()
	fmt.Println(post(c, srv.URL+"/login")) // signed with the old key; follows the redirect to /
	serve(after)                           // the new key is deployed, the old one kept to verify
	fmt.Println(get(c, srv.URL+"/"))       // the cookie signed with the old key still works
	post(c, srv.URL+"/draft")
	fmt.Println(get(c, srv.URL+"/draft"))

	u, _ := url.Parse(srv.URL)
	stolen := newClient()
	stolen.Jar.SetCookies(u, c.Jar.Cookies(u)) // a copy of the cookie, taken before the logout
	fmt.Println("the copy:", get(stolen, srv.URL+"/"))
	fmt.Println(post(c, srv.URL+"/logout"))
	fmt.Println("the copy:", get(stolen, srv.URL+"/"))
	// Output:
	// user "ada", flashes ["Welcome."]
	// user "ada", flashes []
	// draft: 10000 bytes
	// the copy: user "ada", flashes []
	// user "", flashes []
	// the copy: user "", flashes []
}

// Two sessions per request, each with its own cookie, as scs's several
// SessionManagers and gorilla's several session names give them: the
// Handlers of two Managers nested, and each Manager's From. Here a login
// session inside long-lived preferences, which a logout leaves alone.
func ExampleManager_From() {
	prefs, err := session.New(session.Options{
		Name:    "prefs",
		Secrets: []string{"32 or more random bytes, not this"},
		Cookie:  session.CookieOptions{MaxAge: 365 * 24 * time.Hour, SameSite: session.SameSiteLax},
	})
	if err != nil {
		panic(err)
	}
	login, err := session.New(session.Options{
		Secrets: []string{"32 or more random bytes, not this"},
		Cookie:  session.CookieOptions{SameSite: session.SameSiteLax},
	})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s := login.From(r) // session.From(r) too: the innermost Handler's
		if err := s.RenewID(r.Context()); err != nil {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		s.Set("user", "ada")
		prefs.From(r).Set("theme", "dark")
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := login.From(r).Destroy(r.Context()); err != nil {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
	})
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		user, _ := session.GetAs[string](login.From(r), "user")
		theme, _ := session.GetAs[string](prefs.From(r), "theme")
		fmt.Fprintf(w, "user %q, theme %q", user, theme)
	})
	srv := httptest.NewServer(prefs.Handler(login.Handler(mux)))
	defer srv.Close()

	c := newClient()
	post(c, srv.URL+"/login")
	fmt.Println(get(c, srv.URL))
	post(c, srv.URL+"/logout")
	fmt.Println(get(c, srv.URL))
	// Output:
	// user "ada", theme "dark"
	// user "", theme "dark"
}
