package memstore

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestCapEvictsNoSessionWhenADestroyBringsTheStoreBackToTheCap fills the
// store to its cap, adds one session (one over the cap), and destroys
// another one while the eviction has chosen its victim but not yet taken
// it: the destroy already brought the store back to the cap, so nothing
// may be evicted. The eviction checked the count before it chose and
// evicted anyway, leaving one session fewer than the cap.
func TestCapEvictsNoSessionWhenADestroyBringsTheStoreBackToTheCap(t *testing.T) {
	ctx := context.Background()
	const max = 3
	s := New(WithMaxSessions(max), WithSweepInterval(0))
	defer s.Close()
	base := time.Now().Add(time.Hour)
	for i := range max {
		if err := s.Set(ctx, fmt.Sprint("s", i), []byte("{}"), base.Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	hooked := 0
	s.beforeEvict = func() {
		hooked++
		if hooked == 1 {
			// s0 is the eviction's choice (the closest to expiry);
			// destroy another one.
			if err := s.Destroy(ctx, "s2"); err != nil {
				t.Error(err)
			}
		}
	}
	if err := s.Set(ctx, "new", []byte("{}"), base.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if hooked == 0 {
		t.Fatal("the session over the cap started no eviction")
	}
	if n, _ := s.Count(ctx); n != max {
		t.Errorf("Count = %d, want the cap, %d: a Set one over the cap and a Destroy leave the store at its cap", n, max)
	}
	if _, found, _ := s.Get(ctx, "s0"); !found {
		t.Error("s0 was evicted although the destroy of s2 had brought the store back to its cap")
	}
	if _, found, _ := s.Get(ctx, "new"); !found {
		t.Error("the new session is missing")
	}
}
