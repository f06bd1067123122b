// connect-memcached for the peer (SESSION_STORE=memcached), on the Node
// memcached client it depends on, with its defaults, as an Express app
// sharing its sessions with a Go service on memcachedstore would run it.
//
// Environment:
//   MEMCACHED_HOSTS   the servers, host:port, comma-separated (default 127.0.0.1:11211)
//   MEMCACHED_PREFIX  connect-memcached's key prefix; unset keeps its default (none)
//
// connect-memcached hands the session object to the memcached client, which
// stores it as JSON with flags 2 and parses only such items back into an
// object: memcachedstore writes the same.
"use strict";

async function openMemcached(env) {
  const session = require("express-session");
  const MemcachedStore = require("connect-memcached")(session);
  const hosts = (env.MEMCACHED_HOSTS || "127.0.0.1:11211").split(",").filter(Boolean);
  const options = { hosts };
  if (env.MEMCACHED_PREFIX !== undefined) {
    options.prefix = env.MEMCACHED_PREFIX;
  }
  const store = new MemcachedStore(options);
  // The client connects on its first command: ask every server its version,
  // so that "listening" means connected, or fail at start-up.
  await new Promise((resolve, reject) => {
    store.client.version((err) => (err ? reject(err) : resolve()));
  });
  return { store, close: () => store.client.end() };
}

module.exports = { openMemcached };
