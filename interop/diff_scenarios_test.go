package interop

import (
	"slices"
	"strings"
)

// diffScenario is one line of the differential suite: a configuration, a
// few requests with one cookie jar, and what express-session and sessionkit
// are expected to disagree on ("" when they agree on every step), on a
// store without GetAndTouch; loadTouchDifferences, at the end, says what
// changes when the store has it.
//
// config: space-separated options (parseConfig): resave, saveUninitialized,
// rolling, unset=keep|destroy, touchAfter=S (mongo only: connect-mongo's
// touchAfter and sessionkit's TouchAfter with mongostore.WithLastModified;
// the other stores play the scenario without it, on both sides),
// proxy[=false], trustProxy=N (Express's app.set('trust proxy', N) and
// sessionkit's TrustedProxyHops), secrets=a,b, path=, domain=,
// maxAge=MS|none (default 3600000), secure[=auto], sameSite=, httpOnly=false,
// partitioned, priority=. The store (MemoryStore/memstore, connect-redis/
// redisstore, connect-mongo/mongostore, connect-pg-simple/pgstore) is not
// part of it: every scenario runs on all four (storeDifferences, at the
// end, lists what differs on one store only).
//
// steps: ";"-separated; each is a route of peer/diff.js ("set?k=a&v=1",
// "/app/read", "status?code=302", "error"; "bk=K&bv=V" makes a change
// before the route's own operation, "ak=K&av=V" one after a save by hand)
// with optional flags "https" (X-Forwarded-Proto: https), "head" (a HEAD
// request) and "cookie=KIND" (cookieHeader: none, tamper, unsigned,
// garbage, dupfirst, duplast, old, retired, and first, firstjar, jarfirst:
// the first cookie of the run, a session since regenerated or destroyed,
// alone or with the jar's) and "fail=OP" (every store call OP, one of get,
// set, touch, destroy, fails during the request; the error handler of both
// apps answers 500 {"error":"session"}), or "forget" (the store loses the
// session), or "age?s=N" (the stored copy is made to look N seconds old:
// its cookie.expires and its expiry in the store move back N seconds; a
// session the store no longer returns stays gone).
//
// differs: "#N: entries" for a deliberate difference (README number N), or
// "bug NAME: entries" for a known disagreement still to fix; each entry is
// "step.field=express/sessionkit", the field one of status, body (JSON,
// sorted keys), cookie (-, set, clear), id (same, new), signer (index of the
// secret), attrs ("Path=/;HttpOnly", without Expires and Max-Age), expires
// (session, set, past; two set ones must be within a second), get, set,
// touch, destroy (store calls in that step), and, on every store but
// memory, the stored copy after the step: doc (the document, with N and T
// for the cookie's originalMaxAge and expires), docexpires, maxage and ttl
// (the store's expiry of the session; "-" when it has none). When only one
// side sent a cookie, only the cookie field is reported for it.
type diffScenario struct {
	name, config, steps, differs string
}

