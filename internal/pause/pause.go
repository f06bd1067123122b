// Package pause waits a while unless a context ends first, for the stores'
// and the manager's retries.
package pause

import (
	"context"
	"time"
)

// For waits d, or until ctx is done, and then returns ctx's error (nil if
// d passed first). A d of zero or less returns at once, with ctx's error.
func For(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
