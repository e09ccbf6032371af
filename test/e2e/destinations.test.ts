// Destinations against a real `wrangler dev`, with local receivers: a webhook endpoint that fails
// half its requests still receives every event, each webhook-id acknowledged once; fake Google Ads
// and Meta endpoints receive audience adds and removes whose hashes match independently computed
// ones, and no raw identifier; the segment exports as CSV.
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { e2e, eventually } from "./helpers";

interface Received {
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  body: string;
}

/** A local HTTP receiver; `answer` decides each response's status. */
async function receiver(answer: (request: Received) => number): Promise<{ url: string; received: Received[]; close: () => Promise<void> }> {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const request = { method: req.method!, path: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString("utf8") };
      received.push(request);
      res.writeHead(answer(request), { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, received, close: () => new Promise((r) => server.close(() => r())) };
}

const sha = (text: string) => createHash("sha256").update(text).digest("hex");
const RAW = ["Jane.Doe", "jane.doe", "Example.COM", "example.com", "(415) 555-0100", "+14155550100", "14155550100", "Bob.Smith", "bob.smith", "bobsmith@", "gmail.com"];

async function admin(path: string, init: RequestInit = {}) {
  const { url, adminToken } = e2e();
  const res = await fetch(`${url}/admin/api${path}`, { ...init, headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json", ...init.headers } });
  if (res.status >= 400) throw new Error(`${init.method ?? "GET"} ${path} answered ${res.status}: ${await res.text()}`);
  return res;
}

async function send(batch: unknown[]) {
  const { url, secretKey } = e2e();
  const res = await fetch(`${url}/v1/batch`, {
    method: "POST",
    headers: { authorization: `Basic ${Buffer.from(`${secretKey}:`).toString("base64")}`, "content-type": "application/json" },
    body: JSON.stringify({ batch }),
  });
  expect(res.status).toBe(200);
}

const consent = (advertising: boolean) => ({ consent: { categoryPreferences: { Analytics: true, Personalization: true, Advertising: advertising } } });
const created: string[] = [];
const closers: (() => Promise<void>)[] = [];

afterAll(async () => {
  for (const id of created) await admin(`/destinations/${id}`, { method: "DELETE" }).catch(() => {});
  for (const close of closers) await close();
});

describe("webhook delivery through an endpoint that fails half its requests", () => {
  it("receives every event, signed, and acknowledges each webhook-id once", async () => {
    const attempts = new Map<string, number>();
    const acked = new Map<string, number>();
    const bad: string[] = [];
    let secret = "";
    const hook = await receiver((request) => {
      const id = String(request.headers["webhook-id"]);
      try {
        new Webhook(secret).verify(request.body, request.headers as Record<string, string>);
      } catch (error) {
        bad.push(`${id}: ${error}`);
        return 400;
      }
      const n = (attempts.get(id) ?? 0) + 1;
      attempts.set(id, n);
      // The first attempt of every event fails: half of all requests.
      if (n === 1) return 503;
      acked.set(id, (acked.get(id) ?? 0) + 1);
      return 200;
    });
    closers.push(hook.close);
    const destination = await (await admin("/destinations", { method: "POST", body: JSON.stringify({ name: "Flaky hook", type: "webhook", config: { url: `${hook.url}/hook` }, events: { types: ["track"] } }) })).json();
    created.push(destination.id);
    secret = destination.secret;

    const userId = `e2e-hook-${Date.now()}`;
    const events = Array.from({ length: 20 }, (_, i) => ({ type: "track", userId, event: "Order Completed", messageId: `${userId}-${i}`, properties: { i }, context: consent(false) }));
    await send(events);
    await eventually(async () => acked.size, (n) => n === 20, "every event acknowledged", 45_000);
    expect(bad).toEqual([]);
    expect([...acked.values()].every((n) => n === 1)).toBe(true);
    expect([...attempts.values()].every((n) => n === 2)).toBe(true);
    const bodies = hook.received.filter((r) => acked.has(String(r.headers["webhook-id"]))).map((r) => JSON.parse(r.body));
    expect(new Set(bodies.map((b) => b.messageId))).toEqual(new Set(events.map((e) => e.messageId)));
    const shown = await (await admin(`/destinations/${destination.id}`)).json();
    expect(shown.stats).toMatchObject({ delivered: 20, failed: 0, retrying: 0 });
  });
});

describe("audiences to fake Google Ads and Meta endpoints", () => {
  let google: Awaited<ReturnType<typeof receiver>>;
  let meta: Awaited<ReturnType<typeof receiver>>;
  let segmentId = "";
  const stamp = Date.now();
  const jane = `e2e-jane-${stamp}`;
  const bob = `e2e-bob-${stamp}`;

  beforeAll(async () => {
    google = await receiver((r) => (r.method === "POST" && r.path === "/v17/customers/1234567890:uploadUserData" ? 200 : 404));
    meta = await receiver((r) => (r.path === "/v21.0/120000000000001/users" && (r.method === "POST" || r.method === "DELETE") ? 200 : 404));
    closers.push(google.close, meta.close);
    segmentId = (await (await admin("/segments", { method: "POST", body: JSON.stringify({ name: `VIP ${stamp}`, rule: { trait: "plan", op: "eq", value: `vip-${stamp}` } }) })).json()).id;
    for (const body of [
      { name: "Customer Match", type: "google_ads", config: { customerId: "1234567890", userListId: "555", endpoint: `${google.url}/v17`, accessToken: "t" }, segments: [segmentId] },
      { name: "Custom Audience", type: "meta", config: { audienceId: "120000000000001", endpoint: `${meta.url}/v21.0`, accessToken: "t" }, segments: [segmentId] },
    ]) {
      created.push((await (await admin("/destinations", { method: "POST", body: JSON.stringify(body) })).json()).id);
    }
  });

  const googleOps = (kind: "create" | "remove") =>
    google.received.flatMap((r) => JSON.parse(r.body).operations as Record<string, { userIdentifiers: Record<string, string>[] }>[]).filter((op) => op[kind]).map((op) => op[kind]!.userIdentifiers);
  const metaRows = (method: string) => meta.received.filter((r) => r.method === method).flatMap((r) => JSON.parse(r.body).payload.data as string[][]);

  it("adds entries with platform-normalised hashes and removes exits, with no raw identifier in any body", async () => {
    await send([
      { type: "identify", userId: jane, traits: { email: " Jane.Doe@Example.COM ", phone: "+1 (415) 555-0100", plan: `vip-${stamp}` }, context: consent(true) },
      { type: "identify", userId: bob, traits: { email: "Bob.Smith+promo@gmail.com", plan: `vip-${stamp}` }, context: consent(true) },
    ]);
    await eventually(async () => googleOps("create").length, (n) => n === 2, "two Customer Match adds", 30_000);
    await eventually(async () => metaRows("POST").length, (n) => n === 2, "two Custom Audience adds", 30_000);
    expect(googleOps("create")).toEqual(
      expect.arrayContaining([[{ hashedEmail: sha("jane.doe@example.com") }, { hashedPhoneNumber: sha("+14155550100") }], [{ hashedEmail: sha("bobsmith@gmail.com") }]]),
    );
    expect(metaRows("POST")).toEqual(expect.arrayContaining([[sha("jane.doe@example.com"), sha("14155550100")], [sha("bob.smith+promo@gmail.com"), ""]]));
    for (const r of google.received) expect(JSON.parse(r.body).customerMatchUserListMetadata).toEqual({ userList: "customers/1234567890/userLists/555", consent: { adUserData: "GRANTED", adPersonalization: "GRANTED" } });

    // Jane leaves the segment: she is removed from both audiences.
    await send([{ type: "identify", userId: jane, traits: { plan: "basic" }, context: consent(true) }]);
    await eventually(async () => googleOps("remove"), (ops) => ops.length === 1, "the Customer Match removal", 30_000);
    expect(googleOps("remove")).toEqual([[{ hashedEmail: sha("jane.doe@example.com") }, { hashedPhoneNumber: sha("+14155550100") }]]);
    await eventually(async () => metaRows("DELETE"), (rows) => rows.length === 1, "the Custom Audience removal", 30_000);
    expect(metaRows("DELETE")).toEqual([[sha("jane.doe@example.com"), sha("14155550100")]]);

    for (const r of [...google.received, ...meta.received]) for (const raw of RAW) expect(r.body).not.toContain(raw);
  });

  it("exports the segment as CSV with hashed emails", async () => {
    await eventually(
      async () => (await admin(`/segments/${segmentId}/export?format=csv&fields=userId,email&hash=sha256`)).text(),
      (csv) => csv === `userId,email\r\n${bob},${sha("bob.smith+promo@gmail.com")}\r\n`,
      "the export without Jane",
      20_000,
    );
    const res = await admin(`/segments/${segmentId}/export?format=csv&fields=userId,traits.plan`);
    expect(res.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    expect(await res.text()).toBe(`userId,traits.plan\r\n${bob},vip-${stamp}\r\n`);
  });
});
