package session_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/memstore"
)

// get fetches url with client and returns the body.
func get(c *http.Client, url string) string {
	resp, err := c.Get(url)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func newClient() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar}
}

// A visit counter: the middleware gives every request a session, loaded on
// first use and saved before the response goes out.
func Example() {
	m, err := session.New(session.Options{
		Secrets: []string{"current secret", "previous secret"},
		Cookie:  session.CookieOptions{MaxAge: 24 * time.Hour, Secure: session.SecureAuto},
	})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s := session.From(r)
		views, _ := session.GetAs[int](s, "views")
		s.Set("views", views+1)
		fmt.Fprintf(w, "views: %d", views+1)
	})
	srv := httptest.NewServer(m.Handler(mux)) // http.ListenAndServe(addr, m.Handler(mux))
	defer srv.Close()

	c := newClient()
	fmt.Println(get(c, srv.URL))
	fmt.Println(get(c, srv.URL))
	// Output:
	// views: 1
	// views: 2
}

// Log in with RenewID: the data stays, the id changes, so a session id
// planted before login (session fixation) is worthless. Log out with Destroy.
func ExampleSession_RenewID() {
	m, _ := session.New(session.Options{Secrets: []string{"s3cret"}})
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s := session.From(r)
		if err := s.RenewID(r.Context()); err != nil {
			http.Error(w, "try again", http.StatusInternalServerError)
			return
		}
		s.Set("user", r.FormValue("name"))
		http.Redirect(w, r, "/", http.StatusSeeOther) // the session is saved before the redirect goes out
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		// Check the error: when the store did not confirm the delete, the
		// session still works, and the user must not be told otherwise.
		if err := session.From(r).Destroy(r.Context()); err != nil {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "user: %v", session.From(r).Get("user"))
	})
	srv := httptest.NewServer(m.Handler(mux))
	defer srv.Close()

	c := newClient()
	resp, _ := c.PostForm(srv.URL+"/login", url.Values{"name": {"ada"}})
	b, _ := io.ReadAll(resp.Body)
	fmt.Println(string(b))
	resp, _ = c.PostForm(srv.URL+"/logout", nil)
	b, _ = io.ReadAll(resp.Body)
	fmt.Println(string(b))
	// Output:
	// user: ada
	// user: <nil>
}

// Get returns a value as this request set it, and a value loaded from the
// store as encoding/json decodes JSON into an any: a number is a float64 on
// the next request. GetAs decodes it into the type asked for.
func ExampleSession_Get() {
	m, _ := session.New(session.Options{Secrets: []string{"s3cret"}})
	srv := httptest.NewServer(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.From(r)
		if !s.Has("n") {
			s.Set("n", 1)
		}
		n, _ := session.GetAs[int](s, "n")
		fmt.Fprintf(w, "Get: %T, GetAs[int]: %d", s.Get("n"), n)
	})))
	defer srv.Close()

	c := newClient()
	fmt.Println(get(c, srv.URL)) // set by this request
	fmt.Println(get(c, srv.URL)) // loaded from the store
	// Output:
	// Get: int, GetAs[int]: 1
	// Get: float64, GetAs[int]: 1
}

// Flash messages are read once: set before a redirect, shown on the next page.
func ExampleSession_Flash() {
	m, _ := session.New(session.Options{Secrets: []string{"s3cret"}})
	mux := http.NewServeMux()
	mux.HandleFunc("/save", func(w http.ResponseWriter, r *http.Request) {
		session.From(r).Flash("info", "Saved.")
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, session.From(r).Flashes("info"))
	})
	srv := httptest.NewServer(m.Handler(mux))
	defer srv.Close()

	c := newClient()
	fmt.Println(get(c, srv.URL+"/save"))
	fmt.Println(get(c, srv.URL+"/"))
	// Output:
	// [Saved.]
	// []
}

