// Every test file starts from the real D1 schema, made by the migrations drizzle-kit generated.
import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";

await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
