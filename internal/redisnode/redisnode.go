// Package redisnode asks a Redis (or Valkey) server whether it is a node of
// a Redis Cluster, for a client that does not say: redisstore's listing
// through a client of a type it does not know, and storeurl's Open of a
// redis:// URL (one server).
package redisnode

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// IsCluster reports whether the server behind c is a node of a Redis
// Cluster: whether it answers CLUSTER INFO, which a node of a Redis Cluster
// does and a server without cluster support refuses. A server that does
// not know the command (a proxy, a renamed CLUSTER) is taken for one
// server: a Cluster's node that lacks it could not tell a ClusterClient its
// layout. A user whose ACL forbids CLUSTER INFO (NOPERM: +@read +@write
// +@keyspace, say) gets the answer of a bare HELLO, which every user may
// send (Redis and Valkey check no ACL for it) and which changes nothing on
// the connection (no protocol version: the connection keeps its own): its
// mode, "cluster" or "standalone" (Redis 6.2 and later, Valkey; see
// helloMode). A server that answers neither (Redis 6.0 under such an ACL)
// fails with an *UndecidedError; one that cannot answer now (a lost
// connection, a server loading its data) with CLUSTER INFO's error.
func IsCluster(ctx context.Context, c Doer) (bool, error) {
	err := c.Do(ctx, "cluster", "info").Err()
	switch {
	case err == nil:
		return true, nil
	case isNoClusterSupport(err) || IsUnknownCommand(err):
		return false, nil
	case !redis.HasErrorPrefix(err, "NOPERM"):
		return false, err
	}
	reply, herr := c.Do(ctx, "hello").Result()
	mode, ok := helloMode(reply)
	switch {
	case herr == nil && ok && mode == "cluster":
		return true, nil
	case herr == nil && ok && mode == "standalone":
		return false, nil
	case herr == nil:
		herr = fmt.Errorf("its answer gave mode %q, neither cluster nor standalone", mode)
	}
	return false, &UndecidedError{ClusterInfo: err, Hello: herr}
}

// Doer sends a command: a go-redis client (redis.UniversalClient).
type Doer interface {
	Do(ctx context.Context, args ...any) *redis.Cmd
}

// UndecidedError is IsCluster's error for a server that refused CLUSTER
// INFO (the user's ACL) and whose answer to HELLO did not say either.
type UndecidedError struct {
	ClusterInfo error // the server's NOPERM
	Hello       error // HELLO's error, or what its answer lacked
}

func (e *UndecidedError) Error() string {
	return fmt.Sprintf("the server refused CLUSTER INFO (%v), and HELLO (Redis 6.2 and later, Valkey), which tells any user, did not say either (%v)", e.ClusterInfo, e.Hello)
}

// Unwrap returns both errors.
func (e *UndecidedError) Unwrap() []error { return []error{e.ClusterInfo, e.Hello} }

// IsUnknownCommand reports a server error for a command it does not know.
func IsUnknownCommand(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "ERR unknown command")
}

// helloMode returns the mode field of the answer to HELLO ("standalone",
// "cluster" or "sentinel"), a map in RESP3 and a list of names and values
// in RESP2; ok is false when it has none.
func helloMode(reply any) (mode string, ok bool) {
	switch r := reply.(type) {
	case map[any]any:
		mode, ok = r["mode"].(string)
	case []any:
		for i := 0; i+1 < len(r); i += 2 {
			if r[i] == "mode" {
				mode, ok = r[i+1].(string)
				break
			}
		}
	}
	return mode, ok
}

// isNoClusterSupport reports the answer of a server without cluster
// support to a CLUSTER command (Redis, Valkey).
func isNoClusterSupport(err error) bool {
	var answer redis.Error
	return errors.As(err, &answer) && strings.Contains(err.Error(), "cluster support disabled")
}
