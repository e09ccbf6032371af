/**
 * A switchable HTTP proxy in front of `wrangler dev`, for outage tests. Only the collection API
 * (`/v1/*`) is affected, so the tag itself still loads while "Cohort is down".
 *
 * Modes: `up` forwards; `500`/`503` answer that status without forwarding; `destroy` resets the
 * connection without forwarding; `lost` forwards (Cohort receives and applies the events) but then
 * resets the connection, so the browser never sees the answer — the case where a retry delivers the
 * same events twice and the Worker must apply them once.
 *
 * Control (from a test, over HTTP): `POST /__proxy?mode=up|500|503|destroy|lost` sets the mode;
 * `GET /__proxy` returns `{mode, failed, forwarded}` (counts of /v1 requests since the last mode change).
 */
import { createServer, request, type IncomingMessage, type ServerResponse } from "node:http";

export type ProxyMode = "up" | "500" | "503" | "destroy" | "lost";

export async function startProxy(targetPort: number) {
  let mode: ProxyMode = "up";
  let failed = 0;
  let forwarded = 0;

  const forward = (req: IncomingMessage, res: ServerResponse, loseAnswer = false) => {
    const upstream = request(
      { host: "127.0.0.1", port: targetPort, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        if (loseAnswer) {
          answer.resume();
          answer.on("end", () => req.socket.destroy());
          return;
        }
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://proxy");
    if (url.pathname === "/__proxy") {
      if (req.method === "POST") {
        mode = (url.searchParams.get("mode") as ProxyMode) ?? "up";
        failed = forwarded = 0;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ mode, failed, forwarded }));
      return;
    }
    if (url.pathname.startsWith("/v1/") && mode === "lost") {
      failed++;
      forward(req, res, true);
      return;
    }
    if (url.pathname.startsWith("/v1/") && mode !== "up") {
      failed++;
      // Read the body first so the browser sees a real answer, not a reset mid-upload.
      req.resume();
      req.on("end", () => {
        if (mode === "destroy") {
          req.socket.destroy();
          return;
        }
        // Cross-origin callers must be able to read the status, as they would from the Worker.
        const origin = req.headers.origin;
        res.writeHead(Number(mode), {
          "content-type": "application/json",
          ...(origin ? { "access-control-allow-origin": origin, "access-control-allow-credentials": "true" } : {}),
        });
        res.end(JSON.stringify({ error: { code: "unavailable", message: `proxy mode ${mode}` } }));
      });
      return;
    }
    if (url.pathname.startsWith("/v1/")) forwarded++;
    forward(req, res);
  });
  server.keepAliveTimeout = 1000;

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
