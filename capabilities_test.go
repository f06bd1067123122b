package session

import (
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/session/internal/testclock"
)

// storeKinds are the ways a store can take a read-only request's touch, each
// on a counting memstore: at the end of the request (Toucher, as boltstore's
// read-only requests, a DurableGetToucher),
// carried on the load (GetToucher, as redisstore's GETEX), or given the
// version and bytes the load read (VersionToucher, as memcachedstore).
var storeKinds = []struct {
	name string
	make func(t *testing.T) (Store, *countingStore)
}{
	{"Toucher", func(t *testing.T) (Store, *countingStore) {
		st := newCountingStore(t)
		return st, st
	}},
	{"GetToucher", func(t *testing.T) (Store, *countingStore) {
		st := newGetTouchStore(t)
		return st, st.countingStore
	}},
	{"VersionToucher", func(t *testing.T) (Store, *countingStore) {
		st := &versionTouchStore{countingStore: newCountingStore(t)}
		return st, st.countingStore
	}},
	{"VersionGetToucher", func(t *testing.T) (Store, *countingStore) {
		st := versionGetTouchStore{&versionTouchStore{countingStore: newCountingStore(t)}}
		return st, st.countingStore
	}},
}

// newKindManager returns a manager with opts on a fresh store made by
// makeStore, reading the store's clock.
func newKindManager(t *testing.T, makeStore func(*testing.T) (Store, *countingStore), opts Options) (*Manager, *countingStore) {
	st, cs := makeStore(t)
	opts.Store = st
	m, _ := newTestManager(t, opts)
	m.now = cs.clock.Now
	return m, cs
}

// The calls of runOnStoreKind's handler beyond handlerCall's, and how many
// kinds of call it makes in all.
const (
	destroyedMeanwhile = handlerCalls + iota
	rewrittenMeanwhile
	capabilityCalls
)

// capabilityOutcome is what one request did: its response and the sessions
// it left, with the times after the request at which each is still there.
type capabilityOutcome struct {
	Status    int
	Body      string
	SetCookie []string
	Stored    map[string]string   // id -> document, right after the request
	AliveAt   map[string][]string // offset -> the ids still stored then
	Users     map[string][]string // user -> the user's sessions, right after the request
}

// aliveProbes are the times after the request at which the outcome lists the
// sessions still stored: either side of the idle timeout, the cookie's max
// age and memstore's default lifetime (a browser-session cookie's), and
// times between, where the absolute timeout falls.
var aliveProbes = []time.Duration{
	time.Second, 10 * time.Minute, 20 * time.Minute,
	29*time.Minute + 59*time.Second, 30*time.Minute + time.Second,
	59*time.Minute + 59*time.Second, time.Hour + time.Second,
	23*time.Hour + 59*time.Minute, 24*time.Hour + time.Minute,
}

