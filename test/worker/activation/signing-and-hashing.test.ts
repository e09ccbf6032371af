// Pure pieces of activation with pinned values: Standard Webhooks signatures (checked by the
// `standardwebhooks` library a receiver would use), identifier hashing per platform, SSRF, retries.
import { env } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { hashIdentifiers, normaliseEmail, normalisePhone, sha256Hex } from "../../../worker/activation/hashing";
import { checkDestinationUrl } from "../../../worker/activation/ssrf";
import { MAX_ATTEMPTS, outcomeOf, parseRetryAfter, RETRY_SCHEDULE_SECONDS, retryDelaySeconds, shouldPause, PAUSE_AFTER_FAILURES, PAUSE_AFTER_MS } from "../../../worker/activation/schedule";
import { newSecret, webhookHeaders } from "../../../worker/activation/signing";
import { createDestination, rotateSecret, signingSecrets } from "../../../worker/activation/store";
import { sha as independent } from "./helpers";


describe("Standard Webhooks signing", () => {
  it("signs so that the standardwebhooks library verifies the body, and refuses a changed one", async () => {
    const secret = newSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const body = JSON.stringify({ type: "track", event: "Order Completed", messageId: "m-1" });
    const timestamp = Math.floor(Date.now() / 1000);
    const headers = await webhookHeaders([secret], "msg_abc", timestamp, body);
    expect(headers["webhook-id"]).toBe("msg_abc");
    expect(headers["webhook-timestamp"]).toBe(String(timestamp));
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
    expect(() => new Webhook(secret).verify(body.replace("m-1", "m-2"), headers)).toThrow();
    expect(() => new Webhook(newSecret()).verify(body, headers)).toThrow();
  });

  it("during a rotation signs with both secrets, so receivers holding either verify; after the overlap only the new one", async () => {
    const { row, secret: first } = await createDestination(env, "ws_sign", { name: "Hook", type: "webhook", config: { url: "https://hooks.example/in" } });
    const now = Date.now();
    const { secret: second } = await rotateSecret(env, row, now, 60_000);
    const rotated = (await env.DB.prepare("SELECT secrets FROM destinations WHERE id = ?").bind(row.id).first<{ secrets: string }>())!;
    const updated = { ...row, secrets: rotated.secrets };
    const during = await signingSecrets(env, updated, now + 1000);
    expect(during).toEqual([second, first]);
    const body = '{"hello":"world"}';
    const headers = await webhookHeaders(during, "msg_rot", Math.floor(now / 1000), body);
    expect(headers["webhook-signature"]!.split(" ")).toHaveLength(2);
    expect(new Webhook(first).verify(body, headers)).toEqual({ hello: "world" });
    expect(new Webhook(second).verify(body, headers)).toEqual({ hello: "world" });
    expect(await signingSecrets(env, updated, now + 61_000)).toEqual([second]);
    // The secrets are sealed at rest: D1 never holds one in clear.
    expect(rotated.secrets).not.toContain(first.slice(6, 20));
  });
});

describe("identifier hashing", () => {
  it.each([
    ["google", " Jane.Doe@Example.COM ", "jane.doe@example.com"],
    ["meta", " Jane.Doe@Example.COM ", "jane.doe@example.com"],
    ["google", "Jane.Doe+shop@GMail.com", "janedoe@gmail.com"],
    ["google", "j.a.n.e@googlemail.com", "jane@googlemail.com"],
    ["meta", "Jane.Doe+shop@gmail.com", "jane.doe+shop@gmail.com"],
    ["google", "not an email", undefined],
  ] as const)("%s normalises email %j to %j", (platform, raw, expected) => {
    expect(normaliseEmail(raw, platform)).toBe(expected);
  });

  it("normalises phones to E.164, with a default country only when given", () => {
    expect(normalisePhone("+1 (415) 555-0100")).toBe("+14155550100");
    expect(normalisePhone("(415) 555-0100", "US")).toBe("+14155550100");
    expect(normalisePhone("(415) 555-0100")).toBeUndefined();
    expect(normalisePhone("+44 20 7946 0958")).toBe("+442079460958");
  });

  it("hashes by each platform's rules (golden values, and the same as an independent SHA-256)", async () => {
    const traits = { email: " Jane.Doe@Example.COM ", phone: "+1 (415) 555-0100" };
    const google = await hashIdentifiers(traits, "google");
    const meta = await hashIdentifiers(traits, "meta");
    expect(google).toEqual({ email: "86e0b9e56c17cc4d12387e1949b85053fbe73bc3ce5a1188713a9d300cc6133d", phone: "40d3f4e02db27d66cf4cfdda506c2c945f115a7955cc8491dda98ce5beabcda0" });
    expect(meta).toEqual({ email: await independent("jane.doe@example.com"), phone: await independent("14155550100") });
    expect(meta.phone).toBe("5e7ec4c79ccac6e420876e65ad0e6b4b2ccf73ec3dccb50297bf2890a1ec73b9");
    expect((await hashIdentifiers({ email: "Jane.Doe+shop@gmail.com" }, "google")).email).toBe("d6117306485ed0e50afab3ac871e98f81699151f30281527d63ff5f233656c69");
    expect(await sha256Hex("janedoe@gmail.com")).toBe(await independent("janedoe@gmail.com"));
  });
});

