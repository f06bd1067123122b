package storetest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/storetest"
)

// refStore is a plain, correct store (one map, one mutex) into which the
// tests below put one bug at a time, to show that the suite catches it.
type refStore struct {
	bug   string
	mu    *sync.Mutex
	m     map[string]*refEntry
	users map[string]map[string]refIndexed // user -> session id -> entry
	seq   int
	now   func() time.Time
}

type refIndexed struct{ used, expires time.Time }

type refEntry struct {
	data    []byte
	expires time.Time
	version int
}

func newRef(bug string) *refStore {
	return &refStore{bug: bug, mu: new(sync.Mutex), m: map[string]*refEntry{}, users: map[string]map[string]refIndexed{}, now: time.Now}
}

// shared is the map every "clearsEveryone" store uses.
var shared = struct {
	mu sync.Mutex
	m  map[string]*refEntry
}{m: map[string]*refEntry{}}

func (s *refStore) key(id string) string {
	switch s.bug {
	case "caseInsensitiveIDs":
		return strings.ToLower(id)
	case "cutsIDsAtNUL": // as a C string would
		id, _, _ = strings.Cut(id, "\x00")
	case "escapesSpaces": // but not the escape character
		id = strings.ReplaceAll(id, " ", "%20")
	}
	return id
}

func (s *refStore) ctx(ctx context.Context) error {
	if s.bug == "ignoresContext" {
		return nil
	}
	return ctx.Err()
}

// ctxOf is ctx for the methods that bug "loadTouchIgnoresContext" (and
// "ignoresContext") overlooks.
func (s *refStore) ctxOf(ctx context.Context) error {
	if s.bug == "loadTouchIgnoresContext" {
		return nil
	}
	return s.ctx(ctx)
}

func (s *refStore) live(id string) *refEntry {
	e := s.m[s.key(id)]
	if e == nil || (s.bug != "noExpiryCheck" && !s.now().Before(e.expires)) {
		return nil
	}
	if s.bug == "endsEarly" && !s.now().Before(e.expires.Add(-endsEarlyBy)) {
		return nil // as memcachedstore, on a server that counts whole seconds
	}
	return e
}

// endsEarlyBy is how long before its expiry the "endsEarly" store drops a
// session: more than storetest.ExpiryWait, so that without EarlyExpiry the
// suite's sessions are gone before it reads them.
const endsEarlyBy = 2 * time.Second

// notFound is what a lookup of a missing session returns besides found == false.
func (s *refStore) notFound() error {
	if s.bug == "notFoundIsAnError" {
		return errors.New("not found")
	}
	return nil
}

func (s *refStore) in(data []byte) []byte {
	if s.bug == "keepsCallerSlice" {
		return data
	}
	if s.bug == "truncatesLargeValues" && len(data) > 512<<10 {
		data = data[:512<<10]
	}
	if s.bug == "manglesNonUTF8" { // as mongostore on FerretDB did
		return []byte(strings.ToValidUTF8(string(data), "\ufffd"))
	}
	if s.bug == "reformatsJSON" && json.Valid(data) { // as a jsonb column would
		var b bytes.Buffer
		json.Compact(&b, data)
		return b.Bytes()
	}
	return bytes.Clone(data)
}

// errRefused is the error of a store that keeps only JSON (bugs
// "refusesNonJSON", "refusalLosesStored", "refusalUnwrapped").
var errRefused = errors.New("refstore: not JSON")

// refuse returns the error of a store that keeps only JSON for data, nil
// when it keeps data. With bug "refusalLosesStored" it deletes the stored
// session first.
func (s *refStore) refuse(id string, data []byte) error {
	switch {
	case json.Valid(data) && utf8.Valid(data):
		return nil
	case s.bug == "refusesNonJSON":
		return fmt.Errorf("refstore: set: %w", errRefused)
	case s.bug == "refusalLosesStored":
		delete(s.m, s.key(id))
		return fmt.Errorf("refstore: set: %w", errRefused)
	case s.bug == "refusalUnwrapped":
		return errors.New("refstore: set: not JSON")
	}
	return nil
}

func (s *refStore) expiry(t time.Time) time.Time {
	if t.IsZero() {
		return s.now().Add(time.Hour)
	}
	if s.bug == "farFutureOverflows" && t.Sub(s.now()) == math.MaxInt64 {
		return s.now().Add(-1) // a TTL rounded up past time.Duration's range wraps negative
	}
	return t
}

