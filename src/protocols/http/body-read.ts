import type { Readable } from "node:stream";

/**
 * Reads a body up to `cap` bytes; undefined when it is (or says it is) larger. Plain "data" events rather than
 * an async iterator, and no copy of a body that came in one chunk: this runs for every small response.
 */
export function readCapped(
  body: Readable,
  cap: number,
  declared: number | undefined,
): Promise<Buffer | undefined> {
  if (declared !== undefined && declared > cap) {
    body.resume();
    return Promise.resolve(undefined);
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    body.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > cap) {
        discard(body);
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    });
    body.once("end", () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
    body.once("error", reject);
  });
}

/**
 * Drops a body Latch will not pass on. undici's body stream reports an early destroy as an "error" event
 * (RequestAbortedError), which would be an uncaught exception without a listener.
 */
export function discard(body: Readable): void {
  body.on("error", () => undefined);
  body.destroy();
}
