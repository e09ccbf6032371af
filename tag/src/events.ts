/**
 * Turns the public commands (`page`, `track`, `identify`) into wire events. Holds the one piece
 * of identity the tag keeps: the userId from the last `identify`, in memory only. The browser
 * itself is identified by the Worker's HttpOnly cookie, so no anonymousId is ever made here.
 */
import type { WireEvent } from "../../worker/collect/wire";
import { context } from "./context";

type Props = Record<string, unknown>;

let userId: string | undefined;
/** The site server's proof of userId (DESIGN.md "Verified identity"), sent with every event that names it. */
let userHash: string | undefined;

/** A random UUID; `crypto.randomUUID` needs a secure context, so plain-http pages fall back. */
function uuid(): string {
  try {
    return crypto.randomUUID();
  } catch {
    return "10000000-1000-4000-8000-100000000000".replace(/[018]/g, (c) =>
      (+c ^ ((Math.random() * 16) & (15 >> (+c / 4)))).toString(16),
    );
  }
}

function base() {
  const c = context();
  if (userHash) c.identity = { userHash };
  return { messageId: uuid(), timestamp: new Date().toISOString(), userId, context: c };
}

const obj = (value: unknown): Props => (value && typeof value == "object" ? (value as Props) : {});

/**
 * Builds the event for one command, or returns a reason string when the call is not valid.
 * @example build("track", ["Product Viewed", {sku: "s1"}]) // → {type:"track", event:"Product Viewed", …}
 * @example build("identify", ["u1", {plan: "pro"}, {userHash: "9f…"}]) // → {type:"identify", userId:"u1", context:{identity:{userHash}}, …}
 */
export function build(command: unknown, args: unknown[]): WireEvent | string {
  const [a, b, c] = args;
  if (command == "page") {
    // cohort('page', props) is accepted too, as analytics.js does.
    const named = typeof a == "string";
    return { ...base(), type: "page", name: named ? a : undefined, properties: obj(named ? b : a) } satisfies WireEvent;
  }
  if (command == "track") {
    if (typeof a != "string" || !a) return "track needs an event name";
    return { ...base(), type: "track", event: a, properties: obj(b) } satisfies WireEvent;
  }
  if (command == "identify") {
    const id = typeof a == "number" ? "" + a : typeof a == "string" && a ? a : undefined;
    if (id && id != userId) userHash = undefined;
    if (id) userId = id;
    if (!userId) return "identify needs a userId";
    const hash = obj(c).userHash;
    if (typeof hash == "string") userHash = hash;
    return { ...base(), type: "identify", userId, traits: obj(typeof a == "object" ? a : b) } satisfies WireEvent;
  }
  return "unknown command " + command;
}
