package interop

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/testserver"
)

func TestMain(m *testing.M) {
	code := m.Run()
	stopPeer() // before Redis, so Node does not log lost connections
	stopPgPeer()
	stopMemcachedPeer()
	stopDiffPeer()
	closeDiffDatabases()
	testserver.StopShared()
	os.Exit(code)
}

// TestGoSessionContinuesInExpress: a session started by the Go app is read
// and changed by the Express app with the same cookie, and the Go app sees
// the change.
func TestGoSessionContinuesInExpress(t *testing.T) {
	w := newWorld(t, nil)
	b := w.browser()

	if got := b.goViews(); got != 1 {
		t.Fatalf("Go: views = %d on a new session, want 1", got)
	}
	if b.setCookie == "" {
		t.Fatal("Go sent no sid cookie for a new, modified session")
	}
	if got := b.nodeViews(); got != 2 {
		t.Fatalf("Express: views = %d after Go's 1, want 2 (did it find the session?)", got)
	}
	gs := b.goSession()
	if gs.New || gs.Values["views"] != 2.0 {
		t.Fatalf("Go after Express: new=%v views=%v, want the existing session with views 2", gs.New, gs.Values["views"])
	}
	if got := b.goViews(); got != 3 {
		t.Fatalf("Go: views = %d after Express's 2, want 3", got)
	}
	if ns := b.nodeSession(); ns.ID != gs.ID || ns.Session["views"] != 3.0 {
		t.Fatalf("Express: id=%s views=%v, want id %s views 3", ns.ID, ns.Session["views"], gs.ID)
	}
}

// TestExpressSessionContinuesInGo: a session started by the Express app is
// read and changed by the Go app, and the Express app sees the change.
func TestExpressSessionContinuesInGo(t *testing.T) {
	w := newWorld(t, nil)
	b := w.browser()

	if got := b.nodeViews(); got != 1 {
		t.Fatalf("Express: views = %d on a new session, want 1", got)
	}
	if b.setCookie == "" {
		t.Fatal("Express sent no sid cookie for a new, modified session")
	}
	ns := b.nodeSession()
	gs := b.goSession()
	if gs.New || gs.ID != ns.ID || gs.Values["views"] != 1.0 {
		t.Fatalf("Go: id=%s new=%v views=%v, want Express's session %s with views 1", gs.ID, gs.New, gs.Values["views"], ns.ID)
	}
	if got := b.goViews(); got != 2 {
		t.Fatalf("Go: views = %d after Express's 1, want 2", got)
	}
	if got := b.nodeViews(); got != 3 {
		t.Fatalf("Express: views = %d after Go's 2, want 3", got)
	}
	if gs := b.goSession(); gs.Values["views"] != 3.0 {
		t.Fatalf("Go: views = %v after Express's 3, want 3", gs.Values["views"])
	}
}

// signedCookie computes the cookie value express-session sends for id,
// independently of both implementations: "s:" + id + "." + the unpadded
// standard base64 of HMAC-SHA256(secret, id), percent-encoded as
// encodeURIComponent does. id must be base64url, which it leaves alone.
func signedCookie(id string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(id))
	sig := base64.RawStdEncoding.EncodeToString(mac.Sum(nil))
	return strings.NewReplacer(":", "%3A", "+", "%2B", "/", "%2F").Replace("s:" + id + "." + sig)
}

// base64url is the alphabet of session ids, express's and sessionkit's.
var base64url = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// hasEscapes reports whether a cookie value has both escaped signature
// characters, so that it exercises the percent-encoding.
func hasEscapes(v string) bool {
	return strings.Contains(v, "%2B") && strings.Contains(v, "%2F")
}

// cookieAttributes returns the attribute names of a Set-Cookie header.
func cookieAttributes(h string) []string {
	var names []string
	for _, part := range strings.Split(h, ";")[1:] {
		name, _, _ := strings.Cut(strings.TrimSpace(part), "=")
		names = append(names, name)
	}
	return names
}

