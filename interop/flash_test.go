package interop

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"testing"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/pgstore"
	"github.com/sessionkit/session/redisstore"
)

// flashWorld is a world whose Express app has connect-flash 0.1.1 (the
// shared peers run with FLASH=1) and whose Go app reads and writes flash
// messages with Session.Flash and Session.Flashes, on one store.
type flashWorld struct {
	t               *testing.T
	node            *peer
	goURL           string
	loaded, release chan struct{}
	// raw returns the stored document of a session, as the Node store keeps it.
	raw func(id string) string
	// noNestedArrays is set for a store that refuses an array directly inside
	// an array (FerretDB v1 with the session stored as an object; see the
	// README's mongostore section), so that Express cannot flash one.
	noNestedArrays bool
}

// flashStores are the stores the flash tests run on, each making a
// flashWorld: Redis (connect-redis and redisstore) and PostgreSQL
// (connect-pg-simple and pgstore, one table); flash_stores_test.go adds
// MongoDB, Memcached and Valkey.
var flashStores = []struct {
	name  string
	world func(t *testing.T) *flashWorld
}{
	{"Redis", func(t *testing.T) *flashWorld {
		w := newWorld(t, nil)
		return newFlashWorldOn(t, w.node, redisstore.New(w.rdb, redisstore.WithPrefix("sess:")), w.raw)
	}},
	{"PostgreSQL", func(t *testing.T) *flashWorld {
		w := newPgWorld(t, nil)
		st, err := pgstore.New(w.pool, pgstore.WithTable(pgTable), pgstore.WithCleanupInterval(0))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return newFlashWorldOn(t, w.node, st, func(id string) string {
			doc, _ := w.raw(id)
			return doc
		})
	}},
}

// forEachFlashStore runs test on every store of flashStores.
func forEachFlashStore(t *testing.T, test func(t *testing.T, w *flashWorld)) {
	for _, st := range flashStores {
		t.Run(st.name, func(t *testing.T) { test(t, st.world(t)) })
	}
}

// newFlashWorldOn starts the Go app on st, beside the Express app node:
//
//	POST /flash?kind=K&msg=M       s.Flash(K, M), once for each msg
//	GET  /flashes?kind=K           answers {"msgs": s.Flashes(K)}
//	POST /flash/slow?kind=K&msg=M  loads the session, signals loaded, waits for release, then s.Flash(K, M)
func newFlashWorldOn(t *testing.T, node *peer, st session.Store, raw func(string) string) *flashWorld {
	t.Helper()
	m, err := session.New(session.Options{
		Name:    "sid",
		Secrets: []string{secret},
		Store:   st,
		Cookie:  session.CookieOptions{MaxAge: maxAge},
	})
	if err != nil {
		t.Fatal(err)
	}
	fw := &flashWorld{t: t, node: node, loaded: make(chan struct{}), release: make(chan struct{}), raw: raw}
	mux := http.NewServeMux()
	handle := func(pattern string, f func(r *http.Request, s *session.Session) any) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			s := session.From(r)
			if s == nil {
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(f(r, s))
		})
	}
	handle("POST /flash", func(r *http.Request, s *session.Session) any {
		for _, msg := range r.URL.Query()["msg"] {
			s.Flash(r.FormValue("kind"), msg)
		}
		return map[string]string{"id": s.ID()}
	})
	handle("GET /flashes", func(r *http.Request, s *session.Session) any {
		return map[string][]string{"msgs": s.Flashes(r.FormValue("kind"))}
	})
	handle("POST /flash/slow", func(r *http.Request, s *session.Session) any {
		_ = s.Get("views") // loaded now
		fw.loaded <- struct{}{}
		<-fw.release
		s.Flash(r.FormValue("kind"), r.FormValue("msg"))
		return map[string]string{"id": s.ID()}
	})
	srv := httptest.NewServer(m.Handler(mux))
	t.Cleanup(srv.Close)
	fw.goURL = srv.URL
	return fw
}

func (w *flashWorld) browser() *browser {
	return (&world{t: w.t, node: w.node}).browser()
}

// goFlash adds msgs of kind on the Go app, in one request.
func (w *flashWorld) goFlash(b *browser, kind string, msgs ...string) {
	w.t.Helper()
	q := url.Values{"kind": {kind}, "msg": msgs}
	b.do("POST", w.goURL+"/flash?"+q.Encode(), nil)
}

// goFlashes reads (and removes) the messages of kind on the Go app.
func (w *flashWorld) goFlashes(b *browser, kind string) []string {
	w.t.Helper()
	var out struct{ Msgs []string }
	b.do("GET", w.goURL+"/flashes?kind="+url.QueryEscape(kind), &out)
	return out.Msgs
}

