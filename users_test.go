package session_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/memstore"
)

// noIndex is a store without a user index.
type noIndex struct{ session.Store }

func TestMaxSessionsPerUserNeedsAUserIndex(t *testing.T) {
	_, err := session.New(session.Options{Secrets: []string{"s"}, Store: noIndex{memstore.New()}, MaxSessionsPerUser: 3})
	if !errors.Is(err, session.ErrNotSupported) {
		t.Fatalf("New with MaxSessionsPerUser on a store without an index: %v, want ErrNotSupported", err)
	}
	if _, err := session.New(session.Options{Secrets: []string{"s"}, MaxSessionsPerUser: -1}); err == nil {
		t.Fatal("New accepted a negative MaxSessionsPerUser")
	}
	m, err := session.New(session.Options{Secrets: []string{"s"}, Store: noIndex{memstore.New()}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.UserSessions(t.Context(), "u"); !errors.Is(err, session.ErrNotSupported) {
		t.Errorf("UserSessions without an index: %v, want ErrNotSupported", err)
	}
	if _, err := m.DestroyUserSessions(t.Context(), "u"); !errors.Is(err, session.ErrNotSupported) || !strings.Contains(err.Error(), "destroy user sessions") {
		t.Errorf("DestroyUserSessions without an index: %v, want ErrNotSupported, saying what failed", err)
	}
}

func TestTheUserKeyIsReservedAndSurvivesRenewID(t *testing.T) {
	m, err := session.New(session.Options{Secrets: []string{"s"}})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	var user, afterClear string
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.From(r)
		s.Set("a", 1)
		s.SetUser("u1")
		s.Set(session.UserKey, "forged")
		s.Delete(session.UserKey)
		if err := s.RenewID(r.Context()); err != nil {
			t.Error(err)
		}
		keys, user = s.Keys(), s.User()
		s.Clear()
		afterClear = s.User()
		io.WriteString(w, s.ID())
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if !slices.Equal(keys, []string{"a"}) || user != "u1" || afterClear != "u1" {
		t.Fatalf("Keys %v, User %q, after Clear %q; want [a], u1, u1", keys, user, afterClear)
	}
	infos, err := m.UserSessions(t.Context(), "u1")
	if err != nil || len(infos) != 1 || infos[0].ID != rec.Body.String() {
		t.Fatalf("UserSessions(u1) = %v, %v; want the renewed session", infos, err)
	}
}
