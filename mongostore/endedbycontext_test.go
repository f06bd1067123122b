package mongostore

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/x/mongo/driver"
)

// The driver does not send a command when its context's deadline is nearer
// than the fastest round trip it has seen, and says so before the deadline
// passes (ctx.Err is nil then): that failure is the caller's context's,
// which endedByContext reports as context.DeadlineExceeded. Without a
// deadline on the context it is the client's Timeout's, a slow server's.
func TestEndedByContextBlamesADeadlineTooNearToSendTheCommand(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	tooNear := fmt.Errorf("%w: network round-trip time stats: moving avg: 540µs, min: 500µs", driver.ErrDeadlineWouldBeExceeded)
	if err := endedByContext(ctx, tooNear); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a deadline too near to send the command: %v, want context.DeadlineExceeded", err)
	}
	if err := endedByContext(context.Background(), tooNear); err != nil {
		t.Errorf("the client's Timeout too near to send the command: %v, want nil (the server's)", err)
	}
	if err := endedByContext(ctx, errors.New("incomplete read of message header: i/o timeout")); err != nil {
		t.Errorf("a timeout with the context's time left: %v, want nil (the server's)", err)
	}
	if err := endedByContext(lateTimerContext{context.Background()}, errors.New("i/o timeout")); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a timeout at the context's passed deadline: %v, want context.DeadlineExceeded", err)
	}
}
