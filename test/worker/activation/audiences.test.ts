// Audiences to ad platforms: segment entries and exits of real profiles become Customer Match and
// Custom Audiences batches with identifiers hashed by each platform's rules; only profiles with
// advertising consent are added; exits, withdrawn consent and forgotten profiles are removed with
// the hashes they were added with. Segment entries also reach webhooks, with the profile's traits.
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { runAudienceJob } from "../../../worker/activation/audiences";
import { attemptDelivery } from "../../../worker/activation/deliver";
import { planDeliveries } from "../../../worker/activation/plan";
import { membershipMessages, type PipelineMessage } from "../../../worker/pipeline/messages";
import { adminCall, createSite, eventually, lookup, serverPost } from "../helpers";
import { ANALYTICS_ONLY, createDestination, deliveriesOf, deliveryEnv, deps, eventMessage, recordingFetch, recordingQueue, sha } from "./helpers";

const WS = "ws_aud";
const SEGMENT = "seg_audience";
const key = (userId: string) => `${WS}:user:${userId}`;

const people = {
  jane: { email: " Jane.Doe@Example.COM ", phone: "+1 (415) 555-0100", advertising: true },
  bob: { email: "Bob.Smith+promo@gmail.com", advertising: true },
  carol: { email: "carol@example.org", advertising: false },
  dan: { advertising: true },
  // The same person as Jane under another id (before a merge, say).
  jane2: { email: "jane.doe@example.com", phone: "+14155550100", advertising: true },
} as const;

beforeAll(async () => {
  const site = await createSite({}, WS);
  for (const [userId, { advertising, ...traits }] of Object.entries(people)) {
    const res = await serverPost(site, "/v1/identify", {
      userId,
      traits,
      context: { consent: { categoryPreferences: { Analytics: true, Personalization: true, Advertising: advertising } } },
    });
    expect(res.status).toBe(200);
  }
  await eventually(() => lookup("userId=jane2", WS), (res) => res.status === 200);
  // The identify events are archived before any destination exists, so none is planned for them.
  await eventually(
    () => env.DB.prepare("SELECT count(*) AS n FROM events WHERE workspace_id = ?").bind(WS).first<{ n: number }>(),
    (row) => row!.n === 5,
  );
  await env.DB.prepare("INSERT INTO segments (id, workspace_id, name, rule) VALUES (?, ?, 'Buyers', '{}')").bind(SEGMENT, WS).run();
});

const change = (userId: string, member: boolean, at = Date.now()): PipelineMessage => ({ kind: "membership", workspaceId: WS, segmentId: SEGMENT, profileKey: key(userId), member, at });

/** Plans the messages, runs the destination's audience job, sends its batches; returns the requests. */
async function sync(destinationId: string, messages: PipelineMessage[]) {
  const queue = recordingQueue();
  await planDeliveries(deliveryEnv(queue), messages);
  expect(queue.sent.map((s) => s.body)).toContainEqual({ kind: "audience", destinationId });
  const jobQueue = recordingQueue();
  await runAudienceJob({ ...env, DELIVERIES: jobQueue }, destinationId, Date.now());
  const { fetch, requests } = recordingFetch(() => new Response("{}", { status: 200 }));
  for (const sent of jobQueue.sent) {
    await attemptDelivery(deliveryEnv(recordingQueue()), (sent.body as { id: string }).id, deps(fetch, Date.now()));
  }
  return requests;
}

const RAW = ["jane", "Jane", "415", "555", "bob", "Bob", "carol", "example.com", "gmail.com"];
const noRawIdentifier = (body: string) => {
  for (const raw of RAW) expect(body).not.toContain(raw);
};