// TestCookieValueIsTheSameByteForByte: both apps send the same cookie value
// for the same session id, byte for byte, each accepts the other's, and the
// value is the one computed here from the express-session format.
func TestCookieValueIsTheSameByteForByte(t *testing.T) {
	t.Run("GoCookieAsExpressSendsIt", func(t *testing.T) {
		// Pick ids whose signature has both '+' and '/', so that their
		// percent-encoding is compared too.
		w := newWorld(t, func(o *session.Options) {
			o.GenerateID = func(*http.Request) string {
				for {
					id := base64.RawURLEncoding.EncodeToString(randomBytes(24))
					if hasEscapes(signedCookie(id)) {
						return id
					}
				}
			}
		})
		b := w.browser()
		b.goViews()
		goCookie, goHeader := b.setCookie, b.setCookieHeader
		id := b.goSession().ID
		if want := signedCookie(id); goCookie != want {
			t.Fatalf("Go cookie for id %s:\n got %s\nwant %s", id, goCookie, want)
		}
		// Express re-sends the cookie of a modified session that has an expiry.
		b.nodeViews()
		if b.setCookie != goCookie {
			t.Fatalf("Express re-signed Go's session differently:\nexpress %s\n     go %s", b.setCookie, goCookie)
		}
		expressAttrs, goAttrs := cookieAttributes(b.setCookieHeader), cookieAttributes(goHeader)
		for _, a := range expressAttrs {
			if !slices.Contains(goAttrs, a) {
				t.Errorf("Go's Set-Cookie lacks %s, which Express sends:\nexpress %s\n     go %s", a, b.setCookieHeader, goHeader)
			}
		}
	})

	t.Run("ExpressCookieAsGoSendsIt", func(t *testing.T) {
		w := newWorld(t, nil)
		var b *browser
		// About one express id in four has both '+' and '/' in its signature.
		for range 100 {
			b = w.browser()
			b.nodeViews()
			if hasEscapes(b.setCookie) {
				break
			}
		}
		expressCookie := b.setCookie
		if !hasEscapes(expressCookie) {
			t.Fatalf("100 express sessions, none with both '+' and '/' in its signature; last %s", expressCookie)
		}
		id := b.nodeSession().ID
		if !base64url.MatchString(id) {
			t.Fatalf("express id %q is not base64url", id)
		}
		if want := signedCookie(id); expressCookie != want {
			t.Fatalf("Express cookie for id %s:\n got %s\nwant %s", id, expressCookie, want)
		}
		b.goViews()
		if b.setCookie != expressCookie {
			t.Fatalf("Go re-signed Express's session differently:\n     go %s\nexpress %s", b.setCookie, expressCookie)
		}
		if gs := b.goSession(); gs.ID != id || gs.Values["views"] != 2.0 {
			t.Fatalf("Go: id=%s views=%v, want %s with views 2", gs.ID, gs.Values["views"], id)
		}
	})
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// isoMillis matches JavaScript's Date.prototype.toISOString.
const isoMillis = `\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z`

// ceilSeconds is connect-redis's TTL rule: Math.ceil(ms / 1000).
func ceilSeconds(d time.Duration) int64 {
	return int64((d + time.Second - time.Nanosecond) / time.Second)
}

// pttl returns the key's remaining lifetime and the interval in which Redis
// measured it.
func (w *world) pttl(id string) (ttl time.Duration, before, after time.Time) {
	w.t.Helper()
	before = time.Now()
	ttl, err := w.rdb.PTTL(context.Background(), "sess:"+id).Result()
	after = time.Now()
	if err != nil {
		w.t.Fatalf("PTTL sess:%s: %v", id, err)
	}
	return ttl, before, after
}

// storedExpires returns the cookie.expires of the stored document of id.
func (w *world) storedExpires(id string) time.Time {
	w.t.Helper()
	m := regexp.MustCompile(`"expires":"(` + isoMillis + `)"`).FindStringSubmatch(w.raw(id))
	if m == nil {
		w.t.Fatalf("no cookie.expires in %s", w.raw(id))
	}
	e, err := time.Parse(time.RFC3339, m[1])
	if err != nil {
		w.t.Fatal(err)
	}
	return e
}

// storedOriginalMaxAge returns the cookie.originalMaxAge of the stored
// document of id.
func (w *world) storedOriginalMaxAge(id string) time.Duration {
	w.t.Helper()
	m := regexp.MustCompile(`"originalMaxAge":([0-9]+)`).FindStringSubmatch(w.raw(id))
	if m == nil {
		w.t.Fatalf("no numeric cookie.originalMaxAge in %s", w.raw(id))
	}
	ms, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		w.t.Fatal(err)
	}
	return time.Duration(ms) * time.Millisecond
}

