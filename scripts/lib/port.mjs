// Checks that `npm start` can have its port before it prints anything: wrangler dev would
// otherwise print the banner and then fail (or quietly pick another port) on a busy one.
import { createServer } from "node:net";

/** The port from `PORT` (default 8787), or an error message naming the variable. */
export function portFromEnv(value = process.env.PORT) {
  if (value === undefined || value === "") return { port: 8787 };
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return { error: `PORT=${value} is not a port number (1–65535).` };
  return { port };
}

/**
 * Resolves to null when `port` is free on every interface wrangler dev may listen on, else to the
 * reason (`EADDRINUSE`, `EACCES`, …). The probe listens on the IPv6 wildcard, which on a
 * dual-stack host also covers IPv4, and on 127.0.0.1, then lets go at once.
 */
export async function portProblem(port) {
  for (const host of ["::", "127.0.0.1"]) {
    const problem = await new Promise((resolve) => {
      const server = createServer();
      server.once("error", (error) => resolve(error.code ?? String(error)));
      server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(null)));
    });
    // No IPv6 on this machine: the IPv4 probe decides.
    if (problem === "EAFNOSUPPORT" || problem === "EADDRNOTAVAIL") continue;
    if (problem) return problem;
  }
  return null;
}
