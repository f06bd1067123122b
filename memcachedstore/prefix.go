package memcachedstore

import (
	"fmt"
	"strconv"
)

// Memcached's key limits, as gomemcache checks them before each call.
const (
	// maxKeyLen is the longest key Memcached takes, in bytes.
	maxKeyLen = 250
	// idLen is the length of the manager's default session id (24 random
	// bytes, base64url), which the prefix must leave room for.
	idLen = 32
)

// CheckPrefix reports whether prefix can work as a key prefix: it must
// leave room under Memcached's 250-byte key limit for a session id (32 bytes
// for the manager's default ids), and hold no space or control character
// (Memcached's text protocol cannot carry them). [New] panics on a prefix it
// refuses, so check one that comes from configuration first.
func CheckPrefix(prefix string) error {
	if room := maxKeyLen - len(prefix); room < idLen {
		return fmt.Errorf("memcachedstore: a prefix of %d bytes leaves %d for the session id under Memcached's %d-byte key limit; an id takes %d",
			len(prefix), max(room, 0), maxKeyLen, idLen)
	}
	for i := 0; i < len(prefix); i++ {
		if c := prefix[i]; c <= ' ' || c == 0x7f {
			return fmt.Errorf("memcachedstore: prefix %s holds a space or control character at byte %d, which Memcached keys cannot", strconv.Quote(prefix), i)
		}
	}
	return nil
}
