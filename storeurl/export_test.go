package storeurl

// MongoCloseTimeout is how long a mongodb URL's closer waits for the client
// to disconnect.
const MongoCloseTimeout = mongoCloseTimeout
