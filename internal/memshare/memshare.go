// Package memshare lets the session package read a memstore's sessions
// without copying their bytes. A memstore never writes into bytes it
// stored (each write stores a copy of its own), so its stored bytes can be
// shared with a reader that only reads them: the manager with JSONCodec,
// whose decoding keeps a session's values as slices of the bytes it
// loaded, and which gives an UnmarshalJSON of the application's (GetAs) a
// copy. memstore's exported methods still return copies, which their
// callers may change.
package memshare

import (
	"context"
	"time"
)

// Reader is a memstore's GetVersion and GetAndTouch whose data is the
// stored bytes themselves, not a copy: never to be written to.
type Reader interface {
	GetVersionShared(ctx context.Context, id string) (data []byte, version string, found bool, err error)
	GetAndTouchShared(ctx context.Context, id string, expires time.Time) (data []byte, version string, found bool, err error)
}

// Of returns store's Reader, or nil if store is not a *memstore.Store. The
// memstore package sets it when it is initialized.
var Of = func(store any) Reader { return nil }