// FuzzStoreCapabilitiesAgree runs one request on each kind of store
// (storeKinds), from the same stored session, options, clock and handler
// calls, and requires the same outcome. The capabilities only save round
// trips; what a request answers and leaves in the store must not depend on
// them. Among the handler's calls are another request destroying or
// rewriting the session while this one runs.
func FuzzStoreCapabilitiesAgree(f *testing.F) {
	f.Add(byte(0b1000), byte(1), byte(1), []byte{0})                     // read-only, 1 h cookie
	f.Add(byte(0b1001), byte(1), byte(1), []byte{0, destroyedMeanwhile}) // Rolling, destroyed meanwhile
	f.Add(byte(0b1000), byte(1), byte(1), []byte{0, rewrittenMeanwhile}) // rewritten meanwhile
	f.Add(byte(0b1000), byte(1), byte(1), []byte{1, destroyedMeanwhile}) // modified, destroyed meanwhile
	f.Add(byte(0b1000), byte(1), byte(1), []byte{0, unsetCall})          // Unset (keep)
	f.Add(byte(0b1001000), byte(1), byte(1), []byte{0, unsetCall})       // Unset (destroy)
	f.Add(byte(0b11000), byte(1), byte(15), []byte{0})                   // TouchAfter, due
	f.Add(byte(0b101000), byte(1), byte(40), []byte{0})                  // IdleTimeout passed
	f.Add(byte(0b1000), byte(1), byte(1), []byte{5, 0})                  // the session's own max age
	f.Add(byte(0b0110), byte(0), byte(0), []byte{0})                     // new, SaveUninitialized, Resave
	f.Add(byte(0b1000), byte(1), byte(1), []byte{6, 0, 9})               // Regenerate
	f.Add(byte(0b10101000), byte(1), byte(20), []byte{0})                // IdleTimeout, capped by AbsoluteTimeout
	f.Add(byte(0b1000), byte(1), byte(1), []byte{13, 0})                 // SetUser
	f.Add(byte(0b1000), byte(2), byte(1), []byte{0})                     // read-only, a user's session
	f.Add(byte(0b101000), byte(2), byte(20), []byte{13, 0})              // a user's session moves to another user
	f.Add(byte(0b1000), byte(1), byte(1), []byte{13, 6, 7})              // SetUser, Regenerate, Destroy
	f.Add(byte(0b0001), byte(1), byte(1), []byte{0, rewrittenMeanwhile}) // Rolling, rewritten with another cookie meanwhile
	f.Add(byte(0b0000), byte(2), byte(1), []byte{0, rewrittenMeanwhile}) // a user's session rewritten with another cookie meanwhile
	f.Fuzz(func(t *testing.T, config, stored, minutes byte, ops []byte) {
		if len(ops) > 32 {
			ops = ops[:32]
		}
		opts := capabilityOptions(config)
		var want capabilityOutcome
		var answered []string // the Set-Cookie of the first kind whose touch answers
		for i, kind := range storeKinds {
			got := runOnStoreKind(t, kind.make, opts, stored%3, time.Duration(minutes%90)*time.Minute, ops)
			if i == 0 {
				want = got
				continue
			}
			if kind.name == "GetToucher" && touchTimingShows(opts, ops) {
				got.AliveAt, got.Users = want.AliveAt, want.Users // the index records the touch too
			}
			if touchAnswers(kind.name) && cookieRewrittenMeanwhile(opts, ops) {
				// The touch finds the other request's cookie and
				// follows it (TestAConcurrentRememberMeIsNotCutByAReadsTouch):
				// the store keeps the session, and the Rolling cookie
				// says, as long as that cookie does, where a plain
				// Toucher sets the loaded cookie's expiry. The kinds
				// whose touch answers agree on the cookie.
				if answered == nil {
					answered = append([]string{}, got.SetCookie...)
				} else if !slices.Equal(got.SetCookie, answered) {
					t.Fatalf("options %+v, calls %v: Set-Cookie %q on %s, %q on the other store whose touch answers", opts, ops, got.SetCookie, kind.name, answered)
				}
				got.AliveAt, got.Users, got.SetCookie = want.AliveAt, want.Users, want.SetCookie
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("options %+v, stored %d, %d min later, calls %v:\n%s: %+v\n%s: %+v",
					opts, stored%3, minutes%90, ops, storeKinds[0].name, want, kind.name, got)
			}
		}
	})
}

// touchTimingShows reports whether the handler's calls make the time of a
// read-only request's touch show in the stored expiry, so that a touch
// carried on the load (GetToucher) leaves another expiry than one at the end
// of the request. Both are right: the request did load the session. A
// session unset with UnsetKeep keeps the expiry the load gave it (at the end
// it would not be touched at all), and a session that another request
// rewrote meanwhile keeps that request's expiry (at the end the touch would
// replace it, as it does when the other write lands a moment earlier).
func touchTimingShows(opts Options, ops []byte) bool {
	return slices.ContainsFunc(ops, func(op byte) bool {
		call := op % capabilityCalls
		return call == rewrittenMeanwhile || (call == unsetCall && opts.Unset == UnsetKeep)
	})
}

// touchAnswers reports whether a kind of store's end-of-request touch
// answers what it touched (GetToucher, VersionGetToucher), so that the
// touch follows a cookie another request saved meanwhile.
func touchAnswers(kind string) bool { return kind == "GetToucher" || kind == "VersionGetToucher" }