// TestGoDocumentIsReadByExpress: the JSON document the Go app writes is the
// express-session document, Express parses its cookie (expires,
// originalMaxAge) and data, and the key's TTL follows connect-redis's rule.
func TestGoDocumentIsReadByExpress(t *testing.T) {
	w := newWorld(t, nil)
	b := w.browser()
	b.goViews()
	id := b.goSession().ID // touches the key, does not rewrite the document

	doc := regexp.MustCompile(`^\{"cookie":\{"originalMaxAge":3600000,"expires":"(` + isoMillis +
		`)","httpOnly":true,"path":"/"\},"__sessionkit_created":"` + isoMillis + `","views":1\}$`)
	raw := w.raw(id)
	m := doc.FindStringSubmatch(raw)
	if m == nil {
		t.Fatalf("Go's stored document:\n%s\nis not the express-session document %s", raw, doc)
	}
	expires := m[1]

	sent := time.Now()
	ns := b.nodeSession()
	cookie, _ := ns.Session["cookie"].(map[string]any)
	if ns.ID != id || cookie["expires"] != expires || cookie["originalMaxAge"] != 3600000.0 ||
		cookie["httpOnly"] != true || cookie["path"] != "/" || ns.Session["views"] != 1.0 {
		t.Fatalf("Express read Go's document %s as id=%s session=%v", raw, ns.ID, ns.Session)
	}
	// Express's maxAge is expires less a Date.now() (whole milliseconds)
	// taken during the request: no more than the time left at its start.
	e, _ := time.Parse(time.RFC3339, expires)
	if ns.MaxAge == nil || *ns.MaxAge <= 0 || *ns.MaxAge > float64(e.Sub(sent.Truncate(time.Millisecond)).Milliseconds()) {
		var got any = ns.MaxAge // nil, or the number rather than its address
		if ns.MaxAge != nil {
			got = *ns.MaxAge
		}
		t.Fatalf("Express: cookie.maxAge = %v ms, want the time left until %s", got, expires)
	}
}

// TestKeyExpiresWithTheSessionAsConnectRedisSetsIt: the Go app's key expires
// when the document's cookie.expires says, which is connect-redis's TTL rule
// (SET EX ceil((expires - now) / 1 s)) without the rounding up to the second;
// the key of a browser-session cookie lives connect-redis's default day.
func TestKeyExpiresWithTheSessionAsConnectRedisSetsIt(t *testing.T) {
	t.Run("MaxAge", func(t *testing.T) {
		w := newWorld(t, nil)
		b := w.browser()
		b.goViews()
		var out map[string]string
		sent := time.Now()
		b.do("POST", w.goApp.URL+"/set?k=probe&v=1", &out) // a fresh write, measured at once
		id := out["id"]
		ttl, _, after := w.pttl(id)
		exp := w.storedExpires(id)

		// Go: the key expires at cookie.expires, to the millisecond (the
		// document holds milliseconds, Redis counts whole ones). The TTL
		// counts from when Redis received the SET, which lengthens the key's
		// life by the time since Go computed it; that time is within the
		// request and before the PTTL, so the key outlives cookie.expires
		// by no more than the request's start was before it was computed.
		if lo, hi := exp.Sub(after)-3*time.Millisecond, exp.Sub(sent)+time.Millisecond; ttl < lo || ttl > hi {
			t.Fatalf("Go's key: PTTL %v, want the time left until cookie.expires %s: between %v and %v", ttl, exp, lo, hi)
		}
		// The same expiry under connect-redis's rule, rounded up to the
		// second, within the same bounds rounded up (a lower bound without
		// the 3 ms failed whenever a whole second fell within them).
		if got, lo, hi := ceilSeconds(ttl), ceilSeconds(exp.Sub(after)-3*time.Millisecond), ceilSeconds(exp.Sub(sent)+time.Millisecond); got < lo || got > hi {
			t.Fatalf("Go's key: ceil(PTTL) %d s, connect-redis would set EX %d..%d s", got, lo, hi)
		}

		// Express on the same session: EX ceil(seconds) of its own new
		// expiry, the seconds counted from a Date.now() (whole
		// milliseconds) within the request.
		sent = time.Now()
		b.nodeViews()
		ttl, _, after = w.pttl(id)
		exp = w.storedExpires(id)
		if lo, hi := exp.Sub(after)-time.Millisecond, exp.Sub(sent)+time.Second+2*time.Millisecond; ttl < lo || ttl > hi {
			t.Fatalf("Express's key: PTTL %v, want ceil of the time left until cookie.expires %s: between %v and %v", ttl, exp, lo, hi)
		}
	})

	t.Run("BrowserSession", func(t *testing.T) {
		w := newWorld(t, func(o *session.Options) { o.Cookie.MaxAge = 0 })
		b := w.browser()
		b.goViews()
		if strings.Contains(b.setCookieHeader, "Expires=") {
			t.Fatalf("Go: a browser-session cookie with an expiry: %s", b.setCookieHeader)
		}
		id := b.goSession().ID
		doc := regexp.MustCompile(`^\{"cookie":\{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"\},"__sessionkit_created":"` + isoMillis + `","views":1\}$`)
		if raw := w.raw(id); !doc.MatchString(raw) {
			t.Fatalf("Go's stored browser-session document:\n%s\nis not %s", raw, doc)
		}
		const day = 24 * time.Hour
		if ttl, _, _ := w.pttl(id); ttl <= day-10*time.Second || ttl > day {
			t.Fatalf("Go's key of a browser session: PTTL %v, want connect-redis's default of one day", ttl)
		}

		ns := b.nodeSession()
		cookie, _ := ns.Session["cookie"].(map[string]any)
		if ns.ID != id || cookie["expires"] != nil || cookie["originalMaxAge"] != nil || ns.MaxAge != nil || ns.Session["views"] != 1.0 {
			t.Fatalf("Express read Go's browser-session document as id=%s session=%v maxAge=%v", ns.ID, ns.Session, ns.MaxAge)
		}
		if got := b.nodeViews(); got != 2 {
			t.Fatalf("Express: views = %d, want 2", got)
		}
		if ttl, _, _ := w.pttl(id); ttl <= day-10*time.Second || ttl > day {
			t.Fatalf("Express's key of a browser session: PTTL %v, want one day", ttl)
		}
		if gs := b.goSession(); gs.Values["views"] != 2.0 || !gs.Expires.IsZero() {
			t.Fatalf("Go after Express: views=%v expires=%v, want 2 and a browser session", gs.Values["views"], gs.Expires)
		}
	})
}

