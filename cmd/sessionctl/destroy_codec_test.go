package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/redisstore"
)

// envelopeCodec is an application's own Codec (session.Options.Codec):
// the express document inside a versioned envelope, {"v":2,"session":...},
// which JSONCodec, and so sessionctl, cannot read as a session.
type envelopeCodec struct{}

type envelope struct {
	V       int             `json:"v"`
	Session json.RawMessage `json:"session"`
}

func (envelopeCodec) Encode(doc *session.Document) ([]byte, error) {
	b, err := session.JSONCodec{}.Encode(doc)
	if err != nil {
		return nil, err
	}
	return json.Marshal(envelope{V: 2, Session: b})
}

func (envelopeCodec) Decode(data []byte) (*session.Document, error) {
	var e envelope
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, err
	}
	if e.V != 2 {
		return nil, errors.New("not a version 2 envelope")
	}
	return session.JSONCodec{}.Decode(e.Session)
}

// logInWithCodec logs user in on a new session of an application that
// stores its sessions in st with envelopeCodec, as its handler would
// (SetUser), and returns the session's id.
func logInWithCodec(t *testing.T, st session.Store, user string) string {
	t.Helper()
	m, err := session.New(session.Options{
		Secrets: []string{"0123456789abcdef0123456789abcdef"},
		Store:   st,
		Codec:   envelopeCodec{},
		Logger:  slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	var id string
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.From(r)
		s.SetUser(user)
		id = s.ID()
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/login", nil))
	if rec.Code != http.StatusOK || id == "" {
		t.Fatalf("login: %d %s", rec.Code, rec.Body)
	}
	return id
}

// indexed reports whether user's index entries in st list id.
func indexed(t *testing.T, st session.Store, user, id string) bool {
	t.Helper()
	found := false
	err := st.(session.UserIndex).UserSessions(context.Background(), user, func(got string, _, _ time.Time, _ []byte) {
		found = found || got == id
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// forEachIndexBackend runs test on every backend with a user index: those
// of forEachBackend and Redis.
func forEachIndexBackend(t *testing.T, test func(t *testing.T, url string, use func(func(session.Store)))) {
	forEachBackend(t, test)
	t.Run("redis", func(t *testing.T) {
		srv := testserver.StartRedis(t)
		client := redis.NewClient(&redis.Options{Addr: srv.Addr})
		defer client.Close()
		test(t, "redis://"+srv.Addr, func(fn func(session.Store)) { fn(redisstore.New(client)) })
	})
}

// An application with its own Codec stores documents that sessionctl
// cannot read, so destroy cannot learn the session's user from it: -user
// names the user, whose index entry for the session destroy then removes,
// as for a session it can read. The user's other sessions stay listed.
// (destroy read the user with JSONCodec only, so the entry stayed until
// it expired, listing a session that was gone.)
func TestDestroyWithUserRemovesTheEntryOfASessionOfAnotherCodec(t *testing.T) {
	forEachIndexBackend(t, func(t *testing.T, url string, use func(func(session.Store))) {
		var id, other string
		use(func(st session.Store) {
			id, other = logInWithCodec(t, st, "dana"), logInWithCodec(t, st, "dana")
			if !indexed(t, st, "dana", id) {
				t.Fatalf("the application did not index dana's session %s", id)
			}
		})
		// "--": a generated id starts with "-" one time in 64 (CI failed on one).
		code, out, errOut := sessionctl(t, "", "-store", url, "destroy", "-user", "dana", "--", id)
		if code != 0 || !strings.Contains(out, "destroyed session "+id) {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		use(func(st session.Store) {
			if _, found, err := st.Get(context.Background(), id); err != nil || found {
				t.Errorf("session %s: found %v, %v after destroy", id, found, err)
			}
			if indexed(t, st, "dana", id) {
				t.Errorf("dana's index still lists the destroyed %s", id)
			}
			if !indexed(t, st, "dana", other) {
				t.Errorf("dana's other session %s left the index too", other)
			}
		})
	})
}

// Without -user, destroy of a session it cannot read says on stderr that
// the user's index entry, if any, stays, and how to remove it.
func TestDestroyOfASessionOfAnotherCodecSaysItsIndexEntryMayStay(t *testing.T) {
	srv := testserver.StartRedis(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer client.Close()
	id := logInWithCodec(t, redisstore.New(client), "dana")
	code, _, errOut := sessionctl(t, "", "-store", "redis://"+srv.Addr, "destroy", "--", id)
	if code != 0 || !strings.Contains(errOut, "not a session document sessionctl can read") || !strings.Contains(errOut, "-user USERID") {
		t.Errorf("exit %d, stderr %q; want a note that the entry may stay, naming -user", code, errOut)
	}
	if !indexed(t, redisstore.New(client), "dana", id) {
		t.Errorf("the entry of %s went without -user; the test's premise (destroy cannot tell the user) no longer holds", id)
	}
}
