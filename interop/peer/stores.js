// The session stores the peer can run on, chosen by SESSION_STORE. Each
// opener takes the environment and resolves to {store, close} once the store
// is connected.
"use strict";

// connect-redis serializers (REDIS_SERIALIZER): its default, JSON, and one
// that wraps the session in an envelope, as apps do to version their
// sessions; the stored value is then JSON without the session's "cookie".
const serializers = {
  json: JSON,
  wrap: {
    stringify: (sess) => JSON.stringify({ v: 1, data: sess }),
    parse: (text) => JSON.parse(text).data,
  },
};

async function openRedis(env) {
  const { RedisStore } = require("connect-redis");
  const { createClient } = require("redis");
  const client = createClient({ url: env.REDIS_URL || "redis://127.0.0.1:6379" });
  client.on("error", (err) => console.error("redis:", err.message));
  await client.connect();
  return {
    store: new RedisStore({ client, prefix: env.SESSION_PREFIX ?? "sess:", serializer: serializers[env.REDIS_SERIALIZER || "json"] }),
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
