// The Express side of sessionkit's differential suite (interop/diff_test.go):
// one Node process that hosts any number of Express apps, each an
// express-session middleware in its own configuration with its own store,
// so that every scenario of the suite gets a fresh app without starting Node
// again.
//
// Environment:
//   PORT       port to listen on (0 picks a free one; the real port is printed)
//   HOST       address to listen on (default 127.0.0.1)
//   REDIS_URL  the Redis for apps whose store is "redis" (none: no redis apps)
//
// A mongo or pg app names its server in its config ("url"), and the Node
// process connects to it when the first such app is made.
//
// Control routes (outside every app):
//   POST /__diff/app           body: a JSON config (below); answers {"app": ID}
//   GET  /__diff/counts?app=ID answers the app's store calls so far:
//                              {"get":n,"set":n,"touch":n,"destroy":n}
//   POST /__diff/forget?app=ID&sid=SID
//                              deletes SID from the app's store behind the app's
//                              back (not counted): "an id missing from the store"
//   POST /__diff/age?app=ID&sid=SID&ms=N
//                              makes SID's stored copy look written N ms earlier,
//                              behind the app's back (not counted): its
//                              cookie.expires moves back by N ms, and so does
//                              the store's expiry, which the store derives from it;
//                              a session the store no longer returns stays gone
//
// Every other request goes to the app named by its X-Diff-App header; with
// X-Diff-Fail: get, set, touch or destroy, every such call of its store
// fails during that request (the error handler answers 500 {"error":
// "session"} when the answer has not gone out yet). An app
// answers JSON on any path, choosing what to do by the path's last segment:
//   read                  {"data": the session's keys, or null without a session}
//   set?k=K&v=V           sets K to the string V
//   del?k=K               deletes K
//   regenerate            req.session.regenerate
//   destroy               req.session.destroy; answers {"destroyed": true}
//   reload                req.session.reload (500 {"error": "reload"} if it fails)
//   save                  req.session.save (after the k=K&v=V change, if any)
//   touch                 req.session.touch()
//   maxage?ms=N           req.session.cookie.maxAge = N
//   expires?in=S          req.session.cookie.expires = now + S seconds ("null": none)
//   unset                 req.session = null; answers {"unset": true}
//   nosession             answers {} without looking at the session
//   status?code=N         answers status N with no body (a Location for a 3xx),
//                         after the k=K&v=V change, if any
//   error                 passes an error to next() after the k=K&v=V change,
//                         if any: express's error page (500 {"error": "route"})
//   flash?kind=K&msg=M    connect-flash's req.flash(K, M) (every app has
//                         connect-flash 0.1, after express-session)
//   flashes?kind=K        req.flash(K): K's messages, removed; answers
//                         {"data": ..., "msgs": [...]}
// Every route but nosession and unset also takes k=K&v=V, applied after its
// own operation, then answers {"data": ...}; every route but nosession
// takes bk=K&bv=V, applied before its own operation (a change that
// regenerate, reload, destroy or unset then meets). save also takes
// ak=K&av=V, applied after the save has called back.
//
// The config (every field optional but secrets):
//   {"secrets": ["new", "old"], "store": "memory" | "redis" | "mongo" | "pg",
//    "prefix": "sess:" (connect-redis's key prefix; for mongo the collection,
//    for pg the table, which must exist), "url": the MongoDB or PostgreSQL URL,
//    "resave": false, "saveUninitialized": false, "rolling": false,
//    "unset": "keep" | "destroy", "proxy": true | false | undefined,
//    "trustProxy": N (app.set('trust proxy', N), a hop count; unset: none),
//    "touchAfter": seconds (connect-mongo's; mongo only),
//    "cookie": {"path", "domain", "maxAge", "secure": true | "auto",
//               "sameSite", "httpOnly", "partitioned", "priority"}}
//
// It prints "listening <port>" once Redis (if any) is connected and the port is open.
"use strict";

const http = require("node:http");
const express = require("express");
const session = require("express-session");
const flash = require("connect-flash");

// apps holds every app made so far, by id: {handle, counts, forget}.
const apps = new Map();
let nextApp = 1;

// countingStore returns a stand-in for store that counts the calls
// express-session makes (as the Go side's counting store does), and the
// store's own destroy for /__diff/forget. The stand-in inherits everything
// else from store; the store's calls to itself (connect-redis's set deletes
// through this.destroy when the session has expired) are not counted.
function countingStore(store, failing) {
  const counts = { get: 0, set: 0, touch: 0, destroy: 0 };
  const counted = Object.create(store);
  for (const m of Object.keys(counts)) {
    if (typeof store[m] !== "function") continue;
    counted[m] = (...args) => {
      counts[m]++;
      if (failing() === m) {
        // The store is down for this call: its callback gets an error.
        const cb = args[args.length - 1];
        return setImmediate(() => cb(new Error("store: " + m + " failed")));
      }
      return store[m](...args);
    };
  }
  const age = (sid, ms, cb) =>
    store.get(sid, (err, sess) => {
      if (err) return cb(err);
      if (!sess) return cb(null); // gone (expired): it stays gone
      if (sess.cookie && sess.cookie.expires) {
        sess.cookie.expires = new Date(new Date(sess.cookie.expires).getTime() - ms);
      }
      store.set(sid, sess, cb);
    });
  return { counted, counts, forget: (sid, cb) => store.destroy(sid, cb), age };
}

