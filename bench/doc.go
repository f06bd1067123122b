// Package bench compares sessionkit's middleware with other Go session
// libraries (alexedwards/scs and gorilla/sessions), each on its in-memory or
// local store, so that the numbers measure the middleware and not a database
// (README.md here). Behind flags, its tests also hold the benchmarks of the
// repository's README that need real servers: the HTTP load benchmark
// (-httpload, make bench-http), the cost as the sessions grow (-scale, make
// bench-scale) and the soak run (-soak, make soak).
//
// It is a module of its own so that the peer libraries never become
// dependencies of sessionkit. Everything is in its tests and benchmarks;
// without those flags, go test runs only the quick checks of their setups.
package bench