// GetAs reads a typed value, whether this request set it or it was decoded
// from the store's JSON. The cart here is one key, read, changed and set
// again: of parallel requests doing so (a page's fetches) the last save
// wins, so a cart that such requests update keeps each item under a key of
// its own ("cart:"+item), which parallel requests' saves merge.
func ExampleGetAs() {
	type Cart struct{ Items []string }
	m, _ := session.New(session.Options{Secrets: []string{"s3cret"}})
	srv := httptest.NewServer(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.From(r)
		cart, _ := session.GetAs[Cart](s, "cart")
		cart.Items = append(cart.Items, r.URL.Query().Get("add"))
		s.Set("cart", cart)
		fmt.Fprint(w, cart.Items)
	})))
	defer srv.Close()

	c := newClient()
	get(c, srv.URL+"/?add=tea")
	fmt.Println(get(c, srv.URL+"/?add=milk"))
	// Output: [tea milk]
}

// A long-lived connection (server-sent events here, a websocket alike)
// changes the session after the response started, so it saves by hand, as
// express's req.session.save() is used for websockets.
func ExampleSession_Save() {
	store := memstore.New()
	defer store.Close()
	m, _ := session.New(session.Options{Secrets: []string{"s3cret"}, Store: store})
	srv := httptest.NewServer(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.From(r)
		s.Set("connected", true) // saved, and the cookie set, before the first byte
		w.Header().Set("Content-Type", "text/event-stream")
		for i := 1; i <= 3; i++ {
			s.Set("events", i)
			if err := s.Save(r.Context()); err != nil {
				return
			}
			fmt.Fprintf(w, "data: %d\n\n", i)
			http.NewResponseController(w).Flush()
		}
	})))
	defer srv.Close()

	resp, _ := http.Get(srv.URL)
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "data:") {
			fmt.Println(line)
		}
	}
	resp.Body.Close()
	ids, _ := store.IDs(context.Background())
	data, _, _ := store.Get(context.Background(), ids[0])
	fmt.Println(strings.Contains(string(data), `"events":3`))
	// Output:
	// data: 1
	// data: 2
	// data: 3
	// true
}

// Sessions that belong to a user: SetUser at login binds the session to the
// user, UserSessions lists their devices, and DestroyUserSessions logs them
// out everywhere but here (after a password change, say).
func ExampleManager_DestroyUserSessions() {
	m, _ := session.New(session.Options{Secrets: []string{"s3cret"}})
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s := session.From(r)
		if err := s.RenewID(r.Context()); err != nil {
			http.Error(w, "try again", http.StatusInternalServerError)
			return
		}
		s.SetUser(r.FormValue("name"))
	})
	mux.HandleFunc("POST /logout-others", func(w http.ResponseWriter, r *http.Request) {
		s := session.From(r)
		n, err := m.DestroyUserSessions(r.Context(), s.User(), s.ID())
		if err != nil {
			http.Error(w, "try again", http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "logged out of %d other device(s)", n)
	})
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "user: %q", session.From(r).User())
	})
	srv := httptest.NewServer(m.Handler(mux))
	defer srv.Close()

	laptop, phone := newClient(), newClient()
	for _, c := range []*http.Client{laptop, phone} {
		resp, _ := c.PostForm(srv.URL+"/login", url.Values{"name": {"ada"}})
		resp.Body.Close()
	}
	infos, _ := m.UserSessions(context.Background(), "ada")
	fmt.Println("ada's sessions:", len(infos))

	resp, _ := laptop.PostForm(srv.URL+"/logout-others", nil)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(string(b))
	fmt.Println("laptop", get(laptop, srv.URL))
	fmt.Println("phone", get(phone, srv.URL))
	// Output:
	// ada's sessions: 2
	// logged out of 1 other device(s)
	// laptop user: "ada"
	// phone user: ""
}

