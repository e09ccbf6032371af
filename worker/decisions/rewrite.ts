/**
 * The edge HTML path (DESIGN.md §1): personalises the origin's page before it leaves the edge, so
 * the first paint already shows the variant. Fail-open: whatever goes wrong, the visitor gets the
 * origin's page, byte for byte.
 *
 * HTMLRewriter streams, but decisions must be known before the first slot streams out, and the
 * slots are only known once the whole page has been seen. So an HTML page is handled in three steps:
 * 1. buffer the body, up to `maxBytes` (2 MB). A larger page is passed on unchanged, streaming
 *    (the part already read first, then the rest as it arrives);
 * 2. a first HTMLRewriter pass over the buffer collects the `data-cohort-slot` names (a real HTML
 *    parse, so slots in comments or scripts do not count) and whether the tag is already there;
 * 3. one `decideSlots` call for all of them, bounded by `timeoutMs` (50 ms); then a second pass
 *    fills the slots into a buffer, which is returned only once complete — so an error anywhere,
 *    even in the middle of the rewrite, still falls back to the original bytes.
 * A page costs one origin download of latency before its first byte (it is not streamed through);
 * in exchange the answer is all-or-nothing. Anything that is not a 200 `text/html` response with a
 * body (images, JSON, redirects, errors, HEAD) is returned as is, still streaming.
 *
 * What the second pass writes: `text` as the slot's content (escaped by HTMLRewriter), `html` as
 * the slot's inner HTML (the Worker already escaped the visitor's values in it), `attributes` set
 * (escaped; unsafe ones skipped again), `json` nothing. Every slot decided at the edge gets
 * `data-cohort-done` (the tag leaves it alone) and loses the `cohort-hide` anti-flicker class. With
 * `tag`, the stub and `<script async src=… data-key=…>` are appended to `<head>` unless the page
 * already loads the tag. A personalised response is `Cache-Control: private` (a shared cache must
 * never serve one visitor's page to another), `Vary: Cookie`, without the origin's `ETag` and
 * `Content-Length`.
 */
import type { WireDecisions } from "../collect/wire";
import { escapeHtml } from "./render";
import { unsafeAttribute } from "./schema";

export interface RewriteOptions {
  /** Decides the slots found on the page (the ProfileStore's decide, for the visitor's cookie). */
  decideSlots: (slots: string[]) => Promise<WireDecisions>;
  /** How long to wait for decisions before serving the page unchanged. Default 50 ms. */
  timeoutMs?: number;
  /** The largest page that is personalised; larger ones pass through. Default 2 MB. */
  maxBytes?: number;
  /** Inject the tag into `<head>` (when the page has no `script[data-key][src*="/t."]` yet). */
  tag?: { writeKey: string; src?: string };
  /** Told why a page was served unchanged (for logs). Never affects the response. */
  onFallback?: (reason: string, error?: unknown) => void;
}

export const REWRITE_DEFAULTS = { timeoutMs: 50, maxBytes: 2 * 1024 * 1024 } as const;

/** The stub that queues `cohort()` calls made before t.js has loaded (README "Install"). */
export const STUB = "window.cohort=window.cohort||function(){(cohort.q=cohort.q||[]).push(arguments)}";

const SLOT = "[data-cohort-slot]";
const TAG = 'script[data-key][src*="/t."]';

class Timeout extends Error {
  override name = "Timeout";
}

/** Whether a response is a page this module personalises. */
export function isPersonalisable(response: Response): boolean {
  const type = response.headers.get("content-type") ?? "";
  return response.status === 200 && response.body !== null && /^\s*text\/html\b/i.test(type);
}

/**
 * The personalised page, or the origin's page unchanged.
 * @example
 * const origin = await fetch(request);
 * return personalise(origin, { decideSlots: (slots) => profile.decide(slots), tag: { writeKey } });
 */
