package storetest

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/session"
)

// maxIDBytes is the longest id the manager takes from a custom GenerateID
// (and so the longest a signed cookie carries back to a store).
const maxIDBytes = 978

// oddIDs returns ids that the manager takes although no default id looks
// like them (a custom GenerateID may make any UTF-8 id of up to maxIDBytes;
// the cookie of one, once issued, comes back to whatever store the app uses
// then), all starting with p and distinct, in groups that differ only in
// the characters a store might escape, truncate at, normalize, or read as
// a pattern, a path, an operator or a Cluster hash tag, so that a store
// that maps two of them to one key is caught. user is the user whose index
// keys some of them look like.
func oddIDs(p, user string) []string {
	ids := []string{
		p + "a", p + "ab", p + "a\x00", p + "a\x00b", p + "a\x00c", // NUL: C strings, PostgreSQL text
		p + "a ", p + "a  ", // trailing spaces: padded or trimmed columns
		p + "é", p + "e\u0301", p + "E\u0301", p + "É", // NFC, NFD, case
		p + "\u2028", p + "\u2029", p + "🍪", p + "\ufeff", p + "\u00a0", p + "\u200b", // line separators, emoji, invisible
		// escapes of another character, which a store that escapes must not produce
		p + "a%00b", p + "a%20b", p + "a%2Eb", p + "a%2eb", p + "a%25b", p + "a%%b", p + "a+b",
		p + `a\u0000b`, p + `a\x00b`, p + `a\\b`, p + `a\.b`, p + `a\$b`, p + "a~b", p + "a~1b", p + "a~0b",
		// Cluster hash tags: an id's tag picks its key's slot
		p + "{x}", "{x}" + p, "{" + p + "}", p + "{}", p + "{", p + "}", p + "}{x}",
		// ids that look like the keys of a user index (redisstore's, of either layout)
		"{user:" + user + "}", "{user:" + user + "}used", "user:" + user, "{user:" + p + "}",
		// patterns, paths, operators
		"$" + p, "$where" + p, "." + p, ".." + p, "/" + p, "\\" + p, "*" + p, "%" + p, "_" + p,
		p + "/..", p + "/./a", p + "//a", p + "/a",
	}
	for _, c := range " \t\n\r\x01\x1b\x7f{}:*?[]^%_$.\\/'\"`;,#&=@!|<>()\u0085" {
		ids = append(ids, p+"a"+string(c)+"b")
		if c <= ' ' || c == 0x7f || c == 0x85 { // trimmed, or cut at
			ids = append(ids, p+"a"+string(c))
		}
	}
	// The longest ids the manager takes, differing only in their last byte,
	// or before a byte that a store's limit would cut at.
	pad := maxIDBytes - len(p) - 1
	ids = append(ids,
		p+strings.Repeat("x", pad)+"1", p+strings.Repeat("x", pad)+"2",
		p+strings.Repeat("x", 250-len(p))+"1", p+strings.Repeat("x", 250-len(p))+"2",
		p+strings.Repeat("é", pad/2)+"1", // multi-byte, 978 bytes or one under
	)
	slices.Sort(ids)
	return slices.Compact(ids)
}