// nodeFlash is the Express app's answer on its /flash/ routes.
type nodeFlash struct {
	// Result is what req.flash returned: a count, a list, or every kind's lists.
	Result  any            `json:"result"`
	Session map[string]any `json:"session"`
}

// nodeAdd is req.flash(kind, msgs...) on the Express app (several msgs are
// a format string and its arguments).
func (w *flashWorld) nodeAdd(b *browser, kind string, msgs ...string) nodeFlash {
	w.t.Helper()
	var out nodeFlash
	b.do("POST", w.node.URL+"/flash/add?"+url.Values{"kind": {kind}, "msg": msgs}.Encode(), &out)
	return out
}

// nodeAddJSON is req.flash(kind, JSON.parse(j)) on the Express app.
func (w *flashWorld) nodeAddJSON(b *browser, kind, j string) nodeFlash {
	w.t.Helper()
	var out nodeFlash
	b.do("POST", w.node.URL+"/flash/add?"+url.Values{"kind": {kind}, "j": {j}}.Encode(), &out)
	return out
}

// nodeRead is req.flash(kind) on the Express app: the messages of kind, removed.
func (w *flashWorld) nodeRead(b *browser, kind string) []any {
	w.t.Helper()
	var out struct{ Result []any }
	b.do("GET", w.node.URL+"/flash/read?kind="+url.QueryEscape(kind), &out)
	return out.Result
}

// nodeReadAll is req.flash() on the Express app: every kind's messages,
// all removed.
func (w *flashWorld) nodeReadAll(b *browser) nodeFlash {
	w.t.Helper()
	var out nodeFlash
	b.do("GET", w.node.URL+"/flash/read", &out)
	return out
}

// storedFlash returns the flash key of the stored document of b's session,
// and whether the document has the key.
func (w *flashWorld) storedFlash(b *browser) (any, bool) {
	w.t.Helper()
	doc := w.raw(b.sessionID())
	var m map[string]any
	if err := json.Unmarshal([]byte(doc), &m); err != nil {
		w.t.Fatalf("stored document %s: %v", doc, err)
	}
	v, ok := m["flash"]
	return v, ok
}

// strs is msgs as the []any that JSON decodes a list of strings into.
func strs(msgs ...string) []any {
	out := make([]any, len(msgs))
	for i, m := range msgs {
		out[i] = m
	}
	return out
}

// TestFlashFromExpressIsReadOnceByGo: messages that connect-flash's
// req.flash stored (one a util.format string with its argument) are read by
// Go's Flashes in order, once: a second Flashes has none, and so has
// Express's req.flash afterwards; the other kind's message is left for
// Express.
func TestFlashFromExpressIsReadOnceByGo(t *testing.T) {
	forEachFlashStore(t, func(t *testing.T, w *flashWorld) {
		b := w.browser()
		if n := w.nodeAdd(b, "info", "one").Result; n != 1.0 {
			t.Fatalf("req.flash('info', 'one') = %v, want 1", n)
		}
		w.nodeAdd(b, "info", "%s saved", "doc")
		w.nodeAdd(b, "error", "bad")
		if got, _ := w.storedFlash(b); !reflect.DeepEqual(got, map[string]any{"info": strs("one", "doc saved"), "error": strs("bad")}) {
			t.Fatalf("connect-flash stored flash %v", got)
		}

		if got := w.goFlashes(b, "info"); !reflect.DeepEqual(got, []string{"one", "doc saved"}) {
			t.Errorf("Go's Flashes(info) = %q, want [one, doc saved]", got)
		}
		if got := w.goFlashes(b, "info"); got != nil {
			t.Errorf("Go's second Flashes(info) = %q, want none", got)
		}
		if got := w.nodeRead(b, "info"); len(got) != 0 {
			t.Errorf("Express's req.flash('info') after Go read them = %v, want []", got)
		}
		if got := w.nodeRead(b, "error"); !reflect.DeepEqual(got, strs("bad")) {
			t.Errorf("Express's req.flash('error') = %v, want [bad], left by Go", got)
		}
	})
}

// TestFlashFromGoIsReadOnceByExpress: messages of Go's Flash are
// req.flash's on the Express app, in order, once; Go's Flashes finds
// none afterwards.
func TestFlashFromGoIsReadOnceByExpress(t *testing.T) {
	forEachFlashStore(t, func(t *testing.T, w *flashWorld) {
		b := w.browser()
		w.goFlash(b, "info", "a", "b")
		w.goFlash(b, "info", "c")
		if got := w.nodeRead(b, "info"); !reflect.DeepEqual(got, strs("a", "b", "c")) {
			t.Errorf("Express's req.flash('info') = %v, want [a b c]", got)
		}
		if got := w.nodeRead(b, "info"); len(got) != 0 {
			t.Errorf("Express's second req.flash('info') = %v, want []", got)
		}
		if got := w.goFlashes(b, "info"); got != nil {
			t.Errorf("Go's Flashes(info) after Express read them = %q, want none", got)
		}
	})
}

