package session

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A "my devices" endpoint that answers the user's sessions as JSON
// (json.NewEncoder(w).Encode(infos)) must not hand the browser its other
// devices' session ids, each as good as a password: with one, a script on
// the page (or anyone who reads the response) is logged in as the user on
// that device, HttpOnly notwithstanding. SessionInfo had no JSON form of
// its own, so the id went out under "ID". Its JSON now carries ShortID in
// its place and every other field under its usual name.
func TestSessionInfoJSONLeavesOutTheSessionID(t *testing.T) {
	m, cs := newTestManager(t, Options{RecordClient: true})
	b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) { s.SetUser("ada") })))
	b.header = http.Header{"User-Agent": {"Firefox"}}
	b.get("/login")
	id := mustID(t, m, b.cookie)
	infos, err := m.UserSessions(t.Context(), "ada")
	if err != nil || len(infos) != 1 || infos[0].ID != id {
		t.Fatalf("setting up: UserSessions(ada) = %v, %v; want the one session", infos, err)
	}
	out, err := json.Marshal(infos)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), id) || strings.Contains(string(out), id[len(id)/2:]) {
		t.Fatalf("the JSON of UserSessions' answer holds the session id: %s", out)
	}
	var got []struct {
		ShortID                    string
		Created, LastUsed, Expires time.Time
		UserAgent, IP              string
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	now := cs.clock.Now()
	if len(got) != 1 || got[0].ShortID != infos[0].ShortID() || !got[0].Created.Equal(infos[0].Created) ||
		!got[0].LastUsed.Equal(now) || !got[0].Expires.Equal(infos[0].Expires) || got[0].UserAgent != "Firefox" || got[0].IP != infos[0].IP {
		t.Fatalf("SessionInfo's JSON %s decodes as %+v; want ShortID %q and the other fields of %+v", out, got, infos[0].ShortID(), infos[0])
	}
}

// A time JSON cannot hold (a year past 9999: an index entry's score or
// expiry set by hand, which the stores read back as it is) is encoded as
// the zero time, unknown, where json.Marshal of the whole answer failed
// and a "my devices" endpoint answered 500 for every session of the user.
func TestSessionInfoJSONEncodesATimeJSONCannotHoldAsUnknown(t *testing.T) {
	far := time.Date(33658, 1, 1, 0, 0, 0, 0, time.UTC)
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	out, err := json.Marshal([]SessionInfo{{ID: "abcdefghijklmnop", Created: now, LastUsed: far, LoggedIn: far, Expires: far}})
	if err != nil {
		t.Fatalf("SessionInfo with a time in the year 33658: %v", err)
	}
	var got []struct{ Created, LastUsed, LoggedIn, Expires time.Time }
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !got[0].Created.Equal(now) || !got[0].LastUsed.IsZero() || !got[0].LoggedIn.IsZero() || !got[0].Expires.IsZero() {
		t.Fatalf("SessionInfo's JSON %s; want the creation time kept and the others zero", out)
	}
}
