package session

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// getTouchingStore is the counting memstore with GetAndTouch, as redisstore
// has it (GETEX): the touch of a read-only request rides on its load.
type getTouchingStore struct{ *countingStore }

func (g getTouchingStore) GetAndTouch(ctx context.Context, id string, expires time.Time) ([]byte, string, bool, error) {
	data, ver, found, err := g.GetVersion(ctx, id)
	if err != nil || !found {
		return nil, "", false, err
	}
	if _, err := g.Touch(ctx, id, expires); err != nil {
		return nil, "", false, err
	}
	return data, ver, true, nil
}

func TestSessionKeptAliveByTouchesOnLoadStaysInItsUsersIndex(t *testing.T) {
	gs := getTouchingStore{newCountingStore(t)}
	m, _ := newTestManager(t, Options{Store: gs, Cookie: CookieOptions{MaxAge: time.Hour}})
	m.now = gs.clock.Now
	b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.SetUser("ada")
	})))
	b.get("/login")
	b.h = m.Handler(readViews)
	for range 3 { // read-only requests, each 50 minutes after the last: the session lives on
		gs.clock.Advance(50 * time.Minute)
		b.get("/")
	}
	sessions, err := m.UserSessions(t.Context(), "ada")
	if err != nil {
		t.Fatal(err)
	}
	if len(sessions) != 1 {
		t.Fatalf("UserSessions lists %d sessions after 150 minutes of use, want the one live session: a 'log out everywhere' would miss it", len(sessions))
	}
}