var diffScenarios = []diffScenario{
	// Saving and touching: resave, saveUninitialized.
	{"untouched new session is neither stored nor sent", "", "read; read", ""},
	{"saveUninitialized stores and sends an untouched session", "saveUninitialized", "read; read", ""},
	{"modified new session is stored and sent", "", "set?k=a&v=1; read", ""},
	{"resave writes an unmodified session back", "resave", "set?k=a&v=1; read; read", ""},
	{"resave with a browser-session cookie", "resave maxAge=none", "set?k=a&v=1; read", ""},
	{"resave and saveUninitialized together", "resave saveUninitialized", "read; read", ""},
	{"setting the same value is no modification", "", "set?k=a&v=1; set?k=a&v=1", ""},
	{"a changed value is saved and the cookie re-sent", "", "set?k=a&v=1; set?k=a&v=2", ""},
	{"a deleted key is saved", "", "set?k=a&v=1; del?k=a; read", ""},
	{"keys set out of alphabetical order", "", "set?k=b&v=1; set?k=a&v=2; read", ""},
	{"characters JSON may escape", "", "set?k=%3Ca%3E&v=%3Cb%3E%26%E2%80%A8%C3%A9", ""},
	{"deleting a missing key is no modification", "", "set?k=a&v=1; del?k=b", ""},

	// Rolling and browser-session cookies.
	{"rolling re-sends the cookie on every response", "rolling", "set?k=a&v=1; read; read", ""},
	{"rolling sends nothing for an untouched new session", "rolling", "read", ""},
	{"rolling with saveUninitialized", "rolling saveUninitialized", "read; read", ""},
	{"browser-session cookie is not re-sent when modified", "maxAge=none", "set?k=a&v=1; read; set?k=a&v=2", ""},
	{"browser-session cookie with rolling", "maxAge=none rolling", "set?k=a&v=1; read", ""},

	// Unset.
	{"unset keep leaves the stored session", "unset=keep", "set?k=a&v=1; unset; read", ""},
	{"unset destroy deletes the stored session", "unset=destroy", "set?k=a&v=1; unset; read", ""},
	{"unset destroy of a session never stored", "unset=destroy", "unset", "#14: 1.destroy=1/0"},

	// Cookie path.
	{"cookie path: a request under it gets a session", "path=/app", "/app/set?k=a&v=1; /app/x/read", ""},
	{"cookie path: a request outside it gets none", "path=/app", "/app/set?k=a&v=1; /other/read", ""},
	{"cookie path: a string prefix is not a path prefix", "path=/app", "/app/set?k=a&v=1; /apple/read; /apple/set?k=b&v=2",
		`#7: 2.body={"data":{"a":"1"}}/{"data":null} 2.get=1/0 2.touch=1/0 3.body={"data":{"a":"1","b":"2"}}/{"data":null} 3.cookie=set/- 3.get=1/0 3.set=1/0 3.doc={"cookie":{"originalMaxAge":N,"expires":"T","httpOnly":true,"path":"/app"},"a":"1","b":"2"}/{"cookie":{"originalMaxAge":N,"expires":"T","httpOnly":true,"path":"/app"},"a":"1"}`},

	// Secure, proxy trust, SameSite and the other attributes.
	{"secure: no cookie over http, session still saved", "secure", "set?k=a&v=1; read", ""},
	{"secure with a trusted proxy saying https", "secure proxy", "set?k=a&v=1 https; read https", ""},
	{"secure with X-Forwarded-Proto but no proxy trust", "secure", "set?k=a&v=1 https", ""},
	{"secure with proxy trust explicitly off", "secure proxy=false", "set?k=a&v=1 https", ""},
	{"secure auto over http sends a plain cookie", "secure=auto proxy", "set?k=a&v=1; set?k=a&v=2", ""},
	{"secure auto behind a trusted proxy sends Secure", "secure=auto proxy", "set?k=a&v=1 https; set?k=a&v=2 https", ""},
	{"secure auto: session made over https, used over http", "secure=auto proxy rolling", "set?k=a&v=1 https; read; set?k=a&v=2", ""},
	{"secure auto: session made over http, used over https", "secure=auto proxy rolling", "set?k=a&v=1; read https", "#16: 2.attrs=Path=/;HttpOnly/Path=/;HttpOnly;Secure"},
	{"sameSite auto: session made over https, used over http", "sameSite=auto secure=auto proxy rolling", "set?k=a&v=1 https; read", ""},
	{"secure auto behind trust proxy 1 sends Secure", "secure=auto trustProxy=1", "set?k=a&v=1 https; read https", ""},
	{"secure auto behind trust proxy 1 over http sends a plain cookie", "secure=auto trustProxy=1", "set?k=a&v=1; read", ""},
	{"secure with trust proxy 1 saying https", "secure trustProxy=1", "set?k=a&v=1 https; read https", ""},
	{"sameSite auto follows the request behind trust proxy 2", "sameSite=auto secure=auto trustProxy=2", "set?k=a&v=1; set?k=b&v=1 https cookie=none", ""},
	{"sameSite lax", "sameSite=lax", "set?k=a&v=1", ""},
	{"sameSite strict", "sameSite=strict", "set?k=a&v=1", ""},
	{"sameSite none with secure", "sameSite=none secure proxy", "set?k=a&v=1 https", ""},
	{"sameSite auto follows the request", "sameSite=auto secure=auto proxy", "set?k=a&v=1; set?k=b&v=1 https cookie=none", ""},
	{"domain, partitioned, priority", "domain=example.test partitioned priority=high secure proxy", "set?k=a&v=1 https", ""},
	{"sameSite none with secure auto over http", "sameSite=none secure=auto proxy", "set?k=a&v=1", "#19: 1.attrs=Path=/;HttpOnly;SameSite=None/Path=/;HttpOnly"},
	{"partitioned with secure auto over http", "partitioned secure=auto proxy", "set?k=a&v=1", "#17: 1.attrs=Path=/;HttpOnly;Partitioned/Path=/;HttpOnly"},
	{"httpOnly off", "httpOnly=false priority=low", "set?k=a&v=1", ""},

	// Secrets and bad cookies.
	{"secret rotation: the old secret verifies, the new one signs", "secrets=new,old", "set?k=a&v=1; read cookie=old; set?k=a&v=2 cookie=old", ""},
	{"a retired secret no longer verifies", "secrets=new,old", "set?k=a&v=1; read cookie=retired", ""},
	{"tampered cookie gives a fresh session, no store read", "", "set?k=a&v=1; read cookie=tamper; set?k=b&v=2 cookie=tamper", ""},
	{"unsigned cookie gives a fresh session", "", "set?k=a&v=1; read cookie=unsigned", ""},
	{"garbage cookie gives a fresh session", "saveUninitialized", "read cookie=garbage", ""},
	{"duplicate cookies: the first, valid, wins", "", "set?k=a&v=1; read cookie=dupfirst", ""},
	{"duplicate cookies: the first, garbage, wins", "", "set?k=a&v=1; read cookie=duplast", ""},

	// Missing and expired sessions.
	{"an id missing from the store gives a fresh session", "", "set?k=a&v=1; forget; read; set?k=b&v=2", ""},
	{"missing id with saveUninitialized", "saveUninitialized", "set?k=a&v=1; forget; read", ""},
	{"an expired session is gone", "", "set?k=a&v=1; expires?in=-3600&k=b&v=2; read", ""},

	// Session methods.
	{"regenerate: new id, empty, old one destroyed", "", "set?k=a&v=1; regenerate; read", ""},
	{"regenerate then set", "", "set?k=a&v=1; regenerate?k=b&v=2; read", ""},
	{"regenerate with saveUninitialized and rolling", "saveUninitialized rolling", "read; regenerate; read", ""},
	{"regenerate a session never stored", "", "regenerate", "#14: 1.destroy=1/0"},
	{"destroy", "", "set?k=a&v=1; destroy; read", "#9: 2.cookie=-/clear 3.get=1/0"},
	{"destroy with saveUninitialized", "saveUninitialized", "set?k=a&v=1; destroy; read", "#9: 2.cookie=-/clear 3.get=1/0"},
	{"destroy with rolling", "rolling", "set?k=a&v=1; destroy", "#9: 2.cookie=-/clear"},
	{"destroy a session never stored", "", "destroy", "#14: 1.destroy=1/0"},
	{"reload reads the store again", "", "set?k=a&v=1; reload", ""},
	{"reload of a session never stored fails", "", "reload", ""},
	{"save by hand writes once", "", "save?k=a&v=1", ""},
	{"save by hand of an untouched new session", "", "save; read", "#20: 1.set=1/0"},
	{"save by hand of a loaded session", "", "set?k=a&v=1; save?k=b&v=2", "#14: 2.touch=1/0"},
	{"touch resets the expiry without a save", "", "set?k=a&v=1; touch", ""},
	{"touch with rolling", "rolling", "set?k=a&v=1; touch", ""},

	// The session's own cookie.
	{"maxAge changed alone", "", "set?k=a&v=1; maxage?ms=7200000", "#8: 2.cookie=-/set 2.set=0/1 2.touch=1/0 2.docexpires=1h0m0s/2h0m0s 2.maxage=1h0m0s/2h0m0s"},
	{"maxAge changed with the data", "", "set?k=a&v=1; maxage?ms=7200000&k=b&v=2; read", ""},
	{"expires changed alone", "", "set?k=a&v=1; expires?in=7200", "#8: 2.cookie=-/set 2.set=0/1 2.touch=1/0 2.docexpires=1h0m0s/2h0m0s 2.maxage=1h0m0s/2h0m0s"},
	{"expires changed with the data", "", "set?k=a&v=1; expires?in=7200&k=b&v=2", ""},
	{"expires removed: a browser-session cookie", "", "set?k=a&v=1; expires?in=null&k=b&v=2; read", "#8: 2.cookie=-/set"},
	// (The age step makes the read come two seconds later for the stores:
	// connect-pg-simple keeps a session to the end of the second its cookie
	// expired in, see storeDifferences.)
	{"maxAge set to zero with the data", "", "set?k=a&v=1; maxage?ms=0&k=b&v=2; age?s=2; read",
		`#15: 2.expires=past/session 4.body={"data":{}}/{"data":{"a":"1","b":"2"}} 4.touch=0/1 ` +
			`2.doc=-/{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"a":"1","b":"2"} 2.docexpires=-/null 2.maxage=-/null 2.ttl=-/set ` +
			`4.doc=-/{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"a":"1","b":"2"} 4.docexpires=-/null 4.maxage=-/null 4.ttl=-/set`},
	{"maxAge changed with rolling", "rolling", "set?k=a&v=1; maxage?ms=7200000", "#8: 2.set=0/1 2.touch=1/0 2.docexpires=1h0m0s/2h0m0s 2.maxage=1h0m0s/2h0m0s"},

	// Sessions last written a while ago ("age?s=600": the stored copy looks
	// ten minutes old): express resets the cookie's expiry to its original
	// max age on every request, so what the request stores, touches or
	// sends expires an hour from now, not fifty minutes.
	{"a read pushes the stored expiry forward", "", "set?k=a&v=1; age?s=600; read", ""},
	{"a change saves a fresh expiry", "", "set?k=a&v=1; age?s=600; set?k=b&v=2", ""},
	{"rolling sends a fresh expiry", "rolling", "set?k=a&v=1; age?s=600; read", ""},
	{"resave writes a fresh expiry", "resave", "set?k=a&v=1; age?s=600; read", ""},
	{"touch of an old session", "", "set?k=a&v=1; age?s=600; touch", ""},
	{"reload of an old session", "", "set?k=a&v=1; age?s=600; reload", ""},
	{"save by hand of an old session", "", "set?k=a&v=1; age?s=600; save?k=b&v=2", "#14: 3.touch=1/0 3.docexpires=50m0s/1h0m0s"},
	{"unset keep of an old session", "unset=keep", "set?k=a&v=1; age?s=600; unset", ""},
	{"a longer maxAge outlives the old one", "rolling", "set?k=a&v=1; maxage?ms=7200000&k=b&v=2; age?s=600; read", ""},
	{"a set expires lasts as long on the next request", "rolling", "set?k=a&v=1; expires?in=7200&k=b&v=2; age?s=600; read", ""},
	{"a browser-session cookie after a while", "maxAge=none rolling", "set?k=a&v=1; age?s=600; read; set?k=b&v=2", ""},

	// connect-mongo's touchAfter (on mongo only: connect-mongo's touchAfter,
	// sessionkit's TouchAfter with mongostore.WithLastModified; the other
	// stores play these without it, on both sides).
	{"touchAfter: a read soon after a write", "touchAfter=60", "set?k=a&v=1; read", ""},
	{"touchAfter: a read once it is due", "touchAfter=60", "set?k=a&v=1; age?s=600; read", ""},
	{"touchAfter: a change soon after a write", "touchAfter=60", "set?k=a&v=1; set?k=b&v=2", ""},
	{"touchAfter with rolling", "touchAfter=60 rolling", "set?k=a&v=1; read; age?s=600; read", ""},

	// A store that fails.
	{"a store that fails to read", "", "set?k=a&v=1; read fail=get; read", ""},
	{"a store that fails to save a new session", "", "set?k=a&v=1 fail=set; read",
		`#3: 1.status=200/500 1.body={"data":{"a":"1"}}/{"error":"session"} 1.cookie=set/- 2.get=1/0`},
	{"a store that fails to save a change", "", "set?k=a&v=1; set?k=b&v=2 fail=set; read",
		`#3: 2.status=200/500 2.body={"data":{"a":"1","b":"2"}}/{"error":"session"} 2.cookie=set/-`},
	// The same, the session ten minutes old: the failed save leaves the
	// stored expiry where express's leaves it (the touch carried on the
	// load moves it: loadTouchDifferences); and with a max age of its own,
	// longer or shorter than the options'.
	{"a store that fails to save a change of an old session", "", "set?k=a&v=1; age?s=600; set?k=b&v=2 fail=set; read",
		`#3: 3.status=200/500 3.body={"data":{"a":"1","b":"2"}}/{"error":"session"} 3.cookie=set/-`},
	{"a store that fails to save a change of an old two-hour session", "", "set?k=a&v=1; maxage?ms=7200000&k=b&v=2; age?s=600; set?k=c&v=3 fail=set; read",
		`#3: 4.status=200/500 4.body={"data":{"a":"1","b":"2","c":"3"}}/{"error":"session"} 4.cookie=set/-`},
	{"a store that fails to save a change of an old half-hour session", "", "set?k=a&v=1; maxage?ms=1800000&k=b&v=2; age?s=600; set?k=c&v=3 fail=set; read",
		`#3: 4.status=200/500 4.body={"data":{"a":"1","b":"2","c":"3"}}/{"error":"session"} 4.cookie=set/-`},
	{"a store that fails to touch", "", "set?k=a&v=1; read fail=touch; read",
		`#3: 2.status=200/500 2.body={"data":{"a":"1"}}/{"error":"session"}`},
	{"a store that fails to destroy", "", "set?k=a&v=1; destroy fail=destroy; read", "#13: 2.touch=0/1"},
	{"a store that fails to destroy at regenerate", "", "set?k=a&v=1; regenerate fail=destroy; read", ""},
	{"a store that fails to save by hand", "", "set?k=a&v=1; save?k=b&v=2 fail=set; read",
		`#3: 2.body={"error":"save"}/{"error":"session"} 2.cookie=set/- 2.get=1/2 2.set=1/2 2.touch=1/0`},
	{"a store that fails to reload", "", "set?k=a&v=1; reload fail=get", ""},

	// Laziness.
	{"a handler that never uses the session", "", "set?k=a&v=1; nosession", "#4: 2.get=1/0 2.touch=1/0"},
	{"a handler that never uses the session, rolling", "rolling", "set?k=a&v=1; nosession", "#4: 2.cookie=set/- 2.get=1/0 2.touch=1/0"},

	// A change to the session's own cookie on a new or browser-session
	// session (#8: express stores and sends nothing for it).
	{"maxAge changed on a new session", "", "maxage?ms=7200000; read",
		`#8: 1.cookie=-/set 1.set=0/1 1.doc=-/{"cookie":{"originalMaxAge":N,"expires":"T","httpOnly":true,"path":"/"}} 1.docexpires=-/set 1.maxage=-/set 1.ttl=-/set ` +
			`2.get=0/1 2.touch=0/1 2.doc=-/{"cookie":{"originalMaxAge":N,"expires":"T","httpOnly":true,"path":"/"}} 2.docexpires=-/set 2.maxage=-/set 2.ttl=-/set`},
	{"maxAge changed on a new session with saveUninitialized", "saveUninitialized", "maxage?ms=7200000; read", ""},
	{"expires set on a browser-session cookie", "maxAge=none", "set?k=a&v=1; expires?in=7200",
		`#8: 2.cookie=-/set 2.set=0/1 2.touch=1/0 2.doc={"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"a":"1"}/{"cookie":{"originalMaxAge":N,"expires":"T","httpOnly":true,"path":"/"},"a":"1"} 2.docexpires=null/set 2.maxage=null/set`},
	{"expires set on a browser-session cookie with the data", "maxAge=none", "set?k=a&v=1; expires?in=7200&k=b&v=2; age?s=600; read", ""},
	// express's touch pushes the key's expiry to the new cookie's, its
	// document still says a browser-session cookie; its rolling cookie
	// carries the new Expires.
	{"rolling and a browser-session cookie changed to persistent", "rolling maxAge=none", "set?k=a&v=1; expires?in=7200",
		`#8: 2.set=0/1 2.touch=1/0 2.doc={"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"a":"1"}/{"cookie":{"originalMaxAge":N,"expires":"T","httpOnly":true,"path":"/"},"a":"1"} 2.docexpires=null/set 2.maxage=null/set`},
	{"resave with maxAge changed alone", "resave", "set?k=a&v=1; maxage?ms=7200000; read", "#8: 2.cookie=-/set"},
	{"expires in the past set alone", "", "set?k=a&v=1; expires?in=-3600; read", "#8: 2.cookie=-/set 2.set=0/1 2.touch=1/0"},
	{"maxAge changed on every request", "", "set?k=a&v=1; maxage?ms=7200000&k=b&v=2; maxage?ms=1800000&k=c&v=3; age?s=600; read", ""},
	{"a session that expired in the store", "", "set?k=a&v=1; age?s=3700; read; set?k=b&v=2", ""},
	{"touch of a new session", "", "touch; read", ""},
	{"touch with saveUninitialized of a new session", "saveUninitialized", "touch; read", ""},
	{"touch of a browser-session cookie", "maxAge=none", "set?k=a&v=1; touch", ""},

	// A change the route makes before its own operation ("bk"), or after a
	// save by hand ("ak").
	{"reload drops a change made before it", "", "set?k=a&v=1; reload?bk=a&bv=2; read", ""},
	{"reload then a change", "", "set?k=a&v=1; reload?k=b&v=2; read", ""},
	{"regenerate drops a change made before it", "", "set?k=a&v=1; regenerate?bk=b&bv=2; read", ""},
	{"regenerate drops the session's own maxAge", "", "set?k=a&v=1; maxage?ms=7200000&k=b&v=2; regenerate?k=c&v=3; age?s=600; read", ""},
	{"destroy drops a change made before it", "", "set?k=a&v=1; destroy?bk=b&bv=2; read cookie=first", "#9: 2.cookie=-/clear"},
	{"unset keep drops a change made before it", "unset=keep", "set?k=a&v=1; unset?bk=b&bv=2; read", ""},
	{"unset destroy after a change", "unset=destroy", "set?k=a&v=1; unset?bk=b&bv=2; read cookie=first", ""},
	{"unset keep of a new, changed session", "unset=keep", "unset?bk=a&bv=1; read", ""},
	{"unset keep of a new session with saveUninitialized", "unset=keep saveUninitialized", "unset; read", ""},
	{"unset keep with rolling", "unset=keep rolling", "set?k=a&v=1; unset; read", ""},
	{"unset destroy with rolling and saveUninitialized", "unset=destroy rolling saveUninitialized", "set?k=a&v=1; unset; read cookie=first", ""},
	{"a change after a save by hand", "", "set?k=a&v=1; save?k=b&v=2&ak=c&av=3; read", ""},
	{"a new session saved by hand, then changed", "", "save?k=a&v=1&ak=b&av=2; read", ""},
	{"save by hand, then the same value again", "", "set?k=a&v=1; save?k=b&v=2&ak=b&av=2; read", "#14: 2.touch=1/0"},

	// The cookie of a session since destroyed or regenerated ("cookie=first":
	// a tab that kept it), and two valid cookies of the name.
	{"destroy, then the old cookie", "", "set?k=a&v=1; destroy; read cookie=first; set?k=b&v=2 cookie=first", "#9: 2.cookie=-/clear"},
	{"resave and destroy, then the old cookie", "resave", "set?k=a&v=1; destroy; read cookie=first", "#9: 2.cookie=-/clear"},
	{"regenerate, then the old cookie", "", "set?k=a&v=1; regenerate?k=b&v=2; read cookie=first; set?k=c&v=3 cookie=first", ""},
	{"regenerate with rolling, then the old cookie", "rolling", "set?k=a&v=1; regenerate; read cookie=first", ""},
	{"regenerate twice in one visit", "", "set?k=a&v=1; regenerate?k=b&v=2; regenerate?k=c&v=3; read cookie=first; read", ""},
	{"reload with a cookie regenerated away", "", "set?k=a&v=1; regenerate?k=b&v=2; reload cookie=first", ""},
	{"two valid cookies: the first, regenerated away, wins", "", "set?k=a&v=1; regenerate?k=b&v=2; read cookie=firstjar", ""},
	{"two valid cookies: the first, live, wins", "", "set?k=a&v=1; regenerate?k=b&v=2; set?k=c&v=3 cookie=jarfirst; read", ""},
	{"secret rotation with rolling re-signs with the new secret", "secrets=new,old rolling", "set?k=a&v=1; read cookie=old", ""},
	{"secret rotation and regenerate", "secrets=new,old", "set?k=a&v=1; regenerate?k=b&v=2 cookie=old; read", ""},
	{"rolling, an id missing from the store", "rolling", "set?k=a&v=1; forget; read", ""},
	{"reload of a session deleted behind the app's back", "", "set?k=a&v=1; forget; reload", ""},

	// Other methods and answers: HEAD, a redirect, 304 and 204 with no
	// body, an error page (express's next(err); the Go handler writes its
	// own 500: a panic saves nothing, see the README).
	{"HEAD saves a change", "", "set?k=a&v=1 head; read", ""},
	{"HEAD of a loaded session touches it", "", "set?k=a&v=1; age?s=600; read head", ""},
	{"HEAD with rolling", "rolling", "set?k=a&v=1; read head", ""},
	{"HEAD with saveUninitialized", "saveUninitialized", "read head; read", ""},
	{"HEAD outside the cookie path", "path=/app", "/app/set?k=a&v=1; /other/read head", ""},
	{"a redirect after a change", "", "status?code=302&k=a&v=1; read", ""},
	{"a redirect after a change of a loaded session", "", "set?k=a&v=1; status?code=303&k=b&v=2; read", ""},
	{"a redirect with rolling", "rolling", "set?k=a&v=1; age?s=600; status?code=302", ""},
	{"a 304 after a change", "", "set?k=a&v=1; status?code=304&k=b&v=2; read", ""},
	{"a 304 with rolling", "rolling", "set?k=a&v=1; age?s=600; status?code=304", ""},
	{"a 204 for a new session", "saveUninitialized", "status?code=204; read", ""},
	{"an error page after a change", "", "set?k=a&v=1; error?k=b&v=2; read", ""},
	{"an error page for a new session", "", "error?k=a&v=1; read", ""},
	{"an error page with resave", "resave", "set?k=a&v=1; error", ""},
	{"an error page with saveUninitialized", "saveUninitialized", "error; read", ""},
}

