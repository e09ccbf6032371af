// Stitching: an anonymous browser becomes a known user; nothing is lost or counted twice.
import { describe, expect, it } from "vitest";
import { browserPost, createSite, lookup, serverPost } from "./helpers";

const idOf = (res: Response) => /cohort_id=([\w-]+)\./.exec(res.headers.get("Set-Cookie") ?? "")?.[1];
const cookieOf = (res: Response) => res.headers.get("Set-Cookie")!.split(";")[0]!;
type Profile = { key: string; counters: Record<string, number>; traits: Record<string, unknown>; identities: { kind: string; value: string }[] };

describe("identify merges the anonymous profile into the user's", () => {
  it("moves history and counters, and late anonymous events land on the user", async () => {
    const site = await createSite();
    const first = await browserPost(site, "/v1/batch", { batch: [{ type: "page" }, { type: "track", event: "Product Viewed" }] });
    const cookie = cookieOf(first);
    const anonymousId = idOf(first)!;
    await serverPost(site, "/v1/track", { userId: "u-merge", event: "Signed Up" });

    await browserPost(site, "/v1/batch", { batch: [{ type: "identify", userId: "u-merge", traits: { plan: "pro" } }] }, { Cookie: cookie });
    const user = await (await lookup("userId=u-merge")).json<Profile>();
    expect(user.counters).toMatchObject({ total: 4, "type:page": 1, "event:Product Viewed": 1, "event:Signed Up": 1, "type:identify": 1 });
    expect(user.traits).toEqual({ plan: "pro" });
    expect(user.identities).toEqual(expect.arrayContaining([{ kind: "anonymousId", value: anonymousId }]));

    // The anonymous id now leads to the user; its late events count there.
    expect((await (await lookup(`anonymousId=${anonymousId}`)).json<Profile>()).key).toBe(`${site.workspaceId}:user:u-merge`);
    await browserPost(site, "/v1/batch", { batch: [{ type: "track", event: "Late Click" }] }, { Cookie: cookie });
    expect((await (await lookup("userId=u-merge")).json<Profile>()).counters).toMatchObject({ total: 5, "event:Late Click": 1 });
  });

  it("gives one profile to the same user on two browsers", async () => {
    const site = await createSite();
    const laptop = await browserPost(site, "/v1/batch", { batch: [{ type: "page" }] });
    const phone = await browserPost(site, "/v1/batch", { batch: [{ type: "page" }, { type: "page" }] });
    await browserPost(site, "/v1/batch", { batch: [{ type: "identify", userId: "u-two" }] }, { Cookie: cookieOf(laptop) });
    await browserPost(site, "/v1/batch", { batch: [{ type: "identify", userId: "u-two" }] }, { Cookie: cookieOf(phone) });
    const user = await (await lookup("userId=u-two")).json<Profile>();
    expect(user.counters["type:page"]).toBe(3);
    const anonymous = user.identities.filter((i) => i.kind === "anonymousId").map((i) => i.value);
    expect(anonymous.sort()).toEqual([idOf(laptop), idOf(phone)].sort());
  });

  it("loses and doubles nothing when merges and events race", async () => {
    const site = await createSite();
    const first = await browserPost(site, "/v1/batch", { batch: Array.from({ length: 10 }, (_, i) => ({ type: "track", event: "Before", messageId: `before-${i}` })) });
    const cookie = cookieOf(first);
    const racing = [
      ...Array.from({ length: 5 }, () => browserPost(site, "/v1/batch", { batch: [{ type: "identify", userId: "u-race", messageId: "race-identify" }] }, { Cookie: cookie })),
      ...Array.from({ length: 30 }, (_, i) => browserPost(site, "/v1/batch", { batch: [{ type: "track", event: "During", messageId: `during-${i % 20}` }] }, { Cookie: cookie })),
    ];
    const responses = await Promise.all(racing);
    expect(responses.every((r) => r.status === 200)).toBe(true);
    const user = await (await lookup("userId=u-race")).json<Profile>();
    expect(user.counters).toMatchObject({ total: 31, "event:Before": 10, "event:During": 20, "type:identify": 1 });
  });

  it("alias merges the previous id into the user", async () => {
    const site = await createSite();
    await serverPost(site, "/v1/track", { anonymousId: "device-9", event: "Opened App" });
    await serverPost(site, "/v1/alias", { previousId: "device-9", userId: "u-alias" });
    const user = await (await lookup("userId=u-alias")).json<Profile>();
    expect(user.counters).toMatchObject({ "event:Opened App": 1, "type:alias": 1 });
  });

  it("merges into where an aliased user now leads", async () => {
    const site = await createSite();
    await serverPost(site, "/v1/identify", { userId: "old-id", traits: { plan: "free" } });
    await serverPost(site, "/v1/alias", { previousId: "old-id", userId: "new-id" });
    const browser = await browserPost(site, "/v1/batch", { batch: [{ type: "track", event: "Added To Cart" }] });
    await browserPost(site, "/v1/batch", { batch: [{ type: "identify", userId: "old-id" }] }, { Cookie: cookieOf(browser) });
    const user = await (await lookup("userId=new-id")).json<Profile>();
    expect(user.counters["event:Added To Cart"]).toBe(1);
  });
});

describe("a refusal that rests on the region alone", () => {
  it("keeps a refused-by-region request from erasing a profile that holds consent", async () => {
    const site = await createSite();
    await serverPost(site, "/v1/track", { userId: "u-42", event: "Subscribed" });
    // The same user's browser in France, with no consent signal yet.
    const res = await browserPost(site, "/v1/batch", { batch: [{ type: "track", userId: "u-42", event: "Browsed" }] }, {}, "FR");
    expect(res.status).toBe(200);
    const user = await (await lookup("userId=u-42")).json<Profile>();
    expect(user.counters).toMatchObject({ "event:Subscribed": 1 });
    expect(user.counters["event:Browsed"]).toBeUndefined();
  });
});