// "Remember me": a browser-session cookie by default, and a 30-day one for a
// visitor who ticks the box at login. The change to the session's own cookie
// is a modification: the session is saved and its Set-Cookie sent. RenewID
// keeps the cookie's expiry, so a login without the box sets it back: else a
// login after a remembered one in the same browser (another user, say) would
// keep its 30 days.
func ExampleCookieExpiry_SetMaxAge() {
	m, _ := session.New(session.Options{Secrets: []string{"s3cret"}})
	login := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.From(r)
		if err := s.RenewID(r.Context()); err != nil {
			http.Error(w, "try again", http.StatusInternalServerError)
			return
		}
		s.SetUser(r.FormValue("name"))
		if r.FormValue("remember") == "on" {
			s.Cookie().SetMaxAge(30 * 24 * time.Hour)
		} else {
			s.Cookie().SetMaxAge(0) // the options' Cookie.MaxAge: a browser-session cookie here
		}
	}))

	var cookie *http.Cookie // one browser
	for _, form := range []string{"name=ada", "name=ada&remember=on", "name=bob"} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("POST", "/login?"+form, nil)
		if cookie != nil {
			r.AddCookie(cookie)
		}
		login.ServeHTTP(w, r)
		cookie = w.Result().Cookies()[0]
		fmt.Printf("%s: cookie %s, Max-Age %d\n", form, cookie.Name, cookie.MaxAge)
	}
	// Output:
	// name=ada: cookie sid, Max-Age 0
	// name=ada&remember=on: cookie sid, Max-Age 2592000
	// name=bob: cookie sid, Max-Age 0
}

// A "your devices" page: with RecordClient, each session of a user records
// its browser and IP, and UserSessions lists them. Show ShortID or
// PublicID, never the id itself, which is as secret as a password.
func ExampleManager_UserSessions() {
	m, _ := session.New(session.Options{Secrets: []string{"s3cret"}, RecordClient: true})
	login := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.From(r)
		if err := s.RenewID(r.Context()); err != nil {
			http.Error(w, "try again", http.StatusInternalServerError)
			return
		}
		s.SetUser("ada")
	}))
	for _, ua := range []string{"Firefox on a laptop", "Safari on a phone"} {
		r := httptest.NewRequest("POST", "/login", nil)
		r.Header.Set("User-Agent", ua)
		login.ServeHTTP(httptest.NewRecorder(), r)
	}

	infos, err := m.UserSessions(context.Background(), "ada")
	if err != nil {
		panic(err)
	}
	var devices []string
	for _, info := range infos {
		// A page would also show info.ShortID(), info.LastUsed and info.Expires,
		// mark as "this device" the one whose info.PublicID() is
		// session.From(r).PublicID(), and name each in its "log out" form by
		// its PublicID (see ExampleManager_DestroyUserSessionByPublicID).
		devices = append(devices, fmt.Sprintf("%s from %s", info.UserAgent, info.IP))
	}
	slices.Sort(devices) // UserSessions lists the most recently used first
	for _, d := range devices {
		fmt.Println(d)
	}
	// Output:
	// Firefox on a laptop from 192.0.2.1
	// Safari on a phone from 192.0.2.1
}