// storeDifference is a scenario whose differences on one store are not the
// scenario's own, because the Node store and sessionkit's store of that
// pair keep sessions differently, on purpose or by a limit of the Node
// store, without a difference in what the two middlewares decide.
//
// differs replaces the scenario's differs entries on that store (the
// label stays the scenario's). An entry may leave one side open with "*"
// ("2.ttl=*/24h0m0s": express's store expiry, whatever it is, against
// sessionkit's 24 hours), for a value that depends on the clock.
type storeDifference struct {
	store, scenario string
	name, reason    string // shown in the README's table
	differs         string
}

// storeDifferences are the store differences the suite meets. On every
// other scenario and store, the entries are the scenario's.
var storeDifferences = []storeDifference{
	{"pg", "maxAge set to zero with the data", "whole-second expiry",
		"connect-pg-simple stores the expiry rounded up to the second and reads a session until then, so the session " +
			"express-session has just expired stays readable to the end of that second; pgstore keeps milliseconds",
		// Express's row is there after step 2, till the end of the second.
		`2.expires=past/session 4.body={"data":{}}/{"data":{"a":"1","b":"2"}} 4.touch=0/1 ` +
			`2.doc={"cookie":{"originalMaxAge":N,"expires":"T","httpOnly":true,"path":"/"},"a":"1","b":"2"}/{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"a":"1","b":"2"} ` +
			`2.docexpires=set/null 2.maxage=set/null 2.ttl=*/24h0m0s ` +
			`4.doc=-/{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"a":"1","b":"2"} 4.docexpires=-/null 4.maxage=-/null 4.ttl=-/set`},

	// connect-mongo's touchAfter against sessionkit's TouchAfter (with
	// mongostore.WithLastModified). The stored copies agree but for a due
	// touch: the session lasts as long on both sides.
	{"mongo", "touchAfter: a read soon after a write", "touchAfter in the store",
		"connect-mongo skips the touch inside the store: express-session calls touch, sessionkit makes no call; and connect-mongo " +
			"puts the document's lastModified among the session's data (req.session.lastModified) when it reads it",
		`2.body={"data":{"a":"1","lastModified":"T"}}/{"data":{"a":"1"}} 2.touch=1/0`},
	{"mongo", "touchAfter: a read once it is due", "a due touch rewrites",
		"a due touch: connect-mongo moves the document's expires and lastModified and leaves cookie.expires in the session as it was, " +
			"sessionkit rewrites the document (a set) so that cookie.expires records the new expiry (Options.TouchAfter); so the first Go " +
			"request after a connect-mongo touch rewrites the document too, its cookie.expires looking old",
		`3.body={"data":{"a":"1","lastModified":"T"}}/{"data":{"a":"1"}} 3.docexpires=50m0s/1h0m0s 3.set=0/1 3.touch=1/0`},
	{"mongo", "touchAfter: a change soon after a write", "lastModified among the data",
		"connect-mongo puts the document's lastModified among the session's data (req.session.lastModified) when it reads it; it " +
			"takes it out again before a write, so the stored copies agree",
		`2.body={"data":{"a":"1","b":"2","lastModified":"T"}}/{"data":{"a":"1","b":"2"}}`},
	{"mongo", "touchAfter with rolling", "touchAfter in the store, a due touch rewrites",
		"as the two scenarios above; both send the cookie on every response (rolling) and touch the store only once due",
		`2.body={"data":{"a":"1","lastModified":"T"}}/{"data":{"a":"1"}} 2.touch=1/0 ` +
			`4.body={"data":{"a":"1","lastModified":"T"}}/{"data":{"a":"1"}} 4.docexpires=50m0s/1h0m0s 4.set=0/1 4.touch=1/0`},
}

