package session

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sessionkit/session/memstore"
)

// TestPrintingTheRequestsContextOrWriterShowsNoneOfTheRequest: the
// handler's context, its writer and the context of a memstore's store calls
// are views of the request's state, which holds the handler's request: a
// handler (or a store, or a logger given the context) that prints one with
// fmt or slog sees a context's name, as for net/http's own contexts, not
// the request's headers (its Authorization, its session cookie), nor the
// session state that other goroutines of the request change under their
// lock.
func TestPrintingTheRequestsContextOrWriterShowsNoneOfTheRequest(t *testing.T) {
	st := memstore.New()
	t.Cleanup(func() { st.Close() })
	m, _ := newTestManager(t, Options{Store: st})
	const secret = "Bearer do-not-log-me"
	var printed []string
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rs := r.Context().Value(stateKey{}).(*requestState)
		rs.mu.Lock()
		detached := rs.commitContext()
		rs.mu.Unlock()
		for _, v := range []any{r.Context(), w, detached} {
			printed = append(printed, fmt.Sprintf("%v", v), fmt.Sprintf("%+v", v))
		}
	}))
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Authorization", secret)
	h.ServeHTTP(httptest.NewRecorder(), req)
	if len(printed) != 6 {
		t.Fatalf("printed %d values, want 6", len(printed))
	}
	for _, p := range printed {
		if strings.Contains(p, secret) || strings.Contains(p, "GET") {
			t.Errorf("printed %q: shows the request", p)
		}
	}
	if got, want := printed[0], "context.Background.WithValue(session.stateKey, *session.requestState)"; got != want {
		t.Errorf("the request's context prints as %q, want %q", got, want)
	}
}
