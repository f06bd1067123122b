// Package storetest is the conformance suite for session stores. Every store
// in sessionkit runs it in its own tests, against a real server, and so
// should a third-party store:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) session.Store {
//			st := mystore.New(client, mystore.WithPrefix("test:"+storetest.NewID()+":"))
//			t.Cleanup(func() { st.Close() })
//			return st
//		})
//	}
//
// Run calls newStore once per subtest, from parallel subtests. Each call must
// return an independent, empty store: one that sees none of the sessions of
// the other calls (a fresh key prefix, table, collection or database; Clear
// must only delete that store's sessions). Register cleanups on the t passed
// to newStore. Run returns only when every subtest has finished, so deferred
// calls in the caller (stopping a server) are safe.
//
// The optional capabilities (session.Toucher, session.VersionedStore,
// session.GetToucher, session.VersionToucher, session.Lister,
// session.UserIndex, session.UserIndexRemover) are found by interface
// assertion; their subtests are skipped when the store lacks them.
//
// What the suite requires beyond the doc comments of session.Store:
//
//   - Values of up to 1 MiB come back byte for byte: valid JSON documents
//     (what the default codec writes, including non-ASCII UTF-8 and escapes
//     such as \u0000 and lone surrogates), and any other bytes (a binary
//     Codec's: not UTF-8, NUL bytes, all 256 byte values), also through
//     CompareAndSwap, Touch, GetAndTouch, TouchVersion and UserSessions; a
//     session a request sets with such a Codec is read by the next. A store
//     that can keep only JSON text runs the suite with KeepsOnlyJSON, and
//     must then refuse the other bytes with its error, losing nothing.
//   - Ids are made of the URL-safe characters A-Z a-z 0-9 - . _ ~ and are case
//     sensitive.
//   - Any other id the manager takes (a custom GenerateID may make any UTF-8
//     id of up to 978 bytes: NUL, spaces and control characters, { } : * ? [
//     % _ $ . \ /, multi-byte characters, 978 bytes) is either kept like any
//     other id, never sharing a session with another id (a store that escapes
//     or cuts keys must keep every two ids apart), or, when the store cannot
//     carry it, names no session: reads, touches and destroys answer "no
//     session" (found false, a nil error), and writes that would store it
//     (Set, a create) fail with an error. Never a panic or a hang.
//   - Expiry is exact to well under a second: a session is not returned once
//     its expires has passed, even if the server's own expiry is coarser (a
//     store on such a server checks the expiry itself on read), and it is
//     returned until then (with EarlyExpiry(d), until d before). The expiry
//     subtests wait about 1.5 s of real time (plus d), and
//     CookieSavedMeanwhileOutlivesAReadsTouch 2.5 s (plus d), each once.
//     Every write and touch (Set, CompareAndSwap, Touch, GetAndTouch,
//     TouchVersion) sets the expiry it is given, an earlier one than the
//     stored one too: the last one to reach the store wins, never the later
//     of the two (see session.Toucher for why). An expires in the past deletes, in each of them; the
//     zero time is the store's default lifetime in each of them. An expires
//     in year 9999 (a common "never expires", past time.Duration's range)
//     keeps the session, in every write: a store may keep it for less, not
//     drop it at once.
//   - Stores are safe for concurrent use: of parallel CompareAndSwap calls
//     from one version, or creating one id (from ""), exactly one succeeds.
//   - A user index keeps an entry until its expiry plus session.IndexGrace,
//     whatever happens to its session (destroyed, expired, never stored),
//     and lists it without data then; it no longer lists it after that. An
//     index write replaces the entry, with an earlier expiry too. Clear
//     (session.Lister) deletes the user index with the sessions.
//   - A cancelled context makes every store method return an error wrapping
//     context.Canceled (check ctx.Err() up front if the driver takes no
//     context). Whether the write happened anyway is not pinned.
//   - The store does not keep the caller's slices: changing the slice passed
//     to Set, or the one returned by Get, does not change what is stored.
//   - Through the manager (session.New with this store), 64 parallel requests
//     on one session, each setting its own key, lose nothing. This needs a
//     session.VersionedStore and is skipped without one.
//   - Through the manager with Rolling, a request whose session another
//     request destroyed while it ran sends no session cookie: its touch or
//     save must find the session gone. This needs a session.Toucher.
//   - Through the manager with a GenerateID that repeats the id of a stored
//     session, the new session takes another id rather than joining the
//     stored one: CompareAndSwap from "" must not create over a live
//     session. This needs a session.VersionedStore.
//   - Through the manager, scripted requests (express-session's options and
//     Session methods, and other requests destroying or rewriting the
//     session meanwhile) answer and store the same as on a memstore, times
//     aside: a store's capabilities only save round trips.
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/session"
)

// ExpiryWait is how long after now the expiry subtests let their sessions
// expire. Run waits this long (plus a small margin, and the time the slowest
// write of such a session took) once, in parallel with the other subtests.
const ExpiryWait = 1500 * time.Millisecond

// expiryMargin is how long after a session's expiry, and the time its write
// took, the suite asks for it.
const expiryMargin = 20 * time.Millisecond

// URLSafe lists every character allowed in a session id.
const URLSafe = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"

// NewID returns a fresh random session id of the kind the manager generates
// (24 random bytes, base64url without padding). Use it for key prefixes too.
func NewID() string {
	b := make([]byte, 24)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Document returns a valid express-session JSON document of at least size
// bytes, different on every call, with non-ASCII text and escapes in it, as a
// store value for tests and benchmarks.
func Document(size int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"cookie":{"originalMaxAge":86400000,"expires":"2030-01-02T03:04:05.678Z","httpOnly":true,"path":"/"},`)
	fmt.Fprintf(&b, `"nonce":%q,"text":"héllo, 世界 🍪 \"quoted\" \\ \n","pad":"`, NewID())
	const filler = "abcdefghijklmnopqrstuvwxyz0123456789"
	for b.Len() < size-2 {
		n := min(len(filler), size-2-b.Len())
		b.WriteString(filler[:n])
	}
	b.WriteString(`"}`)
	return b.Bytes()
}

// Option adjusts the suite for one store.
type Option func(*config)

type config struct {
	early    time.Duration // see EarlyExpiry
	jsonOnly error         // see KeepsOnlyJSON
}

// EarlyExpiry lets the store end a session up to d before its expiry, for a
// store that relies on a server whose own expiry is coarser than the suite's
// (Memcached counts whole seconds) and has nowhere to keep the exact expiry
// to check it on read. A session must still never be returned after its
// expiry. The expiry subtests give their sessions d more to live, and so
// wait d longer.
func EarlyExpiry(d time.Duration) Option {
	return func(c *config) { c.early = max(d, 0) }
}

// Run runs the conformance suite against the stores made by newStore. See the
// package documentation for what newStore must return.
func Run(t *testing.T, newStore func(t *testing.T) session.Store, opts ...Option) {
	t.Helper()
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	t.Run("storetest", func(t *testing.T) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				c.fn(t, newStore, &cfg)
			})
		}
	})
}

