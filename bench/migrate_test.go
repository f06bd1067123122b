package bench

import (
	"encoding/gob"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/alexedwards/scs/v2"
	scsmemstore "github.com/alexedwards/scs/v2/memstore"
	"github.com/gorilla/sessions"
	session "github.com/sessionkit/session"
)

// The README's "Moving from scs or gorilla/sessions": carrying the users'
// sessions over from the old library, and the old libraries' behaviour that
// the guide tells a migrating team about, pinned against scs v2.9.0 and
// gorilla/sessions v1.4.0 so that an upgrade that changes it fails here.

// fromSCS moves a user's scs session into sessionkit on the first request
// that carries scs's cookie: the scs session's keys are copied into the
// request's sessionkit session when that one is new, and the scs session is
// destroyed, so that LoadAndSave clears its cookie and the next request goes
// to sessionkit alone. Mount it inside sessionkit's Handler, with the scs
// manager still set up as before (its Store, its Cookie.Name, and the
// gob.Register calls of the types it stored):
//
//	http.ListenAndServe(addr, m.Handler(fromSCS(sm, app)))
//
// Requests without scs's cookie go straight to next, with no scs store call.
func fromSCS(sm *scs.SessionManager, next http.Handler) http.Handler {
	carry := sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if s := session.From(r); s.IsNew() {
			for _, k := range sm.Keys(ctx) {
				s.Set(k, sm.Get(ctx, k)) // the value as scs decoded it; JSON from now on
			}
		}
		if err := sm.Destroy(ctx); err != nil {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		next.ServeHTTP(w, r)
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := r.Cookie(sm.Cookie.Name); err != nil {
			next.ServeHTTP(w, r)
			return
		}
		carry.ServeHTTP(w, r)
	})
}

// fromGorilla is fromSCS for gorilla/sessions: on a request that carries the
// cookie name, the keys of the gorilla session (the string ones: sessionkit's
// keys are strings) go into the request's sessionkit session when that one
// is new, and the gorilla session is deleted as gorilla deletes one
// (Options.MaxAge = -1, then Save: the cookie cleared, and a
// FilesystemStore's file removed). store keeps the old key pairs.
func fromGorilla(store sessions.Store, name string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := r.Cookie(name); err != nil {
			next.ServeHTTP(w, r)
			return
		}
		old, err := store.Get(r, name) // an error: a cookie it cannot read (expired, a dropped key); old is then new
		if s := session.From(r); err == nil && s.IsNew() {
			for k, v := range old.Values {
				// A pending flash message (AddFlash's "_flash") is left
				// behind, as are keys that are not strings.
				if k, ok := k.(string); ok && k != "_flash" {
					s.Set(k, v)
				}
			}
		}
		old.Options.MaxAge = -1
		if err := old.Save(r, w); err != nil {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// profile is a struct an old app kept in its sessions (gob needs it
// registered; sessionkit stores it as JSON and GetAs reads it back).
type profile struct {
	Name  string
	Admin bool
}

func init() { gob.Register(profile{}) }

// countingSCSStore is scs's memstore, counting Find.
type countingSCSStore struct {
	*scsmemstore.MemStore
	finds atomic.Int64
}

func (c *countingSCSStore) Find(token string) ([]byte, bool, error) {
	c.finds.Add(1)
	return c.MemStore.Find(token)
}

// newMigrationManager is the sessionkit side of a migration: its own cookie
// name (the default, "sid"), so that the old cookie and the new one live
// side by side for the one request that moves the session, and clearing the
// old one does not clear the new one.
func newMigrationManager(tb testing.TB) *session.Manager {
	m, err := session.New(session.Options{
		Secrets: []string{string(authKey)},
		Cookie:  session.CookieOptions{MaxAge: lifetime, SameSite: session.SameSiteLax},
	})
	if err != nil {
		tb.Fatal(err)
	}
	if c, ok := m.Store().(interface{ Close() error }); ok {
		tb.Cleanup(func() { c.Close() })
	}
	return m
}

// whoAmI writes the migrated session's user id and profile, as the app on
// sessionkit reads them, and its keys.
var whoAmI = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	s := session.From(r)
	id, _ := session.GetAs[int](s, "userID")
	p, _ := session.GetAs[profile](s, "profile")
	fmt.Fprintf(w, "%d %s %t %v", id, p.Name, p.Admin, s.Keys())
})

// cookieNamed returns the response's Set-Cookie for name, or nil.
func cookieNamed(res *http.Response, name string) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func TestSCSSessionIsCarriedOverOnceAndItsCookieCleared(t *testing.T) {
	st := &countingSCSStore{MemStore: scsmemstore.NewWithCleanupInterval(0)}
	sm := scs.New()
	sm.Store = st
	b := newBrowser(t)
	b.get(sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := sm.RenewToken(r.Context()); err != nil {
			t.Error(err)
		}
		sm.Put(r.Context(), "userID", 42)
		sm.Put(r.Context(), "profile", profile{Name: "ada", Admin: true})
	})), "") // logged in on the scs app
	scsCookie := b.jar.Cookies(origin)
	if len(scsCookie) != 1 || scsCookie[0].Name != "session" {
		t.Fatalf("cookies after the scs login: %v", scsCookie)
	}

	h := newMigrationManager(t).Handler(fromSCS(sm, whoAmI))
	st.finds.Store(0)
	res, body := b.get(h, "")
	if body != "42 ada true [profile userID]" {
		t.Fatalf("first request on sessionkit read %q, want the scs session's user", body)
	}
	if c := cookieNamed(res, "session"); c == nil || c.MaxAge >= 0 {
		t.Fatalf("scs's cookie not cleared: %v", res.Header.Values("Set-Cookie"))
	}
	if cookieNamed(res, "sid") == nil {
		t.Fatalf("no sessionkit cookie: %v", res.Header.Values("Set-Cookie"))
	}
	if _, found, _ := st.MemStore.Find(scsCookie[0].Value); found {
		t.Fatal("the scs session is still stored")
	}
	if _, body := b.get(h, ""); body != "42 ada true [profile userID]" {
		t.Fatalf("second request read %q", body)
	}
	if n := st.finds.Load(); n != 1 {
		t.Fatalf("scs store read %d times, want once (the carry-over)", n)
	}

	// A client that replays the scs cookie gets nobody: the scs session is gone.
	replay := newBrowser(t)
	replay.jar.SetCookies(origin, scsCookie)
	if _, body := replay.get(h, ""); body != "0  false []" {
		t.Fatalf("replayed scs cookie read %q, want nobody", body)
	}
}