// TestExpressDocumentIsReadByGo: Go reads the cookie of a document Express
// wrote (its expiry and original max age), not only the data.
func TestExpressDocumentIsReadByGo(t *testing.T) {
	w := newWorld(t, nil)
	b := w.browser()
	b.nodeViews()
	id := b.nodeSession().ID
	exp := w.storedExpires(id)
	// express-session stores originalMaxAge as expires minus the clock read
	// a moment later, so it is maxAge or, when a millisecond ticked between
	// the two reads, a millisecond or so less: Go must keep what is stored.
	orig := w.storedOriginalMaxAge(id)
	if orig > maxAge || orig < maxAge-time.Second {
		t.Fatalf("Express stored originalMaxAge %v, want about %v: %s", orig, maxAge, w.raw(id))
	}
	gs := b.goSession()
	if gs.ID != id || !gs.Expires.Equal(exp) || gs.OriginalMaxAge != orig {
		t.Fatalf("Go read Express's document %s as id=%s expires=%s originalMaxAge=%v", w.raw(id), gs.ID, gs.Expires, gs.OriginalMaxAge)
	}
}

// TestExpressCookieExpiresFalseIsABrowserSessionForGo: an Express app that
// turns "remember me" off with Connect's idiom, req.session.cookie.expires =
// false, stores {"originalMaxAge":false,"expires":false} and keeps the
// session as a browser-session one; the Go app reads it as such (the
// session found, its data there, no expiry), where it took it for corrupt
// and gave the user a fresh session, and both go on with it.
func TestExpressCookieExpiresFalseIsABrowserSessionForGo(t *testing.T) {
	w := newWorld(t, nil)
	b := w.browser()
	b.nodeViews()
	b.do("POST", w.node.URL+"/browser-session", nil)
	if strings.Contains(b.setCookieHeader, "Expires=") {
		t.Fatalf("Express: a browser-session cookie with an expiry: %s", b.setCookieHeader)
	}
	id := b.sessionID()
	if raw := w.raw(id); !strings.Contains(raw, `"originalMaxAge":false`) || !strings.Contains(raw, `"expires":false`) {
		t.Fatalf("Express stored %s, want its cookie with originalMaxAge and expires false", raw)
	}
	if gs := b.goSession(); gs.New || gs.ID != id || gs.Values["views"] != 1.0 || gs.Values["forgetMe"] != "1" || !gs.Expires.IsZero() || gs.OriginalMaxAge != 0 {
		t.Fatalf("Go read Express's document %s as id=%s new=%v values=%v expires=%v originalMaxAge=%v, want session %s with its data and a browser-session cookie",
			w.raw(id), gs.ID, gs.New, gs.Values, gs.Expires, gs.OriginalMaxAge, id)
	}
	if got := b.goViews(); got != 2 {
		t.Fatalf("Go: views = %d after Express's 1, want 2", got)
	}
	const day = 24 * time.Hour
	if ttl, _, _ := w.pttl(id); ttl <= day-10*time.Second || ttl > day {
		t.Fatalf("Go's key of the browser session: PTTL %v, want connect-redis's default of one day", ttl)
	}
	ns := b.nodeSession()
	if ns.ID != id || ns.Session["views"] != 2.0 || ns.MaxAge != nil {
		t.Fatalf("Express after Go's write: id=%s session=%v maxAge=%v, want %s with views 2 and no expiry", ns.ID, ns.Session, ns.MaxAge, id)
	}
}

