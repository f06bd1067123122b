package redisstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/session/internal/pause"
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
// wrapping [ErrNotReplicated], not a success. So is one that did not
// happen (a compare-and-swap that found another version, a create that
// found its id taken, a touch or a load of a session that is gone): its
// answer stands on what the master holds, which may be a write the
// replicas do not have, and the WAIT after it counts the connection's
// earlier writes, so the store does not vouch for it; the caller's next
// step (the manager's re-read and second try, a create under a fresh id)
// writes, and would fail the same way.
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
// master of the key's slot, and with a type of your own that embeds one
// (see [New]); a *redis.Ring, or any other client, is refused at write time. The
// client's ReadTimeout must be longer than timeout. WAIT counts in whole
// milliseconds: a timeout that is not one is rounded up (500µs waits 1 ms;
// the largest time.Duration is rounded down).
// n <= 0 or timeout <= 0 turns the option off (WAIT 0 would block forever).
//
// On a Cluster the write and its WAIT go to the slot's master in a pipeline
// of their own, past the ClusterClient's handling of redirects and
// failovers, so the store does that part itself, for the answers that
// prove the write did not run: it follows MOVED and ASK at once, and sends
// again, after the client's retry backoff (MinRetryBackoff,
// MaxRetryBackoff) and to the master that the cluster's layout, read again,
// names, a write answered CLUSTERDOWN, TRYAGAIN or LOADING, whose master
// could not be connected to, or that found no connection free in the
// client's pool within its PoolTimeout; at most the client's MaxRedirects times (3
// by default, none with -1; MaxRetries does not count, as a ClusterClient
// does not count it for a pipeline of its own), within the caller's context: one that ends
// first fails the write with its error (context.DeadlineExceeded, as a
// StoreTimeout that ran out during the write itself). A write that may
// have run (a timeout, a connection lost after the pipeline went out) is
// never sent again: it is an error.
func WithReplicas(n int, timeout time.Duration) Option {
	return func(c *config) {
		if n <= 0 || timeout <= 0 {
			c.replicas, c.replicaTimeout = 0, 0
			return
		}
		// WAIT takes whole milliseconds, and 0 waits for ever: round up.
		c.replicas, c.replicaTimeout = n, ceilMillisecond(timeout)
	}
}

// write runs the write command that queue issues on key. Without
// WithReplicas it is simply queue(s.client). With it, the command and WAIT
// go in one pipeline on the connection of the key's master, since WAIT
// counts the replicas that have this connection's writes.
//
// On a Cluster that pipeline bypasses the ClusterClient, so write does what
// the ClusterClient does for its own commands, for the answers that prove
// the write did not run: it follows a MOVED or ASK redirect, and after
// CLUSTERDOWN, TRYAGAIN, LOADING, a connection that could not be made or
// a pool that had none free in time it backs off and sends the pipeline again to the slot's master as the
// cluster's layout, read again, names it; up to the client's MaxRedirects
// times, with its retry backoff, within ctx. Any other failure is returned
// as it is: after a timeout or a connection lost once the pipeline was
// sent, the write may have been applied, and sending it again could apply
// a compare-and-swap or a SET that the caller no longer means.
func (s *Store) write(ctx context.Context, key string, queue func(c redis.Cmdable) redis.Cmder) error {
	if s.replicas <= 0 {
		return queue(s.client).Err()
	}
	node, err := s.masterFor(ctx, key)
	if err != nil {
		return err
	}
	cluster, _ := s.client.(clusterClient)
	scriptsLoaded, asking := false, false
	for retries := 0; ; {
		pipe := node.Pipeline()
		var cmd redis.Cmder
		var sent []redis.Cmder // the write's commands, without ASKING and WAIT
		if asking {
			cmd, sent = queueAsking(ctx, node, pipe, queue)
		} else {
			cmd = queue(pipe)
			sent = pipe.Cmds()
		}
		// Pipeliner has no Wait method: send the command itself.
		wait := pipe.Do(ctx, "wait", s.replicas, s.replicaTimeout.Milliseconds())
		all := pipe.Cmds() // Exec empties the pipeline
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
		if !scriptsLoaded && redis.HasErrorPrefix(cmd.Err(), "NOSCRIPT") {
			scriptsLoaded = true
			for _, script := range writeScripts {
				if err := script.Load(ctx, node).Err(); err != nil {
					return err
				}
			}
			continue
		}
		if cmd.Err() != nil {
			err = cmd.Err()
		}
		if cluster == nil {
			return err
		}
		notRun := notExecuted(sent, all)
		if notRun == nil || retries >= s.settings().pipelineTries-1 {
			// The slot may have moved (a failover): read the cluster's
			// layout again so that the next write finds the new master.
			cluster.ReloadState(ctx)
			return err
		}
		retries++
		node, asking, err = retryNode(ctx, cluster, key, notRun, retries, s.settings().minBackoff, s.settings().maxBackoff)
		if err != nil {
			cluster.ReloadState(ctx)
			if ctx.Err() != nil {
				// The caller ran out of time (StoreTimeout) waiting to
				// send it again: say so, as a write that ran out of it does.
				return fmt.Errorf("%w before the write could be sent again after: %w", ctx.Err(), err)
			}
			return err
		}
		// The node may be another one, which may lack the scripts.
		scriptsLoaded = false
	}
}