// A "your devices" page with a "log out" button per device. The page names
// each device by its PublicID (the id is as secret as a password, and stays
// on the server; ShortID, the id's first characters, may be the same for
// two devices); the button posts that PublicID back, and
// DestroyUserSessionByPublicID ends the session it names among the
// logged-in user's, so that a PublicID of someone else's device, or a
// forged one, ends nothing. The current device logs out with
// Session.Destroy, which also clears its cookie.
func ExampleManager_DestroyUserSessionByPublicID() {
	m, _ := session.New(session.Options{Secrets: []string{"s3cret"}, RecordClient: true})
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s := session.From(r)
		if err := s.RenewID(r.Context()); err != nil {
			http.Error(w, "try again", http.StatusInternalServerError)
			return
		}
		s.SetUser(r.FormValue("name"))
	})
	mux.HandleFunc("GET /devices", func(w http.ResponseWriter, r *http.Request) {
		s := session.From(r)
		infos, err := m.UserSessions(r.Context(), s.User())
		if err != nil {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		for _, info := range infos {
			// A page renders a form per device:
			// <form method="post" action="/devices/logout"><button name="device" value="{{.PublicID}}">
			this := ""
			if info.PublicID() == s.PublicID() {
				this = " (this device)"
			}
			fmt.Fprintf(w, "%s %s%s\n", info.PublicID(), info.UserAgent, this)
		}
	})
	mux.HandleFunc("POST /devices/logout", func(w http.ResponseWriter, r *http.Request) {
		s := session.From(r)
		var err error
		if device := r.FormValue("device"); device == s.PublicID() {
			err = s.Destroy(r.Context())
		} else {
			var ended bool
			ended, err = m.DestroyUserSessionByPublicID(r.Context(), s.User(), device)
			if err == nil && !ended {
				http.Error(w, "no such device, or it has logged out already", http.StatusNotFound)
				return
			}
		}
		if err != nil {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, "logged out")
	})
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "user: %q", session.From(r).User())
	})
	// The forms post with the session's cookie: refuse other sites' posts
	// (see ExampleManager_Handler_csrf).
	srv := httptest.NewServer(http.NewCrossOriginProtection().Handler(m.Handler(mux)))
	defer srv.Close()

	device := func(ua string) *http.Client {
		c := newClient()
		c.Transport = userAgent(ua)
		return c
	}
	laptop, phone, bobs := device("Firefox on a laptop"), device("Safari on a phone"), device("Chrome on bob's PC")
	for c, name := range map[*http.Client]string{laptop: "ada", phone: "ada", bobs: "bob"} {
		resp, _ := c.PostForm(srv.URL+"/login", url.Values{"name": {name}})
		resp.Body.Close()
	}
	post := func(c *http.Client, device string) string {
		resp, err := c.PostForm(srv.URL+"/devices/logout", url.Values{"device": {device}})
		if err != nil {
			return err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.TrimSpace(string(b))
	}

	// The laptop's devices page, and the phone's button on it.
	var lines []string
	publicIDs := map[string]string{}
	for line := range strings.Lines(get(laptop, srv.URL+"/devices")) {
		publicID, rest, _ := strings.Cut(strings.TrimSpace(line), " ")
		lines = append(lines, rest)
		publicIDs[strings.TrimSuffix(rest, " (this device)")] = publicID
	}
	slices.Sort(lines) // UserSessions lists the most recently used first
	fmt.Println(strings.Join(lines, "; "))
	fmt.Println("phone:", post(laptop, publicIDs["Safari on a phone"]))
	fmt.Println("phone", get(phone, srv.URL))
	fmt.Println("laptop", get(laptop, srv.URL))

	// bob's PublicID, posted by ada, names none of her devices.
	bobsInfo, _ := m.UserSessions(context.Background(), "bob")
	fmt.Println("bob's PC:", post(laptop, bobsInfo[0].PublicID()))
	fmt.Println("bob", get(bobs, srv.URL))

	// The laptop's own button.
	fmt.Println("laptop:", post(laptop, publicIDs["Firefox on a laptop"]))
	fmt.Println("laptop", get(laptop, srv.URL))
	// Output:
	// Firefox on a laptop (this device); Safari on a phone
	// phone: logged out
	// phone user: ""
	// laptop user: "ada"
	// bob's PC: no such device, or it has logged out already
	// bob user: "bob"
	// laptop: logged out
	// laptop user: ""
}

// userAgent is a transport that sends a User-Agent of its own.
type userAgent string

func (ua userAgent) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("User-Agent", string(ua))
	return http.DefaultTransport.RoundTrip(r)
}

// flakyStore is a store whose server can go down.
type flakyStore struct {
	session.Store
	down atomic.Bool
}

var errDown = errors.New("dial tcp 10.0.0.7:6379: connect: connection refused")

