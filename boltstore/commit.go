package boltstore

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"

	"go.etcd.io/bbolt"
)

// Group commit. bbolt has one writer at a time and every commit fsyncs, so
// writes from many goroutines would each wait for their own fsync. Instead,
// one committer goroutine takes the writes in arrival order: whatever queued
// up while a commit was on disk goes into the next transaction together, and
// is acknowledged once that transaction is on disk. A lone writer waits for
// nobody: its write is committed at once.

// ErrClosed is returned by writes to a store after Close.
var ErrClosed = errors.New("boltstore: store is closed")

// maxGroup bounds how many writes share one transaction.
const maxGroup = 512

// writeOp is one write waiting for the committer. fn may run more than once
// (if its group fails, every op is retried alone), so it must compute its
// results afresh on each run. It returns errMissing or errConflict only
// before changing anything; any
// other error aborts the transaction.
type writeOp struct {
	fn   func(b *bbolt.Bucket) error
	done chan error
}

// write runs fn in a write transaction, possibly shared with other writes,
// and returns once that transaction is committed and synced, or once ctx is
// done: a caller with a deadline does not wait behind a stuck commit (a full
// disk, a slow fsync, another process holding the file). The write may then
// still happen, as with any store whose caller gave up.
func (s *Store) write(ctx context.Context, fn func(b *bbolt.Bucket) error) error {
	op := &writeOp{fn: fn, done: make(chan error, 1)}
	s.writeMu.RLock()
	if s.writeClosed {
		s.writeMu.RUnlock()
		return ErrClosed
	}
	select {
	case s.writes <- op:
	case <-ctx.Done():
		s.writeMu.RUnlock()
		return ctx.Err()
	}
	s.pending.Add(1)
	s.writeMu.RUnlock()
	defer s.pending.Add(-1)
	select {
	case err := <-op.done:
		return raise(err)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// txPanic carries the value a transaction's function panicked with out of
// the store's goroutine that ran it (the committer, or one that view and
// update start) to the caller's, which panics with it again: there net/http
// recovers a handler's panic, as when each call ran its transaction itself,
// where in the store's goroutine it ended the process.
type txPanic struct{ value any }

func (p *txPanic) Error() string { return fmt.Sprintf("boltstore: transaction panicked: %v", p.value) }

// guard runs fn, turning a panic into a *txPanic error, logged with its stack.
func (s *Store) guard(fn func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			s.logger.Error("boltstore: a transaction panicked", "path", s.path, "panic", v, "stack", string(debug.Stack()))
			err = &txPanic{value: v}
		}
	}()
	return fn()
}

// raise panics in the caller's goroutine with what a transaction panicked
// with, if err says it did; otherwise it returns err.
func raise(err error) error {
	var p *txPanic
	if errors.As(err, &p) {
		panic(p.value)
	}
	return err
}

// inBackground runs tx in a goroutine of its own and returns its error, or
// ctx's once ctx is done first; a panic of tx is raised again here.
func (s *Store) inBackground(ctx context.Context, tx func() error, after func()) error {
	done := make(chan error, 1)
	go func() {
		defer after()
		done <- s.guard(tx)
	}()
	select {
	case err := <-done:
		return raise(err)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// update runs fn in a write transaction of its own, outside the commit queue
// (Clear replaces the bucket the queued writes share), unless the store is
// closed: then it fails with ErrClosed, like a queued write. It returns
// ctx's error once ctx is done while the transaction waits for bbolt's
// writer lock or runs, as a queued write does; the transaction then goes on
// in a goroutine of its own and may still commit, and a caller given ctx's
// error must not read what fn sets. Close waits for an update under way.
func (s *Store) update(ctx context.Context, fn func(tx *bbolt.Tx) error) error {
	s.writeMu.RLock()
	if s.writeClosed {
		s.writeMu.RUnlock()
		return ErrClosed
	}
	if ctx.Done() == nil {
		defer s.writeMu.RUnlock()
		return s.db.Update(fn)
	}
	// Close waits for this transaction: the goroutine holds writeMu.
	return s.inBackground(ctx, func() error { return s.db.Update(fn) }, s.writeMu.RUnlock)
}

// stopCommitter makes further writes fail with ErrClosed and waits until the
// committer has committed every write already queued.
func (s *Store) stopCommitter() {
	s.writeMu.Lock()
	s.writeClosed = true
	s.writeMu.Unlock()
	close(s.writes) // no sender is left: they all check writeClosed under writeMu
	<-s.committerDone
}

func (s *Store) committer() {
	defer close(s.committerDone)
	group := make([]*writeOp, 0, maxGroup)
	results := make([]error, 0, maxGroup)
	for op := range s.writes {
		group = append(group[:0], op)
	fill:
		for len(group) < maxGroup {
			select {
			case op, ok := <-s.writes:
				if !ok {
					break fill
				}
				group = append(group, op)
			default:
				break fill
			}
		}
		results = s.commit(group, results[:0])
		if len(results) == 0 { // the group failed as a whole: retry each op alone
			for _, op := range group {
				op.done <- s.commitOne(op)
			}
		} else {
			for i, op := range group {
				op.done <- results[i]
			}
		}
		clear(group) // drop references to finished ops
	}
}

// isResult tells an op's answer (not found, conflict), which leaves the
// transaction usable, from a failure, which aborts it.
func isResult(err error) bool {
	return errors.Is(err, errMissing) || errors.Is(err, errConflict)
}

// errUnchanged rolls back a transaction in which every op answered
// not found or conflict, so changed nothing (see commit).
var errUnchanged = errors.New("boltstore: nothing to commit")

// commit runs the ops of group in one transaction and returns each op's
// result, or an empty slice if the transaction failed as a whole. A
// transaction in which every op answered not found or conflict (a Touch of
// a missing or expired session, a compare-and-swap that lost) changed
// nothing: it is rolled back, where a commit would write bbolt's meta and
// freelist pages and fsync them for nothing.
func (s *Store) commit(group []*writeOp, results []error) []error {
	// A panic, of an op or of bbolt's commit, fails the transaction: each op
	// is then run alone, and the one that panicked raises it in its caller.
	err := s.guard(func() error {
		err := s.db.Update(func(tx *bbolt.Tx) error {
			b, err := s.bucketOf(tx)
			if err != nil {
				return err
			}
			changed := false
			for _, op := range group {
				err := op.fn(b)
				if err != nil && !isResult(err) {
					return err
				}
				results = append(results, err)
				changed = changed || err == nil
			}
			if !changed {
				return errUnchanged
			}
			return nil
		})
		if errors.Is(err, errUnchanged) {
			return nil
		}
		return err
	})
	if err != nil {
		if len(group) == 1 {
			return append(results[:0], err)
		}
		return results[:0]
	}
	return results
}

func (s *Store) commitOne(op *writeOp) error {
	r := s.commit([]*writeOp{op}, make([]error, 0, 1))
	if len(r) != 1 {
		return fmt.Errorf("boltstore: commit: internal error: %d results for 1 write", len(r))
	}
	return r[0]
}

// closed reports whether Close has stopped the writes.
func (s *Store) closed() bool {
	s.writeMu.RLock()
	defer s.writeMu.RUnlock()
	return s.writeClosed
}