// loadTouchDifference is what changes in a scenario's differences when the
// Go app's store reads and touches a session in one round trip
// (session.GetToucher: memstore, redisstore, mongostore and pgstore all
// do): the manager then carries the touch a request will need on its load
// (GETEX, UPDATE ... RETURNING, findAndModify, one call under memstore's
// lock), before the handler ran, where express-session reads at the load
// and touches at the end, if the request ends up neither saving nor
// destroying the session. It does not with Resave, Rolling or TouchAfter.
//
// differs are entries as in the scenario's differs; each replaces the
// scenario's entry of its step and field, if any, and one whose two sides
// are the same ("2.touch=1/1") means that the two then agree there. The
// suite plays the Go app with and without GetAndTouch, so that both are
// pinned: the scenario's differs without it, these with it.
type loadTouchDifference struct {
	scenario string
	stores   string // the stores it applies on, space-separated; "" every store
	name     string // one of loadTouchKinds
	differs  string
}

// on reports whether d applies on store.
func (d loadTouchDifference) on(store string) bool {
	return d.stores == "" || slices.Contains(strings.Fields(d.stores), store)
}

// loadTouchKinds name the ways in which a touch carried on the load
// differs from express's touch at the end, and why; shown in the README.
var loadTouchKinds = []struct{ name, reason string }{
	{"touched, then saved",
		"the request changes the session: sessionkit's load has touched it already, the save then writes it with a fresh expiry; " +
			"express reads, saves and touches nothing. The stored session and its expiry are the same, and the read costs one round trip either way"},
	{"touched, then destroyed",
		"the handler destroys the session (destroy, regenerate, unset destroy): sessionkit's load has touched it already; express reads and deletes"},
	{"touched, then unset",
		"unset keep: express leaves the stored session alone, where sessionkit's load has moved its expiry already, so that it lasts " +
			"Cookie.MaxAge from this request (its cookie.expires, and the browser's cookie, stay as they were and end first)"},
	{"touched again with its own expiry",
		"the session's cookie has an expiry of its own (a maxAge changed, a browser-session cookie): the load's touch, chosen before the " +
			"document was read, set Cookie.MaxAge, and the end of the request touches again with the session's own, a round trip more; " +
			"express touches once. The stored expiry is the same"},
	{"touched, then the save failed",
		"the save fails: express's failed set leaves the stored expiry as it was, and so does sessionkit without GetAndTouch; " +
			"with it, the load has moved it already, and it stays where the request's touch puts it, the session's own max age from " +
			"this request: the load's touch, or, for a session whose own max age is not Cookie.MaxAge, a second touch at the end " +
			"of the request, from its own cookie. The document's cookie.expires, and the browser's cookie, stay as they were and end first"},
	{"touched at the load instead of the end",
		"express touches at the end of the request after a save by hand (#14) or a change of the cookie alone (#8), sessionkit does not, " +
			"but its load has: one touch each"},
}