// TestDestroyedByExpressIsGoneForGo: after an Express logout, the Go app
// gives the old cookie a fresh session, and the key is gone.
func TestDestroyedByExpressIsGoneForGo(t *testing.T) {
	w := newWorld(t, nil)
	b := w.browser()
	b.goViews()
	id := b.goSession().ID
	old := b.cookie
	b.do("POST", w.node.URL+"/logout", nil)
	if w.exists(id) {
		t.Fatalf("sess:%s still in Redis after Express destroyed it", id)
	}
	b.cookie = old // a browser (or an attacker) still holding the old cookie
	if gs := b.goSession(); !gs.New || gs.ID == id || len(gs.Keys) != 0 {
		t.Fatalf("Go after Express's logout: id=%s new=%v keys=%v, want a fresh empty session", gs.ID, gs.New, gs.Keys)
	}
}

// TestDestroyedByGoIsGoneForExpress is the reverse: after a Go logout, the
// Express app gives the old cookie a fresh session.
func TestDestroyedByGoIsGoneForExpress(t *testing.T) {
	w := newWorld(t, nil)
	b := w.browser()
	b.nodeViews()
	id := b.nodeSession().ID
	old := b.cookie
	b.do("POST", w.goApp.URL+"/logout", nil)
	if w.exists(id) {
		t.Fatalf("sess:%s still in Redis after Go destroyed it", id)
	}
	b.cookie = old
	if ns := b.nodeSession(); ns.ID == id || ns.Session["views"] != nil {
		t.Fatalf("Express after Go's logout: id=%s session=%v, want a fresh session", ns.ID, ns.Session)
	}
}

// createdKey matches sessionkit's creation time in a stored document.
var createdKey = regexp.MustCompile(`"` + session.CreatedKey + `":"(` + isoMillis + `)"`)

// TestCreationTimeSurvivesExpressWrite: Express keeps unknown top-level keys
// of the document, so sessionkit's creation time is still there, unchanged,
// after Express rewrote the session, and stays out of the session's keys.
func TestCreationTimeSurvivesExpressWrite(t *testing.T) {
	w := newWorld(t, nil)
	b := w.browser()
	b.goViews()
	id := b.goSession().ID
	m := createdKey.FindStringSubmatch(w.raw(id))
	if m == nil {
		t.Fatalf("no %s in Go's document %s", session.CreatedKey, w.raw(id))
	}
	created, _ := time.Parse(time.RFC3339, m[1])

	b.do("POST", w.node.URL+"/set?k=lang&v=fr", nil)
	raw := w.raw(id)
	if !strings.Contains(raw, `"lang":"fr"`) {
		t.Fatalf("Express did not write lang=fr: %s", raw)
	}
	doc, err := session.JSONCodec{}.Decode([]byte(raw))
	if err != nil {
		t.Fatalf("decode Express's document %s: %v", raw, err)
	}
	if !doc.Created.Equal(created) {
		t.Fatalf("creation time after Express's write: %v in %s, want %v", doc.Created, raw, created)
	}
	if gs := b.goSession(); !slices.Equal(gs.Keys, []string{"lang", "views"}) {
		t.Fatalf("Go after Express's write: keys %v, want [lang views]", gs.Keys)
	}
}

