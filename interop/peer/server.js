// The Express side of sessionkit's interop tests: an ordinary Express app on
// express-session with connect-redis (or another store, see stores.js),
// configured as a Go service on sessionkit would be during a migration (same
// secret, same cookie name, same store).
//
// Environment:
//   PORT            port to listen on (0 picks a free one; the real port is printed)
//   HOST            address to listen on (default 127.0.0.1)
//   SESSION_STORE   which store: redis (default); the others are in stores.js
//   REDIS_URL       Redis to keep the sessions in (default redis://127.0.0.1:6379)
//   SESSION_SECRET  the signing secret; several, comma-separated: the first signs
//   SESSION_PREFIX  the connect-redis key prefix (default "sess:")
//   REDIS_SERIALIZER  connect-redis's serializer: json (its default) or wrap,
//                   {"v":1,"data":<the session>} (see stores.js)
//   PASSPORT        1: log users in with passport (the /passport/ routes below);
//                   off by default, so that the benchmark's app (bench/) is bare
//   FLASH           1: connect-flash's req.flash (the /flash/ routes below); off
//                   by default, likewise
//
// Routes:
//   GET  /views          increments req.session.views, answers the session as JSON
//   GET  /session        answers {id, session, maxAge} without changing the session
//   POST /set?k=K&v=V    sets session key K to the string V, answers the session
//   POST /set?k=K&j=J    sets session key K to JSON.parse(J) (a number, an object)
//   POST /set?k=K&d=D    sets session key K to new Date(D)
//   POST /logout         destroys the session
//   POST /browser-session  sets forgetMe=1 and makes the cookie a browser-session
//                        one with connect's idiom, req.session.cookie.expires = false
//   GET  /store/length   answers {length}: the store's length(), the sessions it counts
//   GET  /store/ids      answers {ids}: the store's ids(), sorted
//   (both answer 501 on a store without the method)
//
// With PASSPORT=1, passport 0.7 as apps use it (passport.session() after
// express-session; serializeUser stores the user's id, deserializeUser looks
// it up among the users below and drops an unknown one):
//   POST /passport/login?u=ID[&keep=1]  logs ID in through passport.authenticate
//                        (a strategy that trusts ?u=, standing in for a password
//                        check); keep=1 is passport's keepSessionInfo: true
//   POST /passport/logout[?keep=1]      req.logout, with keepSessionInfo if keep=1
//   GET  /passport/whoami answers {id, user, session}: req.user (null when nobody
//                        is logged in) and the session after passport read it
//   The users: any string id that starts with a lower-case letter, and 7,
//                        Carol, whose id is a number (?u=7).
//
// With FLASH=1, connect-flash 0.1 (app.use(flash()) after express-session);
// each route answers {result, session}: what req.flash returned, and the
// session after it:
//   POST /flash/add?kind=K&msg=M    req.flash(K, M); several &msg= are
//                        req.flash(K, M1, M2, ...), a util.format string and
//                        its arguments; &j=J instead is req.flash(K, JSON.parse(J))
//                        (an array adds each of its members)
//   GET  /flash/read?kind=K         req.flash(K): K's messages, removed
//   GET  /flash/read                req.flash(): every kind's messages, all removed
//   POST /flash/slow?token=T&kind=K&msg=M  req.flash(K, M), but only once
//                        POST /flash/release?token=T is called; until then it
//                        holds the session it loaded. GET /flash/loaded?token=T
//                        answers once that request has loaded its session.
//
// It prints "listening <port>" on stdout once the store is connected and the port is open.
"use strict";

const express = require("express");
const session = require("express-session");
const { openStore } = require("./stores");

// The users passport knows, by the id that serializeUser stores: any
// string that starts with a lower-case letter ("alice"), and the number 7,
// as apps with SQL ids store them. Any other id is a user that no longer
// exists, whom deserializeUser drops.
function findUser(id) {
  if (typeof id === "string" && /^[a-z]/.test(id)) return { id, name: id };
  if (id === 7) return { id: 7, name: "Carol" };
  return null;
}

// usePassport adds passport, as apps configure it, and its routes.
function usePassport(app) {
  const passport = require("passport");
  // Trusts ?u= (the id as a string, or the number for a numeric id): a
  // stand-in for passport-local's password check, which is not what these
  // tests are about.
  class QueryStrategy extends passport.Strategy {
    constructor() {
      super();
      this.name = "query";
    }
    authenticate(req) {
      const u = req.query.u;
      const user = findUser(u) || findUser(Number(u));
      if (!user) return this.fail(401);
      this.success(user);
    }
  }
  passport.use(new QueryStrategy());
  passport.serializeUser((user, done) => done(null, user.id));
  passport.deserializeUser((id, done) => done(null, findUser(id) || false));
  app.use(passport.initialize());
  app.use(passport.session());

  const whoami = (req) => ({ id: req.sessionID, user: req.user || null, session: req.session });
  app.post("/passport/login", (req, res, next) => {
    passport.authenticate("query", { keepSessionInfo: req.query.keep === "1" })(req, res, (err) => {
      if (err) return next(err);
      res.json(whoami(req));
    });
  });
  app.post("/passport/logout", (req, res, next) => {
    req.logout({ keepSessionInfo: req.query.keep === "1" }, (err) => {
      if (err) return next(err);
      res.json(whoami(req));
    });
  });
  app.get("/passport/whoami", (req, res) => res.json(whoami(req)));
}

