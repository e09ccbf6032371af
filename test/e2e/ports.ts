/** A TCP port that was free a moment ago (the OS picks it; the caller binds it soon after). */
import { createServer } from "node:net";

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * A port held open until `release()`, from below the kernel's ephemeral range (Linux: 32768 and
 * up): processes that ask the OS for any free port (the Worker test pools' workerd, browsers)
 * are never given one there, so nothing else can take it between `release()` and the server that
 * binds it next.
 */
export async function reservePort(): Promise<{ port: number; release: () => Promise<void> }> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const server = createServer();
    server.unref();
    const bound = await new Promise<boolean>((resolve) => {
      server.once("error", () => resolve(false));
      server.listen(port, "127.0.0.1", () => resolve(true));
    });
    if (bound) return { port, release: () => new Promise((done) => server.close(() => done())) };
  }
  throw new Error("no free port between 20000 and 32000");
}
