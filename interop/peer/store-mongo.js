// connect-mongo for the peer (SESSION_STORE=mongo), as an Express app sharing
// its sessions with a Go service on mongostore would configure it.
//
// Environment:
//   MONGO_URL         the server and database (default mongodb://127.0.0.1:27017/sessionkit)
//   MONGO_COLLECTION  the collection (default "sessions", connect-mongo's)
//   TOUCH_AFTER       connect-mongo's touchAfter, in seconds (default 0: touch on every request)
//   MONGO_STRINGIFY   "false": connect-mongo's stringify: false, the session stored as
//                     an object (mongostore.WithStringify(false)); default true, a JSON string
//   MONGO_CRYPTO_SECRET  connect-mongo's crypto: {secret}, sessions stored encrypted
//                     (which mongostore cannot read); default none
//
// Expired sessions are removed by an interval cleanup (autoRemove:
// 'interval'): FerretDB, which the tests run on, has no TTL indexes.
"use strict";

async function openMongo(env) {
  const { MongoStore } = require("connect-mongo");
  const { MongoClient } = require("mongodb");
  const client = await MongoClient.connect(env.MONGO_URL || "mongodb://127.0.0.1:27017/sessionkit");
  const store = MongoStore.create({
    client,
    collectionName: env.MONGO_COLLECTION || "sessions",
    touchAfter: Number(env.TOUCH_AFTER || 0),
    stringify: env.MONGO_STRINGIFY !== "false",
    autoRemove: "interval",
    autoRemoveInterval: 10,
    ...(env.MONGO_CRYPTO_SECRET ? { crypto: { secret: env.MONGO_CRYPTO_SECRET } } : {}),
  });
  // The store creates its collection and cleanup timer asynchronously: wait
  // for them, so that "listening" means ready.
  await store.collectionP;
  return { store, close: () => store.close() };
}

module.exports = { openMongo };
