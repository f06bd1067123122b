// The session stores the peer can run on, chosen by SESSION_STORE. Each
// opener takes the environment and resolves to {store, close} once the store
// is connected.
"use strict";

async function openRedis(env) {
  const { RedisStore } = require("connect-redis");
  const { createClient } = require("redis");
  const client = createClient({ url: env.REDIS_URL || "redis://127.0.0.1:6379" });
  client.on("error", (err) => console.error("redis:", err.message));
  await client.connect();
  return {
    store: new RedisStore({ client, prefix: env.SESSION_PREFIX ?? "sess:" }),
    close: () => client.destroy(),
  };
}

// express-session's own MemoryStore (for the HTTP load benchmark, bench/).
async function openMemory() {
  const session = require("express-session");
  return { store: new session.MemoryStore(), close: () => {} };
}

const openers = {
  redis: openRedis,
  memory: openMemory,
  mongo: require("./store-mongo").openMongo,
  pg: require("./store-pg").openPg,
  memcached: require("./store-memcached").openMemcached,
};

async function openStore(env) {
  const name = env.SESSION_STORE || "redis";
  const open = openers[name];
  if (!open) {
    throw new Error(`SESSION_STORE=${name}: want one of ${Object.keys(openers).join(", ")}`);
  }
  return open(env);
}

module.exports = { openStore, openers };
