package storetest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/memstore"
)

// agreeScenario is a series of requests from one browser, each a list of
// handler calls (agreeCall), on a manager with opts.
type agreeScenario struct {
	name     string
	opts     session.Options
	requests [][]string
}

// agreeScenarios cover the session's life (express-session's options and
// Session methods) and other requests' writes landing while one runs.
var agreeScenarios = []agreeScenario{
	{"ReadWriteRead", session.Options{Cookie: session.CookieOptions{MaxAge: time.Hour}},
		[][]string{{"set a"}, {"get a"}, {"set b"}, {"get b"}}},
	{"BrowserSessionCookie", session.Options{},
		[][]string{{"set a"}, {"get a"}, {"delete a"}, {"get a"}}},
	{"UntouchedNewSession", session.Options{}, [][]string{{"get a"}, {"get a"}}},
	{"SaveUninitialized", session.Options{SaveUninitialized: true}, [][]string{{"get a"}, {"get a"}}},
	{"Resave", session.Options{Resave: true, Cookie: session.CookieOptions{MaxAge: time.Hour}},
		[][]string{{"set a"}, {"get a"}, {"get a"}}},
	{"Rolling", session.Options{Rolling: true, Cookie: session.CookieOptions{MaxAge: time.Hour}},
		[][]string{{"set a"}, {"get a"}, {"set b"}}},
	{"TouchAfter", session.Options{TouchAfter: time.Hour, Cookie: session.CookieOptions{MaxAge: 24 * time.Hour}},
		[][]string{{"set a"}, {"get a"}, {"get a"}}},
	{"IdleTimeout", session.Options{IdleTimeout: time.Hour}, [][]string{{"set a"}, {"get a"}}},
	{"RegenerateThenDestroy", session.Options{}, [][]string{{"set a"}, {"regenerate", "set b", "destroy"}, {"get b"}}},
	{"RollingNewSessionSaveUninitialized", session.Options{Rolling: true, SaveUninitialized: true},
		[][]string{{"get a"}, {"get a"}}},
	{"RegenerateKeepsNothing", session.Options{Cookie: session.CookieOptions{MaxAge: time.Hour}},
		[][]string{{"set a"}, {"regenerate", "set b"}, {"get a", "get b"}}},
	{"RenewIDKeepsTheData", session.Options{Cookie: session.CookieOptions{MaxAge: time.Hour}},
		[][]string{{"set a"}, {"renew"}, {"get a"}}},
	{"Destroy", session.Options{Cookie: session.CookieOptions{MaxAge: time.Hour}},
		[][]string{{"set a"}, {"destroy"}, {"get a"}}},
	{"UnsetKeep", session.Options{}, [][]string{{"set a"}, {"set b", "unset"}, {"get b"}}},
	{"UnsetDestroy", session.Options{Unset: session.UnsetDestroy}, [][]string{{"set a"}, {"unset"}, {"get a"}}},
	{"SaveThenChange", session.Options{}, [][]string{{"set a", "save", "set b"}, {"get a", "get b"}}},
	{"ReloadDropsChanges", session.Options{}, [][]string{{"set a"}, {"set b", "reload"}, {"get b"}}},
	{"Flash", session.Options{}, [][]string{{"flash"}, {"flashes"}, {"flashes"}}},
	{"OwnMaxAge", session.Options{}, [][]string{{"set a", "maxage"}, {"get a"}}},
	{"ClearAndTouch", session.Options{Cookie: session.CookieOptions{MaxAge: time.Hour}},
		[][]string{{"set a", "set b"}, {"clear", "set c"}, {"touch"}, {"get a", "get c"}}},
	{"SetUser", session.Options{}, [][]string{{"set a", "user ada"}, {"get a", "user"}, {"renew", "user"}}},
	{"DestroyedMeanwhile", session.Options{Cookie: session.CookieOptions{MaxAge: time.Hour}},
		[][]string{{"set a"}, {"other destroys", "get a"}, {"get a"}}},
	// The destroy lands before the handler writes: once the headers are
	// out, the cookie is too.
	{"DestroyedMeanwhileRolling", session.Options{Rolling: true, Cookie: session.CookieOptions{MaxAge: time.Hour}},
		[][]string{{"set a"}, {"other destroys", "get a"}, {"get a"}}},
	{"ModifiedWhileDestroyedMeanwhile", session.Options{},
		[][]string{{"set a"}, {"set b", "other destroys"}, {"get b"}}},
	{"ReloadAfterOtherDestroys", session.Options{},
		[][]string{{"set a"}, {"other destroys", "reload", "get a"}, {"get a"}}},
	{"RenewWhileDestroyedMeanwhile", session.Options{Cookie: session.CookieOptions{MaxAge: time.Hour}},
		[][]string{{"set a"}, {"other destroys", "renew", "get a"}, {"get a"}}},
	{"RewrittenMeanwhile", session.Options{},
		[][]string{{"set a"}, {"set b", "other rewrites"}, {"get a", "get b", "get other"}}},
}