describe("Google Ads Customer Match", () => {
  it("adds consented profiles with Google-normalised SHA-256 identifiers, grouped by Consent Mode, then removes exits and forgotten profiles", async () => {
    const destination = await createDestination(WS, {
      name: "Customer Match",
      type: "google_ads",
      config: { customerId: "1234567890", userListId: "987", endpoint: "https://google.example/v17", developerToken: "dev-token", accessToken: "oauth-token" },
      segments: [SEGMENT],
    });
    expect(destination.purposes).toEqual(["advertising"]);
    // Credentials are stored, never shown back.
    expect(destination.config).toEqual({ customerId: "1234567890", userListId: "987", endpoint: "https://google.example/v17" });

    // Bob's page said ad_personalization: denied (Consent Mode), in the same batch as the entries.
    const bobEvent = eventMessage(WS, { context: { consent: { googleConsentMode: { ad_user_data: "granted", ad_personalization: "denied" } } } }, undefined, key("bob"));
    const requests = await sync(destination.id, [bobEvent, change("jane", true), change("bob", true), change("carol", true), change("dan", true)]);
    expect(requests).toHaveLength(2);
    for (const request of requests) {
      expect(request).toMatchObject({ method: "POST", url: "https://google.example/v17/customers/1234567890:uploadUserData" });
      expect(request.headers).toMatchObject({ authorization: "Bearer oauth-token", "developer-token": "dev-token", "content-type": "application/json" });
      noRawIdentifier(request.body);
    }
    const bodies = requests.map((r) => JSON.parse(r.body));
    const granted = bodies.find((b) => b.customerMatchUserListMetadata.consent.adPersonalization === "GRANTED");
    const denied = bodies.find((b) => b.customerMatchUserListMetadata.consent.adPersonalization === "DENIED");
    expect(granted).toEqual({
      customerMatchUserListMetadata: { userList: "customers/1234567890/userLists/987", consent: { adUserData: "GRANTED", adPersonalization: "GRANTED" } },
      operations: [{ create: { userIdentifiers: [{ hashedEmail: await sha("jane.doe@example.com") }, { hashedPhoneNumber: await sha("+14155550100") }] } }],
    });
    expect(denied.operations).toEqual([{ create: { userIdentifiers: [{ hashedEmail: await sha("bobsmith@gmail.com") }] } }]);
    // Carol (no advertising consent) and Dan (nothing to match on) were not sent.
    const stats = (await (await adminCall(`/admin/api/destinations/${destination.id}`, { workspace: WS })).json<any>()).stats;
    expect(stats).toMatchObject({ delivered: 2, filtered: 2 });

    const exit = await sync(destination.id, [change("jane", false)]);
    expect(JSON.parse(exit[0]!.body).operations).toEqual([{ remove: { userIdentifiers: [{ hashedEmail: await sha("jane.doe@example.com") }, { hashedPhoneNumber: await sha("+14155550100") }] } }]);

    // Bob withdraws or is erased: his profile is forgotten, and he leaves the list by his stored hashes.
    const forgotten = await sync(destination.id, [{ kind: "forget", workspaceId: WS, profileKey: key("bob"), archive: true }]);
    expect(JSON.parse(forgotten[0]!.body).operations).toEqual([{ remove: { userIdentifiers: [{ hashedEmail: await sha("bobsmith@gmail.com") }] } }]);
    const { results } = await env.DB.prepare("SELECT * FROM audience_members WHERE destination_id = ?").bind(destination.id).all();
    expect(results).toEqual([]);
  });
});

describe("audience batches", () => {
  it("go out in order: while one is still being retried, the next change waits", async () => {
    const destination = await createDestination(WS, { name: "Ordered", type: "google_ads", config: { customerId: "1111111111", userListId: "1", endpoint: "https://google.example/v17" }, segments: [SEGMENT] });
    const queue = recordingQueue();
    await planDeliveries(deliveryEnv(queue), [change("jane", true)]);
    const jobQueue = recordingQueue();
    await runAudienceJob({ ...env, DELIVERIES: jobQueue }, destination.id, Date.now());
    const [add] = jobQueue.sent;
    const busy = recordingFetch(() => new Response("", { status: 503 }));
    const now = Date.now();
    expect(await attemptDelivery(deliveryEnv(recordingQueue()), (add!.body as { id: string }).id, deps(busy.fetch, now))).toEqual({ resendInSeconds: 5 });

    await planDeliveries(deliveryEnv(recordingQueue()), [change("jane", false)]);
    const waiting = recordingQueue();
    expect(await runAudienceJob({ ...env, DELIVERIES: waiting }, destination.id, now)).toMatchObject({ waiting: true });
    expect(waiting.sent).toEqual([{ body: { kind: "audience", destinationId: destination.id }, delaySeconds: 10 }]);
    expect((await deliveriesOf(destination.id)).map((d) => d.status)).toEqual(["retrying"]);

    // The add is delivered; then the removal goes out.
    await attemptDelivery(deliveryEnv(recordingQueue()), (add!.body as { id: string }).id, deps(recordingFetch(() => new Response("{}")).fetch, now + 5000));
    const after = recordingQueue();
    expect(await runAudienceJob({ ...env, DELIVERIES: after }, destination.id, now + 6000)).toMatchObject({ removed: 1, waiting: false });
  });

  it("do not remove identifiers that another profile in the audience still holds", async () => {
    const destination = await createDestination(WS, { name: "Shared email", type: "google_ads", config: { customerId: "2222222222", userListId: "2", endpoint: "https://google.example/v17" }, segments: [SEGMENT] });
    const added = await sync(destination.id, [change("jane", true), change("jane2", true)]);
    expect(JSON.parse(added[0]!.body).operations).toHaveLength(2);
    const forgotten = await sync(destination.id, [{ kind: "forget", workspaceId: WS, profileKey: key("jane"), archive: false }]);
    // Jane2 still has the email: nothing is removed, Jane's row is gone.
    expect(forgotten).toEqual([]);
    const exit = await sync(destination.id, [change("jane2", false)]);
    expect(JSON.parse(exit[0]!.body).operations).toEqual([{ remove: { userIdentifiers: [{ hashedEmail: await sha("jane.doe@example.com") }, { hashedPhoneNumber: await sha("+14155550100") }] } }]);
  });
});