type testCase struct {
	name string
	fn   func(t *testing.T, newStore func(t *testing.T) session.Store, cfg *config)
}

var cases []testCase

func init() {
	cases = []testCase{
		{"SetGetDestroyRoundTrip", testRoundTrip},
		{"GetOfMissingSessionIsNotFound", testGetMissing},
		{"SetReplaces", testSetReplaces},
		{"DestroyOfMissingSessionIsNotAnError", testDestroyMissing},
		{"ZeroExpiresIsReadable", testZeroExpires},
		{"PastExpiresDeletes", testPastExpires},
		{"FarFutureExpiryIsKept", testFarFutureExpiry}, // farfuture.go
		{"CallerBuffersAreNotRetained", testBuffers},
		{"Expiry", testExpiry},
		{"Touch", testTouch},
		{"TouchVersion", testTouchVersion},             // versiontouch.go
		{"GetAndTouchVersion", testGetAndTouchVersion}, // versiontouch.go
		{"GetAndTouch", testGetAndTouch},               // gettouch.go
		{"CompareAndSwap", testCAS},
		{"Lister", testLister},
		{"OneMebibyteValueRoundTrips", testLargeValue},
		{"AnyBytesRoundTrip", testBinaryValues},                      // binary.go
		{"BinaryCodecThroughManager", testBinaryCodecThroughManager}, // binary.go
		{"EveryURLSafeCharacterInIDs", testURLSafeIDs},
		{"OddIDsAreKeptApartOrRefused", testOddIDs}, // oddids.go
		{"CancelledContext", testCancelled},
		{"ParallelUpdatesThroughManagerLoseNothing", testThroughManager},
		{"RollingSendsNoCookieForASessionDestroyedMeanwhile", testRollingCookieOfDestroyedSession}, // rolling.go
		{"SaveOfASessionEndedMeanwhileLeavesItAsAfterDestroy", testSaveOfSessionEndedMeanwhile},    // saveended.go
		{"CookieSavedMeanwhileOutlivesAReadsTouch", testConcurrentCookieOutlivesARead},             // staletouch.go
		{"ManagerAgreesWithMemstore", testManagerAgreesWithMemstore},                               // agree.go
		{"RepeatedGeneratedIDNeverJoinsAnotherSession", testRepeatedGeneratedID},                   // genid.go
		{"UserIndex", testUserIndex},                                                               // users.go
		{"UserIndexRemover", testUserIndexRemover},                                                 // users.go
	}
}

// ctx returns a context for one subtest, cancelled when it ends.
func ctx(t *testing.T) context.Context { return t.Context() }

func later() time.Time { return time.Now().Add(time.Hour) }

// mustSet stores data under id or fails the test.
// capability returns st as the optional store interface T, or skips the
// test when st does not have it.
func capability[T any](t *testing.T, st session.Store) T {
	t.Helper()
	c, ok := st.(T)
	if !ok {
		t.Skipf("store is not a %v", reflect.TypeFor[T]())
	}
	return c
}

func mustSet(t *testing.T, st session.Store, id string, data []byte, expires time.Time) {
	t.Helper()
	if err := st.Set(ctx(t), id, data, expires); err != nil {
		t.Fatalf("Set(%q): %v", id, err)
	}
}

