// Package interop proves that a Go service on sessionkit and a Node service
// on express-session with connect-redis can share sessions during a
// migration: the same signed cookie, the same Redis keys and documents.
//
// It has no API; its tests start a real redis-server, the Express app in
// peer/ (Node), and a Go app on the same Redis, and pass one browser's
// session back and forth between them. See README.md.
package interop
