/**
 * Gets events and consent choices to the Worker without ever blocking or breaking the page.
 *
 * - One ordered queue of items: wire events (sent in batches to `/v1/batch`) and consent requests
 *   (ready-made JSON bodies, sent alone to `/v1/consent`). Order is kept, so events queued after a
 *   consent choice leave only once its answer (and its Set-Cookie) has arrived.
 * - Batches: a send happens ~250 ms after the first queued event, or at once at 20 events or when
 *   a consent request is queued.
 * - One request in flight at a time, so the first response's Set-Cookie lands before the next
 *   request leaves and all events of a visit share one identity.
 * - Retries 5xx, 408, 429 and network errors with exponential backoff (1 s … 30 s) from a bounded
 *   queue (oldest events dropped first); other 4xx are permanent and dropped.
 * - On `pagehide` / hidden, whatever is still queued leaves with `sendBeacon`.
 * - Decisions: slots asked for (`ask`) ride on the next batch as `?decide=a,b` (so they reflect
 *   its events), or go alone as `POST /v1/decide` when no event is waiting; the answer's
 *   `decisions` go to the askers' callbacks (`{}` when the request failed for good). Asks are
 *   retried with their batch, and never go in a beacon.
 */
import type { WireBatch, WireConsentRequest, WireDecideRequest, WireDecisions, WireDecidingResponse, WireEvent } from "../../worker/collect/wire";

const MAX_QUEUE = 100;
const MAX_BATCH = 20;
const DELAY = 250;

/** A wire event, or the JSON body of a `POST /v1/consent`. */
type Item = WireEvent | string;
/** Slots asked for, and who to tell. */
type Ask = [slots: string[], done: (decisions: WireDecisions) => void];

let host = "";
let writeKey = "";
let queue: Item[] = [];
let busy = false;
let timer: ReturnType<typeof setTimeout> | 0 = 0;
let failures = 0;
let asks: Ask[] = [];

/** The tag's one voice on the page: a `console.debug` line, never an exception. */
export const log = (reason: string) => console.debug("cohort: " + reason);
const isConsent = (item: Item): item is string => typeof item == "string";

/**
 * Takes the next request off the front of the queue: one consent request, or up to MAX_BATCH
 * events that come before the next consent request. With `withAsks`, the pending asks go with a
 * batch (`?decide=`) or, when no event is queued, alone to `/v1/decide`.
 */
function next(withAsks?: 1): [url: string, data: string, items: Item[], taken: Ask[]] {
  if (isConsent(queue[0]!)) return [host + "/v1/consent", queue[0], queue.splice(0, 1), []];
  const taken = withAsks ? asks : [];
  if (withAsks) asks = [];
  const slots = [...new Set(taken.flatMap((a) => a[0]))];
  if (!queue.length) return [host + "/v1/decide", JSON.stringify({ writeKey, slots } satisfies WireDecideRequest), [], taken];
  const stop = queue.findIndex(isConsent);
  const batch = queue.splice(0, Math.min(stop < 0 ? MAX_BATCH : stop, MAX_BATCH)) as WireEvent[];
  return [
    host + "/v1/batch" + (slots[0] ? "?decide=" + encodeURIComponent(slots.join()) : ""),
    JSON.stringify({ writeKey, sentAt: new Date().toISOString(), batch } satisfies WireBatch),
    batch,
    taken,
  ];
}

/** Tells each asker; a callback that throws is the page's bug, reported, never rethrown. */
function answer(taken: Ask[], decisions?: WireDecisions) {
  for (const [, done] of taken) {
    try {
      done(decisions || {});
    } catch (error) {
      log("decide callback failed: " + error);
    }
  }
}

/**
 * Asks for decisions for `slots`; `done` gets them (by slot; a slot without one is absent) with
 * the answer of the next request, which leaves at once.
 */
export function ask(slots: string[], done: Ask[1]) {
  asks.push([slots, done]);
  flush();
}

/**
 * Browsers refuse a `keepalive` request over 64 KiB (all such requests of a page together):
 * only small bodies ask for it, so a large batch is still sent, just not beyond the page's life.
 */
const post = (url: string, data: string) =>
  fetch(url, { method: "POST", body: data, keepalive: data.length < 6e4, credentials: "include" });

/** Points the transport at `<host>/v1/…` with the site's public write key. */
export function configure(origin: string, key: string) {
  host = origin;
  writeKey = key;
}

/**
 * Keeps at most MAX_QUEUE events, dropping the oldest: recent behaviour matters most. Consent
 * requests are never dropped: they are few, and the visitor's choice must reach the Worker.
 */
function bound(items: Item[]) {
  let extra = items.length - items.filter(isConsent).length - MAX_QUEUE;
  if (extra > 0) log("queue full, dropped " + extra + " oldest event(s)");
  return extra > 0 ? items.filter((item) => isConsent(item) || extra-- <= 0) : items;
}

function schedule(ms: number) {
  if (!busy && !timer) timer = setTimeout(send, ms);
}

/** Sends what is queued now instead of after the batching delay (not during a retry's backoff). */
function flush() {
  if (timer && !failures) {
    clearTimeout(timer);
    timer = 0;
  }
  schedule(0);
}

/** Queues one event for the next batch. */
export function enqueue(event: WireEvent) {
  queue = bound([...queue, event]);
  queue.length >= MAX_BATCH ? flush() : schedule(DELAY);
}

/**
 * Queues a `POST /v1/consent` behind what is already queued and sends at once. With `drop`, the
 * events still waiting in the queue are dropped first: they were collected under a consent the
 * visitor has just refused. (A batch already in flight cannot be called back; the Worker drops
 * events that arrive after a revocation.)
 */
export function consentRequest(fields: Omit<WireConsentRequest, "writeKey">, drop?: boolean) {
  if (drop) queue = queue.filter(isConsent);
  queue.push(JSON.stringify({ writeKey, ...fields } satisfies WireConsentRequest));
  flush();
}

function send() {
  timer = 0;
  if (busy || !(queue.length || asks.length)) return;
  const [url, data, items, taken] = next(1);
  busy = true;
  const settle = (retry: boolean) => {
    busy = false;
    if (retry) {
      asks = [...taken, ...asks];
      queue = bound([...items, ...queue]);
      const wait = Math.min(1000 * 2 ** failures++, 30000);
      log("send failed, retrying in " + wait + " ms");
      timer = setTimeout(send, wait);
    } else {
      failures = 0;
      if (queue.length || asks.length) schedule(0);
    }
  };
  try {
    post(url, data).then(
      (res) => {
        const s = res.status;
        const retry = s >= 500 || s == 408 || s == 429;
        if (s >= 300 && !retry) log("dropped " + items.length + " item(s): HTTP " + s);
        if (taken[0] && !retry)
          (s < 300 ? res.json() : Promise.reject()).then(
            (body: WireDecidingResponse) => answer(taken, body.decisions),
            () => answer(taken),
          );
        settle(retry);
      },
      () => settle(true),
    );
  } catch {
    // fetch itself threw (very old browser, bad URL): same as a network error.
    settle(true);
  }
}

/**
 * Sends everything still queued as the page goes away, in order. The request in flight (if any)
 * is not repeated: it is already travelling with `keepalive`.
 */
export function drain() {
  if (timer) clearTimeout(timer);
  timer = 0;
  while (queue.length) {
    const [url, data] = next();
    let sent = false;
    try {
      sent = navigator.sendBeacon(url, new Blob([data], { type: "text/plain" }));
    } catch {
      // No sendBeacon: fall through to fetch.
    }
    if (!sent) post(url, data).catch(() => {});
  }
}
