// The ProfileStore Durable Object's schema → migrations applied inside each object (drizzle's
// durable-sqlite migrator). `npm run db:generate` runs this and the D1 config.
import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "sqlite",
  driver: "durable-sqlite",
  schema: "./worker/profile/schema.ts",
  out: "./worker/profile/migrations",
});
