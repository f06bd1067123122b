package redisstore_test

import (
	"context"
	"crypto/tls"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/redisstore"
)

// A write that fails on an error go-redis does not send a command again
// after, such as a server certificate the client does not trust (a
// configuration error: every try fails alike, and none sent anything), is
// tried once, as go-redis tries a command: the store took every error
// that was not the server's answer or the context's for an answer lost,
// and sent Set, Touch, GetAndTouch and a create again the client's
// MaxRetries times, each a handshake more (times its DialerRetries) and
// a backoff before the error.
func TestAWriteFailingOnAnErrorGoRedisDoesNotRetryIsTriedOnce(t *testing.T) {
	srv := testserver.StartRedisTLS(t)
	ctx := t.Context()
	exp := time.Now().Add(time.Hour)
	for _, w := range []struct {
		name  string
		write func(st *redisstore.Store) error
	}{
		{"set", func(st *redisstore.Store) error { return st.Set(ctx, "id", []byte(`{"n":1}`), exp) }},
		{"touch", func(st *redisstore.Store) error { _, err := st.Touch(ctx, "id", exp); return err }},
		{"get-and-touch", func(st *redisstore.Store) error { _, _, _, err := st.GetAndTouch(ctx, "id", exp); return err }},
		{"create", func(st *redisstore.Store) error {
			_, _, err := st.CompareAndSwap(ctx, "id", "", []byte(`{"n":1}`), exp)
			return err
		}},
		{"swap", func(st *redisstore.Store) error {
			_, _, err := st.CompareAndSwap(ctx, "id", `{"n":1}`, []byte(`{"n":2}`), exp)
			return err
		}},
	} {
		t.Run(w.name, func(t *testing.T) {
			var dials atomic.Int32
			untrusting := &tls.Config{ServerName: "127.0.0.1"} // the system's roots: not the test's self-signed certificate
			c := redis.NewClient(&redis.Options{
				Addr: srv.Addr, DialerRetries: 1, MinRetryBackoff: time.Millisecond, MaxRetryBackoff: time.Millisecond,
				Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
					dials.Add(1)
					return (&tls.Dialer{Config: untrusting}).DialContext(ctx, network, addr)
				},
			})
			t.Cleanup(func() { c.Close() })
			err := w.write(newStore(c))
			if err == nil || !strings.Contains(err.Error(), "certificate") {
				t.Fatalf("%s with an untrusted server certificate: %v; want the certificate refused", w.name, err)
			}
			if n := dials.Load(); n != 1 {
				t.Errorf("%s: %d dials; want 1, as go-redis tries a command that fails so", w.name, n)
			}
		})
	}
}
