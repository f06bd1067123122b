package memstore_test

import (
	"testing"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/testserver/apptest"
	"github.com/sessionkit/session/memstore"
)

var _ session.UserIndex = (*memstore.Store)(nil)

func TestUserSessionScenarios(t *testing.T) {
	apptest.Users(t, func(t *testing.T) session.Store {
		st := memstore.New()
		t.Cleanup(func() { st.Close() })
		return st
	})
}

func BenchmarkUsers(b *testing.B) {
	apptest.BenchmarkUsers(b, newUserBenchStore(b))
}

func newUserBenchStore(b *testing.B) session.Store {
	st := memstore.New()
	b.Cleanup(func() { st.Close() })
	return st
}