func TestGorillaSessionIsCarriedOverOnceAndItsCookieCleared(t *testing.T) {
	dir := t.TempDir()
	for name, store := range map[string]sessions.Store{"cookie": cookieStore(), "filesystem": filesystemStore(dir)} {
		t.Run(name, func(t *testing.T) {
			b := newBrowser(t)
			b.get(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				old, _ := store.Get(r, "app")
				old.Values["userID"] = 42
				old.Values["profile"] = profile{Name: "ada", Admin: true}
				old.Values[7] = "a key that is not a string is left behind"
				old.AddFlash("a flash message is left behind too")
				if err := old.Save(r, w); err != nil {
					t.Error(err)
				}
			}), "") // logged in on the gorilla app

			h := newMigrationManager(t).Handler(fromGorilla(store, "app", whoAmI))
			res, body := b.get(h, "")
			if body != "42 ada true [profile userID]" {
				t.Fatalf("first request on sessionkit read %q, want the gorilla session's user", body)
			}
			if c := cookieNamed(res, "app"); c == nil || c.MaxAge >= 0 {
				t.Fatalf("gorilla's cookie not cleared: %v", res.Header.Values("Set-Cookie"))
			}
			if _, body := b.get(h, ""); body != "42 ada true [profile userID]" {
				t.Fatalf("second request read %q", body)
			}
			if files, _ := filepath.Glob(filepath.Join(dir, "session_*")); len(files) != 0 {
				t.Fatalf("gorilla's session files left: %v", files)
			}
		})
	}
}

// The guide says scs saves at the response's first write and not after it:
// a Put once the handler has written is lost. sessionkit saves it when the
// handler returns (TestChangeAfterTheFirstWriteIsSavedWhenTheHandlerReturns
// in the root package).
func TestSCSLosesAPutAfterTheFirstWrite(t *testing.T) {
	sm := scs.New()
	sm.Store = scsmemstore.NewWithCleanupInterval(0)
	b := newBrowser(t)
	b.get(sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sm.Put(r.Context(), "before", "kept")
	})), "")
	b.get(sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "written")
		sm.Put(r.Context(), "after", "lost")
	})), "")
	_, body := b.get(sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, sm.Keys(r.Context()))
	})), "")
	if body != "[before]" {
		t.Fatalf("keys %s, want [before]: scs v2.9.0 drops a Put after the first write", body)
	}
}

// The guide says gorilla's stores cannot hold a session much over 2 KB:
// a CookieStore's cookie, and a FilesystemStore's file too unless
// MaxLength(0) lifts it, are securecookie values of at most 4096 bytes
// (gob, a signature and base64 twice); Save fails beyond. sessionkit stores
// 10,000 bytes (Example_fromGorilla) and up to MaxDocumentBytes, 512 KiB.
func TestGorillaStoresRefuseASessionOf3000Bytes(t *testing.T) {
	for name, store := range map[string]sessions.Store{"cookie": cookieStore(), "filesystem": filesystemStore(t.TempDir())} {
		var saveErr error
		newBrowser(t).get(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s, _ := store.Get(r, "app")
			s.Values["draft"] = strings.Repeat("x", 3000)
			saveErr = s.Save(r, w)
		}), "")
		if saveErr == nil || !strings.Contains(saveErr.Error(), "too long") {
			t.Errorf("%s: save of a 3000-byte value: %v, want securecookie's value too long", name, saveErr)
		}
	}
}

// The guide says a CookieStore's logout (Options.MaxAge = -1, Save) clears
// the browser's cookie but cannot revoke a copy of it, which works until
// its MaxAge; sessionkit's Destroy ends the session for every copy
// (Example_fromGorilla, TestDestroyDeletesTheSessionAndClearsTheCookie).
func TestGorillaCookieStoreCookieCopiedBeforeTheLogoutStillWorks(t *testing.T) {
	store := cookieStore()
	b := newBrowser(t)
	b.get(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := store.Get(r, "app")
		s.Values["user"] = "ada"
		s.Save(r, w)
	}), "")
	copied := b.jar.Cookies(origin)
	b.get(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := store.Get(r, "app")
		s.Options.MaxAge = -1
		s.Save(r, w)
	}), "")
	if left := b.jar.Cookies(origin); len(left) != 0 {
		t.Fatalf("the logout left the browser %v", left)
	}
	thief := newBrowser(t)
	thief.jar.SetCookies(origin, copied)
	_, body := thief.get(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := store.Get(r, "app")
		fmt.Fprint(w, s.Values["user"])
	}), "")
	if body != "ada" {
		t.Fatalf("copied cookie after the logout read %q, want ada (a CookieStore cannot revoke it)", body)
	}
}