export async function personalise(response: Response, options: RewriteOptions): Promise<Response> {
  if (!isPersonalisable(response)) return response;
  const maxBytes = options.maxBytes ?? REWRITE_DEFAULTS.maxBytes;
  const fallback = (reason: string, error?: unknown) => {
    try {
      options.onFallback?.(reason, error);
    } catch {
      // A logger must not change the answer.
    }
  };

  const reader = response.body!.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
      if (size > maxBytes) {
        fallback("page larger than maxBytes");
        return new Response(resume(chunks, reader), response);
      }
    }
  } catch (error) {
    // The origin's body failed mid-way: pass on what was read and the same failure.
    fallback("origin body failed", error);
    return new Response(resume(chunks, reader), response);
  }
  const original = concat(chunks, size);
  const unchanged = () => new Response(original, response);

  try {
    const scan = await scanPage(original);
    const injectTag = options.tag !== undefined && !scan.hasTag;
    if (scan.slots.length === 0 && !injectTag) return unchanged();

    let decisions: WireDecisions | undefined;
    if (scan.slots.length > 0) {
      decisions = await withTimeout(options.decideSlots(scan.slots), options.timeoutMs ?? REWRITE_DEFAULTS.timeoutMs);
      if (typeof decisions !== "object" || decisions === null) throw new TypeError("decideSlots answered no decisions object");
    }

    const headers = new Headers(response.headers);
    headers.delete("content-length");
    if (decisions) {
      headers.set("cache-control", privateCacheControl(headers.get("cache-control")));
      headers.set("vary", addVary(headers.get("vary"), "Cookie"));
      headers.delete("etag");
    }
    const body = await rewrite(original, headers, decisions, injectTag ? options.tag : undefined);
    return new Response(body, { status: response.status, statusText: response.statusText, headers });
  } catch (error) {
    fallback(error instanceof Timeout ? "decide timed out" : "rewrite failed", error);
    return unchanged();
  }
}

/** The slot names on a page, in order, each once; and whether the page loads the tag itself. */
async function scanPage(html: Uint8Array): Promise<{ slots: string[]; hasTag: boolean }> {
  const slots = new Set<string>();
  let hasTag = false;
  await new HTMLRewriter()
    .on(SLOT, {
      element(element) {
        const name = element.getAttribute("data-cohort-slot")?.trim();
        if (name) slots.add(name);
      },
    })
    .on(TAG, {
      element() {
        hasTag = true;
      },
    })
    .transform(new Response(html))
    .arrayBuffer();
  return { slots: [...slots], hasTag };
}

async function rewrite(html: Uint8Array, headers: Headers, decisions: WireDecisions | undefined, tag: RewriteOptions["tag"]): Promise<ArrayBuffer> {
  let rewriter = new HTMLRewriter();
  if (decisions) rewriter = rewriter.on(SLOT, { element: (element) => fillSlot(element, decisions) });
  if (tag) {
    const snippet = `<script>${STUB}</script><script async src="${escapeHtml(tag.src ?? "/t.js")}" data-key="${escapeHtml(tag.writeKey)}"></script>`;
    rewriter = rewriter.on("head", { element: (element) => void element.append(snippet, { html: true }) });
  }
  // The input keeps the origin's content type, so HTMLRewriter reads the page's charset from it.
  return rewriter.transform(new Response(html, { headers: { "content-type": headers.get("content-type") ?? "text/html" } })).arrayBuffer();
}

function fillSlot(element: Element, decisions: WireDecisions) {
  const name = element.getAttribute("data-cohort-slot")?.trim();
  if (!name) return;
  element.setAttribute("data-cohort-done", "");
  const classes = element.getAttribute("class");
  if (classes && /\bcohort-hide\b/.test(classes)) {
    element.setAttribute("class", classes.split(/\s+/).filter((c) => c && c !== "cohort-hide").join(" "));
  }
  if (!Object.prototype.hasOwnProperty.call(decisions, name)) return;
  const content = decisions[name]?.content;
  if (!content) return;
  if ("text" in content) element.setInnerContent(String(content.text), { html: false });
  else if ("html" in content) element.setInnerContent(String(content.html), { html: true });
  else if ("attributes" in content) {
    for (const [attribute, value] of Object.entries(content.attributes)) {
      if (typeof value === "string" && /^[A-Za-z_:][A-Za-z0-9_.:-]*$/.test(attribute) && !unsafeAttribute(attribute, value)) element.setAttribute(attribute, value);
    }
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | null = null;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Timeout(`decide took longer than ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** `public, max-age=600` → `private, max-age=600`: shared-cache directives go, private is added. */
export function privateCacheControl(value: string | null): string {
  const kept = (value ?? "")
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part && !/^(public|private|s-maxage\s*=.*)$/i.test(part));
  return ["private", ...kept].join(", ");
}

/** Adds a header name to a `Vary` list once (`*` already covers it). */
export function addVary(value: string | null, name: string): string {
  const names = (value ?? "").split(",").map((part) => part.trim()).filter(Boolean);
  if (names.some((part) => part === "*" || part.toLowerCase() === name.toLowerCase())) return names.join(", ");
  return [...names, name].join(", ");
}

function concat(chunks: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/** A stream of the chunks already read, then the rest of the reader, as it arrives. */
function resume(chunks: Uint8Array[], reader: ReadableStreamDefaultReader<Uint8Array>): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (i < chunks.length) return controller.enqueue(chunks[i++]!);
      try {
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      } catch (error) {
        controller.error(error);
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}
