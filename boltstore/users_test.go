package boltstore_test

import (
	"path/filepath"
	"testing"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/boltstore"
	"github.com/sessionkit/session/internal/testserver/apptest"
)

func TestUserSessionScenarios(t *testing.T) {
	apptest.Users(t, func(t *testing.T) session.Store {
		st, err := boltstore.Open(filepath.Join(t.TempDir(), "sessions.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	})
}

func BenchmarkUsers(b *testing.B) {
	apptest.BenchmarkUsers(b, newUserBenchStore(b))
}

func newUserBenchStore(b *testing.B) session.Store {
	st, err := boltstore.Open(filepath.Join(b.TempDir(), "sessions.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}