// queueAsking queues on pipe what queue queues, each command after an
// ASKING, which lets the node that a slot is migrating to run the next
// command on a key of that slot. It returns queue's command and all the
// commands queue queued.
func queueAsking(ctx context.Context, node masterNode, pipe redis.Pipeliner, queue func(c redis.Cmdable) redis.Cmder) (redis.Cmder, []redis.Cmder) {
	scratch := node.Pipeline()
	cmd := queue(scratch)
	cmds := scratch.Cmds()
	for _, c := range cmds {
		_ = pipe.Process(ctx, redis.NewStatusCmd(ctx, "asking"))
		_ = pipe.Process(ctx, c)
	}
	return cmd, cmds
}

// notExecuted returns the error of the write's commands sent (the pipeline
// all without its ASKING and WAIT) if each of them failed with an answer
// that proves it did not run: a redirect, a cluster that cannot serve the
// slot now, a server still loading its data, or no connection at all (the
// pipeline was never sent). It returns nil when any of them may have run.
//
// No connection proves it only if every command of the pipeline, WAIT
// included, failed with one. The node's client may have sent the pipeline
// itself more than once (its MaxRetries): when a later try cannot connect,
// go-redis puts that error on every command that has none yet, such as a
// write whose answer an earlier try read before its WAIT lost the
// connection. The WAIT, read last, then keeps that earlier try's error.
func notExecuted(sent, all []redis.Cmder) error {
	var first error
	for _, c := range sent {
		err := c.Err()
		if !provesNotRun(err) && !(unsent(err) && allUnsent(all)) {
			return nil
		}
		if first == nil {
			first = err
		}
	}
	return first
}

// provesNotRun reports an answer after which the command surely did not
// run.
func provesNotRun(err error) bool {
	if err == nil {
		return false
	}
	if _, ok := redis.IsMovedError(err); ok {
		return true
	}
	if _, ok := redis.IsAskError(err); ok {
		return true
	}
	return redis.IsClusterDownError(err) || redis.IsTryAgainError(err) || redis.IsLoadingError(err)
}

// unsent reports an error of a pipeline that was never sent: its client was
// closed (a node that left the cluster's layout), the connection could not
// be made, or no connection came free in the pool within its PoolTimeout.
func unsent(err error) bool {
	return errors.Is(err, redis.ErrClosed) || neverSent(err)
}

// neverSent reports a command that never went out because its connection
// could not be made or no connection came free in the pool within its
// PoolTimeout.
func neverSent(err error) bool {
	var op *net.OpError
	return errors.Is(err, redis.ErrPoolTimeout) || errors.As(err, &op) && op.Op == "dial"
}

