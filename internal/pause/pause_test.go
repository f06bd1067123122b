package pause

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestForWaitsItsTimeOrUntilTheContextEnds(t *testing.T) {
	if err := For(context.Background(), time.Millisecond); err != nil {
		t.Fatalf("For 1ms = %v, want nil", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if err := For(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("For an hour on a cancelled context = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > time.Minute {
		t.Fatalf("For on a cancelled context took %v", d)
	}
	if err := For(ctx, 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("For 0 on a cancelled context = %v, want context.Canceled", err)
	}
}
