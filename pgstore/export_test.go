package pgstore

// PurgeBatch is how many rows one statement of PurgeExpired deletes at most.
const PurgeBatch = purgeBatch