// dataOf returns the session's own keys, without its cookie.
function dataOf(sess) {
  if (!sess) return null;
  const out = {};
  for (const k of Object.keys(sess)) {
    if (k !== "cookie") out[k] = sess[k];
  }
  return out;
}

// mongoClients and pgPools are the connections of the mongo and pg apps,
// one per URL (a promise each), shared by every app on that server.
const mongoClients = new Map();
const pgPools = new Map();

function mongoClient(url) {
  if (!mongoClients.has(url)) {
    const { MongoClient } = require("mongodb");
    const p = MongoClient.connect(url);
    p.catch(() => mongoClients.delete(url)); // the next app tries again
    mongoClients.set(url, p);
  }
  return mongoClients.get(url);
}

function pgPool(url) {
  if (!pgPools.has(url)) {
    const { Pool } = require("pg");
    const pool = new Pool({ connectionString: url });
    pool.on("error", (err) => console.error("pg:", err.message));
    pgPools.set(url, pool);
  }
  return pgPools.get(url);
}

// openStore returns the store of a new app: a MemoryStore, or connect-redis,
// connect-mongo or connect-pg-simple under the key prefix, collection or
// table of config.prefix. Neither removal of expired sessions
// runs: connect-mongo's autoRemove is "disabled" and connect-pg-simple's
// pruning off, as the Go side runs no cleanup; both stores' get skips an
// expired session all the same.
async function openStore(config, redisClient) {
  switch (config.store || "memory") {
    case "memory":
      return new session.MemoryStore();
    case "redis": {
      if (!redisClient) throw new Error("store redis: no REDIS_URL");
      const { RedisStore } = require("connect-redis");
      return new RedisStore({ client: redisClient, prefix: config.prefix || "sess:" });
    }
    case "mongo": {
      if (!config.url || !config.prefix) throw new Error("store mongo: want url and prefix (the collection)");
      const { MongoStore } = require("connect-mongo");
      const store = MongoStore.create({
        clientPromise: mongoClient(config.url),
        collectionName: config.prefix,
        autoRemove: "disabled",
        touchAfter: Number(config.touchAfter || 0),
      });
      await store.collectionP;
      return store;
    }
    case "pg": {
      if (!config.url || !config.prefix) throw new Error("store pg: want url and prefix (the table)");
      // The table must exist: connect-pg-simple's createTableIfMissing names
      // its primary key "session_pkey" whatever the table, so a second
      // table in the schema fails. The suite makes it with pgstore.
      const PgStore = require("connect-pg-simple")(session);
      return new PgStore({ pool: pgPool(config.url), tableName: config.prefix, pruneSessionInterval: false });
    }
  }
  throw new Error("unknown store " + config.store);
}

