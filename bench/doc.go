// Package bench compares sessionkit's middleware with other Go session
// libraries (alexedwards/scs and gorilla/sessions), each on its in-memory or
// local store, so that the numbers measure the middleware and not a database.
//
// It is a module of its own so that the peer libraries never become
// dependencies of sessionkit. Everything is in its tests and benchmarks;
// see README.md for how to run them and the results.
package bench
