//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package boltstore

import "os"

// sharedLock reports true: on this platform the length check does not
// look at bbolt's lock (see the flock platforms' sharedLock).
func sharedLock(*os.File) bool { return true }

// unlock does nothing on this platform: bbolt's lock of a file whose
// bbolt.Open panicked stays until the process ends.
func unlock(*os.File) {}