// useFlash adds connect-flash and its routes.
function useFlash(app) {
  const flash = require("connect-flash");
  app.use(flash());
  const answer = (req, res, result) => res.json({ result, session: req.session });
  app.post("/flash/add", (req, res) => {
    const { kind, msg, j } = req.query;
    if (typeof kind !== "string" || (msg === undefined) === (j === undefined)) {
      res.status(400).json({ error: "want ?kind=K and &msg=M (repeatable) or &j=JSON" });
      return;
    }
    const args = j !== undefined ? [JSON.parse(j)] : [].concat(msg);
    answer(req, res, req.flash(kind, ...args));
  });
  app.get("/flash/read", (req, res) => {
    const { kind } = req.query;
    answer(req, res, typeof kind === "string" ? req.flash(kind) : req.flash());
  });

  // The slow requests by token: loaded resolves once the request has its
  // session, release lets it go on.
  const slow = new Map();
  const slowOf = (token) => {
    if (!slow.has(token)) {
      const s = {};
      s.loaded = new Promise((resolve) => (s.markLoaded = resolve));
      s.released = new Promise((resolve) => (s.release = resolve));
      slow.set(token, s);
    }
    return slow.get(token);
  };
  app.post("/flash/slow", async (req, res) => {
    const { token, kind, msg } = req.query;
    const s = slowOf(token);
    s.markLoaded();
    await s.released;
    slow.delete(token);
    answer(req, res, req.flash(kind, msg));
  });
  app.get("/flash/loaded", async (req, res) => {
    await slowOf(req.query.token).loaded;
    res.json({ loaded: req.query.token });
  });
  app.post("/flash/release", (req, res) => {
    slowOf(req.query.token).release();
    res.json({ released: req.query.token });
  });
}

async function main() {
  const secret = (process.env.SESSION_SECRET || "").split(",").filter(Boolean);
  if (secret.length === 0) {
    throw new Error("SESSION_SECRET is required");
  }
  const { store, close } = await openStore(process.env);

  const app = express();
  app.use(
    session({
      name: "sid",
      secret,
      resave: false,
      saveUninitialized: false,
      cookie: { maxAge: 60 * 60 * 1000 },
      store,
    }),
  );
  if (process.env.PASSPORT === "1") {
    usePassport(app);
  }
  if (process.env.FLASH === "1") {
    useFlash(app);
  }

  app.get("/views", (req, res) => {
    req.session.views = (req.session.views || 0) + 1;
    res.json(req.session);
  });

  app.get("/session", (req, res) => {
    res.json({ id: req.sessionID, session: req.session, maxAge: req.session.cookie.maxAge });
  });

  app.post("/set", (req, res) => {
    const k = req.query.k;
    const { v, j, d } = req.query;
    const given = [v, j, d].filter((x) => typeof x === "string").length;
    if (typeof k !== "string" || k === "" || k === "cookie" || given !== 1) {
      res.status(400).json({ error: "want ?k=KEY and one of &v=VALUE, &j=JSON, &d=DATE; KEY not cookie" });
      return;
    }
    req.session[k] = typeof j === "string" ? JSON.parse(j) : typeof d === "string" ? new Date(d) : v;
    res.json(req.session);
  });

  // "Remember me" off, as Connect documented it and apps still write it:
  // express-session keeps a browser-session cookie, and stores
  // {"originalMaxAge":false,"expires":false,...}.
  app.post("/browser-session", (req, res) => {
    req.session.cookie.expires = false;
    req.session.forgetMe = "1";
    res.json(req.session);
  });

  app.post("/logout", (req, res, next) => {
    const id = req.sessionID;
    req.session.destroy((err) => {
      if (err) return next(err);
      res.json({ destroyed: id });
    });
  });

  // The store's own listing, as an admin page of an Express app would call
  // it (outside any session).
  for (const method of ["length", "ids"]) {
    app.get(`/store/${method}`, (req, res, next) => {
      if (typeof store[method] !== "function") {
        res.status(501).json({ error: `the store has no ${method}()` });
        return;
      }
      store[method]((err, v) => {
        if (err) return next(err);
        res.json({ [method]: Array.isArray(v) ? v.sort() : v });
      });
    });
  }

  app.use((err, req, res, next) => {
    console.error("error:", err);
    res.status(500).json({ error: String(err && err.message) });
  });

  const server = app.listen(Number(process.env.PORT || 0), process.env.HOST || "127.0.0.1", (err) => {
    if (err) {
      console.error(err);
      process.exit(1);
    }
    console.log(`listening ${server.address().port}`);
  });

  const stop = () => {
    server.close();
    server.closeAllConnections();
    close();
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