func (st *flakyStore) Get(ctx context.Context, id string) ([]byte, bool, error) {
	if st.down.Load() {
		return nil, false, errDown
	}
	return st.Store.Get(ctx, id)
}

// An ErrorHandler answers a request whose session could not be loaded or
// saved, in place of the handler's response; the error wraps the store's.
func ExampleOptions_errorHandler() {
	store := &flakyStore{Store: memstore.New()}
	m, _ := session.New(session.Options{
		Secrets: []string{"s3cret"},
		Store:   store,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if errors.Is(err, errDown) {
				http.Error(w, "Sessions are unavailable; try again in a minute.", http.StatusServiceUnavailable)
				return
			}
			http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		},
	})
	srv := httptest.NewServer(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.From(r) // nil when the load failed: the ErrorHandler has answered
		views, _ := session.GetAs[int](s, "views")
		s.Set("views", views+1)
		fmt.Fprintf(w, "views: %d", views+1)
	})))
	defer srv.Close()

	c := newClient()
	fmt.Println(get(c, srv.URL))
	store.down.Store(true)
	fmt.Print(get(c, srv.URL))
	store.down.Store(false)
	fmt.Println(get(c, srv.URL))
	// Output:
	// views: 1
	// Sessions are unavailable; try again in a minute.
	// views: 2
}

// Regenerate starts the session over (express's req.session.regenerate): a
// new id, no data, and the old id destroyed at once, so a cookie copied
// before it is worthless. At login, RenewID keeps the data instead.
func ExampleSession_Regenerate() {
	m, _ := session.New(session.Options{Secrets: []string{"s3cret"}})
	mux := http.NewServeMux()
	mux.HandleFunc("POST /theme", func(w http.ResponseWriter, r *http.Request) {
		session.From(r).Set("theme", "dark")
	})
	mux.HandleFunc("POST /reset", func(w http.ResponseWriter, r *http.Request) {
		s := session.From(r)
		if err := s.Regenerate(r.Context()); err != nil {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		s.Set("theme", "light") // the new session's first value
	})
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		s := session.From(r)
		fmt.Fprintf(w, "theme: %v, new session: %t", s.Get("theme"), s.IsNew())
	})
	srv := httptest.NewServer(m.Handler(mux))
	defer srv.Close()

	c := newClient()
	resp, _ := c.Post(srv.URL+"/theme", "", nil)
	resp.Body.Close()
	u, _ := url.Parse(srv.URL)
	copied := c.Jar.Cookies(u)[0] // the cookie before Regenerate
	resp, _ = c.Post(srv.URL+"/reset", "", nil)
	resp.Body.Close()
	fmt.Println(get(c, srv.URL))

	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.AddCookie(copied)
	resp, _ = http.DefaultClient.Do(req)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println("old cookie:", string(b))
	// Output:
	// theme: light, new session: false
	// old cookie: theme: <nil>, new session: true
}

// Reload re-reads the session (express's req.session.reload): a long-running
// request sees what other requests saved meanwhile, and its own unsaved
// changes are dropped. (A change made before the response's first write is
// saved with it, and stays.)
func ExampleSession_Reload() {
	m, _ := session.New(session.Options{Secrets: []string{"s3cret"}})
	c := newClient()
	var srv *httptest.Server
	mux := http.NewServeMux()
	mux.HandleFunc("POST /status", func(w http.ResponseWriter, r *http.Request) {
		session.From(r).Set("status", r.FormValue("status"))
	})
	mux.HandleFunc("GET /wait", func(w http.ResponseWriter, r *http.Request) {
		s := session.From(r)
		before := s.Get("status")
		s.Set("draft", "not saved")

		// Another request of the same client saves a new status.
		resp, _ := c.PostForm(srv.URL+"/status", url.Values{"status": {"paid"}})
		resp.Body.Close()

		if err := s.Reload(r.Context()); err != nil { // ErrNotFound: the session is gone
			return
		}
		fmt.Fprintf(w, "status: %v, after Reload: %v; draft: %v", before, s.Get("status"), s.Get("draft"))
	})
	srv = httptest.NewServer(m.Handler(mux))
	defer srv.Close()

	resp, _ := c.PostForm(srv.URL+"/status", url.Values{"status": {"pending"}})
	resp.Body.Close()
	fmt.Println(get(c, srv.URL+"/wait"))
	// Output: status: pending, after Reload: paid; draft: <nil>
}