func (s *refStore) Get(ctx context.Context, id string) ([]byte, bool, error) {
	b, _, found, err := s.GetVersion(ctx, id)
	return b, found, err
}

// errNULID is the error of bug "readOfNULIDFails" for an id with a NUL
// byte, on reads as on writes (as pgstore's was: PostgreSQL text holds no NUL).
var errNULID = errors.New("refstore: invalid byte sequence 0x00")

func (s *refStore) GetVersion(ctx context.Context, id string) ([]byte, string, bool, error) {
	if err := s.ctx(ctx); err != nil {
		return nil, "", false, err
	}
	if s.bug == "readOfNULIDFails" && strings.Contains(id, "\x00") {
		return nil, "", false, errNULID
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.live(id)
	if e == nil {
		if s.bug == "countsExpired" { // as memstore: a read deletes what expired
			delete(s.m, s.key(id))
		}
		return nil, "", false, s.notFound()
	}
	out := bytes.Clone(e.data)
	if s.bug == "keepsCallerSlice" {
		out = e.data
	}
	return out, strconv.Itoa(e.version), true, nil
}

func (s *refStore) Set(ctx context.Context, id string, data []byte, expires time.Time) error {
	if err := s.ctx(ctx); err != nil {
		return err
	}
	if s.bug == "readOfNULIDFails" && strings.Contains(id, "\x00") {
		return errNULID
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.refuse(id, data); err != nil {
		return err
	}
	s.put(id, data, expires)
	return nil
}

func (s *refStore) put(id string, data []byte, expires time.Time) {
	if s.bug != "noExpiryCheck" && !expires.IsZero() && !s.now().Before(s.expiry(expires)) {
		delete(s.m, s.key(id))
		return
	}
	s.seq++
	s.m[s.key(id)] = &refEntry{s.in(data), s.expiry(expires), s.seq}
}

func (s *refStore) Destroy(ctx context.Context, id string) error {
	if err := s.ctx(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, s.key(id))
	if s.bug == "destroyUnindexes" {
		for _, entries := range s.users {
			delete(entries, id)
		}
	}
	return nil
}

func (s *refStore) Touch(ctx context.Context, id string, expires time.Time) (bool, error) {
	if err := s.ctx(ctx); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.live(id)
	if e == nil {
		if s.bug == "touchCreates" {
			s.put(id, []byte("{}"), expires)
			return true, nil
		}
		return false, s.notFound()
	}
	if s.bug == "pastIsDefault" && !expires.IsZero() && !expires.After(s.now()) {
		expires = time.Time{}
	}
	if !expires.IsZero() && !s.now().Before(expires) {
		delete(s.m, s.key(id))
		return true, nil
	}
	switch exp := s.expiry(expires); {
	case s.bug == "touchInWrongUnit": // a TTL in seconds sent as milliseconds
		e.expires = s.now().Add(exp.Sub(s.now()) / 1000)
	case s.bug == "touchIgnored":
	case s.bug == "touchOnlyExtends" && exp.Before(e.expires):
	default:
		e.expires = exp
	}
	return true, nil
}

func (s *refStore) GetAndTouch(ctx context.Context, id string, expires time.Time) ([]byte, string, bool, error) {
	if err := s.ctxOf(ctx); err != nil {
		return nil, "", false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.live(id)
	if e == nil {
		return nil, "", false, s.notFound()
	}
	if s.bug == "zeroIsPast" && expires.IsZero() {
		expires = time.Unix(0, 0)
	}
	if !expires.IsZero() && !s.now().Before(expires) {
		delete(s.m, s.key(id))
		return nil, "", false, nil
	}
	e.expires = s.expiry(expires)
	out := bytes.Clone(e.data)
	if s.bug == "loadTouchKeepsSlice" {
		out = e.data
	}
	return out, strconv.Itoa(e.version), true, nil
}

func (s *refStore) TouchVersion(ctx context.Context, id, version string, data []byte, expires time.Time) (bool, error) {
	if err := s.ctxOf(ctx); err != nil {
		return false, err
	}
	if s.bug == "touchVersionOfChangedIsNoTouch" {
		s.mu.Lock()
		e := s.live(id)
		s.mu.Unlock()
		if e != nil && strconv.Itoa(e.version) != version {
			return true, nil
		}
	}
	if s.bug == "pastIsDefault" && !expires.IsZero() && !expires.After(s.now()) {
		expires = time.Time{}
	}
	return s.Touch(ctx, id, expires)
}

func (s *refStore) CompareAndSwap(ctx context.Context, id, old string, data []byte, expires time.Time) (string, bool, error) {
	if err := s.ctx(ctx); err != nil {
		return "", false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.refuse(id, data); err != nil {
		return "", false, err
	}
	if s.bug == "swapManglesNonUTF8" {
		data = []byte(strings.ToValidUTF8(string(data), "\ufffd"))
	}
	e := s.live(id)
	switch {
	case s.bug == "casIgnoresVersion":
	case old == "" && e != nil:
		return "", false, nil
	case old != "" && e == nil && s.bug != "casResurrects":
		return "", false, nil
	case old != "" && e != nil && old != strconv.Itoa(e.version):
		return "", false, nil
	}
	switch {
	case s.bug == "pastIsDefault" && old == "" && !expires.IsZero() && !expires.After(s.now()):
		expires = time.Time{}
	case s.bug == "zeroIsPast" && e != nil && expires.IsZero(): // its create gets it right
		expires = time.Unix(0, 0)
	case s.bug == "casKeepsExpiry" && e != nil && expires.After(s.now()):
		expires = e.expires
	}
	s.put(id, data, expires)
	return strconv.Itoa(s.seq), true, nil
}

func (s *refStore) PurgeExpired(ctx context.Context) (int, error) {
	if err := s.ctxOf(ctx); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for id := range s.m {
		if s.live(id) == nil || s.bug == "purgesEverything" {
			delete(s.m, id)
			n++
		}
	}
	return n, nil
}

func (s *refStore) IndexUserSession(ctx context.Context, user, id string, used, expires time.Time) error {
	if err := s.ctxOf(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.users[user] == nil {
		s.users[user] = map[string]refIndexed{}
	}
	exp := s.expiry(expires)
	if old, ok := s.users[user][id]; ok && s.bug == "indexOnlyExtends" && old.expires.After(exp) {
		exp = old.expires
	}
	s.users[user][id] = refIndexed{used, exp}
	return nil
}

func (s *refStore) UnindexUserSession(ctx context.Context, user, id string) error {
	if err := s.ctx(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.users[user], id)
	return nil
}

func (s *refStore) UserSessions(ctx context.Context, user string, yield func(id string, used, expires time.Time, data []byte)) error {
	if err := s.ctxOf(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, ix := range s.users[user] {
		deadline := ix.expires.Add(session.IndexGrace)
		if s.bug == "prunesWithoutGrace" {
			deadline = ix.expires
		}
		if !s.now().Before(deadline) && s.bug != "listsPastGrace" {
			delete(s.users[user], id)
			continue
		}
		var data []byte
		if e := s.live(id); e != nil {
			data = bytes.Clone(e.data)
		}
		yield(id, ix.used, ix.expires, data)
	}
	return nil
}

func (s *refStore) IDs(ctx context.Context) ([]string, error) {
	if err := s.ctx(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for id := range s.m {
		if s.live(id) != nil || s.bug == "listsExpired" {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

func (s *refStore) Count(ctx context.Context) (int, error) {
	if err := s.ctx(ctx); err != nil {
		return 0, err
	}
	if s.bug == "countsExpired" {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.m), nil
	}
	ids, err := s.IDs(ctx)
	return len(ids), err
}

func (s *refStore) Clear(ctx context.Context) error {
	if err := s.ctx(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.m)
	if s.bug != "clearKeepsUserIndex" {
		clear(s.users)
	}
	return nil
}

// basicStore hides every optional capability of a refStore.
type basicStore struct{ s *refStore }

func (b basicStore) Get(ctx context.Context, id string) ([]byte, bool, error) {
	return b.s.Get(ctx, id)
}
func (b basicStore) Set(ctx context.Context, id string, d []byte, e time.Time) error {
	return b.s.Set(ctx, id, d, e)
}
func (b basicStore) Destroy(ctx context.Context, id string) error { return b.s.Destroy(ctx, id) }

func newBroken(t *testing.T, bug string) session.Store {
	s := newRef(bug)
	switch bug {
	case "clearsEveryone": // all stores share one map
		s.mu, s.m = &shared.mu, shared.m
		// Start empty as far as this store can tell, as the suite requires.
		s.mu.Lock()
		clear(s.m)
		s.mu.Unlock()
	case "basic":
		return basicStore{s}
	}
	return s
}

// bugs maps each deliberate bug to the subtests that must catch it. (The
// manager test catches casIgnoresVersion only when requests overlap, which is
// usual but not certain, so it is not listed.)
var bugs = map[string][]string{
	"noExpiryCheck":        {"Expiry/ExpiredSessionIsNeverReturned", "PastExpiresDeletes/NewSessionIsNeverReturned"},
	"notFoundIsAnError":    {"GetOfMissingSessionIsNotFound", "Touch/MissingSessionIsNotFoundAndNotCreated"},
	"keepsCallerSlice":     {"CallerBuffersAreNotRetained"},
	"truncatesLargeValues": {"OneMebibyteValueRoundTrips"},
	"caseInsensitiveIDs":   {"EveryURLSafeCharacterInIDs"},
	"cutsIDsAtNUL":         {"OddIDsAreKeptApartOrRefused"},
	"escapesSpaces":        {"OddIDsAreKeptApartOrRefused"},
	"readOfNULIDFails":     {"OddIDsAreKeptApartOrRefused"},
	"ignoresContext":       {"CancelledContext"},
	"touchCreates":         {"Touch/MissingSessionIsNotFoundAndNotCreated", "Touch/DestroyedSessionIsNotFoundAndNotCreated"},
	"touchIgnored":         {"Expiry/TouchedSessionOutlivesItsOriginalExpiry"},
	"casIgnoresVersion":    {"CompareAndSwap/StaleVersionConflictsAndChangesNothing", "CompareAndSwap/CreateIfAbsentConflictsWhenPresent", "RepeatedGeneratedIDNeverJoinsAnotherSession"},
	"casResurrects":        {"CompareAndSwap/DestroyedSessionConflictsAndIsNotCreated", "Expiry/CompareAndSwapOnExpiredSessionConflicts"},
	"listsExpired":         {"Expiry/ExpiredSessionIsNotListed"},
	"clearsEveryone":       {"Lister/ClearLeavesOtherStoresAlone"},
	"clearKeepsUserIndex":  {"Lister/ClearDeletesEverySession"},
	"farFutureOverflows":   {"FarFutureExpiryIsKept/Set", "FarFutureExpiryIsKept/Touch", "FarFutureExpiryIsKept/CompareAndSwap"},
	"endsEarly":            {"Expiry"}, // without EarlyExpiry: see TestEarlyExpiryAcceptsAStoreThatEndsSessionsEarly
	"touchOnlyExtends":     {"Expiry/EarlierExpiryIsKept"},
	"countsExpired":        {"Expiry/ExpiredSessionIsNotListed"},
	"touchInWrongUnit":     {"Expiry"},
	"casKeepsExpiry":       {"Expiry/EarlierExpiryIsKept"},
	"pastIsDefault": {"PastExpiresDeletes/CreateIfAbsentWithPastExpiresCreatesNothing",
		"PastExpiresDeletes/TouchWithPastExpiresDeletes", "PastExpiresDeletes/TouchVersionWithPastExpiresDeletes"},
	"zeroIsPast":                     {"ZeroExpiresIsReadable"},
	"loadTouchIgnoresContext":        {"CancelledContext"},
	"loadTouchKeepsSlice":            {"CallerBuffersAreNotRetained"},
	"touchVersionOfChangedIsNoTouch": {"Expiry/TouchVersionOfSessionWrittenSinceTouchesIt"},
	"purgesEverything":               {"Expiry/PurgeExpiredRemovesOnlyExpiredSessions"},
	"destroyUnindexes":               {"UserIndex/DestroyedSessionIsListedWithoutData"},
	"prunesWithoutGrace":             {"UserIndex/ExpiredSessionIsListedWithoutData"},
	"listsPastGrace":                 {"UserIndex/EntryPastItsGraceIsNotListed"},
	"indexOnlyExtends":               {"UserIndex/ReindexingReplacesTheEntry"},
	"manglesNonUTF8":                 {"AnyBytesRoundTrip/FFFE", "AnyBytesRoundTrip/EveryByte", "BinaryCodecThroughManager"},
	"swapManglesNonUTF8":             {"AnyBytesRoundTrip/FFFE", "AnyBytesRoundTrip/LoneContinuation", "BinaryCodecThroughManager"},
	"reformatsJSON":                  {"AnyBytesRoundTrip/EscapedJSON/SpacesAroundJSON"},
	"refusesNonJSON":                 {"AnyBytesRoundTrip/NUL", "AnyBytesRoundTrip/UTF8ButNotJSON", "BinaryCodecThroughManager"}, // without KeepsOnlyJSON
	"refusalLosesStored":             {"AnyBytesRoundTrip/RefusedFFFE", "AnyBytesRoundTrip/RefusedNUL"},
	"refusalUnwrapped":               {"AnyBytesRoundTrip/RefusedFFFE", "BinaryCodecThroughManager"},
}

// bugOptions are the options the suite runs a broken store with.
var bugOptions = map[string][]storetest.Option{
	"refusalLosesStored": {storetest.KeepsOnlyJSON(errRefused)},
	"refusalUnwrapped":   {storetest.KeepsOnlyJSON(errRefused)},
}

// TestBrokenStores is run by TestSuiteCatchesEachBug in a child process.
func TestBrokenStores(t *testing.T) {
	if os.Getenv("STORETEST_BROKEN") == "" {
		t.Skip("run by TestSuiteCatchesEachBug")
	}
	for bug := range bugs {
		t.Run(bug, func(t *testing.T) {
			t.Parallel()
			storetest.Run(t, func(t *testing.T) session.Store { return newBroken(t, bug) }, bugOptions[bug]...)
		})
	}
}

func TestSuiteCatchesEachBug(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the suite a dozen times in a child process")
	}
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestBrokenStores$", "-test.v", "-test.parallel=64", "-test.count=1")
	cmd.Env = append(os.Environ(), "STORETEST_BROKEN=1")
	out, _ := cmd.CombinedOutput()
	failed := map[string]bool{}
	for _, m := range regexp.MustCompile(`--- FAIL: TestBrokenStores/(\w+)/storetest/(\S+)`).FindAllStringSubmatch(string(out), -1) {
		failed[m[1]+"/"+m[2]] = true
	}
	for bug, want := range bugs {
		for _, sub := range want {
			if !failed[bug+"/"+sub] {
				t.Errorf("a store with bug %s passed %s", bug, sub)
			}
		}
	}
	if t.Failed() {
		t.Logf("child output:\n%s", out)
	}
}

func TestCorrectStorePasses(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) session.Store { return newRef("") })
}

// TestEarlyExpiryAcceptsAStoreThatEndsSessionsEarly: a store that drops
// sessions 2 s before their expiry (as memcachedstore may, Memcached
// counting whole seconds) fails the suite (see bugs), unless it runs with
// EarlyExpiry of at least that.
func TestEarlyExpiryAcceptsAStoreThatEndsSessionsEarly(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) session.Store { return newBroken(t, "endsEarly") }, storetest.EarlyExpiry(endsEarlyBy))
}

// TestKeepsOnlyJSONAcceptsAStoreThatRefusesBinaryValues: a store that
// refuses values that are not JSON, with its error and losing nothing,
// fails the suite (see bugs), unless it runs with KeepsOnlyJSON of that
// error.
func TestKeepsOnlyJSONAcceptsAStoreThatRefusesBinaryValues(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) session.Store { return newBroken(t, "refusesNonJSON") }, storetest.KeepsOnlyJSON(errRefused))
}

func TestStoreWithoutOptionalCapabilitiesPasses(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) session.Store { return newBroken(t, "basic") })
}

func TestDocumentIsValidJSONOfTheAskedSize(t *testing.T) {
	for _, n := range []int{0, 10, 300, 1 << 20} {
		d := storetest.Document(n)
		if len(d) < n {
			t.Errorf("Document(%d) has %d bytes", n, len(d))
		}
		if !json.Valid(d) {
			t.Errorf("Document(%d) is not valid JSON: %s", n, d)
		}
	}
	if bytes.Equal(storetest.Document(100), storetest.Document(100)) {
		t.Error("two documents are equal; each must be different")
	}
	if slices.Contains([]string{storetest.NewID()}, storetest.NewID()) {
		t.Error("NewID repeated itself")
	}
}