// mustGet asserts that id holds want.
func mustGet(t *testing.T, st session.Store, id string, want []byte) {
	t.Helper()
	got, found, err := st.Get(ctx(t), id)
	if err != nil || !found {
		t.Fatalf("Get(%q): found %v, %v; want the stored value", id, found, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Get(%q) = %s, want %s", id, short(got), short(want))
	}
}

// mustBeMissing asserts that Get of id finds nothing, without an error.
func mustBeMissing(t *testing.T, st session.Store, id string) {
	t.Helper()
	got, found, err := st.Get(ctx(t), id)
	if err != nil || found || got != nil {
		t.Fatalf("Get(%q) = %s, found %v, %v; want nil, not found, no error", id, short(got), found, err)
	}
}

// short abbreviates a value for messages.
func short(b []byte) string {
	if b == nil {
		return "nil"
	}
	if len(b) > 80 {
		return fmt.Sprintf("%q... (%d bytes)", b[:80], len(b))
	}
	return fmt.Sprintf("%q", b)
}

func testRoundTrip(t *testing.T, newStore func(*testing.T) session.Store, cfg *config) {
	st := newStore(t)
	id, data := NewID(), Document(200)
	mustSet(t, st, id, data, later())
	mustGet(t, st, id, data)
	if err := st.Destroy(ctx(t), id); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	mustBeMissing(t, st, id)
}

func testGetMissing(t *testing.T, newStore func(*testing.T) session.Store, cfg *config) {
	st := newStore(t)
	mustBeMissing(t, st, NewID())
}

func testSetReplaces(t *testing.T, newStore func(*testing.T) session.Store, cfg *config) {
	st := newStore(t)
	id := NewID()
	first, second := Document(500), Document(150) // shorter: no leftover bytes
	mustSet(t, st, id, first, later())
	mustSet(t, st, id, second, later())
	mustGet(t, st, id, second)
}

func testDestroyMissing(t *testing.T, newStore func(*testing.T) session.Store, cfg *config) {
	st := newStore(t)
	if err := st.Destroy(ctx(t), NewID()); err != nil {
		t.Fatalf("Destroy of a session that never existed: %v, want nil", err)
	}
	id := NewID()
	mustSet(t, st, id, Document(100), later())
	for i := range 2 {
		if err := st.Destroy(ctx(t), id); err != nil {
			t.Fatalf("Destroy #%d: %v, want nil", i+1, err)
		}
	}
}

func testZeroExpires(t *testing.T, newStore func(*testing.T) session.Store, cfg *config) {
	st := newStore(t)
	id, data := NewID(), Document(100)
	mustSet(t, st, id, data, time.Time{})
	mustGet(t, st, id, data)
	if vs, ok := st.(session.VersionedStore); ok {
		id2, data2 := NewID(), Document(100)
		if _, swapped, err := vs.CompareAndSwap(ctx(t), id2, "", data2, time.Time{}); err != nil || !swapped {
			t.Fatalf("CompareAndSwap create with zero expires: %v", err)
		}
		mustGet(t, st, id2, data2)
	}
	if tc, ok := st.(session.Toucher); ok {
		if found, err := tc.Touch(ctx(t), id, time.Time{}); err != nil || !found {
			t.Fatalf("Touch with zero expires: %v", err)
		}
		mustGet(t, st, id, data)
	}
	// Every other write and touch takes the zero time for the default
	// lifetime too, not for an expiry in the past (year 1).
	if gt, ok := st.(session.GetToucher); ok {
		if got, _, found, err := gt.GetAndTouch(ctx(t), id, time.Time{}); err != nil || !found || !bytes.Equal(got, data) {
			t.Fatalf("GetAndTouch with zero expires = %s, found %v, %v; want the stored value", short(got), found, err)
		}
		mustGet(t, st, id, data)
	}
	if vs, ok := st.(session.VersionedStore); ok {
		_, v := getVersion(t, vs, id)
		data = Document(100)
		if _, swapped, err := vs.CompareAndSwap(ctx(t), id, v, data, time.Time{}); err != nil || !swapped {
			t.Fatalf("CompareAndSwap with zero expires: swapped %v, %v", swapped, err)
		}
		mustGet(t, st, id, data)
		if vt, ok := st.(session.VersionToucher); ok {
			read, v := getVersion(t, vs, id)
			if found, err := vt.TouchVersion(ctx(t), id, v, read, time.Time{}); err != nil || !found {
				t.Fatalf("TouchVersion with zero expires: found %v, %v", found, err)
			}
			mustGet(t, st, id, data)
		}
	}
}

func testPastExpires(t *testing.T, newStore func(*testing.T) session.Store, cfg *config) {
	st := newStore(t)
	past := time.Now().Add(-time.Minute)

	t.Run("ExistingSessionIsDeleted", func(t *testing.T) {
		id := NewID()
		mustSet(t, st, id, Document(100), later())
		if err := st.Set(ctx(t), id, Document(100), past); err != nil {
			t.Fatalf("Set with past expires: %v, want nil", err)
		}
		mustBeMissing(t, st, id)
	})
	t.Run("NewSessionIsNeverReturned", func(t *testing.T) {
		id := NewID()
		if err := st.Set(ctx(t), id, Document(100), past); err != nil {
			t.Fatalf("Set with past expires: %v, want nil", err)
		}
		mustBeMissing(t, st, id)
	})
	t.Run("CompareAndSwapWithPastExpiresDeletes", func(t *testing.T) {
		vs := capability[session.VersionedStore](t, st)
		id := NewID()
		mustSet(t, st, id, Document(100), later())
		_, v, _, err := vs.GetVersion(ctx(t), id)
		if err != nil {
			t.Fatalf("GetVersion: %v", err)
		}
		if _, swapped, err := vs.CompareAndSwap(ctx(t), id, v, Document(100), past); err != nil || !swapped {
			t.Fatalf("CompareAndSwap with the current version and past expires: %v, want nil", err)
		}
		mustBeMissing(t, st, id)
	})
	// A store that takes every expiry not in the future for "none given"
	// would store these for its default lifetime.
	t.Run("CreateIfAbsentWithPastExpiresCreatesNothing", func(t *testing.T) {
		vs := capability[session.VersionedStore](t, st)
		id := NewID()
		if _, _, err := vs.CompareAndSwap(ctx(t), id, "", Document(100), past); err != nil {
			t.Fatalf("CompareAndSwap create with past expires: %v, want nil", err)
		}
		mustBeMissing(t, st, id)
	})
	t.Run("TouchWithPastExpiresDeletes", func(t *testing.T) {
		tc := capability[session.Toucher](t, st)
		id := NewID()
		mustSet(t, st, id, Document(100), later())
		if _, err := tc.Touch(ctx(t), id, past); err != nil {
			t.Fatalf("Touch with past expires: %v, want nil", err)
		}
		mustBeMissing(t, st, id)
	})
	t.Run("TouchVersionWithPastExpiresDeletes", func(t *testing.T) {
		vt := capability[session.VersionToucher](t, st)
		vs := capability[session.VersionedStore](t, st)
		id := NewID()
		mustSet(t, st, id, Document(100), later())
		read, v := getVersion(t, vs, id)
		if _, err := vt.TouchVersion(ctx(t), id, v, read, past); err != nil {
			t.Fatalf("TouchVersion with past expires: %v, want nil", err)
		}
		mustBeMissing(t, st, id)
	})
}

func testBuffers(t *testing.T, newStore func(*testing.T) session.Store, cfg *config) {
	st := newStore(t)
	id, data := NewID(), Document(100)
	want := slices.Clone(data)
	mustSet(t, st, id, data, later())
	clear(data) // the caller reuses its buffer
	mustGet(t, st, id, want)
	got, _, err := st.Get(ctx(t), id)
	if err != nil {
		t.Fatal(err)
	}
	clear(got) // the caller scribbles over what it was given
	mustGet(t, st, id, want)
	if vs, ok := st.(session.VersionedStore); ok {
		got, _, _, err := vs.GetVersion(ctx(t), id)
		if err != nil {
			t.Fatal(err)
		}
		clear(got)
		mustGet(t, st, id, want)
		id2, data2 := NewID(), Document(100)
		want2 := slices.Clone(data2)
		if _, swapped, err := vs.CompareAndSwap(ctx(t), id2, "", data2, later()); err != nil || !swapped {
			t.Fatal(err)
		}
		clear(data2)
		mustGet(t, st, id2, want2)
	}
	if gt, ok := st.(session.GetToucher); ok {
		got, _, _, err := gt.GetAndTouch(ctx(t), id, later())
		if err != nil {
			t.Fatal(err)
		}
		clear(got)
		mustGet(t, st, id, want)
	}
	if ix, ok := st.(session.UserIndex); ok {
		mustIndex(t, ix, "alice", id, time.Now(), later())
		if err := ix.UserSessions(ctx(t), "alice", func(_ string, _, _ time.Time, data []byte) { clear(data) }); err != nil {
			t.Fatal(err)
		}
		mustGet(t, st, id, want)
	}
}

// testExpiry sets up every session that must expire, waits once, then checks
// each behaviour in its own subtest.
func testExpiry(t *testing.T, newStore func(*testing.T) session.Store, cfg *config) {
	st := newStore(t)
	tc, canTouch := st.(session.Toucher)
	vs, versioned := st.(session.VersionedStore)
	ls, lists := st.(session.Lister)

	expires := time.Now().Add(ExpiryWait + cfg.early)
	plain, plainData := NewID(), Document(100)
	touched, touchedData := NewID(), Document(100)
	versionedID, versionedData := NewID(), Document(100)
	versionTouched, versionTouchedData := NewID(), Document(100)
	touchedSince, touchedSinceData := NewID(), Document(100)
	vt, versionTouches := st.(session.VersionToucher)
	versionTouches = versionTouches && versioned // it touches from GetVersion's version
	loadTouched, loadTouchedData := NewID(), Document(100)
	gt, loadTouches := st.(session.GetToucher)
	created := NewID()
	keep, keepData := NewID(), Document(100)
	// unread expires and is read by nothing before IDs and Count: a store
	// that deletes expired sessions as it reads them still holds it then.
	unread := NewID()

	// A store whose server counts the TTL from when it receives the write
	// (Redis, memcached) keeps a session past expires by the time the write
	// took to get there, which a loaded machine can make longer than
	// expiryMargin: the wait covers the slowest write of a session that
	// must expire.
	var slowest time.Duration
	timed := func(write func()) {
		start := time.Now()
		write()
		slowest = max(slowest, time.Since(start))
	}
	timed(func() { mustSet(t, st, plain, plainData, expires) })
	timed(func() { mustSet(t, st, unread, Document(100), expires) })
	mustSet(t, st, touched, touchedData, expires)
	mustSet(t, st, keep, keepData, later())
	var oldVersion string
	if versioned {
		timed(func() { mustSet(t, st, versionedID, versionedData, expires) })
		var err error
		if _, oldVersion, _, err = vs.GetVersion(ctx(t), versionedID); err != nil {
			t.Fatalf("GetVersion: %v", err)
		}
		timed(func() {
			if _, swapped, err := vs.CompareAndSwap(ctx(t), created, "", Document(100), expires); err != nil || !swapped {
				t.Fatalf("CompareAndSwap create: %v", err)
			}
		})
	}
	if canTouch {
		if found, err := tc.Touch(ctx(t), touched, later()); err != nil || !found {
			t.Fatalf("Touch: %v", err)
		}
	}
	if loadTouches {
		mustSet(t, st, loadTouched, loadTouchedData, expires)
		if _, _, found, err := gt.GetAndTouch(ctx(t), loadTouched, later()); err != nil || !found {
			t.Fatalf("GetAndTouch: found %v, %v", found, err)
		}
	}
	if versionTouches {
		mustSet(t, st, versionTouched, versionTouchedData, expires)
		_, v := getVersion(t, vs, versionTouched)
		if found, err := vt.TouchVersion(ctx(t), versionTouched, v, versionTouchedData, later()); err != nil || !found {
			t.Fatalf("TouchVersion: found %v, %v", found, err)
		}
		// A touch from the version of a session written since touches what
		// is stored now.
		read := Document(100)
		mustSet(t, st, touchedSince, read, expires)
		_, v = getVersion(t, vs, touchedSince)
		mustSet(t, st, touchedSince, touchedSinceData, expires) // another request's write
		if found, err := vt.TouchVersion(ctx(t), touchedSince, v, read, later()); err != nil || !found {
			t.Fatalf("TouchVersion of a session written since: found %v, %v", found, err)
		}
	}
	// Every write and touch sets the expiry it is given, an earlier one
	// too: the manager shortens a stored expiry with a touch or a save
	// (a session whose own cookie is shorter than Cookie.MaxAge, after the
	// touch carried on its load).
	type shortSession struct {
		what string // the write that set the earlier expiry
		data []byte // what it holds until then
	}
	var shortened []shortSession
	var shortenedIDs []string
	shorten := func(what string, write func(id string, data []byte) []byte) {
		id, data := NewID(), Document(100)
		mustSet(t, st, id, data, later())
		timed(func() { data = write(id, data) })
		shortened = append(shortened, shortSession{what, data})
		shortenedIDs = append(shortenedIDs, id)
	}
	shorten("Set", func(id string, _ []byte) []byte {
		data := Document(100)
		mustSet(t, st, id, data, expires)
		return data
	})
	if canTouch {
		shorten("Touch", func(id string, data []byte) []byte {
			if found, err := tc.Touch(ctx(t), id, expires); err != nil || !found {
				t.Fatalf("Touch to an earlier expiry: found %v, %v", found, err)
			}
			return data
		})
	}
	if loadTouches {
		shorten("GetAndTouch", func(id string, data []byte) []byte {
			if _, _, found, err := gt.GetAndTouch(ctx(t), id, expires); err != nil || !found {
				t.Fatalf("GetAndTouch to an earlier expiry: found %v, %v", found, err)
			}
			return data
		})
	}
	if versioned {
		shorten("CompareAndSwap", func(id string, _ []byte) []byte {
			_, v := getVersion(t, vs, id)
			data := Document(100)
			if _, swapped, err := vs.CompareAndSwap(ctx(t), id, v, data, expires); err != nil || !swapped {
				t.Fatalf("CompareAndSwap to an earlier expiry: swapped %v, %v", swapped, err)
			}
			return data
		})
	}
	if versionTouches {
		shorten("TouchVersion", func(id string, data []byte) []byte {
			_, v := getVersion(t, vs, id)
			if found, err := vt.TouchVersion(ctx(t), id, v, data, expires); err != nil || !found {
				t.Fatalf("TouchVersion to an earlier expiry: found %v, %v", found, err)
			}
			return data
		})
	}
	// Halfway to the expiry (less what EarlyExpiry allows) the sessions are
	// there (unless this machine is so slow that it has already passed: then
	// there is nothing to check). Checked halfway rather than at once, so
	// that a store that keeps them for a fraction of the time asked (a TTL
	// in the wrong unit) fails.
	time.Sleep(time.Until(expires.Add(-cfg.early - ExpiryWait/2)))
	before := func(id string, want []byte, what string) {
		t.Helper()
		got, found, err := st.Get(ctx(t), id)
		if err != nil {
			t.Fatalf("Get before expiry: %v", err)
		} else if time.Now().Before(expires.Add(-cfg.early)) && !found {
			t.Fatalf("Get of a session %s found nothing before its expiry", what)
		} else if found && !bytes.Equal(got, want) {
			t.Fatalf("Get of a session %s before its expiry = %s, want %s", what, short(got), short(want))
		}
	}
	before(plain, plainData, "set to expire")
	for i, id := range shortenedIDs {
		before(id, shortened[i].data, "whose "+shortened[i].what+" set an earlier expiry")
	}

	time.Sleep(time.Until(expires) + slowest + expiryMargin)

	t.Run("ExpiredSessionIsNeverReturned", func(t *testing.T) {
		mustBeMissing(t, st, plain)
		if versioned {
			if data, v, found, err := vs.GetVersion(ctx(t), plain); err != nil || found || data != nil || v != "" {
				t.Errorf("GetVersion of expired session = %s, %q, found %v, %v; want nothing", short(data), v, found, err)
			}
			mustBeMissing(t, st, created)
		}
	})
	t.Run("EarlierExpiryIsKept", func(t *testing.T) {
		for i, id := range shortenedIDs {
			if got, found, err := st.Get(ctx(t), id); err != nil || found || got != nil {
				t.Errorf("Get after the earlier expiry that %s set = %s, found %v, %v; want nothing", shortened[i].what, short(got), found, err)
			}
		}
	})
	t.Run("TouchOfExpiredSessionIsNotFound", func(t *testing.T) {
		if !canTouch {
			t.Skip("store is not a session.Toucher")
		}
		if found, err := tc.Touch(ctx(t), plain, later()); err != nil || found {
			t.Errorf("Touch of expired session: %v, want not found, no error", err)
		}
		mustBeMissing(t, st, plain)
	})
	t.Run("TouchedSessionOutlivesItsOriginalExpiry", func(t *testing.T) {
		if !canTouch {
			t.Skip("store is not a session.Toucher")
		}
		mustGet(t, st, touched, touchedData)
	})
	t.Run("LoadTouchedSessionOutlivesItsOriginalExpiry", func(t *testing.T) {
		if !loadTouches {
			t.Skip("store is not a session.GetToucher")
		}
		mustGet(t, st, loadTouched, loadTouchedData)
	})
	t.Run("GetAndTouchOfExpiredSessionIsNotFound", func(t *testing.T) {
		if !loadTouches {
			t.Skip("store is not a session.GetToucher")
		}
		if data, _, found, err := gt.GetAndTouch(ctx(t), plain, later()); err != nil || found || data != nil {
			t.Errorf("GetAndTouch of an expired session = %s, found %v, %v; want nothing", short(data), found, err)
		}
		mustBeMissing(t, st, plain)
	})
	t.Run("VersionTouchedSessionOutlivesItsOriginalExpiry", func(t *testing.T) {
		if !versionTouches {
			t.Skip("store is not a session.VersionToucher")
		}
		mustGet(t, st, versionTouched, versionTouchedData)
	})
	t.Run("TouchVersionOfSessionWrittenSinceTouchesIt", func(t *testing.T) {
		if !versionTouches {
			t.Skip("store is not a session.VersionToucher")
		}
		mustGet(t, st, touchedSince, touchedSinceData)
	})
	t.Run("TouchVersionOfExpiredSessionIsNotFoundAndRevivesNothing", func(t *testing.T) {
		if !versionTouches {
			t.Skip("store is not a session.VersionToucher")
		}
		if found, err := vt.TouchVersion(ctx(t), versionedID, oldVersion, versionedData, later()); err != nil || found {
			t.Errorf("TouchVersion of an expired session: found %v, %v; want not found, no error", found, err)
		}
		mustBeMissing(t, st, versionedID)
	})
	t.Run("CompareAndSwapOnExpiredSessionConflicts", func(t *testing.T) {
		if !versioned {
			t.Skip("store is not a session.VersionedStore")
		}
		if _, swapped, err := vs.CompareAndSwap(ctx(t), versionedID, oldVersion, Document(100), later()); err != nil || swapped {
			t.Errorf("CompareAndSwap with the version of an expired session: %v, want not swapped, no error", err)
		}
		mustBeMissing(t, st, versionedID)
	})
	t.Run("CreateIfAbsentReplacesExpiredSession", func(t *testing.T) {
		if !versioned {
			t.Skip("store is not a session.VersionedStore")
		}
		data := Document(100)
		if _, swapped, err := vs.CompareAndSwap(ctx(t), plain, "", data, later()); err != nil || !swapped {
			t.Fatalf("CompareAndSwap create over an expired session: %v, want nil", err)
		}
		mustGet(t, st, plain, data)
	})
	t.Run("ExpiredSessionIsNotListed", func(t *testing.T) {
		if !lists {
			t.Skip("store is not a session.Lister")
		}
		want := []string{keep}
		if canTouch {
			want = append(want, touched)
		}
		if versioned {
			want = append(want, plain) // re-created by CreateIfAbsentReplacesExpiredSession
		}
		if versionTouches {
			want = append(want, versionTouched, touchedSince)
		}
		if loadTouches {
			want = append(want, loadTouched)
		}
		ids, err := ls.IDs(ctx(t))
		if err != nil {
			t.Fatalf("IDs: %v", err)
		}
		slices.Sort(ids)
		slices.Sort(want)
		if !slices.Equal(ids, want) {
			t.Errorf("IDs = %q, want %q", ids, want)
		}
		n, err := ls.Count(ctx(t))
		if err != nil {
			t.Fatalf("Count: %v", err)
		}
		if n != len(want) {
			t.Errorf("Count = %d, want %d", n, len(want))
		}
	})
	t.Run("PurgeExpiredRemovesOnlyExpiredSessions", func(t *testing.T) {
		p := capability[session.Purger](t, st)
		// At most these have expired: plain (unless re-created), unread,
		// versionedID, created and the shortened ones.
		most := 4 + len(shortenedIDs)
		n, err := p.PurgeExpired(ctx(t))
		if err != nil {
			t.Fatalf("PurgeExpired: %v", err)
		}
		if n < 0 || n > most {
			t.Errorf("PurgeExpired = %d, want at most the %d expired sessions", n, most)
		}
		if n, err := p.PurgeExpired(ctx(t)); err != nil || n != 0 {
			t.Errorf("second PurgeExpired = %d, %v; want 0: the first removed every expired session", n, err)
		}
		mustGet(t, st, keep, keepData)
		if canTouch {
			mustGet(t, st, touched, touchedData)
		}
		if loadTouches {
			mustGet(t, st, loadTouched, loadTouchedData)
		}
	})
	mustGet(t, st, keep, keepData)
	mustBeMissing(t, st, unread)
}

func testTouch(t *testing.T, newStore func(*testing.T) session.Store, cfg *config) {
	st := newStore(t)
	tc := capability[session.Toucher](t, st)
	t.Run("KeepsTheBytes", func(t *testing.T) {
		id, data := NewID(), Document(300)
		mustSet(t, st, id, data, later())
		if found, err := tc.Touch(ctx(t), id, time.Now().Add(2*time.Hour)); err != nil || !found {
			t.Fatalf("Touch: %v", err)
		}
		mustGet(t, st, id, data)
	})
	t.Run("MissingSessionIsNotFoundAndNotCreated", func(t *testing.T) {
		id := NewID()
		if found, err := tc.Touch(ctx(t), id, later()); err != nil || found {
			t.Fatalf("Touch of a missing session: %v, want not found, no error", err)
		}
		mustBeMissing(t, st, id)
	})
	t.Run("DestroyedSessionIsNotFoundAndNotCreated", func(t *testing.T) {
		id := NewID()
		mustSet(t, st, id, Document(100), later())
		if err := st.Destroy(ctx(t), id); err != nil {
			t.Fatal(err)
		}
		if found, err := tc.Touch(ctx(t), id, later()); err != nil || found {
			t.Fatalf("Touch of a destroyed session: %v, want not found, no error", err)
		}
		mustBeMissing(t, st, id)
	})
}

// getVersion returns the current data and version of id, which must be non-empty.
func getVersion(t *testing.T, vs session.VersionedStore, id string) ([]byte, string) {
	t.Helper()
	data, v, found, err := vs.GetVersion(ctx(t), id)
	if err != nil || !found {
		t.Fatalf("GetVersion(%q): found %v, %v; want the stored session", id, found, err)
	}
	if v == "" {
		t.Fatalf("GetVersion(%q) returned the empty version for a stored session", id)
	}
	return data, v
}

// mustConflict asserts that a CompareAndSwap of id from old stores nothing
// and says so without an error.
func mustConflict(t *testing.T, vs session.VersionedStore, id string, old string, what string) {
	t.Helper()
	v, swapped, err := vs.CompareAndSwap(ctx(t), id, old, Document(100), later())
	if err != nil || swapped {
		t.Fatalf("CompareAndSwap %s = %q, swapped %v, %v; want not swapped, no error", what, v, swapped, err)
	}
}

func testCAS(t *testing.T, newStore func(*testing.T) session.Store, cfg *config) {
	st := newStore(t)
	vs := capability[session.VersionedStore](t, st)
	t.Run("GetVersionReturnsDataAndVersion", func(t *testing.T) {
		id, data := NewID(), Document(200)
		mustSet(t, st, id, data, later())
		got, _ := getVersion(t, vs, id)
		if !bytes.Equal(got, data) {
			t.Fatalf("GetVersion data = %s, want %s", short(got), short(data))
		}
	})
	t.Run("GetVersionOfMissingSessionIsNotFound", func(t *testing.T) {
		if data, v, found, err := vs.GetVersion(ctx(t), NewID()); err != nil || found || data != nil || v != "" {
			t.Fatalf("GetVersion of a missing session = %s, %q, found %v, %v; want not found, no error", short(data), v, found, err)
		}
	})
	t.Run("CurrentVersionSucceeds", func(t *testing.T) {
		id := NewID()
		mustSet(t, st, id, Document(100), later())
		_, v := getVersion(t, vs, id)
		next := Document(120)
		if _, swapped, err := vs.CompareAndSwap(ctx(t), id, v, next, later()); err != nil || !swapped {
			t.Fatalf("CompareAndSwap with the current version: %v", err)
		}
		mustGet(t, st, id, next)
	})
	t.Run("StaleVersionConflictsAndChangesNothing", func(t *testing.T) {
		id := NewID()
		mustSet(t, st, id, Document(100), later())
		_, stale := getVersion(t, vs, id)
		current := Document(130)
		if _, swapped, err := vs.CompareAndSwap(ctx(t), id, stale, current, later()); err != nil || !swapped {
			t.Fatalf("first CompareAndSwap: %v", err)
		}
		mustConflict(t, vs, id, stale, "with a stale version")
		mustGet(t, st, id, current)
	})
	t.Run("PlainSetMakesOldVersionStale", func(t *testing.T) {
		id := NewID()
		mustSet(t, st, id, Document(100), later())
		_, stale := getVersion(t, vs, id)
		current := Document(100)
		mustSet(t, st, id, current, later()) // another writer, say an Express app
		mustConflict(t, vs, id, stale, "after a plain Set")
		mustGet(t, st, id, current)
	})
	t.Run("DestroyedSessionConflictsAndIsNotCreated", func(t *testing.T) {
		id := NewID()
		mustSet(t, st, id, Document(100), later())
		_, v := getVersion(t, vs, id)
		if err := st.Destroy(ctx(t), id); err != nil {
			t.Fatal(err)
		}
		mustConflict(t, vs, id, v, "on a destroyed session")
		mustBeMissing(t, st, id)
	})
	t.Run("MissingSessionConflictsAndIsNotCreated", func(t *testing.T) {
		other := NewID()
		mustSet(t, st, other, Document(100), later())
		_, v := getVersion(t, vs, other) // a well-formed version, of another session
		id := NewID()
		mustConflict(t, vs, id, v, "on a session that never existed")
		mustBeMissing(t, st, id)
	})
	t.Run("CreateIfAbsentSucceedsWhenAbsent", func(t *testing.T) {
		id, data := NewID(), Document(100)
		if _, swapped, err := vs.CompareAndSwap(ctx(t), id, "", data, later()); err != nil || !swapped {
			t.Fatalf("CompareAndSwap create-if-absent: %v", err)
		}
		mustGet(t, st, id, data)
	})
	t.Run("CreateIfAbsentConflictsWhenPresent", func(t *testing.T) {
		id, data := NewID(), Document(100)
		mustSet(t, st, id, data, later())
		mustConflict(t, vs, id, "", "create-if-absent over an existing session")
		mustGet(t, st, id, data)
	})
	t.Run("ReturnedVersionWorksForNextSwap", func(t *testing.T) {
		id := NewID()
		v, swapped, err := vs.CompareAndSwap(ctx(t), id, "", Document(100), later())
		if err != nil || !swapped {
			t.Fatalf("create: swapped %v, %v", swapped, err)
		}
		for i := range 3 {
			if v == "" { // the store cannot tell; ask it
				_, v = getVersion(t, vs, id)
			}
			data := Document(100 + i)
			next, swapped, err := vs.CompareAndSwap(ctx(t), id, v, data, later())
			if err != nil || !swapped {
				t.Fatalf("swap #%d with the version returned by the previous one: swapped %v, %v", i+1, swapped, err)
			}
			mustGet(t, st, id, data)
			if next != "" {
				if _, cur := getVersion(t, vs, id); cur != next {
					t.Fatalf("swap #%d returned version %q, GetVersion says %q", i+1, next, cur)
				}
				mustConflict(t, vs, id, v, "with the version before the last swap")
			}
			v = next
		}
	})
	t.Run("OnlyOneOfParallelSwapsFromOneVersionWins", func(t *testing.T) {
		id := NewID()
		mustSet(t, st, id, Document(100), later())
		_, v := getVersion(t, vs, id)
		const n = 16
		wins, datas := parallelSwaps(t, vs, id, v, n)
		if wins != 1 {
			t.Fatalf("%d of %d parallel swaps from one version succeeded, want exactly 1", wins, n)
		}
		got, _, err := st.Get(ctx(t), id)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(datas, func(d []byte) bool { return bytes.Equal(d, got) }) {
			t.Fatalf("after parallel swaps Get = %s, want one of the written values", short(got))
		}
	})
	// The manager's create-if-absent must not let two new sessions share
	// an id (RepeatedGeneratedIDNeverJoinsAnotherSession, one at a time).
	t.Run("OnlyOneOfParallelCreatesWins", func(t *testing.T) {
		id := NewID()
		const n = 16
		wins, datas := parallelSwaps(t, vs, id, "", n)
		if wins != 1 {
			t.Fatalf("%d of %d parallel creates of one id succeeded, want exactly 1", wins, n)
		}
		got, _, err := st.Get(ctx(t), id)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(datas, func(d []byte) bool { return bytes.Equal(d, got) }) {
			t.Fatalf("after parallel creates Get = %s, want one of the written values", short(got))
		}
	})
}

// parallelSwaps runs n CompareAndSwap calls of id from old at once, each
// with its own value, and returns how many succeeded and the values.
func parallelSwaps(t *testing.T, vs session.VersionedStore, id, old string, n int) (wins int, datas [][]byte) {
	t.Helper()
	type result struct {
		swapped bool
		err     error
	}
	results := make(chan result, n)
	datas = make([][]byte, n)
	for i := range n {
		datas[i] = Document(100 + i)
	}
	start := make(chan struct{})
	for i := range n {
		go func() {
			<-start
			_, swapped, err := vs.CompareAndSwap(ctx(t), id, old, datas[i], later())
			results <- result{swapped, err}
		}()
	}
	close(start)
	for range n {
		r := <-results
		switch {
		case r.err != nil:
			t.Errorf("parallel CompareAndSwap: %v, want no error", r.err)
		case r.swapped:
			wins++
		}
	}
	return wins, datas
}

func testLister(t *testing.T, newStore func(*testing.T) session.Store, cfg *config) {
	if _, ok := newStore(t).(session.Lister); !ok {
		t.Skip("store is not a session.Lister")
	}
	// fresh returns a new store and checks that it is empty.
	fresh := func(t *testing.T) (session.Store, session.Lister) {
		st := newStore(t)
		ls := st.(session.Lister)
		if n, err := ls.Count(ctx(t)); err != nil || n != 0 {
			t.Fatalf("Count of a new store = %d, %v; newStore must return an empty store", n, err)
		}
		return st, ls
	}
	fill := func(t *testing.T, st session.Store) []string {
		ids := []string{NewID(), NewID(), NewID()}
		for _, id := range ids {
			mustSet(t, st, id, Document(100), later())
		}
		mustSet(t, st, NewID(), Document(100), time.Now().Add(-time.Minute)) // deleted at once
		gone := NewID()
		mustSet(t, st, gone, Document(100), later())
		if err := st.Destroy(ctx(t), gone); err != nil {
			t.Fatal(err)
		}
		if ix, ok := st.(session.UserIndex); ok { // index entries are no sessions
			mustIndex(t, ix, "alice", ids[0], time.Now(), later())
			mustIndex(t, ix, "alice", gone, time.Now(), later())
		}
		slices.Sort(ids)
		return ids
	}
	t.Run("IDsListsStoredSessions", func(t *testing.T) {
		t.Parallel()
		st, ls := fresh(t)
		want := fill(t, st)
		got, err := ls.IDs(ctx(t))
		if err != nil {
			t.Fatalf("IDs: %v", err)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("IDs = %q, want %q", got, want)
		}
	})
	t.Run("CountCountsStoredSessions", func(t *testing.T) {
		t.Parallel()
		st, ls := fresh(t)
		want := fill(t, st)
		n, err := ls.Count(ctx(t))
		if err != nil {
			t.Fatalf("Count: %v", err)
		}
		if n != len(want) {
			t.Fatalf("Count = %d, want %d", n, len(want))
		}
	})
	t.Run("ClearDeletesEverySession", func(t *testing.T) {
		t.Parallel()
		st, ls := fresh(t)
		ids := fill(t, st)
		if err := ls.Clear(ctx(t)); err != nil {
			t.Fatalf("Clear: %v", err)
		}
		for _, id := range ids {
			mustBeMissing(t, st, id)
		}
		if n, err := ls.Count(ctx(t)); err != nil || n != 0 {
			t.Fatalf("Count after Clear = %d, %v; want 0", n, err)
		}
		if got, err := ls.IDs(ctx(t)); err != nil || len(got) != 0 {
			t.Fatalf("IDs after Clear = %q, %v; want none", got, err)
		}
		if ix, ok := st.(session.UserIndex); ok {
			// The user index is the store's too: no stale entries stay.
			if got := userSessions(t, ix, "alice"); len(got) != 0 {
				t.Fatalf("the user index after Clear lists %d entries of alice; want none", len(got))
			}
		}
		// The store still works after Clear.
		id, data := NewID(), Document(100)
		mustSet(t, st, id, data, later())
		mustGet(t, st, id, data)
	})
	t.Run("ClearLeavesOtherStoresAlone", func(t *testing.T) {
		t.Parallel()
		st, ls := fresh(t)
		other := newStore(t)
		id, data := NewID(), Document(100)
		mustSet(t, other, id, data, later())
		ix, indexes := other.(session.UserIndex)
		if indexes {
			mustIndex(t, ix, "alice", id, time.Now(), later())
		}
		fill(t, st)
		if err := ls.Clear(ctx(t)); err != nil {
			t.Fatalf("Clear: %v", err)
		}
		mustGet(t, other, id, data)
		if indexes {
			if e, ok := userSessions(t, ix, "alice")[id]; !ok || !bytes.Equal(e.data, data) {
				t.Fatalf("the other store's user index after Clear: listed %v, data %s; want its session with its data", ok, short(e.data))
			}
		}
	})
}

func testLargeValue(t *testing.T, newStore func(*testing.T) session.Store, cfg *config) {
	st := newStore(t)
	id, data := NewID(), Document(1<<20)
	mustSet(t, st, id, data, later())
	mustGet(t, st, id, data)
	if vs, ok := st.(session.VersionedStore); ok {
		_, v := getVersion(t, vs, id)
		next := Document(1 << 20)
		if _, swapped, err := vs.CompareAndSwap(ctx(t), id, v, next, later()); err != nil || !swapped {
			t.Fatalf("CompareAndSwap of a 1 MiB value: %v", err)
		}
		mustGet(t, st, id, next)
	}
}

func testURLSafeIDs(t *testing.T, newStore func(*testing.T) session.Store, cfg *config) {
	st := newStore(t)
	prefix := NewID()[:8]
	ids := []string{prefix + URLSafe, prefix + strings.ToLower(URLSafe), prefix + strings.ToUpper(URLSafe)}
	for _, c := range URLSafe {
		ids = append(ids, prefix+string(c), prefix+"."+string(c)+".")
	}
	values := make(map[string][]byte, len(ids))
	for _, id := range ids {
		if _, dup := values[id]; dup {
			continue
		}
		values[id] = []byte(fmt.Sprintf(`{"id":%q,"nonce":%q}`, id, NewID()))
		mustSet(t, st, id, values[id], later())
	}
	for id, data := range values {
		mustGet(t, st, id, data)
	}
	if ls, ok := st.(session.Lister); ok {
		got, err := ls.IDs(ctx(t))
		if err != nil {
			t.Fatalf("IDs: %v", err)
		}
		want := make([]string, 0, len(values))
		for id := range values {
			want = append(want, id)
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("IDs = %q, want %q", got, want)
		}
	}
	for id := range values {
		if err := st.Destroy(ctx(t), id); err != nil {
			t.Fatalf("Destroy(%q): %v", id, err)
		}
		mustBeMissing(t, st, id)
	}
}

func testCancelled(t *testing.T, newStore func(*testing.T) session.Store, cfg *config) {
	st := newStore(t)
	id := NewID()
	mustSet(t, st, id, Document(100), later())
	c, cancel := context.WithCancel(ctx(t))
	cancel()
	check := func(t *testing.T, op string, err error) {
		t.Helper()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: %v, want an error wrapping context.Canceled", op, err)
		}
	}
	_, _, err := st.Get(c, id)
	check(t, "Get", err)
	check(t, "Set", st.Set(c, NewID(), Document(100), later()))
	check(t, "Destroy", st.Destroy(c, id))
	if tc, ok := st.(session.Toucher); ok {
		_, err := tc.Touch(c, id, later())
		check(t, "Touch", err)
	}
	if vs, ok := st.(session.VersionedStore); ok {
		_, _, _, err := vs.GetVersion(c, id)
		check(t, "GetVersion", err)
		_, _, err = vs.CompareAndSwap(c, NewID(), "", Document(100), later())
		check(t, "CompareAndSwap", err)
	}
	if ls, ok := st.(session.Lister); ok {
		_, err := ls.IDs(c)
		check(t, "IDs", err)
		_, err = ls.Count(c)
		check(t, "Count", err)
		check(t, "Clear", ls.Clear(c))
	}
	if gt, ok := st.(session.GetToucher); ok {
		_, _, _, err := gt.GetAndTouch(c, id, later())
		check(t, "GetAndTouch", err)
	}
	if vt, ok := st.(session.VersionToucher); ok {
		_, err := vt.TouchVersion(c, id, "", Document(100), later())
		check(t, "TouchVersion", err)
	}
	if p, ok := st.(session.Purger); ok {
		_, err := p.PurgeExpired(c)
		check(t, "PurgeExpired", err)
	}
	if ix, ok := st.(session.UserIndex); ok {
		check(t, "IndexUserSession", ix.IndexUserSession(c, "alice", id, time.Now(), later()))
		check(t, "UserSessions", ix.UserSessions(c, "alice", func(string, time.Time, time.Time, []byte) {}))
	}
	if rm, ok := st.(session.UserIndexRemover); ok {
		check(t, "UnindexUserSession", rm.UnindexUserSession(c, "alice", id))
	}
	// A cancelled call does not break the store.
	id2, data := NewID(), Document(100)
	mustSet(t, st, id2, data, later())
	mustGet(t, st, id2, data)
}