// TestFlashBothSidesAddToOneSession: messages that both apps add, of two
// kinds, are kept in the order they were added, and each side reads a
// kind the other added to.
func TestFlashBothSidesAddToOneSession(t *testing.T) {
	forEachFlashStore(t, func(t *testing.T, w *flashWorld) {
		b := w.browser()
		w.nodeAdd(b, "info", "e1")
		w.goFlash(b, "info", "g1")
		w.goFlash(b, "error", "g2")
		w.nodeAdd(b, "error", "e2")
		if got := w.goFlashes(b, "info"); !reflect.DeepEqual(got, []string{"e1", "g1"}) {
			t.Errorf("Go's Flashes(info) = %q, want [e1 g1]", got)
		}
		if got := w.nodeRead(b, "error"); !reflect.DeepEqual(got, strs("g2", "e2")) {
			t.Errorf("Express's req.flash('error') = %v, want [g2 e2]", got)
		}
	})
}

// TestFlashAllKindsReadByExpressAfterGo: req.flash() with no kind returns
// every kind that Go added and empties connect-flash's object; Go then
// finds none.
func TestFlashAllKindsReadByExpressAfterGo(t *testing.T) {
	forEachFlashStore(t, func(t *testing.T, w *flashWorld) {
		b := w.browser()
		w.goFlash(b, "info", "x")
		w.goFlash(b, "warn", "y", "z")
		all := w.nodeReadAll(b)
		if want := map[string]any{"info": strs("x"), "warn": strs("y", "z")}; !reflect.DeepEqual(all.Result, want) {
			t.Errorf("Express's req.flash() = %v, want %v", all.Result, want)
		}
		if got, ok := w.storedFlash(b); !ok || !reflect.DeepEqual(got, map[string]any{}) {
			t.Errorf("stored after req.flash(): flash %v (present %v), want {}", got, ok)
		}
		for _, kind := range []string{"info", "warn"} {
			if got := w.goFlashes(b, kind); got != nil {
				t.Errorf("Go's Flashes(%s) after req.flash() = %q, want none", kind, got)
			}
		}
	})
}

// TestFlashObjectFromExpressIsJSONTextForGo: connect-flash stores any
// value; an array's members are messages of their own. Go's Flashes returns
// a message that is not a string as its JSON text, as JSON.stringify writes
// it but with an object's keys sorted; the strings among them stay strings.
func TestFlashObjectFromExpressIsJSONTextForGo(t *testing.T) {
	forEachFlashStore(t, func(t *testing.T, w *flashWorld) {
		b := w.browser()
		w.nodeAddJSON(b, "info", `{"text":"a < b","n":1}`)
		members, want := `["plain",{"id":7},["x","y"]]`, []string{`{"n":1,"text":"a < b"}`, "plain", `{"id":7}`, `["x","y"]`, "2.5"}
		if w.noNestedArrays {
			members, want = `["plain",{"id":7}]`, slices.Delete(want, 3, 4)
		}
		if n := w.nodeAddJSON(b, "info", members).Result; n != float64(len(want)-1) {
			t.Fatalf("req.flash('info', %s) = %v, want %d messages", members, n, len(want)-1)
		}
		w.nodeAddJSON(b, "info", `2.5`)
		got := w.goFlashes(b, "info")
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Go's Flashes(info) = %q, want %q", got, want)
		}
		var obj map[string]any
		if err := json.Unmarshal([]byte(got[0]), &obj); err != nil || !reflect.DeepEqual(obj, map[string]any{"text": "a < b", "n": 1.0}) {
			t.Errorf("Go's text of the object decodes to %v (%v), want what Express stored", obj, err)
		}
		if got := w.nodeRead(b, "info"); len(got) != 0 {
			t.Errorf("Express's req.flash('info') after Go read them = %v, want []", got)
		}
	})
}