describe("Meta Custom Audiences", () => {
  it("adds rows in the EMAIL, PHONE schema (phone digits only) and removes a profile whose events withdraw advertising consent", async () => {
    const destination = await createDestination(WS, {
      name: "Custom Audience",
      type: "meta",
      config: { audienceId: "23850000000000001", endpoint: "https://meta.example/v21.0", accessToken: "meta-token" },
      segments: [SEGMENT],
    });
    const added = await sync(destination.id, [change("jane", true), change("bob", true)]);
    expect(added).toHaveLength(1);
    expect(added[0]).toMatchObject({ method: "POST", url: "https://meta.example/v21.0/23850000000000001/users" });
    expect(added[0]!.headers.authorization).toBe("Bearer meta-token");
    noRawIdentifier(added[0]!.body);
    const body = JSON.parse(added[0]!.body);
    expect(body.payload.schema).toEqual(["EMAIL", "PHONE"]);
    expect(body.payload.data.sort()).toEqual(
      [
        [await sha("jane.doe@example.com"), await sha("14155550100")],
        [await sha("bob.smith+promo@gmail.com"), ""],
      ].sort(),
    );

    // Jane's next event comes under consent without advertising: she leaves the audience.
    const removed = await sync(destination.id, [eventMessage(WS, {}, ANALYTICS_ONLY, key("jane"))]);
    expect(removed).toHaveLength(1);
    expect(removed[0]!.method).toBe("DELETE");
    expect(JSON.parse(removed[0]!.body)).toEqual({ payload: { schema: ["EMAIL", "PHONE"], data: [[await sha("jane.doe@example.com"), await sha("14155550100")]] } });
  });
});

describe("segment entries to a webhook", () => {
  it("are sent for the destination's segments, with the profile's traits and ids, under the profile's consent", async () => {
    const destination = await createDestination(WS, { name: "CRM hook", type: "webhook", config: { url: "https://crm.example/in" }, segments: [SEGMENT] });
    const other = await createDestination(WS, { name: "Other hook", type: "webhook", config: { url: "https://other.example/in" } });
    const messages = [...membershipMessages(key("jane"), "site_x", [{ segmentId: SEGMENT, member: true, at: Date.now() }]), ...membershipMessages(key("ghost"), "site_x", [{ segmentId: SEGMENT, member: true, at: Date.now() }])];
    await planDeliveries(deliveryEnv(recordingQueue()), messages);
    expect(await deliveriesOf(other.id)).toEqual([]);
    const rows = await deliveriesOf(destination.id);
    expect(rows.map((r) => r.kind)).toEqual(["segment", "segment"]);
    const { fetch, requests } = recordingFetch(() => new Response(null, { status: 204 }));
    for (const row of rows) await attemptDelivery(deliveryEnv(recordingQueue()), row.id as string, deps(fetch, Date.now()));
    expect(requests).toHaveLength(1);
    const sent = JSON.parse(requests[0]!.body);
    expect(sent).toMatchObject({ type: "track", event: "Segment Entered", userId: "jane", properties: { segmentId: SEGMENT, identities: [{ kind: "userId", value: "jane" }] }, traits: { email: " Jane.Doe@Example.COM " } });
    const ghost = (await deliveriesOf(destination.id)).find((r) => r.profile_key === key("ghost"));
    expect(ghost).toMatchObject({ status: "filtered", error: "the profile is gone" });
  });
});
