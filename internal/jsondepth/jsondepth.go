// Package jsondepth holds the one bound on the nesting of a stored session
// document that the root package's codec and the stores that convert the
// document (mongostore's embedded documents) share.
package jsondepth

// Max is how many levels of objects and arrays a stored session document
// may nest, the document itself the first: encoding/json's own bound (its
// scanner refuses the 10,001st level). The root package's JSONCodec refuses
// a deeper document as corrupt, and neither encodes one nor lets the
// manager save one (a session value nested 10,000 levels deep is a save
// error), and mongostore neither writes one as an
// embedded document nor reads one back, so that a session the manager can
// read is one mongostore can store, and a document mongostore reads is one
// the manager can decode. Both count a container at depth d (the document
// at depth 0) as level d+1 and refuse it when d >= Max; the recursion of
// both is bounded by it.
const Max = 10000