// TestAbsoluteTimeoutHoldsAfterExpressWrites: because the creation time
// survives, a session past sessionkit's AbsoluteTimeout is gone for the Go
// app even though Express kept pushing its expiry forward.
//
// The steps before the timeout (four requests, two of them to Express, and
// two reads of Redis) must all end before it: Go's save gives the key the
// absolute expiry, and Go's check must come before it. A try whose steps
// outlasted the timeout (a loaded machine) proves nothing either way, and
// is made again with a timeout twice as long; one whose steps ended in time
// is conclusive.
func TestAbsoluteTimeoutHoldsAfterExpressWrites(t *testing.T) {
	for absolute := 1500 * time.Millisecond; ; absolute *= 2 {
		if absoluteTimeoutHoldsAfterExpressWrites(t, absolute) {
			return
		}
		if absolute >= 12*time.Second {
			t.Fatalf("the steps before an absolute timeout of %v took longer than it, in every try", absolute)
		}
		t.Logf("the steps before an absolute timeout of %v took longer than it: again with %v", absolute, 2*absolute)
	}
}

// absoluteTimeoutHoldsAfterExpressWrites is one try of
// TestAbsoluteTimeoutHoldsAfterExpressWrites with an AbsoluteTimeout of
// absolute. It reports false, having checked nothing, when a step meant to
// happen before the timeout ended after it.
func absoluteTimeoutHoldsAfterExpressWrites(t *testing.T, absolute time.Duration) bool {
	// The key Go saves dies a little before the timeout: its TTL counts from
	// the exact creation time (the document keeps milliseconds), rounded
	// down to the millisecond less one.
	const keyLead = 5 * time.Millisecond
	w := newWorld(t, func(o *session.Options) { o.AbsoluteTimeout = absolute })
	b := w.browser()
	start := time.Now()
	b.goViews()
	// The id from the cookie: a Go request past the timeout would answer
	// with a new session's.
	id := b.sessionID()
	raw, err := w.rdb.Get(t.Context(), "sess:"+id).Result()
	if err != nil {
		// The creation was no earlier than start.
		if errors.Is(err, redis.Nil) && !time.Now().Before(start.Add(absolute-keyLead)) {
			return false
		}
		t.Fatalf("GET sess:%s: %v", id, err)
	}
	m := createdKey.FindStringSubmatch(raw)
	if m == nil {
		t.Fatalf("no %s in Go's document %s", session.CreatedKey, raw)
	}
	created, _ := time.Parse(time.RFC3339, m[1])
	// late reports that the step just ended was not wholly before the
	// timeout less lead: the Go app counts it from the stored creation time.
	late := func(lead time.Duration) bool { return !time.Now().Before(created.Add(absolute - lead)) }

	if got := b.nodeViews(); got != 2 {
		if late(keyLead) {
			return false
		}
		t.Fatalf("Express: views = %d, want 2", got)
	}
	if ttl, _, _ := w.pttl(id); ttl < maxAge-time.Minute {
		t.Fatalf("Express's write left a PTTL of %v, want about its cookie maxAge %v", ttl, maxAge)
	}
	if gs := b.goSession(); gs.New || gs.Values["views"] != 2.0 {
		if late(0) {
			return false
		}
		t.Fatalf("Go before the absolute timeout: new=%v views=%v, want the session with views 2", gs.New, gs.Values["views"])
	}
	time.Sleep(time.Until(created.Add(absolute + 50*time.Millisecond)))
	if gs := b.goSession(); !gs.New || gs.ID == id {
		t.Fatalf("Go past the absolute timeout: id=%s new=%v values=%v, want a fresh session", gs.ID, gs.New, gs.Values)
	}
	return true
}

// TestExpressWriteDuringGoRequestIsNotLost: the Go app's compare-and-swap
// save notices an Express write that happened while a Go request was
// running, and keeps both changes (connect-redis knows nothing of versions).
func TestExpressWriteDuringGoRequestIsNotLost(t *testing.T) {
	w := newWorld(t, nil)
	b := w.browser()
	b.goViews()
	id := b.goSession().ID

	expressWritesDuringSlowGoRequest(t, b, w.goApp, w.node)
	bothWritesKept(t, b, w.raw(id))
}
