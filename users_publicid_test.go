package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// uuidv7IDs makes ids as a GenerateID of UUIDv7s does within one
// millisecond: the same first characters (the time), then a counter.
type uuidv7IDs struct{ n atomic.Int64 }

func (g *uuidv7IDs) generate(*http.Request) string {
	return fmt.Sprintf("0190d3a1-7c00-7000-8000-%012x", g.n.Add(1))
}

// A devices page names each device in its "log out" form. ShortID, which
// it used, is the id's first characters: with ids that share them (UUIDv7s
// made close together, a custom GenerateID or an Express genid with a
// prefix) every device of the user had the same one, and the page could
// log none of them out alone. Each has its own PublicID, and
// DestroyUserSessionByPublicID ends that device's session and no other, at
// the cost of the listing, a destroy and an index removal.
func TestDestroyUserSessionByPublicIDEndsEachOfSessionsThatShareAShortID(t *testing.T) {
	cs := newCountingStore(t)
	var gen uuidv7IDs
	m, _ := newTestManager(t, Options{Store: oneCallsStore{cs}, GenerateID: gen.generate})
	m.now = cs.clock.Now
	h := m.Handler(usersApp(t))
	ada, adaIDs := devices(t, h, "ada", 3)
	bob, _ := devices(t, h, "bob", 1)
	infos, err := m.UserSessions(t.Context(), "ada")
	if err != nil || len(infos) != 3 {
		t.Fatalf("UserSessions(ada) = %d sessions, %v; want 3", len(infos), err)
	}
	publicIDs := map[string]string{} // id: PublicID
	for _, info := range infos {
		if info.ShortID() != infos[0].ShortID() {
			t.Fatalf("setting up: ShortIDs %q and %q differ; want ids that share theirs", info.ShortID(), infos[0].ShortID())
		}
		publicIDs[info.ID] = info.PublicID()
	}
	distinct := map[string]bool{}
	for _, p := range publicIDs {
		distinct[p] = true
	}
	if len(distinct) != 3 {
		t.Fatalf("PublicIDs %v: want 3 different ones", publicIDs)
	}

	for _, end := range []int{1, 0} {
		cs.reset()
		ok, err := m.DestroyUserSessionByPublicID(t.Context(), "ada", publicIDs[adaIDs[end]])
		if !ok || err != nil {
			t.Fatalf("DestroyUserSessionByPublicID(ada, device %d) = %v, %v; want true, nil", end, ok, err)
		}
		calls := map[string]int{}
		for _, op := range []string{"Get", "GetVersion", "Destroy", "UnindexUserSession", "UserSessions"} {
			calls[op] = cs.n(op)
		}
		if want := map[string]int{"Get": 0, "GetVersion": 0, "Destroy": 1, "UnindexUserSession": 1, "UserSessions": 1}; !maps.Equal(calls, want) {
			t.Errorf("device %d: store calls %v, want %v (the listing, a destroy, an index removal)", end, calls, want)
		}
	}
	for i, want := range []string{"", "", "ada"} {
		if got := ada[i].get("/whoami").Body.String(); got != want {
			t.Errorf("ada's device %d is logged in as %q, want %q", i, got, want)
		}
	}
	if got := bob[0].get("/whoami").Body.String(); got != "bob" {
		t.Errorf("bob's device is logged in as %q, want bob", got)
	}
	if got := indexOf(t, m, "ada"); len(got) != 1 || got[0] != adaIDs[2] {
		t.Errorf("ada's index %v, want her third device's alone", short(got))
	}
	// Again: the session is gone.
	if ok, err := m.DestroyUserSessionByPublicID(t.Context(), "ada", publicIDs[adaIDs[1]]); ok || err != nil {
		t.Errorf("DestroyUserSessionByPublicID of the ended session again = %v, %v; want false, nil", ok, err)
	}
}