// agreeOutcome is what one request of a scenario did, times taken out: its
// response, and the documents stored under the ids it may have made.
type agreeOutcome struct {
	Status    int
	Body      string
	SetCookie []string
	Stored    map[string]string
}

// testManagerAgreesWithMemstore runs agreeScenarios through the manager on
// the store and on a memstore, and requires the same responses and stored
// documents, request by request (the times in them aside: the two run a
// moment apart on the real clock). A store keeps bytes with an expiry; which
// capabilities it has, and how it keeps them, must not change what a
// request does.
func testManagerAgreesWithMemstore(t *testing.T, newStore func(*testing.T) session.Store, cfg *config) {
	for _, sc := range agreeScenarios {
		t.Run(sc.name, func(t *testing.T) {
			st := newStore(t)
			if sc.othersWrite() {
				// Without them a store writes over the other request's
				// write, as session.Store documents.
				capability[session.VersionedStore](t, st)
				capability[session.Toucher](t, st)
			}
			mem := memstore.New()
			t.Cleanup(func() { mem.Close() })
			want := runAgreeScenario(t, mem, sc)
			got := runAgreeScenario(t, st, sc)
			for i := range want {
				if !reflect.DeepEqual(got[i], want[i]) {
					t.Fatalf("request %d %v:\nmemstore: %+v\nthis store: %+v", i+1, sc.requests[i], want[i], got[i])
				}
			}
		})
	}
}

// othersWrite reports whether another request writes the session while one
// of sc's runs ("other ..." calls): detecting it takes compare-and-swap for
// a save and a touch that reports a missing session.
func (sc agreeScenario) othersWrite() bool {
	for _, calls := range sc.requests {
		for _, c := range calls {
			if strings.HasPrefix(c, "other ") {
				return true
			}
		}
	}
	return false
}