// Log out with Destroy. The request goes on with a new, empty session,
// stored only if it is changed: the flash message after the logout reaches
// the next page, where express-session has no session left to hold it.
func ExampleSession_Destroy() {
	m, _ := session.New(session.Options{Secrets: []string{"s3cret"}})
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s := session.From(r)
		if err := s.RenewID(r.Context()); err != nil {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		s.SetUser("ada")
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		s := session.From(r)
		// Check the error: when the store did not confirm the delete, the
		// session still works, and the user must not be told otherwise.
		if err := s.Destroy(r.Context()); err != nil {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		s.Flash("info", "You are logged out.")
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		s := session.From(r)
		fmt.Fprintf(w, "user %q, flashes %q", s.User(), s.Flashes("info"))
	})
	srv := httptest.NewServer(m.Handler(mux))
	defer srv.Close()

	c := newClient()
	resp, _ := c.Post(srv.URL+"/login", "", nil)
	resp.Body.Close()
	fmt.Println(get(c, srv.URL))
	resp, _ = c.Post(srv.URL+"/logout", "", nil) // follows the redirect to /
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(string(b))
	// Output:
	// user "ada", flashes []
	// user "", flashes ["You are logged out."]
}

// No save before a redirect: express apps write
// req.session.save(() => res.redirect("/")) so that the next page finds the
// change; here the session is saved, and its cookie set, before any response
// header goes out, redirects included.
func ExampleSession_Save_redirect() {
	m, _ := session.New(session.Options{Secrets: []string{"s3cret"}})
	mux := http.NewServeMux()
	mux.HandleFunc("POST /cart", func(w http.ResponseWriter, r *http.Request) {
		session.From(r).Set("cart:"+r.FormValue("item"), 1)
		http.Redirect(w, r, "/", http.StatusSeeOther) // no Save needed
	})
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, session.From(r).Keys())
	})
	srv := httptest.NewServer(m.Handler(mux))
	defer srv.Close()

	resp, _ := newClient().PostForm(srv.URL+"/cart", url.Values{"item": {"tea"}})
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(string(b))
	// Output: [cart:tea]
}

// The middleware does not protect forms from cross-site request forgery:
// a session cookie goes with every request the browser sends, a forged
// form's included. Go's http.CrossOriginProtection refuses a cross-origin
// POST by the Sec-Fetch-Site or Origin header every current browser sends;
// wrap the session's handler with it. SameSite Lax keeps the cookie off
// other sites' POSTs as well; for browsers that send neither header, keep
// a random token in the session and compare it with a hidden form field.
func ExampleManager_Handler_csrf() {
	m, _ := session.New(session.Options{
		Secrets: []string{"s3cret"},
		Cookie:  session.CookieOptions{SameSite: session.SameSiteLax},
	})
	mux := http.NewServeMux()
	mux.HandleFunc("POST /email", func(w http.ResponseWriter, r *http.Request) {
		session.From(r).Set("email", r.FormValue("email"))
		fmt.Fprint(w, "changed")
	})
	srv := httptest.NewServer(http.NewCrossOriginProtection().Handler(m.Handler(mux)))
	defer srv.Close()

	c := newClient()
	for _, site := range []string{"same-origin", "cross-site"} {
		req, _ := http.NewRequest("POST", srv.URL+"/email", strings.NewReader("email=mallory@example.com"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", site) // as a browser sends it
		resp, _ := c.Do(req)
		resp.Body.Close()
		fmt.Println(site, resp.StatusCode)
	}
	// Output:
	// same-origin 200
	// cross-site 403
}
