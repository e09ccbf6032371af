/**
 * A tiny site origin for the edge benchmark (test/bench/edge.mjs), run as its own process so the
 * load generator and the origin do not share an event loop. Listens on 127.0.0.1 (a free port),
 * prints `{"port": n, "bytes": {...}}` as its first line on stdout, and serves from memory:
 * - `/slots.html`: a generated ~100 KB shop page with three `[data-cohort-slot]` elements;
 * - `/plain.html`: the same page without the slot attributes (only the tag gets injected);
 * - `/page.txt`: the bytes of `/slots.html` as `text/plain` (not HTML: the Worker passes it through).
 */
import { createServer } from "node:http";

export const PAGE_BYTES = 100 * 1024;

/** The page, padded with product cards to about `size` bytes; `slots` marks three elements. */
export function shopPage({ size = PAGE_BYTES, slots = true } = {}) {
  const slot = (name) => (slots ? ` data-cohort-slot="${name}" class="cohort-hide"` : "");
  const head = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Bench shop: shoes</title>
<style>.cohort-hide{opacity:0}body{font-family:system-ui,sans-serif;margin:0}.grid{display:grid;grid-template-columns:repeat(4,1fr);gap:1rem}.card{border:1px solid #ddd;padding:1rem}</style>
<link rel="stylesheet" href="/static/shop.css">
</head>
<body>
<header><nav><a href="/">Home</a> <a href="/shoes">Shoes</a> <a href="/bags">Bags</a> <a href="/sale">Sale</a></nav></header>
<section${slot("hero")}><h1>Welcome to the bench shop</h1><p>Spring collection is in.</p></section>
<aside${slot("banner")}><a href="/sale">Free shipping over €50</a></aside>
<main class="grid">
`;
  const tail = `</main>
<section${slot("recs")}><h2>You may also like</h2><ul><li>Socks</li><li>Laces</li></ul></section>
<footer><p>© Bench shop</p><script>window.dataLayer=window.dataLayer||[];</script></footer>
</body>
</html>
`;
  const cards = [];
  let length = head.length + tail.length;
  for (let i = 0; length < size; i++) {
    const card = `<article class="card" data-sku="SKU-${i}"><a href="/p/sku-${i}"><img src="/img/sku-${i}.jpg" alt="Shoe ${i}" width="240" height="240" loading="lazy"></a><h3>Runner model ${i}</h3><p class="price">€${(49 + (i % 50)).toFixed(2)}</p><p>Light, breathable and made to last; sizes 36 to 47.</p><button type="button" data-action="add" data-sku="SKU-${i}">Add to cart</button></article>\n`;
    cards.push(card);
    length += card.length;
  }
  return head + cards.join("") + tail;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const slots = Buffer.from(shopPage({ slots: true }));
  const plain = Buffer.from(shopPage({ slots: false }));
  const pages = {
    "/slots.html": { body: slots, type: "text/html; charset=utf-8" },
    "/plain.html": { body: plain, type: "text/html; charset=utf-8" },
    "/page.txt": { body: slots, type: "text/plain; charset=utf-8" },
  };
  const server = createServer((req, res) => {
    const page = pages[new URL(req.url, "http://origin").pathname];
    if (!page) {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found");
      return;
    }
    res.writeHead(200, { "content-type": page.type, "content-length": page.body.length, "cache-control": "public, max-age=60", etag: '"bench"' });
    res.end(req.method === "HEAD" ? undefined : page.body);
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, "127.0.0.1", () => {
    const bytes = Object.fromEntries(Object.entries(pages).map(([path, p]) => [path, p.body.length]));
    process.stdout.write(`${JSON.stringify({ port: server.address().port, bytes })}\n`);
  });
  process.on("SIGTERM", () => server.close(() => process.exit(0)));
}
