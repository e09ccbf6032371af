// Correctness under load (DESIGN.md §5): 1,000 events to one profile from 250 parallel requests,
// a fifth of them repeated messageIds → counts exact, each messageId applied once, nothing lost,
// and each archived in D1 exactly once.
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { profileStub } from "../../../worker/identity/keys";
import { createSite, eventually, lookup, serverPost, type TestSite } from "../helpers";

/** A small deterministic PRNG (mulberry32), so every run sends the same scrambled stream. */
function random(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const UNIQUE = 800;
const DUPLICATES = 200;
const PER_REQUEST = 4;
const USER = "u-load";

let site: TestSite;
beforeAll(async () => {
  site = await createSite();
});

describe("1,000 concurrent events to one profile", () => {
  it("counts each messageId once, loses none, archives each once", async () => {
    const next = random(6);
    const ids = Array.from({ length: UNIQUE }, (_, i) => `load-${i}`);
    const name = (id: string) => (Number(id.slice(5)) % 3 === 0 ? "Order Completed" : "Product Viewed");
    const stream = [...ids, ...Array.from({ length: DUPLICATES }, () => ids[Math.floor(next() * UNIQUE)]!)];
    for (let i = stream.length - 1; i > 0; i--) {
      const j = Math.floor(next() * (i + 1));
      [stream[i], stream[j]] = [stream[j]!, stream[i]!];
    }
    const requests = Array.from({ length: stream.length / PER_REQUEST }, (_, r) => stream.slice(r * PER_REQUEST, (r + 1) * PER_REQUEST));
    expect(requests).toHaveLength(250);

    const responses = await Promise.all(
      requests.map((chunk) =>
        serverPost(site, "/v1/batch", {
          batch: chunk.map((messageId) => ({ type: "track", userId: USER, messageId, event: name(messageId), properties: { n: 1 } })),
        }),
      ),
    );
    const bodies = await Promise.all(responses.map((r) => r.json<{ success: boolean; accepted: number }>()));
    expect(responses.map((r) => r.status).filter((s) => s !== 200)).toEqual([]);
    expect(bodies.reduce((sum, b) => sum + b.accepted, 0)).toBe(UNIQUE + DUPLICATES);

    const orders = ids.filter((id) => name(id) === "Order Completed").length;
    const profile = await (await lookup(`userId=${USER}`)).json<{ counters: Record<string, number> }>();
    expect(profile.counters).toEqual({
      total: UNIQUE,
      "type:track": UNIQUE,
      "event:Order Completed": orders,
      "event:Product Viewed": UNIQUE - orders,
    });

    // The profile remembers exactly the 800 ids it applied.
    const stub = profileStub(env.PROFILES, `${site.workspaceId}:user:${USER}`);
    const seen = await runInDurableObject(stub, (_instance, state) =>
      state.storage.sql.exec<{ message_id: string }>("SELECT message_id FROM seen ORDER BY message_id").toArray().map((row) => row.message_id),
    );
    expect(seen).toEqual([...ids].sort());

    // D1: every id archived, none twice (the primary key would refuse a second row; the count
    // proves none was dropped).
    const archived = await eventually(
      () => env.DB.prepare("SELECT COUNT(*) AS n, COUNT(DISTINCT message_id) AS d FROM events WHERE user_id = ?").bind(USER).first<{ n: number; d: number }>(),
      (row) => row!.n >= UNIQUE,
      30_000,
    );
    expect(archived).toEqual({ n: UNIQUE, d: UNIQUE });
    const { results } = await env.DB.prepare("SELECT message_id FROM events WHERE user_id = ? ORDER BY message_id").bind(USER).all<{ message_id: string }>();
    expect(results.map((row) => row.message_id)).toEqual([...ids].sort());
  }, 60_000);
});