// TestFlashEmptiedIsNoneForExpressEitherWay: connect-flash leaves "flash":
// {} in the session once the last message is read (any req.flash call
// creates the object), where Go's Flashes deletes the key. With another
// kind left, both leave the same object. Either way req.flash(kind) and
// req.flash() find no messages on the next Express request, and Go's
// Flashes none.
func TestFlashEmptiedIsNoneForExpressEitherWay(t *testing.T) {
	forEachFlashStore(t, func(t *testing.T, w *flashWorld) {
		// Express reads the last message.
		e := w.browser()
		w.nodeAdd(e, "info", "m")
		w.nodeRead(e, "info")
		if got, ok := w.storedFlash(e); !ok || !reflect.DeepEqual(got, map[string]any{}) {
			t.Errorf("connect-flash left flash %v (present %v); want {}", got, ok)
		}

		// Go reads the last message, of one kind and then of the other.
		g := w.browser()
		w.nodeAdd(g, "info", "m")
		w.nodeAdd(g, "error", "n")
		w.goFlashes(g, "info")
		if got, _ := w.storedFlash(g); !reflect.DeepEqual(got, map[string]any{"error": strs("n")}) {
			t.Errorf("after Go read info: flash %v; want {error: [n]}, as connect-flash leaves it", got)
		}
		w.goFlashes(g, "error")
		if got, ok := w.storedFlash(g); ok {
			t.Errorf("after Go read the last message: flash %v; want the key deleted", got)
		}

		for _, b := range []*browser{e, g} {
			if got := w.goFlashes(b, "info"); got != nil {
				t.Errorf("Go's Flashes(info) = %q, want none", got)
			}
			if got := w.nodeRead(b, "info"); len(got) != 0 {
				t.Errorf("Express's req.flash('info') = %v, want []", got)
			}
			if all := w.nodeReadAll(b); !reflect.DeepEqual(all.Result, map[string]any{}) {
				t.Errorf("Express's req.flash() = %v, want {}", all.Result)
			}
		}
	})
}

// TestFlashExpressDuringSlowGoRequestIsKept: Express adds a message while a
// Go request that adds one holds the session it loaded; the Go save finds
// Express's write and adds its message to it: both are kept.
func TestFlashExpressDuringSlowGoRequestIsKept(t *testing.T) {
	forEachFlashStore(t, func(t *testing.T, w *flashWorld) {
		b := w.browser()
		w.nodeAdd(b, "info", "before")
		done := make(chan error, 1)
		go func() { done <- post(b, w.goURL+"/flash/slow?kind=info&msg=go") }()
		select {
		case <-w.loaded:
		case err := <-done:
			t.Fatalf("the Go request ended before loading the session: %v", err)
		}
		released := false
		defer func() {
			if !released {
				w.release <- struct{}{}
			}
		}()
		w.nodeAdd(b, "info", "express")
		released = true
		w.release <- struct{}{}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if got := w.nodeRead(b, "info"); !reflect.DeepEqual(got, strs("before", "express", "go")) {
			t.Errorf("Express's req.flash('info') = %v, want [before express go]", got)
		}
	})
}

// TestFlashGoDuringSlowExpressRequestIsLost: Go adds a message while an
// Express request that adds one holds the session it loaded; express-session
// then writes its whole session, loaded before Go's write, over it: Go's
// message is lost. This is express-session's last writer wins (it has no
// compare-and-swap), as between two Express requests; the test pins it so
// that the README's warning stays true.
func TestFlashGoDuringSlowExpressRequestIsLost(t *testing.T) {
	forEachFlashStore(t, func(t *testing.T, w *flashWorld) {
		b := w.browser()
		w.nodeAdd(b, "info", "before")
		token := fmt.Sprintf("%s-%s", t.Name(), b.sessionID())
		q := url.Values{"token": {token}, "kind": {"info"}, "msg": {"express"}}.Encode()
		done := make(chan error, 1)
		go func() { done <- post(b, w.node.URL+"/flash/slow?"+q) }()
		control := w.browser() // no cookie: the control routes touch no session
		released := false
		defer func() {
			if !released {
				control.do("POST", w.node.URL+"/flash/release?token="+url.QueryEscape(token), nil)
			}
		}()
		control.do("GET", w.node.URL+"/flash/loaded?token="+url.QueryEscape(token), nil)
		w.goFlash(b, "info", "go")
		if got, _ := w.storedFlash(b); !reflect.DeepEqual(got, map[string]any{"info": strs("before", "go")}) {
			t.Fatalf("stored after the Go request: flash %v, want info [before go]", got)
		}
		released = true
		control.do("POST", w.node.URL+"/flash/release?token="+url.QueryEscape(token), nil)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if got := w.nodeRead(b, "info"); !reflect.DeepEqual(got, strs("before", "express")) {
			t.Errorf("Express's req.flash('info') = %v; want [before express], Go's message overwritten by express-session's save", got)
		}
	})
}

// post sends a POST with b's cookie from another goroutine (b.do would
// fail the test there) and returns an error unless the answer is 200. It
// leaves b's cookie as it was.
func post(b *browser, u string) error {
	req, err := http.NewRequest("POST", u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Cookie", "sid="+b.cookie)
	resp, err := b.client.Do(req)
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: %s: %s", u, resp.Status, body)
	}
	return nil
}