describe("where a destination may send", () => {
  it.each([
    ["https://hooks.example.com/in", true],
    ["http://hooks.example.com/in", false],
    ["https://localhost/in", false],
    ["https://127.0.0.1/in", false],
    ["https://2130706433/in", false],
    ["https://10.1.2.3/in", false],
    ["https://169.254.169.254/latest", false],
    ["https://192.168.1.1/", false],
    ["https://[::1]/", false],
    ["https://[fd00::1]/", false],
    ["https://[::ffff:127.0.0.1]/", false],
    ["https://user:pw@hooks.example.com/", false],
    ["https://printer.local/", false],
    ["https://8.8.8.8/hook", true],
  ])("deployed: %s → %s", (url, ok) => {
    expect(checkDestinationUrl(url, false).ok).toBe(ok);
  });

  it("in local development, plain http and loopback are allowed", () => {
    expect(checkDestinationUrl("http://127.0.0.1:9999/in", true).ok).toBe(true);
    expect(checkDestinationUrl("ftp://127.0.0.1/in", true).ok).toBe(false);
  });
});

describe("the retry schedule", () => {
  it("is about 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h, then gives up (about three days)", () => {
    const middle = () => 0.5;
    expect(RETRY_SCHEDULE_SECONDS.map((_, i) => retryDelaySeconds(i + 1, middle))).toEqual([5, 300, 1800, 7200, 18_000, 36_000, 50_400, 72_000, 86_400]);
    expect(retryDelaySeconds(MAX_ATTEMPTS, middle)).toBeNull();
    const total = RETRY_SCHEDULE_SECONDS.reduce((a, b) => a + b, 0);
    expect(total / 86_400).toBeGreaterThan(3);
    expect(total / 86_400).toBeLessThan(3.5);
  });

  it("adds ±20% jitter", () => {
    expect(retryDelaySeconds(2, () => 0)).toBe(240);
    expect(retryDelaySeconds(2, () => 1)).toBe(360);
  });

  it("honours Retry-After (seconds or a date), retries 408/429/5xx and network errors, fails other 4xx, and 410 is gone", () => {
    const now = Date.UTC(2026, 0, 1);
    expect(parseRetryAfter("120", now)).toBe(120);
    expect(parseRetryAfter(new Date(now + 90_000).toUTCString(), now)).toBe(90);
    expect(outcomeOf({ status: 429, retryAfter: "42" }, 1, now)).toEqual({ kind: "retry", delaySeconds: 42 });
    expect(outcomeOf({ status: 503 }, 1, now, () => 0.5)).toEqual({ kind: "retry", delaySeconds: 5 });
    expect(outcomeOf({ status: 408 }, 2, now, () => 0.5)).toEqual({ kind: "retry", delaySeconds: 300 });
    expect(outcomeOf({ error: "network error" }, 1, now, () => 0.5).kind).toBe("retry");
    expect(outcomeOf({ status: 400 }, 1, now)).toEqual({ kind: "failed", reason: "the endpoint answered 400" });
    expect(outcomeOf({ status: 302 }, 1, now).kind).toBe("failed");
    expect(outcomeOf({ status: 410 }, 1, now).kind).toBe("gone");
    expect(outcomeOf({ status: 500 }, MAX_ATTEMPTS, now).kind).toBe("failed");
    expect(outcomeOf({ status: 204 }, 1, now)).toEqual({ kind: "delivered" });
  });

  it("pauses a destination only after many failures in a row over hours", () => {
    const now = Date.now();
    expect(shouldPause(PAUSE_AFTER_FAILURES, now - PAUSE_AFTER_MS, now)).toBe(true);
    expect(shouldPause(PAUSE_AFTER_FAILURES - 1, now - PAUSE_AFTER_MS, now)).toBe(false);
    expect(shouldPause(PAUSE_AFTER_FAILURES * 10, now - 60_000, now)).toBe(false);
  });
});