// cookieRewrittenMeanwhile reports whether another request rewrites the
// session, while this one runs, with a cookie (an hour) that is not the
// options' (a browser-session one).
func cookieRewrittenMeanwhile(opts Options, ops []byte) bool {
	return opts.Cookie.MaxAge != time.Hour && slices.ContainsFunc(ops, func(op byte) bool { return op%capabilityCalls == rewrittenMeanwhile })
}

// capabilityOptions reads the options from the bits of config.
func capabilityOptions(config byte) Options {
	opts := Options{
		Rolling:           config&1 != 0,
		Resave:            config&2 != 0,
		SaveUninitialized: config&4 != 0,
	}
	if config&8 != 0 {
		opts.Cookie.MaxAge = time.Hour
	}
	if config&16 != 0 {
		opts.TouchAfter = 10 * time.Minute
	}
	if config&32 != 0 {
		opts.IdleTimeout = 30 * time.Minute
	}
	if config&64 != 0 {
		opts.Unset = UnsetDestroy
	}
	if config&128 != 0 {
		opts.AbsoluteTimeout = 45 * time.Minute
	}
	return opts
}

// runOnStoreKind stores a session (stored 1), or one bound to a user (stored
// 2), or none (stored 0); lets later pass; and
// sends one request carrying its cookie whose handler makes the calls ops
// names; it returns what came of it.
func runOnStoreKind(t *testing.T, makeStore func(*testing.T) (Store, *countingStore), opts Options, stored byte, later time.Duration, ops []byte) capabilityOutcome {
	made := 0
	opts.GenerateID = func(*http.Request) string { made++; return fmt.Sprintf("id-%d", made) }
	m, cs := newKindManager(t, makeStore, opts)
	cs.clock.Set(testclock.Epoch())

	b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Set("views", 1)
		if stored == 2 {
			s.SetUser(fuzzUsers[0])
		}
	})))
	if stored > 0 {
		b.get("/")
	}
	cs.clock.Advance(later)
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		for i, op := range ops {
			switch call := op % capabilityCalls; call {
			case destroyedMeanwhile: // another request logs out
				if s != nil {
					_ = cs.Store.Destroy(r.Context(), s.ID())
				}
			case rewrittenMeanwhile: // another request (another app) writes the session
				if s != nil {
					doc := `{"cookie":{"originalMaxAge":3600000,"expires":"` +
						string(appendISOTime(nil, cs.clock.Now().Add(time.Hour))) +
						`","httpOnly":true,"path":"/"},"other":true}`
					_ = cs.Store.Set(r.Context(), s.ID(), []byte(doc), cs.clock.Now().Add(time.Hour))
				}
			default:
				s = handlerCall(r, s, i, call, op)
			}
		}
		fmt.Fprint(w, s.ID())
	}))
	rec := b.get("/")

	out := capabilityOutcome{
		Status:    rec.Code,
		Body:      rec.Body.String(),
		SetCookie: rec.Header().Values("Set-Cookie"),
		Stored:    map[string]string{},
		AliveAt:   map[string][]string{},
		Users:     map[string][]string{},
	}
	ids, err := cs.Store.IDs(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if data, found, err := cs.Store.Get(t.Context(), id); err == nil && found {
			out.Stored[id] = string(data)
		}
	}
	for _, user := range fuzzUsers {
		infos, err := m.UserSessions(t.Context(), user)
		if err != nil {
			t.Fatal(err)
		}
		for _, info := range infos {
			out.Users[user] = append(out.Users[user], fmt.Sprintf("%s used %v, expires in %v", info.ID,
				info.LastUsed.Sub(cs.clock.Now()), info.Expires.Sub(cs.clock.Now())))
		}
	}
	start := cs.clock.Now()
	for _, d := range aliveProbes {
		cs.clock.Set(start.Add(d))
		var alive []string
		for _, id := range ids {
			if _, found, err := cs.Store.Get(t.Context(), id); err == nil && found {
				alive = append(alive, id)
			}
		}
		slices.Sort(alive)
		out.AliveAt[strings.TrimSuffix(d.String(), "0s")] = alive
	}
	return out
}
