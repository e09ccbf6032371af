/**
 * The "customer's site": a plain web server on its own port whose pages embed the Cohort snippet,
 * the way a real site would. Query parameters pick the variant under test:
 * - `cohort=<base url>`: where the tag comes from and sends to (default: wrangler dev; tests pass the proxy);
 * - `auto=false`: `data-auto-page="false"`;
 * - `pre=<json array of calls>`: calls made through the stub before the tag has loaded;
 * - `key=<write key>`: another site's write key (default: the site global-setup created);
 * - `tcf=<TC string>`: an IAB TCF v2 CMP on the page (`__tcfapi`) that reports this TC string as
 *   `tcloaded` shortly after a listener is added, as a CMP that has a stored answer does.
 * `/next` is a page without the tag, to navigate away to. `/sdk/segment` and `/sdk/rudder` run
 * Segment's and RudderStack's browser SDKs instead of the tag (sdk-pages.ts).
 * `/shop/slots` is a page with personalisation slots (`?tag=<cohort url>` embeds the tag, as a site
 * without the edge route does; without it, the edge route injects the tag), `/shop/broken` answers
 * 500, `/shop/data.json` is not HTML: these are what Cohort's edge route fetches from the origin.
 */
import { createServer } from "node:http";
import { sdkAsset } from "./sdk-pages";

const escapeAttr = (value: string) => value.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
// JSON inside a <script>: no "</script>" or "<!--" can end it early.
const scriptJson = (value: unknown) => JSON.stringify(value).replace(/</g, "\\u003c");

/** A minimal TCF v2.2 CMP: `addEventListener` answers once, asynchronously, with a stored TC string. */
const tcfCmp = (tcString: string) => `<script>
window.__tcfapi = function (command, version, callback) {
  if (command !== "addEventListener" || typeof callback !== "function") return;
  setTimeout(function () {
    callback({ tcString: ${scriptJson(tcString)}, eventStatus: "tcloaded", cmpStatus: "loaded", gdprApplies: true, listenerId: 1 }, true);
  }, 20);
};
</script>`;

export function page(options: { cohortUrl: string; writeKey: string; autoPage: boolean; pre: unknown[]; tcf?: string }) {
  const auto = options.autoPage ? "" : ' data-auto-page="false"';
  const cmp = options.tcf ? tcfCmp(options.tcf) : "";
  const pre = options.pre.length
    ? `<script>for (const call of ${scriptJson(options.pre)}) cohort(...call)</script>`
    : "";
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Customer shop</title>
${cmp}
<script>window.cohort=window.cohort||function(){(cohort.q=cohort.q||[]).push(arguments)}</script>
${pre}
<script async src="${escapeAttr(options.cohortUrl)}/t.js" data-key="${escapeAttr(options.writeKey)}"${auto}></script>
</head>
<body>
<h1>Customer shop</h1>
<button id="buy" onclick="cohort('track', 'Order Completed', {total: 42})">Buy</button>
<a id="next" href="/next">Next page</a>
</body>
</html>`;
}

/** A product page with two slots, hidden until decided (the anti-flicker class). */
export function slotsPage(tag?: { cohortUrl: string; writeKey: string }) {
  const snippet = tag
    ? `<script>window.cohort=window.cohort||function(){(cohort.q=cohort.q||[]).push(arguments)}</script>
<script async src="${escapeAttr(tag.cohortUrl)}/t.js" data-key="${escapeAttr(tag.writeKey)}"></script>`
    : "";
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Shoes</title>
<style>.cohort-hide{visibility:hidden}</style>
${snippet}
</head>
<body>
<h1 id="hero" data-cohort-slot="hero" class="cohort-hide">Welcome to the shop</h1>
<p id="greeting" data-cohort-slot="greeting">Hello</p>
<button id="view" onclick="cohort('track', 'Product Viewed', {category: 'shoes'})">View shoes</button>
</body>
</html>`;
}

/** Starts the site on `port` (0: any free one); `defaults` may be filled in after it started. */
export async function startCustomerSite(port: number, defaults: { cohortUrl: string; writeKey: string }) {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://customer");
    let sdk: ReturnType<typeof sdkAsset>;
    try {
      sdk = sdkAsset(url, defaults);
    } catch (error) {
      res.writeHead(400).end(String(error));
      return;
    }
    if (sdk) {
      res.writeHead(200, { "content-type": sdk.type, "cache-control": "no-store" });
      res.end(sdk.body);
      return;
    }
    if (url.pathname === "/shop/slots") {
      const tag = url.searchParams.get("tag");
      res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "public, max-age=60" });
      res.end(slotsPage(tag ? { cohortUrl: tag, writeKey: url.searchParams.get("key") ?? defaults.writeKey } : undefined));
      return;
    }
    if (url.pathname === "/shop/broken") {
      res.writeHead(500, { "content-type": "text/html; charset=utf-8" });
      res.end("<!doctype html><title>Oops</title><h1>Origin error</h1>");
      return;
    }
    if (url.pathname === "/shop/data.json") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ ok: true, note: "<not html>" }));
      return;
    }
    if (url.pathname === "/next") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      res.end(`<!doctype html><title>Next</title><h1 id="arrived">Next page</h1>`);
      return;
    }
    if (url.pathname !== "/") {
      res.writeHead(404).end();
      return;
    }
    let pre: unknown[] = [];
    try {
      pre = JSON.parse(url.searchParams.get("pre") ?? "[]");
    } catch {
      res.writeHead(400).end("pre must be a JSON array");
      return;
    }
    res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
    res.end(
      page({
        cohortUrl: url.searchParams.get("cohort") ?? defaults.cohortUrl,
        writeKey: url.searchParams.get("key") ?? defaults.writeKey,
        autoPage: url.searchParams.get("auto") !== "false",
        pre,
        tcf: url.searchParams.get("tcf") ?? undefined,
      }),
    );
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    port: (server.address() as { port: number }).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