// allUnsent reports whether every command of cmds failed as unsent.
func allUnsent(cmds []redis.Cmder) bool {
	for _, c := range cmds {
		if !unsent(c.Err()) {
			return false
		}
	}
	return true
}

// retryNode returns the node to send a write on key again to, for the
// retry number retry (from 1), after notRun, the error that proved the
// last attempt did not run, and whether the node wants ASKING first. A
// redirect is followed at once to the node it names; anything else waits
// for the client's retry backoff (lo, hi: its MinRetryBackoff and
// MaxRetryBackoff, clientOptionsOf) first and goes to the slot's master in
// the layout read again. It returns notRun if it finds no node in ctx (the
// caller checks ctx's error).
func retryNode(ctx context.Context, c clusterClient, key string, notRun error, retry int, lo, hi time.Duration) (*redis.Client, bool, error) {
	if addr, ok := redis.IsAskError(notRun); ok {
		node, err := nodeAt(ctx, c, addr)
		if err != nil || node == nil {
			return nil, false, notRun
		}
		return node, true, nil
	}
	if addr, ok := redis.IsMovedError(notRun); ok {
		node, err := nodeAt(ctx, c, addr)
		if err != nil {
			return nil, false, notRun
		}
		if node != nil {
			return node, false, nil
		}
		// Not in the layout (yet): the slot's master as the layout says.
	} else {
		if err := pause.For(ctx, retryBackoff(retry, lo, hi)); err != nil {
			return nil, false, notRun
		}
		if err := c.ForEachMaster(ctx, func(context.Context, *redis.Client) error { return nil }); err != nil {
			return nil, false, notRun
		}
	}
	node, err := c.MasterForKey(ctx, key)
	if err != nil {
		return nil, false, notRun
	}
	return node, false, nil
}

// nodeAt reads the cluster's layout again and returns the client of its
// node at addr, or nil if the layout has none there.
func nodeAt(ctx context.Context, c clusterClient, addr string) (*redis.Client, error) {
	var (
		mu    sync.Mutex
		found *redis.Client
	)
	// ForEachShard reads the layout before it visits every node.
	err := c.ForEachShard(ctx, func(_ context.Context, n *redis.Client) error {
		if n.Options().Addr == addr {
			mu.Lock()
			found = n
			mu.Unlock()
		}
		return nil
	})
	return found, err
}

// retryBackoff is the wait before retry number n (from 1) of go-redis's
// clients for their MinRetryBackoff lo and MaxRetryBackoff hi: at least
// lo, at random up to lo times 2^n more, at most hi; none if lo is 0.
func retryBackoff(n int, lo, hi time.Duration) time.Duration {
	if lo <= 0 {
		return 0
	}
	span := lo << n
	if span <= 0 {
		return hi
	}
	d := lo + rand.N(span)
	if d > hi || d < lo {
		d = hi
	}
	return d
}

// writeScripts are the scripts that write sends: a pipelined EVALSHA that
// the node does not know has them loaded, and goes again.
var writeScripts = []*redis.Script{casScript, indexScript}

// masterNode is the client of the master a write goes to with WithReplicas,
// whose pipeline is one connection of that master.
type masterNode interface {
	Pipeline() redis.Pipeliner
	redis.Scripter
}

// masterFor returns the client whose connections reach the master holding
// key: a Cluster's node, or the client itself, a *redis.Client (also a
// user's type that embeds one). Any other client is refused: its pipeline
// may not be one connection of one server (a Ring's, a Cluster's), so that
// WAIT would not count the write's replicas.
func (s *Store) masterFor(ctx context.Context, key string) (masterNode, error) {
	switch c := s.client.(type) {
	case clusterClient:
		return c.MasterForKey(ctx, key)
	case clientOptions:
		return s.client, nil
	default:
		return nil, fmt.Errorf("redisstore: WithReplicas needs a *redis.Client or *redis.ClusterClient (or a type that embeds one), not %T", s.client)
	}
}
