package redisstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrNotReplicated reports a write that fewer replicas than [WithReplicas]
// asks for confirmed in time. The write may still be on the master (and
// reach the replicas later): the store only cannot promise that it survives
// a failover, so it does not report success.
var ErrNotReplicated = errors.New("redisstore: write not confirmed by enough replicas in time")

// WithReplicas makes every write (Set, Touch, Destroy, CompareAndSwap,
// GetAndTouch, whose touch is a write, and the user index's
// IndexUserSession) wait until n replicas have it, with
// Redis's WAIT n timeout sent on the same connection right after the write.
// A write that fewer than n replicas confirmed within timeout is an error
// wrapping [ErrNotReplicated], not a success.
//
// Redis replicates asynchronously: without this option a write the master
// acknowledged just before it died can be missing on the replica that
// Sentinel or Cluster promotes, and the session silently goes back in time.
// With it, an acknowledged write is on n replicas before the request
// answers, so a failover that promotes one of them loses nothing; the price
// is one replication round trip per write, and errors while fewer than n
// replicas are connected (after a failover, until the old master rejoins
// as a replica). A lost touch would only end the session earlier than its
// cookie says; Touch waits for it all the same, and so does GetAndTouch,
// which carries the same touch on a read-only request's load: such a load
// waits (one round trip still, where a GET and then a Touch that waits
// take two), and fails with ErrNotReplicated as that Touch would, but
// before the handler gets the session rather than after it ran
// (session.From returns nil and the manager's ErrorHandler answers). A
// load that carries no touch (TouchAfter not yet due, Rolling, Resave) is
// a GET and does not wait.
//
// The manager records a session's user index entry before it writes the
// session, and in a Cluster the two are on different masters: a failover
// of the index's master could otherwise lose an entry whose session
// survives, and DestroyUserSessions ("log out everywhere") would not end
// that session. Removing an entry (UnindexUserSession) and the pruning and
// moving that UserSessions does do not wait: losing one of those leaves an
// entry whose session is gone or no longer the user's, which the listing
// skips, or the user's keys as they were; never a session without its entry.
//
// It works with a *redis.Client (also the client of
// redis.NewFailoverClient) and a *redis.ClusterClient, where WAIT goes to the
// master of the key's slot; a *redis.Ring is refused at write time. The
// client's ReadTimeout must be longer than timeout. n <= 0 or timeout <= 0
// turns the option off (WAIT 0 would block forever).
func WithReplicas(n int, timeout time.Duration) Option {
	return func(c *config) {
		if n <= 0 || timeout <= 0 {
			c.replicas, c.replicaTimeout = 0, 0
			return
		}
		c.replicas, c.replicaTimeout = n, timeout
	}
}

// write runs the write command that queue issues on key. Without
// WithReplicas it is simply queue(s.client). With it, the command and WAIT
// go in one pipeline on the connection of the key's master, since WAIT
// counts the replicas that have this connection's writes.
func (s *Store) write(ctx context.Context, key string, queue func(c redis.Cmdable) redis.Cmder) error {
	if s.replicas <= 0 {
		return queue(s.client).Err()
	}
	node, err := s.masterFor(ctx, key)
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		pipe := node.Pipeline()
		cmd := queue(pipe)
		// Pipeliner has no Wait method: send the command itself.
		wait := pipe.Do(ctx, "wait", s.replicas, s.replicaTimeout.Milliseconds())
		_, err = pipe.Exec(ctx)
		// A nil reply is a conditional write (SET IFEQ) that did not happen:
		// an answer, not a failure.
		if err == nil || errors.Is(cmd.Err(), redis.Nil) && wait.Err() == nil {
			if n, _ := wait.Int(); n < s.replicas {
				return fmt.Errorf("%w: %d of %d replicas within %v", ErrNotReplicated, n, s.replicas, s.replicaTimeout)
			}
			return cmd.Err()
		}
		// A pipelined EVALSHA cannot fall back to EVAL as Script.Run does:
		// load the script on that node and send the pipeline again.
		if attempt == 0 && redis.HasErrorPrefix(cmd.Err(), "NOSCRIPT") {
			for _, script := range writeScripts {
				if err := script.Load(ctx, node).Err(); err != nil {
					return err
				}
			}
			continue
		}
		if c, ok := s.client.(*redis.ClusterClient); ok {
			// The slot may have moved (a failover): read the cluster's
			// layout again so that the next write finds the new master.
			c.ReloadState(ctx)
		}
		if cmd.Err() != nil {
			return cmd.Err()
		}
		return err
	}
}

// writeScripts are the scripts that write sends: a pipelined EVALSHA that
// the node does not know has them loaded, and goes again.
var writeScripts = []*redis.Script{casScript, indexScript}

// masterFor returns the client whose connections reach the master holding key.
func (s *Store) masterFor(ctx context.Context, key string) (*redis.Client, error) {
	switch c := s.client.(type) {
	case *redis.Client:
		return c, nil
	case *redis.ClusterClient:
		return c.MasterForKey(ctx, key)
	default:
		return nil, fmt.Errorf("redisstore: WithReplicas needs a *redis.Client or *redis.ClusterClient, not %T", s.client)
	}
}
