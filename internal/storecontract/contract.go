// Package storecontract holds the few names that both package session and
// the stores it defaults to (memstore) need, so that session can use memstore
// as its default store without an import cycle. Package session re-exports
// them; use those names.
package storecontract

import "errors"

// ErrNotFound reports a session that is not in the store, or has expired.
var ErrNotFound = errors.New("session: not found")

// ErrConflict reports a compare-and-swap that found another version.
var ErrConflict = errors.New("session: version conflict")

// Version identifies one stored state of a session; "" means absent.
type Version string
