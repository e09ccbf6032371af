// The OpenAPI document at /admin/api/openapi.json, checked by a standard validator
// (@seriousme/openapi-schema-validator: the OpenAPI 3.1 JSON Schema, then every $ref resolved), and
// against the app's own route table: every admin route is in it, each with a response schema.
// The validator compiles JSON Schemas with code generation, which workerd forbids, so this runs in
// Node on the same app object the Worker serves (its modules need no Worker runtime to load).
import { Validator } from "@seriousme/openapi-schema-validator";
import { beforeAll, describe, expect, it } from "vitest";

interface Operation {
  responses: Record<string, { content?: Record<string, { schema?: unknown }> }>;
  security?: Record<string, string[]>[];
  tags?: string[];
  requestBody?: { content: Record<string, { schema?: unknown }> };
}
interface Document {
  openapi: string;
  servers: { url: string }[];
  paths: Record<string, Record<string, Operation>>;
  components: { securitySchemes: Record<string, { type: string; scheme?: string }> };
}
interface App {
  request(url: string): Promise<Response>;
  routes: { method: string; path: string }[];
}

/** Routes of the admin API that are not in the document yet, each with the reason. */
const UNDOCUMENTED: Record<string, string> = {};
/** Served before the token check and not part of the API itself. */
const OWN = ["/admin/api/openapi.json", "/admin/api/docs", "/admin/api/docs/:file"];

let app: App;
let doc: Document;

beforeAll(async () => {
  // Imported without its types: they belong to the Worker's type environment (tsconfig.json).
  const module = "../../worker/http/app";
  ({ app } = (await import(/* @vite-ignore */ module)) as { app: App });
  const res = await app.request("https://cohort.example/admin/api/openapi.json");
  expect(res.status).toBe(200);
  doc = await res.json();
});

describe("the OpenAPI document", () => {
  it("is valid OpenAPI 3.1, and every $ref in it resolves", async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc) as unknown as Record<string, unknown>);
    expect(result.errors, JSON.stringify(result.errors)?.slice(0, 1000)).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(validator.version).toBe("3.1");
  });

  it("names the deployment it was fetched from and the bearer scheme", () => {
    expect(doc.servers).toEqual([expect.objectContaining({ url: "https://cohort.example" })]);
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: "http", scheme: "bearer" });
  });

  it("has every admin route, with tags, the bearer scheme and a response schema", () => {
    const routes = app.routes
      .filter((r) => r.method !== "ALL" && r.path.startsWith("/admin/api/") && !OWN.includes(r.path))
      .map((r) => ({ method: r.method.toLowerCase(), path: r.path.replace(/:(\w+)/g, "{$1}"), name: `${r.method} ${r.path}` }))
      .filter((r) => !(r.name in UNDOCUMENTED));
    expect(routes.length).toBeGreaterThanOrEqual(23);
    for (const route of routes) {
      const op = doc.paths[route.path]?.[route.method];
      expect(op, `${route.name} is in the document`).toBeDefined();
      expect(op!.tags?.length, `${route.name} has a tag`).toBeGreaterThan(0);
      expect(op!.security, `${route.name} needs a bearer token`).toEqual([{ bearer: [] }]);
      const ok = Object.keys(op!.responses).filter((status) => status.startsWith("2"));
      expect(ok.length, `${route.name} has a success response`).toBeGreaterThan(0);
      // Every success answer has its schema (JSON, or the media types of a streamed export).
      for (const status of ok.filter((s) => s !== "204")) {
        expect(Object.values(op!.responses[status]!.content ?? {})[0]?.schema, `${route.name} ${status} has a response schema`).toBeDefined();
      }
      expect(op!.responses["400"]?.content?.["application/json"]?.schema, `${route.name} documents the error envelope`).toBeDefined();
    }
  });

  it("documents no admin path that the app does not route", () => {
    const routed = new Set(app.routes.filter((r) => r.method !== "ALL").map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:(\w+)/g, "{$1}")}`));
    for (const [path, operations] of Object.entries(doc.paths)) {
      if (!path.startsWith("/admin/api/")) continue;
      for (const method of Object.keys(operations)) expect(routed.has(`${method} ${path}`), `${method} ${path} is routed`).toBe(true);
    }
  });

  it("writes the recursive rule language once, as a component that refers to itself", () => {
    const text = JSON.stringify(doc);
    expect(text).not.toContain("$defs");
    expect(JSON.stringify((doc.components as unknown as { schemas: Record<string, unknown> }).schemas.Rule)).toContain('"$ref":"#/components/schemas/Rule"');
  });
});
