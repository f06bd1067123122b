package storeurl

// CloseTimeout is how long the closer of a network store waits for its
// client.
const CloseTimeout = closeTimeout