// testOddIDs pins what a store does with an id unlike the manager's own
// (see oddIDs): either it keeps the session like any other, or, for an id
// it cannot carry, it answers "no session" to every read, touch and destroy
// and fails every write that would store one with an error. Never a panic,
// a hang, an error for a read, or two ids that share one session.
func testOddIDs(t *testing.T, newStore func(*testing.T) session.Store, cfg *config) {
	st := newStore(t)
	c, cancel := context.WithTimeout(ctx(t), time.Minute)
	defer cancel()
	p := NewID()[:8]
	user := "u" + NewID()[:8]
	ids := oddIDs(p, user)
	values := make(map[string][]byte, len(ids))
	var stored, refused []string
	for i, id := range ids {
		data := []byte(fmt.Sprintf(`{"n":%d,"nonce":%q}`, i, NewID()))
		if err := st.Set(c, id, data, later()); err != nil {
			if c.Err() != nil {
				t.Fatalf("Set(%q): %v", id, err)
			}
			refused = append(refused, id)
			continue
		}
		values[id] = data
		stored = append(stored, id)
	}
	t.Logf("%d ids stored, %d refused: %q", len(stored), len(refused), refused)
	checkAll := func(when string) {
		t.Helper()
		for _, id := range stored {
			got, found, err := st.Get(c, id)
			if err != nil || !found || !bytes.Equal(got, values[id]) {
				t.Errorf("%s: Get(%q) = %s, found %v, %v; want %s (its own session)", when, id, short(got), found, err, values[id])
			}
		}
		for _, id := range refused {
			CheckRefusedID(t, c, st, id)
		}
	}
	checkAll("after Set")
	if t.Failed() {
		return
	}
	vs, versioned := st.(session.VersionedStore)
	for i, id := range stored {
		if tc, ok := st.(session.Toucher); ok {
			if found, err := tc.Touch(c, id, later()); !found || err != nil {
				t.Errorf("Touch(%q) = found %v, %v; want found", id, found, err)
			}
		}
		if !versioned {
			continue
		}
		data, old, found, err := vs.GetVersion(c, id)
		if !found || err != nil || !bytes.Equal(data, values[id]) {
			t.Errorf("GetVersion(%q) = %s, found %v, %v; want %s", id, short(data), found, err, values[id])
			continue
		}
		if _, swapped, err := vs.CompareAndSwap(c, id, "", data, later()); swapped || err != nil {
			t.Errorf("CompareAndSwap(%q, \"\") over its session = swapped %v, %v; want a conflict", id, swapped, err)
		}
		next := []byte(fmt.Sprintf(`{"n":%d,"swapped":%q}`, i, NewID()))
		if _, swapped, err := vs.CompareAndSwap(c, id, old, next, later()); !swapped || err != nil {
			t.Errorf("CompareAndSwap(%q) from its version = swapped %v, %v; want swapped", id, swapped, err)
			continue
		}
		values[id] = next
	}
	checkAll("after Touch and CompareAndSwap")
	if ls, ok := st.(session.Lister); ok {
		got, err := ls.IDs(c)
		if err != nil {
			t.Fatalf("IDs: %v", err)
		}
		slices.Sort(got)
		if !slices.Equal(got, stored) {
			t.Errorf("IDs = %q; want the stored ids %q", got, stored)
		}
		if n, err := ls.Count(c); n != len(stored) || err != nil {
			t.Errorf("Count = %d, %v; want %d", n, err, len(stored))
		}
	}
	if ix, ok := st.(session.UserIndex); ok {
		for _, id := range stored {
			if err := ix.IndexUserSession(c, user, id, time.Now(), later()); err != nil {
				t.Errorf("IndexUserSession(%q, %q): %v", user, id, err)
			}
		}
		got := map[string][]byte{}
		err := ix.UserSessions(c, user, func(id string, _, _ time.Time, data []byte) { got[id] = data })
		if err != nil {
			t.Errorf("UserSessions(%q): %v", user, err)
		}
		for _, id := range stored {
			if data, ok := got[id]; !ok || !bytes.Equal(data, values[id]) {
				t.Errorf("UserSessions(%q) lists %q with %s (listed %v); want %s", user, id, short(data), ok, values[id])
			}
			delete(got, id)
		}
		for id := range got {
			t.Errorf("UserSessions(%q) lists %q, which was never indexed", user, id)
		}
		if rm, ok := ix.(session.UserIndexRemover); ok {
			for _, id := range stored {
				if err := rm.UnindexUserSession(c, user, id); err != nil {
					t.Errorf("UnindexUserSession(%q, %q): %v", user, id, err)
				}
			}
		}
		checkAll("after indexing")
	}
	for _, id := range stored {
		if err := st.Destroy(c, id); err != nil {
			t.Errorf("Destroy(%q): %v", id, err)
		}
		if got, found, err := st.Get(c, id); found || err != nil {
			t.Errorf("Get(%q) after Destroy = %s, found %v, %v; want no session", id, short(got), found, err)
		}
	}
}

// CheckRefusedID checks that every method of st answers for id, an id the
// store refuses (its Set failed: a key it cannot carry), as for an id that
// names no session, and that a create of it fails, so that a request with
// a cookie of such an id gets a new session rather than a 500. The suite
// runs it for every id a store refuses (OddIDsAreKeptApartOrRefused); a
// store's own tests of the ids it refuses call it too, beside their
// checks of what it says.
func CheckRefusedID(t *testing.T, c context.Context, st session.Store, id string) {
	t.Helper()
	data := []byte(`{"n":0}`)
	if got, found, err := st.Get(c, id); found || err != nil || got != nil {
		t.Errorf("Get(%q), whose Set failed, = %s, found %v, %v; want no session", id, short(got), found, err)
	}
	if err := st.Destroy(c, id); err != nil {
		t.Errorf("Destroy(%q), whose Set failed, = %v; want nil (no session)", id, err)
	}
	if err := st.Set(c, id, data, time.Now().Add(-time.Second)); err != nil {
		t.Errorf("Set(%q) with a past expiry (a destroy), whose Set failed, = %v; want nil", id, err)
	}
	if tc, ok := st.(session.Toucher); ok {
		if found, err := tc.Touch(c, id, later()); found || err != nil {
			t.Errorf("Touch(%q), whose Set failed, = found %v, %v; want no session", id, found, err)
		}
	}
	if gt, ok := st.(session.GetToucher); ok {
		if got, _, found, err := gt.GetAndTouch(c, id, later()); found || err != nil || got != nil {
			t.Errorf("GetAndTouch(%q), whose Set failed, = %s, found %v, %v; want no session", id, short(got), found, err)
		}
	}
	if vt, ok := st.(session.VersionToucher); ok {
		if found, err := vt.TouchVersion(c, id, "1", data, later()); found || err != nil {
			t.Errorf("TouchVersion(%q), whose Set failed, = found %v, %v; want no session", id, found, err)
		}
	}
	if vs, ok := st.(session.VersionedStore); ok {
		if got, _, found, err := vs.GetVersion(c, id); found || err != nil || got != nil {
			t.Errorf("GetVersion(%q), whose Set failed, = %s, found %v, %v; want no session", id, short(got), found, err)
		}
		if _, swapped, err := vs.CompareAndSwap(c, id, "1", data, later()); swapped || err != nil {
			t.Errorf("CompareAndSwap(%q) from a version, whose Set failed, = swapped %v, %v; want a conflict (no session)", id, swapped, err)
		}
		if _, swapped, err := vs.CompareAndSwap(c, id, "", data, later()); swapped || err == nil {
			t.Errorf("CompareAndSwap(%q, \"\") (a create), whose Set failed, = swapped %v, %v; want an error", id, swapped, err)
		}
	}
	if rm, ok := st.(session.UserIndexRemover); ok {
		if err := rm.UnindexUserSession(c, "u", id); err != nil {
			t.Errorf("UnindexUserSession(%q), whose Set failed, = %v; want nil (no entry)", id, err)
		}
	}
}
