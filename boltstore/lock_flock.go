//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package boltstore

import (
	"errors"
	"os"
	"syscall"
)

// sharedLock takes a shared lock on f without waiting (bbolt's lock, as a
// read-only bbolt.Open takes it; closing f releases it), and reports
// false if a process holds f for writing: bbolt's exclusive lock, taken
// by a process that has it open, or by another Open of it in this one.
func sharedLock(f *os.File) bool {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		return !errors.Is(err, syscall.EWOULDBLOCK)
	}
}

// unlock releases the lock bbolt took on f, which closing f does not while
// a memory map of the file holds it open.
func unlock(f *os.File) { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }
