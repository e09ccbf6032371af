/**
 * The floor of a single-event `/v1/track` in `wrangler dev` (see test/bench/floor.mjs): each route
 * adds one of the platform calls Cohort's track makes, with the smallest work each can do, so the
 * ratio of a route to the empty one is the most any track request can reach on this machine.
 *
 * - `POST /healthz`: reads the JSON body and answers `{ok: true}` (Cohort's empty route).
 * - `POST /limit`: plus one rate-limit call (what one costs; Cohort calls its site limiter once per
 *   10 requests of a site in an isolate, worker/http/ratelimit.ts).
 * - `POST /queue`: plus one queue send of the event (Cohort archives every event through the
 *   queue; the consumer writes each batch to D1 in one statement).
 * - `POST /object`: plus one call to the event's user's Durable Object, which records its
 *   messageId in one SQLite statement (Cohort's object records it, then the event's effects).
 * - `POST /object-schema`: the object call, to an object that first creates the tables and indexes
 *   of a new Cohort profile (worker/profile/storage.ts `freshSchema`) and records the messageId there.
 * - `POST /track`: all three, as a track request needs them (the rate-limit call on every tenth).
 * An object is named by the body's `userId`, so the load generator picks returning, new or one hot
 * object, as in http.mjs.
 */
import { DurableObject } from "cloudflare:workers";
import { freshSchema } from "../../../worker/profile/storage";

export class Floor extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.createTables(ctx.storage);
  }

  createTables(storage) {
    storage.sql.exec("CREATE TABLE IF NOT EXISTS seen (message_id TEXT PRIMARY KEY, at INTEGER NOT NULL)");
  }

  record(messageId) {
    return this.ctx.storage.sql.exec("INSERT INTO seen (message_id, at) VALUES (?, ?) ON CONFLICT DO NOTHING RETURNING message_id", messageId, Date.now()).toArray().length;
  }
}

/** An object with a new Cohort profile's schema (its `seen` table among it), created in its first call as Cohort's is. */
export class SchemaFloor extends Floor {
  createTables(storage) {
    const tables = storage.sql.exec("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '_cf_%'").one().n;
    if (tables === 0) storage.transactionSync(() => storage.sql.exec(freshSchema()));
  }
}

const send = (env, event) => env.EVENTS.sendBatch([{ body: event, contentType: "json" }]);
const record = (env, event) => env.OBJECTS.get(env.OBJECTS.idFromName(String(event.userId))).record(String(event.messageId));
let requests = 0;
const limit = async (env) => {
  const { success } = await env.LIMITER.limit({ key: "site:floor" });
  if (!success) throw new Error("rate limited");
};

export default {
  async fetch(request, env) {
    const { pathname } = new URL(request.url);
    if (request.method !== "POST") return new Response("POST only", { status: 405 });
    const event = await request.json();
    if (pathname === "/healthz") return Response.json({ ok: true });
    if (pathname === "/limit") await limit(env);
    else if (pathname === "/queue") await send(env, event);
    else if (pathname === "/object") await record(env, event);
    else if (pathname === "/object-schema") await env.SCHEMA_OBJECTS.get(env.SCHEMA_OBJECTS.idFromName(String(event.userId))).record(String(event.messageId));
    else if (pathname === "/track") {
      if (++requests % 10 === 0) await limit(env);
      await record(env, event);
      await send(env, event);
    } else return new Response("not found", { status: 404 });
    return Response.json({ ok: true });
  },

  async queue(batch, env) {
    // D1 binds at most 100 parameters per statement: 50 rows of two.
    const rows = batch.messages.map((m) => m.body);
    const statements = [env.DB.prepare("CREATE TABLE IF NOT EXISTS events (message_id TEXT PRIMARY KEY, body TEXT NOT NULL)")];
    for (let i = 0; i < rows.length; i += 50) {
      const chunk = rows.slice(i, i + 50);
      statements.push(env.DB.prepare(`INSERT OR IGNORE INTO events (message_id, body) VALUES ${chunk.map(() => "(?, ?)").join(", ")}`).bind(...chunk.flatMap((r) => [String(r.messageId), JSON.stringify(r)])));
    }
    await env.DB.batch(statements);
    batch.ackAll();
  },
};
