// Package interop proves that a Go service on sessionkit and a Node service
// on express-session can share sessions during a migration, on each store
// both have: connect-redis, connect-mongo, connect-pg-simple and
// connect-memcached against redisstore, mongostore, pgstore and
// memcachedstore. The same signed cookie, the same keys, rows and documents.
//
// It has no API; its tests start the real servers, the Express app in peer/
// (Node), and a Go app on the same store, and pass one browser's session
// back and forth between them. It also holds the differential suite, which
// plays the same requests against express-session and sessionkit and
// compares every response. See README.md.
package interop
