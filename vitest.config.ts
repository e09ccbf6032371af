// Three kinds of test, one command (`npm test`):
//  - worker: inside workerd with real D1, Durable Objects and Queues (@cloudflare/vitest-plugin);
//  - unit:   pure modules (tag build, scripts) in Node;
//  - e2e:    the tag in Debian's Chromium and Segment's own SDK against a real `wrangler dev`.
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

const migrations = await readD1Migrations("./migrations");

export default defineConfig({
  test: {
    projects: [
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: {
                COOKIE_SECRET: "test-cookie-secret",
                ADMIN_JWT_SECRET: "test-admin-secret",
                DATA_SECRET: "test-data-secret",
                TEST_MIGRATIONS: migrations,
              },
            },
          }),
        ],
        test: {
          name: "worker",
          include: ["test/worker/**/*.test.ts"],
          // D1 rows arrive through the queue (batched for up to 2 s): tests wait for them.
          testTimeout: 20_000,
          setupFiles: ["./test/worker/apply-migrations.ts"],
        },
      },
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          environment: "node",
        },
      },
      {
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          environment: "node",
          globalSetup: ["./test/e2e/global-setup.ts"],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
