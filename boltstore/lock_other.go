//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package boltstore

import "os"

// sharedLock reports true: on this platform the length check does not
// look at bbolt's lock (see the flock platforms' sharedLock).
func sharedLock(*os.File) bool { return true }