// The user is the logged-in one, and a PublicID is looked for among their
// sessions alone: another user's (posted by a user who saw it, or guessed
// it), one of a session the user logged out of or that another user's
// login took over, ends nothing, and neither does a stale index entry that
// lists another user's session under this one.
func TestDestroyUserSessionByPublicIDOfAnotherUsersSessionEndsNothing(t *testing.T) {
	cs := newCountingStore(t)
	m, _ := newTestManager(t, Options{Store: oneCallsStore{cs}})
	m.now = cs.clock.Now
	h := m.Handler(usersApp(t))
	ada, adaIDs := devices(t, h, "ada", 1)
	bob, bobIDs := devices(t, h, "bob", 1)
	unbound, unboundIDs := devices(t, h, "ada", 1)
	unbound[0].get("/logout-unbind")
	rebound, reboundIDs := devices(t, h, "ada", 1)
	rebound[0].get("/bind?u=carol")
	if err := cs.Store.IndexUserSession(t.Context(), "ada", bobIDs[0], cs.clock.Now(), cs.clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	pub := func(id string) string { return SessionInfo{ID: id}.PublicID() }

	for _, tc := range []struct{ name, user, publicID string }{
		{"bob's session, listed in ada's index", "ada", pub(bobIDs[0])},
		{"a session she logged out of (SetUser(\"\"))", "ada", pub(unboundIDs[0])},
		{"a session rebound to carol", "ada", pub(reboundIDs[0])},
		{"her session, for bob", "bob", pub(adaIDs[0])},
	} {
		if ok, err := m.DestroyUserSessionByPublicID(t.Context(), tc.user, tc.publicID); ok || err != nil {
			t.Errorf("%s: DestroyUserSessionByPublicID(%s) = %v, %v; want false, nil", tc.name, tc.user, ok, err)
		}
	}
	for b, want := range map[*browser]string{ada[0]: "ada", bob[0]: "bob", rebound[0]: "carol"} {
		if got := b.get("/whoami").Body.String(); got != want {
			t.Errorf("a device of %s is logged in as %q", want, got)
		}
	}
	if !isStored(t, m, unboundIDs[0]) {
		t.Error("the session she logged out of was ended")
	}
}

// A form posts whatever its sender likes. What has not the form of a
// PublicID (the empty string, the ShortID, the session id itself, 22
// characters outside base64url) ends nothing and asks the store nothing,
// nor does any PublicID for the empty user; one of the right form that
// names none of the user's sessions ends nothing and costs the listing
// alone.
func TestDestroyUserSessionByPublicIDOfGarbageEndsNothing(t *testing.T) {
	cs := newCountingStore(t)
	m, _ := newTestManager(t, Options{Store: oneCallsStore{cs}})
	m.now = cs.clock.Now
	ada, ids := devices(t, m.Handler(usersApp(t)), "ada", 1)
	info := SessionInfo{ID: ids[0]}
	for _, tc := range []struct {
		name, user, publicID string
		listings             int
	}{
		{"the empty string", "ada", "", 0},
		{"the ShortID", "ada", info.ShortID(), 0},
		{"the session id", "ada", ids[0], 0},
		{"not base64url", "ada", strings.Repeat("!", len(info.PublicID())), 0},
		{"one character more", "ada", info.PublicID() + "A", 0},
		{"her session's, for the empty user", "", info.PublicID(), 0},
		{"a PublicID of no session", "ada", SessionInfo{ID: "no-such-session"}.PublicID(), 1},
	} {
		cs.reset()
		if ok, err := m.DestroyUserSessionByPublicID(t.Context(), tc.user, tc.publicID); ok || err != nil {
			t.Errorf("%s: DestroyUserSessionByPublicID(%q, %q) = %v, %v; want false, nil", tc.name, tc.user, tc.publicID, ok, err)
		}
		if n, listings := cs.total(), cs.n("UserSessions"); n != tc.listings || listings != tc.listings {
			t.Errorf("%s: %d store calls (%v), want %d listing(s) and nothing else", tc.name, n, cs.calls, tc.listings)
		}
	}
	if got := ada[0].get("/whoami").Body.String(); got != "ada" {
		t.Errorf("after the garbage: ada's device is logged in as %q", got)
	}
}

// PublicID is the same for one session on every request, and on the
// Session as in UserSessions' listing, so a devices page marks "this
// device" without the id; it differs between two sessions, and changes
// with the id (RenewID), so an old page's form names no session. It has
// the form the Manager accepts, and reveals not even the id's first
// characters.
func TestPublicIDIsStableAcrossRequestsAndDiffersBetweenSessions(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	h := m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		switch r.URL.Path {
		case "/login":
			if err := s.RenewID(r.Context()); err != nil {
				t.Error(err)
			}
			s.SetUser("ada")
		}
		io.WriteString(w, s.PublicID())
	}))
	laptop, phone := newBrowser(t, h), newBrowser(t, h)
	first := laptop.get("/login").Body.String()
	again := laptop.get("/").Body.String()
	phoneOne := phone.get("/login").Body.String()
	if first != again {
		t.Errorf("the laptop's PublicID was %q, then %q on its next request; want one", first, again)
	}
	if first == phoneOne {
		t.Errorf("laptop and phone share the PublicID %q", first)
	}
	id := mustID(t, m, laptop.cookie)
	if !isPublicID(first) || strings.Contains(first, id[:6]) {
		t.Errorf("PublicID %q of %s: want %d base64url characters that do not hold the id's", first, id, publicIDLen)
	}
	infos, err := m.UserSessions(t.Context(), "ada")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, info := range infos {
		listed[info.PublicID()] = true
	}
	if len(infos) != 2 || !listed[first] || !listed[phoneOne] {
		t.Errorf("UserSessions' PublicIDs %v; want the laptop's %q and the phone's %q", listed, first, phoneOne)
	}
	if renewed := laptop.get("/login").Body.String(); renewed == first {
		t.Errorf("the PublicID stayed %q after RenewID", renewed)
	}
	var nilSession *Session
	if p, q := nilSession.PublicID(), (SessionInfo{}).PublicID(); p != "" || q != "" {
		t.Errorf("PublicID of a nil Session %q, of an empty id %q; want none", p, q)
	}
}