// loadTouchDifferences are the scenarios whose differences change when the
// Go app's store has GetAndTouch; on the others they are the scenario's.
var loadTouchDifferences = []loadTouchDifference{
	{"a changed value is saved and the cookie re-sent", "", "touched, then saved", "2.touch=0/1"},
	{"a deleted key is saved", "", "touched, then saved", "2.touch=0/1"},
	{"keys set out of alphabetical order", "", "touched, then saved", "2.touch=0/1"},
	{"browser-session cookie is not re-sent when modified", "", "touched, then saved", "3.touch=0/1"},
	{"secure auto over http sends a plain cookie", "", "touched, then saved", "2.touch=0/1"},
	{"secure auto behind a trusted proxy sends Secure", "", "touched, then saved", "2.touch=0/1"},
	{"secret rotation: the old secret verifies, the new one signs", "", "touched, then saved", "3.touch=0/1"},
	{"an expired session is gone", "", "touched, then saved", "2.touch=0/1"},
	{"maxAge changed with the data", "", "touched, then saved", "2.touch=0/1"},
	{"maxAge changed with the data", "", "touched again with its own expiry", "3.touch=1/2"},
	{"expires changed with the data", "", "touched, then saved", "2.touch=0/1"},
	{"expires removed: a browser-session cookie", "", "touched, then saved", "2.touch=0/1"},
	{"expires removed: a browser-session cookie", "", "touched again with its own expiry", "3.touch=1/2"},
	{"maxAge set to zero with the data", "", "touched, then saved", "2.touch=0/1"},
	{"maxAge set to zero with the data", "", "touched again with its own expiry", "4.touch=0/2"},
	{"a change saves a fresh expiry", "", "touched, then saved", "3.touch=0/1"},
	// On mongo the scenario sets touchAfter, and no touch rides on a load.
	{"touchAfter: a change soon after a write", "memory redis pg", "touched, then saved", "2.touch=0/1"},

	{"regenerate: new id, empty, old one destroyed", "", "touched, then destroyed", "2.touch=0/1"},
	{"regenerate then set", "", "touched, then destroyed", "2.touch=0/1"},
	{"destroy", "", "touched, then destroyed", "2.touch=0/1"},
	{"destroy with saveUninitialized", "", "touched, then destroyed", "2.touch=0/1"},
	{"unset destroy deletes the stored session", "", "touched, then destroyed", "2.touch=0/1"},
	{"a store that fails to destroy at regenerate", "", "touched, then destroyed", "2.touch=0/1"},

	{"unset keep leaves the stored session", "", "touched, then unset", "2.touch=0/1"},
	{"unset keep of an old session", "", "touched, then unset", "3.touch=0/1 3.ttl=50m0s/1h0m0s"},

	{"a store that fails to save a change", "", "touched, then the save failed", "2.touch=0/1"},
	{"a store that fails to save a change of an old session", "", "touched, then the save failed", "3.touch=0/1 3.ttl=50m0s/1h0m0s"},
	{"a store that fails to save a change of an old two-hour session", "", "touched, then saved", "2.touch=0/1"},
	{"a store that fails to save a change of an old two-hour session", "", "touched, then the save failed", "4.touch=0/2 4.ttl=1h50m0s/2h0m0s"},
	{"a store that fails to save a change of an old two-hour session", "", "touched again with its own expiry", "5.touch=1/2"},
	{"a store that fails to save a change of an old half-hour session", "", "touched, then saved", "2.touch=0/1"},
	{"a store that fails to save a change of an old half-hour session", "", "touched, then the save failed", "4.touch=0/2 4.ttl=20m0s/30m0s"},
	{"a store that fails to save a change of an old half-hour session", "", "touched again with its own expiry", "5.touch=1/2"},

	{"save by hand of a loaded session", "", "touched at the load instead of the end", "2.touch=1/1"},
	{"save by hand of an old session", "", "touched at the load instead of the end", "3.touch=1/1"},
	{"a store that fails to save by hand", "", "touched at the load instead of the end", "2.touch=1/1"},
	{"maxAge changed alone", "", "touched at the load instead of the end", "2.touch=1/1"},
	{"expires changed alone", "", "touched at the load instead of the end", "2.touch=1/1"},

	{"maxAge changed on a new session", "", "touched again with its own expiry", "2.touch=0/2"},
	{"maxAge changed on a new session with saveUninitialized", "", "touched again with its own expiry", "2.touch=1/2"},
	{"expires set on a browser-session cookie", "", "touched at the load instead of the end", "2.touch=1/1"},
	{"expires set on a browser-session cookie with the data", "", "touched, then saved", "2.touch=0/1"},
	{"expires set on a browser-session cookie with the data", "", "touched again with its own expiry", "4.touch=1/2"},
	{"expires in the past set alone", "", "touched at the load instead of the end", "2.touch=1/1"},
	{"maxAge changed on every request", "", "touched, then saved", "2.touch=0/1 3.touch=0/1"},
	{"maxAge changed on every request", "", "touched again with its own expiry", "5.touch=1/2"},
	{"reload then a change", "", "touched, then saved", "2.touch=0/1"},
	{"regenerate drops a change made before it", "", "touched, then destroyed", "2.touch=0/1"},
	{"regenerate drops the session's own maxAge", "", "touched, then saved", "2.touch=0/1"},
	{"regenerate drops the session's own maxAge", "", "touched, then destroyed", "3.touch=0/1"},
	{"destroy drops a change made before it", "", "touched, then destroyed", "2.touch=0/1"},
	{"unset keep drops a change made before it", "", "touched, then unset", "2.touch=0/1"},
	{"unset destroy after a change", "", "touched, then destroyed", "2.touch=0/1"},
	{"a change after a save by hand", "", "touched, then saved", "2.touch=0/1"},
	{"save by hand, then the same value again", "", "touched at the load instead of the end", "2.touch=1/1"},
	{"destroy, then the old cookie", "", "touched, then destroyed", "2.touch=0/1"},
	{"regenerate, then the old cookie", "", "touched, then destroyed", "2.touch=0/1"},
	{"regenerate twice in one visit", "", "touched, then destroyed", "2.touch=0/1 3.touch=0/1"},
	{"reload with a cookie regenerated away", "", "touched, then destroyed", "2.touch=0/1"},
	{"two valid cookies: the first, regenerated away, wins", "", "touched, then destroyed", "2.touch=0/1"},
	{"two valid cookies: the first, live, wins", "", "touched, then destroyed", "2.touch=0/1"},
	{"two valid cookies: the first, live, wins", "", "touched, then saved", "3.touch=0/1"},
	{"secret rotation and regenerate", "", "touched, then destroyed", "2.touch=0/1"},
	{"a redirect after a change of a loaded session", "", "touched, then saved", "2.touch=0/1"},
	{"a 304 after a change", "", "touched, then saved", "2.touch=0/1"},
	{"an error page after a change", "", "touched, then saved", "2.touch=0/1"},
}
