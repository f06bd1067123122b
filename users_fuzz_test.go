package session

import (
	"encoding/json"
	"testing"
	"time"
)

// FuzzUserSessionsTrustsOnlyTheDocument stores any bytes as a session
// indexed under a user (what another app, an earlier version or a hand
// edit may leave in a shared store) and checks what UserSessions and
// DestroyUserSessions make of them, against encoding/json's reading of
// the bytes: the session is listed exactly when the manager's codec
// decodes it and its document names that user (the index entry alone
// proves nothing), with the user agent and IP the document records; and
// DestroyUserSessions ends it when it is listed or cannot be decoded (the
// index entry's word is then taken), and never when the document is
// another user's.
func FuzzUserSessionsTrustsOnlyTheDocument(f *testing.F) {
	f.Add([]byte(`{"cookie":{"originalMaxAge":null},"__sessionkit_user":"ada"}`), "ada")
	f.Add([]byte(`{"cookie":{"originalMaxAge":null},"__sessionkit_user":"bob"}`), "ada")
	f.Add([]byte(`{"cookie":{"originalMaxAge":null},"__sessionkit_user":"ada","__sessionkit_client":{"ua":"curl/8","ip":"10.0.0.1"}}`), "ada")
	f.Add([]byte(`{"cookie":{"originalMaxAge":null},"__sessionkit_user":"ada","__sessionkit_user":"bob"}`), "bob")
	f.Add([]byte(`{"cookie":{"originalMaxAge":3600000,"expires":"2026-11-22T10:59:00.000Z"},"__sessionkit_user":"\u00e9","__sessionkit_client":{"ua":1,"ip":["x"]}}`), "é")
	f.Add([]byte(`{"cookie":{},"__sessionkit_user":7}`), "7")
	f.Add([]byte(`not json`), "ada")
	f.Add([]byte(`{"__sessionkit_user":"ada"}`), "ada")
	f.Fuzz(func(t *testing.T, data []byte, user string) {
		if user == "" || len(data) > DefaultMaxDocumentBytes {
			t.Skip("the empty user has no sessions; a document over MaxDocumentBytes is another test's")
		}
		m, cs := newTestManager(t, Options{})
		const id = "fuzzed-session"
		ctx := t.Context()
		now := cs.clock.Now()
		if err := cs.Set(ctx, id, data, now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := m.users.IndexUserSession(ctx, user, id, now, now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}

		_, decodeErr := JSONCodec{}.Decode(data)
		readable := decodeErr == nil
		var top map[string]any
		if readable {
			if err := json.Unmarshal(data, &top); err != nil {
				t.Fatalf("the codec decodes %q, encoding/json does not: %v", data, err)
			}
		}
		docUser, _ := top[UserKey].(string)
		wantListed := readable && docUser == user

		infos, err := m.UserSessions(ctx, user)
		if err != nil {
			t.Fatalf("UserSessions(%q): %v", user, err)
		}
		if listed := len(infos) == 1; listed != wantListed || len(infos) > 1 {
			t.Fatalf("UserSessions(%q) of %q = %+v; want it listed: %v (codec: %v, document's user %q)", user, data, infos, wantListed, decodeErr, docUser)
		}
		if wantListed {
			client, _ := top[ClientKey].(map[string]any)
			ua, _ := client["ua"].(string)
			ip, _ := client["ip"].(string)
			if i := infos[0]; i.ID != id || i.UserAgent != ua || i.IP != ip {
				t.Fatalf("UserSessions(%q) of %q = %+v; want id %q, user agent %q, IP %q", user, data, i, id, ua, ip)
			}
		}

		n, err := m.DestroyUserSessions(ctx, user)
		if err != nil {
			t.Fatalf("DestroyUserSessions(%q): %v", user, err)
		}
		_, stored, err := cs.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		wantEnded := wantListed || decodeErr != nil
		if stored == wantEnded || n != map[bool]int{true: 1}[wantEnded] {
			t.Fatalf("DestroyUserSessions(%q) of %q = %d, session still stored: %v; want it ended: %v (codec: %v, document's user %q)",
				user, data, n, stored, wantEnded, decodeErr, docUser)
		}
	})
}