function makeApp(config, store) {
  // failing names the store call that fails during the current request
  // (its X-Diff-Fail header), "" for none.
  let failing = "";
  const { counted, counts, forget, age } = countingStore(store, () => failing);

  const opts = {
    name: "sid",
    secret: config.secrets,
    store: counted,
    resave: Boolean(config.resave),
    saveUninitialized: Boolean(config.saveUninitialized),
    rolling: Boolean(config.rolling),
    unset: config.unset || "keep",
    cookie: Object.assign({}, config.cookie || {}),
  };
  if (config.proxy !== undefined && config.proxy !== null) opts.proxy = config.proxy;

  const app = express();
  if (config.trustProxy) app.set("trust proxy", config.trustProxy);
  app.use((req, res, next) => {
    failing = req.headers["x-diff-fail"] || "";
    next();
  });
  app.use(session(opts));
  app.use(flash());
  app.use((req, res, next) => {
    const op = req.path.split("/").pop();
    const k = req.query.k;
    const v = req.query.v;
    const setAfter = () => {
      if (req.session && typeof k === "string" && k !== "") {
        if (typeof v === "string") req.session[k] = v;
      }
    };
    if (op !== "nosession" && req.session) {
      const bk = req.query.bk;
      const bv = req.query.bv;
      if (typeof bk === "string" && bk !== "" && typeof bv === "string") req.session[bk] = bv;
    }
    const answer = () => res.json({ data: dataOf(req.session) });
    const fail = (what) => () => res.status(500).json({ error: what });
    switch (op) {
      case "nosession":
        return res.json({});
      case "unset":
        req.session = null;
        return res.json({ unset: true });
      case "read":
      case "set":
        setAfter();
        return answer();
      case "del":
        if (req.session) delete req.session[k];
        return answer();
      case "touch":
        if (req.session) req.session.touch();
        setAfter();
        return answer();
      case "maxage":
        if (req.session) req.session.cookie.maxAge = Number(req.query.ms);
        setAfter();
        return answer();
      case "expires":
        if (req.session) {
          req.session.cookie.expires =
            req.query.in === "null" ? null : new Date(Date.now() + Number(req.query.in) * 1000);
        }
        setAfter();
        return answer();
      case "regenerate":
        if (!req.session) return answer();
        return req.session.regenerate((err) => {
          if (err) return fail("regenerate")();
          setAfter();
          answer();
        });
      case "destroy":
        if (!req.session) return res.json({ destroyed: false });
        return req.session.destroy((err) => {
          if (err) return fail("destroy")();
          res.json({ destroyed: true });
        });
      case "reload":
        if (!req.session) return answer();
        return req.session.reload((err) => {
          if (err) return fail("reload")();
          setAfter();
          answer();
        });
      case "save":
        if (!req.session) return answer();
        setAfter();
        return req.session.save((err) => {
          if (err) return fail("save")();
          const ak = req.query.ak;
          const av = req.query.av;
          if (req.session && typeof ak === "string" && ak !== "" && typeof av === "string") req.session[ak] = av;
          answer();
        });
      case "status": {
        setAfter();
        const code = Number(req.query.code);
        if (code >= 300 && code < 400 && code !== 304) res.set("Location", "/read");
        return res.status(code).end();
      }
      case "error":
        setAfter();
        return next(Object.assign(new Error("route failed"), { diffRoute: true }));
      case "flash":
        if (req.session) req.flash(String(req.query.kind), String(req.query.msg));
        setAfter();
        return answer();
      case "flashes": {
        const msgs = req.session ? req.flash(String(req.query.kind)) : [];
        setAfter();
        return res.json({ data: dataOf(req.session), msgs });
      }
      default:
        return res.status(404).json({ error: "unknown op " + op });
    }
  });
  app.use((err, req, res, next) => {
    // The error route's own error: express's error page.
    if (!err || !err.diffRoute) return next(err);
    res.status(500).json({ error: "route" });
  });
  app.use((err, req, res, next) => {
    if (!/^store: /.test(String(err && err.message))) console.error("error:", err);
    if (res.headersSent) return; // a failed save or touch after the answer went out
    res.status(500).json({ error: "session" });
  });
  return { handle: app, counts, forget, age };
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    let s = "";
    req.setEncoding("utf8");
    req.on("data", (c) => (s += c));
    req.on("end", () => resolve(s));
    req.on("error", reject);
  });
}

function reply(res, status, obj) {
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(JSON.stringify(obj));
}

async function control(req, res, url, redisClient) {
  const app = apps.get(url.searchParams.get("app"));
  switch (url.pathname) {
    case "/__diff/app": {
      const config = JSON.parse(await readBody(req));
      if (!Array.isArray(config.secrets) || config.secrets.length === 0) {
        return reply(res, 400, { error: "config.secrets: want a non-empty list" });
      }
      const id = String(nextApp++);
      apps.set(id, makeApp(config, await openStore(config, redisClient)));
      return reply(res, 200, { app: id });
    }
    case "/__diff/counts":
      if (!app) return reply(res, 404, { error: "no such app" });
      return reply(res, 200, app.counts);
    case "/__diff/forget":
      if (!app) return reply(res, 404, { error: "no such app" });
      return app.forget(url.searchParams.get("sid"), (err) =>
        err ? reply(res, 500, { error: String(err.message) }) : reply(res, 200, {}),
      );
    case "/__diff/age":
      if (!app) return reply(res, 404, { error: "no such app" });
      return app.age(url.searchParams.get("sid"), Number(url.searchParams.get("ms")), (err) =>
        err ? reply(res, 500, { error: String(err.message) }) : reply(res, 200, {}),
      );
  }
  return reply(res, 404, { error: "unknown control route" });
}

async function main() {
  let redisClient = null;
  if (process.env.REDIS_URL) {
    const { createClient } = require("redis");
    redisClient = createClient({ url: process.env.REDIS_URL });
    redisClient.on("error", (err) => console.error("redis:", err.message));
    await redisClient.connect();
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url, "http://peer");
    if (url.pathname.startsWith("/__diff/")) {
      control(req, res, url, redisClient).catch((err) => reply(res, 500, { error: String(err.message) }));
      return;
    }
    const app = apps.get(req.headers["x-diff-app"]);
    if (!app) return reply(res, 404, { error: "X-Diff-App names no app" });
    app.handle(req, res);
  });
  server.listen(Number(process.env.PORT || 0), process.env.HOST || "127.0.0.1", () => {
    console.log(`listening ${server.address().port}`);
  });

  const stop = () => {
    server.close();
    server.closeAllConnections();
    if (redisClient) redisClient.destroy();
    for (const p of mongoClients.values()) p.then((c) => c.close()).catch(() => {});
    for (const pool of pgPools.values()) pool.end().catch(() => {});
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
