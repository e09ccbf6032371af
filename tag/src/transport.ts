/**
 * Gets events to the Worker without ever blocking or breaking the page.
 *
 * - Batches: a send happens ~250 ms after the first queued event, or at once at 20 events.
 * - One request in flight at a time, so the first response's Set-Cookie lands before the next
 *   request leaves and all events of a visit share one identity.
 * - Retries 5xx, 408, 429 and network errors with exponential backoff (1 s … 30 s) from a bounded
 *   queue (oldest dropped first); other 4xx are permanent and dropped.
 * - On `pagehide` / hidden, whatever is still queued leaves with `sendBeacon`.
 */
import type { WireBatch, WireEvent } from "../../worker/collect/wire";

const MAX_QUEUE = 100;
const MAX_BATCH = 20;
const DELAY = 250;

let endpoint = "";
let writeKey = "";
let queue: WireEvent[] = [];
let busy = false;
let timer: ReturnType<typeof setTimeout> | 0 = 0;
let failures = 0;

const log = (reason: string) => console.debug("cohort: " + reason);

const body = (batch: WireEvent[]) =>
  JSON.stringify({ writeKey, sentAt: new Date().toISOString(), batch } satisfies WireBatch);

/**
 * Browsers refuse a `keepalive` request over 64 KiB (all such requests of a page together):
 * only small bodies ask for it, so a large batch is still sent, just not beyond the page's life.
 */
const post = (data: string) =>
  fetch(endpoint, { method: "POST", body: data, keepalive: data.length < 6e4, credentials: "include" });

/** Points the transport at `<host>/v1/batch` with the site's public write key. */
export function configure(host: string, key: string) {
  endpoint = host + "/v1/batch";
  writeKey = key;
}

/** Keeps at most MAX_QUEUE events, dropping the oldest: recent behaviour matters most. */
function bound(events: WireEvent[]) {
  const extra = events.length - MAX_QUEUE;
  if (extra > 0) log("queue full, dropped " + extra + " oldest event(s)");
  return extra > 0 ? events.slice(extra) : events;
}

function schedule(ms: number) {
  if (!busy && !timer) timer = setTimeout(send, ms);
}

/** Queues one event for the next batch. */
export function enqueue(event: WireEvent) {
  queue = bound([...queue, event]);
  if (queue.length >= MAX_BATCH && timer && !failures) {
    clearTimeout(timer);
    timer = 0;
  }
  schedule(queue.length >= MAX_BATCH ? 0 : DELAY);
}

function send() {
  timer = 0;
  if (busy || !queue.length) return;
  const batch = queue.splice(0, MAX_BATCH);
  busy = true;
  const settle = (retry: boolean) => {
    busy = false;
    if (retry) {
      queue = bound([...batch, ...queue]);
      const wait = Math.min(1000 * 2 ** failures++, 30000);
      log("send failed, retrying in " + wait + " ms");
      timer = setTimeout(send, wait);
    } else {
      failures = 0;
      if (queue.length) schedule(0);
    }
  };
  try {
    post(body(batch)).then(
      (res) => {
        const s = res.status;
        const retry = s >= 500 || s == 408 || s == 429;
        if (s >= 300 && !retry) log("dropped " + batch.length + " event(s): HTTP " + s);
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
 * Sends everything still queued as the page goes away. The batch in flight (if any) is not
 * repeated: it is already travelling with `keepalive`.
 */
export function drain() {
  if (timer) clearTimeout(timer);
  timer = 0;
  while (queue.length) {
    const batch = queue.splice(0, MAX_BATCH);
    const data = body(batch);
    let sent = false;
    try {
      sent = navigator.sendBeacon(endpoint, new Blob([data], { type: "text/plain" }));
    } catch {
      // No sendBeacon: fall through to fetch.
    }
    if (!sent) post(data).catch(() => {});
  }
}