// runAgreeScenario sends sc's requests to a manager on st, with ids made in
// order ("agree-1", ...) so that two runs can be compared (each store is
// empty and of its own, as Run requires of newStore).
func runAgreeScenario(t *testing.T, st session.Store, sc agreeScenario) []agreeOutcome {
	opts := sc.opts
	opts.Store = st
	opts.Secrets = []string{"9c1f0e7a4b2d8c6e5f3a1b0d9e8c7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e"}
	opts.Logger = testLogger(t)
	var ids []string
	opts.GenerateID = func(*http.Request) string {
		ids = append(ids, fmt.Sprintf("agree-%d", len(ids)+1))
		return ids[len(ids)-1]
	}
	m, err := session.New(opts)
	if err != nil {
		t.Fatalf("session.New: %v", err)
	}
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.From(r)
		for _, call := range strings.Split(r.URL.Query().Get("calls"), ",") {
			s = agreeCall(t, r, w, st, s, call)
		}
	}))
	var cookie string
	var outcomes []agreeOutcome
	for _, calls := range sc.requests {
		req := httptest.NewRequestWithContext(t.Context(), "GET", "/?calls="+url.QueryEscape(strings.Join(calls, ",")), nil)
		if cookie != "" {
			req.Header.Set("Cookie", "sid="+cookie)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		out := agreeOutcome{Status: rec.Code, Body: rec.Body.String(), Stored: map[string]string{}}
		for _, c := range rec.Result().Cookies() {
			if c.Name == "sid" {
				cookie = c.Value
				if c.MaxAge < 0 {
					cookie = ""
				}
			}
		}
		for _, v := range rec.Header().Values("Set-Cookie") {
			out.SetCookie = append(out.SetCookie, withoutTimes(v))
		}
		for _, id := range ids {
			data, found, err := st.Get(t.Context(), id)
			if err != nil {
				t.Fatalf("Get %s: %v", id, err)
			}
			if found {
				out.Stored[id] = documentWithoutTimes(t, data)
			}
		}
		outcomes = append(outcomes, out)
	}
	return outcomes
}

// agreeCall makes one handler call of a scenario and writes what it read to
// the response. It returns the session to go on with (nil after Unset).
func agreeCall(t *testing.T, r *http.Request, w io.Writer, st session.Store, s *session.Session, call string) *session.Session {
	if s == nil {
		fmt.Fprintf(w, "%s: no session; ", call)
		return nil
	}
	verb, key, _ := strings.Cut(call, " ")
	var err error
	switch verb {
	case "get":
		fmt.Fprintf(w, "%s=%v; ", key, s.Get(key))
	case "set":
		s.Set(key, key+"-value")
	case "delete":
		s.Delete(key)
	case "regenerate":
		err = s.Regenerate(r.Context())
	case "renew":
		err = s.RenewID(r.Context())
	case "destroy":
		err = s.Destroy(r.Context())
	case "unset":
		s.Unset()
		return session.From(r)
	case "save":
		err = s.Save(r.Context())
	case "reload":
		err = s.Reload(r.Context())
	case "flash":
		s.Flash("info", "hello")
	case "flashes":
		fmt.Fprintf(w, "flashes=%v; ", s.Flashes("info"))
	case "clear":
		s.Clear()
	case "touch":
		s.Touch()
	case "user":
		if key != "" {
			s.SetUser(key)
		}
		fmt.Fprintf(w, "user=%s; ", s.User())
	case "maxage":
		s.Cookie().SetMaxAge(2 * time.Hour)
	case "other":
		// Another request (or another app) writes the session meanwhile.
		switch key {
		case "destroys":
			err = st.Destroy(r.Context(), s.ID())
		case "rewrites":
			doc := `{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"other":"theirs"}`
			err = st.Set(r.Context(), s.ID(), []byte(doc), time.Now().Add(time.Hour))
		}
	default:
		t.Fatalf("unknown call %q", call)
	}
	if err != nil {
		fmt.Fprintf(w, "%s: %v; ", call, err)
	}
	return s
}

var cookieTimes = regexp.MustCompile(`; (Expires|Max-Age)=[^;]*`)

// withoutTimes is a Set-Cookie value without its Expires and Max-Age, which
// depend on when it was sent.
func withoutTimes(setCookie string) string { return cookieTimes.ReplaceAllString(setCookie, "") }

// documentWithoutTimes is a stored document without the instants in it (the
// cookie's expires, the creation time, the login time), re-encoded with
// sorted keys.
func documentWithoutTimes(t *testing.T, data []byte) string {
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("stored document %q is not JSON: %v", data, err)
	}
	if c, ok := doc["cookie"].(map[string]any); ok {
		if c["expires"] != nil {
			c["expires"] = "(a time)"
		}
	}
	for _, k := range []string{session.CreatedKey, session.LoginKey} {
		if _, ok := doc[k]; ok {
			doc[k] = "(a time)"
		}
	}
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}