// The JSON form of a devices listing carries each device's PublicID, which
// a script posts back to log that device out, and never the id.
func TestSessionInfoJSONCarriesThePublicIDThatLogsTheDeviceOut(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	ada, ids := devices(t, m.Handler(usersApp(t)), "ada", 2)
	infos, err := m.UserSessions(t.Context(), "ada")
	if err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(infos)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if strings.Contains(string(out), id) {
			t.Fatalf("the JSON holds a session id: %s", out)
		}
	}
	var got []struct{ PublicID, ShortID string }
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	i := 0
	if len(got) != 2 || got[i].ShortID != infos[i].ShortID() {
		t.Fatalf("JSON %s; want two devices, listed as UserSessions lists them", out)
	}
	if ok, err := m.DestroyUserSessionByPublicID(t.Context(), "ada", got[i].PublicID); !ok || err != nil {
		t.Fatalf("DestroyUserSessionByPublicID(ada, the JSON's PublicID) = %v, %v; want true, nil", ok, err)
	}
	for j, b := range ada {
		want := "ada"
		if ids[j] == infos[i].ID {
			want = ""
		}
		if u := b.get("/whoami").Body.String(); u != want {
			t.Errorf("device %d is logged in as %q, want %q", j, u, want)
		}
	}
}

// Without a user index (memcachedstore) DestroyUserSessionByPublicID
// fails with ErrNotSupported, whatever it is given.
func TestDestroyUserSessionByPublicIDWithoutAUserIndexIsNotSupported(t *testing.T) {
	m, _ := newTestManager(t, Options{Store: noUserIndex{newCountingStore(t)}})
	for _, user := range []string{"ada", ""} {
		ok, err := m.DestroyUserSessionByPublicID(t.Context(), user, SessionInfo{ID: "some-id"}.PublicID())
		if ok || !errors.Is(err, ErrNotSupported) || !strings.Contains(err.Error(), "destroy user session") {
			t.Errorf("DestroyUserSessionByPublicID(%q) without an index = %v, %v; want ErrNotSupported, saying what failed", user, ok, err)
		}
	}
}

// deadlineListingStore is a deadlineStore that also records its listings.
type deadlineListingStore struct{ *deadlineStore }

func (d deadlineListingStore) UserSessions(ctx context.Context, user string, yield func(id string, used, expires time.Time, data []byte)) error {
	d.record(ctx, "UserSessions")
	return d.oneCallsStore.UserSessions(ctx, user, yield)
}

// Each store call of DestroyUserSessionByPublicID is bounded by
// StoreTimeout, also when the caller's context has no deadline.
func TestDestroyUserSessionByPublicIDBoundsItsStoreCallsByStoreTimeout(t *testing.T) {
	cs := newCountingStore(t)
	st := deadlineListingStore{&deadlineStore{oneCallsStore: oneCallsStore{cs}, calls: map[string]time.Duration{}}}
	const timeout = 2 * time.Second
	m, _ := newTestManager(t, Options{Store: st, StoreTimeout: timeout})
	m.now = cs.clock.Now
	_, ids := devices(t, m.Handler(usersApp(t)), "ada", 1)
	clear(st.calls)
	if ok, err := m.DestroyUserSessionByPublicID(context.Background(), "ada", SessionInfo{ID: ids[0]}.PublicID()); !ok || err != nil {
		t.Fatalf("DestroyUserSessionByPublicID = %v, %v; want true, nil", ok, err)
	}
	for _, op := range []string{"UserSessions", "Destroy", "UnindexUserSession"} {
		left, called := st.calls[op]
		if !called || left < 0 || left > timeout+50*time.Millisecond {
			t.Errorf("%s: called %v, time left %v; want a deadline within StoreTimeout (%v)", op, called, left, timeout)
		}
	}
}
