package boltstore_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/boltstore"
	"github.com/sessionkit/session/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) session.Store {
		// A fresh file per subtest; a fast sweeper so that sweeping runs
		// while the expiry subtests read.
		st, err := boltstore.Open(filepath.Join(t.TempDir(), "sessions.db"), boltstore.WithSweepInterval(50*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	})
}
