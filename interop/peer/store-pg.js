// The pg store of the peer: connect-pg-simple on a node-postgres pool.
//
// Environment:
//   PG_URL     the database, as a postgres:// URL
//   PG_TABLE   the table (default connect-pg-simple's "session"); it must exist
//              (sessionkit's pgstore.WithCreateTable makes the same table)
//
// The connection keeps the database's TimeZone (node-postgres sets none), as
// the Go side's pgx does: both must read expire, a timestamp without time
// zone, in the same zone. touchAfter has no counterpart in connect-pg-simple.
"use strict";

async function openPg(env) {
  const session = require("express-session");
  const PgStore = require("connect-pg-simple")(session);
  const { Pool } = require("pg");
  if (!env.PG_URL) {
    throw new Error("SESSION_STORE=pg needs PG_URL");
  }
  const pool = new Pool({ connectionString: env.PG_URL });
  await pool.query("SELECT 1"); // connected, or fail at start-up
  const store = new PgStore({ pool, tableName: env.PG_TABLE || "session" });
  return {
    store,
    close: async () => {
      store.close(); // stops its pruning timer; the pool is ours to end
      await pool.end();
    },
  };
}

module.exports = { openPg };
