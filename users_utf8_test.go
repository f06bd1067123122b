package session

import (
	"errors"
	"net/http"
	"testing"
)

// A user id that is not valid UTF-8 would be stored changed (JSON replaces
// the bad bytes), and its index entry would name another user than the
// document: the login fails at its save, the ErrorHandler answers, and no
// session is bound to any user.
func TestSetUserWithAnIDThatIsNotUTF8FailsTheLogin(t *testing.T) {
	var got error
	m, _ := newTestManager(t, Options{ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
		got = err
		http.Error(w, "login failed", http.StatusInternalServerError)
	}})
	b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) { s.SetUser("bob\xff") })))
	if rec := b.get("/"); rec.Code != http.StatusInternalServerError || !errors.Is(got, errStringNotUTF8) {
		t.Fatalf("status %d, error %v; want the ErrorHandler's answer to a string that is not UTF-8", rec.Code, got)
	}
	for _, user := range []string{"bob\xff", "bob\uFFFD"} {
		if infos, err := m.UserSessions(t.Context(), user); err != nil || len(infos) != 0 {
			t.Fatalf("UserSessions(%q) = %v, %v; want none", user, infos, err)
		}
	}
}
