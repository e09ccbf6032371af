// The API viewer at /admin/api/docs (Swagger UI from swagger-ui-dist, copied into the assets by
// `npm run build:docs`) and the document it loads: public, served by the Worker, no CDN.
import { describe, expect, it } from "vitest";
import { call } from "./helpers";

describe("the API viewer", () => {
  it("serves a page that loads its own script and styles and points at the document", async () => {
    const page = await call("/admin/api/docs");
    expect(page.status).toBe(200);
    expect(page.headers.get("Content-Type")).toMatch(/^text\/html/);
    const html = await page.text();
    const sources = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(sources).toEqual(["/admin/api/docs/favicon-32x32.png", "/admin/api/docs/swagger-ui.css", "/admin/api/docs/swagger-ui-bundle.js", "/admin/api/docs/init.js"]);
    expect(sources.every((s) => s.startsWith("/"))).toBe(true);

    const init = await call("/admin/api/docs/init.js");
    expect(init.status).toBe(200);
    expect(init.headers.get("Content-Type")).toMatch(/javascript/);
    expect(await init.text()).toContain('url: "/admin/api/openapi.json"');

    const bundle = await call("/admin/api/docs/swagger-ui-bundle.js");
    expect(bundle.status).toBe(200);
    expect(bundle.headers.get("Content-Type")).toMatch(/javascript/);
    expect(await bundle.text()).toContain("SwaggerUIBundle");

    const css = await call("/admin/api/docs/swagger-ui.css");
    expect(css.status).toBe(200);
    expect(css.headers.get("Content-Type")).toMatch(/^text\/css/);
    await css.body?.cancel();
  });

  it("serves nothing else from its folder", async () => {
    const res = await call("/admin/api/docs/swagger-ui-bundle.js.map");
    expect(res.status).toBe(404);
    expect((await res.json<{ error: { code: string } }>()).error.code).toBe("not_found");
  });

  it("loads a document that needs no token and names this deployment", async () => {
    const res = await call("/admin/api/openapi.json");
    expect(res.status).toBe(200);
    const doc = await res.json<{ servers: { url: string }[]; paths: Record<string, unknown> }>();
    expect(doc.servers[0]!.url).toBe("https://cohort.test");
    expect(Object.keys(doc.paths)).toContain("/admin/api/sites/{id}/identity-secret");
  });
});
